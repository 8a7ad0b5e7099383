"""Whether a text-conditioned pre-training learned to read the pose.

A pre-training that pairs poses with texts can lower its losses from the texts alone (a
language model that ignores the pose, a contrastive head that collapses). After the stage,
the pre-trained model's own losses are computed on held-out pose-text pairs twice: with each
clip's own text, and with the texts moved by one clip within each batch (every clip paired
with another clip's text). A model that reads the pose scores its own pairs better; a gap of
zero says that the pose does not matter to it. The held-out pairs are the corpus's dev split
where it has one, else one clip in ``HELDOUT_EVERY`` of its training split (chosen by a hash
of the clip id), which pre-training then does not train on.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

#: Without a dev split, one pre-training clip in this many is held out for the check.
HELDOUT_EVERY = 20


def split_heldout(store: Any) -> tuple[list[int], list[int], str]:
    """(training clips, held-out clips, where the held-out ones come from) of a corpus."""
    dev = list(store.split("dev"))
    train = list(store.split("train"))
    if dev:
        return train, dev, "dev split"
    held = [i for i in train if _bucket(store.clips[i].id) == 0]
    keep = [i for i in train if _bucket(store.clips[i].id) != 0]
    if not held or not keep:
        return train, [], "none (corpus too small)"
    return keep, held, f"1 in {HELDOUT_EVERY} training clips"


def _bucket(clip_id: str) -> int:
    return int(hashlib.sha256(clip_id.encode()).hexdigest()[:8], 16) % HELDOUT_EVERY


def mismatched(batch: Any) -> Any:
    """The batch with every clip's text (and gloss) moved to the next clip."""
    return dataclasses.replace(batch, text=[*batch.text[1:], *batch.text[:1]],
                               gloss=[*batch.gloss[1:], *batch.gloss[:1]])


def grounding(model: Any, batches: Sequence[Any] | Any, device: Any,
              autocast: Any, seed: int = 0) -> dict[str, Any]:
    """Mean losses of ``model`` over held-out ``batches``, matched and mismatched.

    Both passes draw the same random numbers (masks, dropout are off in eval mode): the
    global generator is seeded alike before each batch of each pass."""
    import torch

    model.eval()
    sums: dict[str, dict[str, float]] = {"matched": {}, "mismatched": {}}
    pairs = 0
    with torch.no_grad():
        for number, batch in enumerate(batches):
            if len(batch) < 2 or len(set(batch.text)) < 2:
                continue
            for name, which in (("matched", batch), ("mismatched", mismatched(batch))):
                torch.manual_seed(seed + number)
                with autocast():
                    losses = model.loss(which.to(device))
                for key, value in losses.items():
                    sums[name][key] = sums[name].get(key, 0.0) + float(value) * len(batch)
            pairs += len(batch)
    if not pairs:
        return {"pairs": 0}
    out: dict[str, Any] = {"pairs": pairs}
    for name, values in sums.items():
        out[name] = {k: v / pairs for k, v in values.items()}
    out["gap"] = out["mismatched"]["loss"] - out["matched"]["loss"]
    return out
