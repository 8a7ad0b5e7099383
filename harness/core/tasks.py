"""The vocabulary methods and benchmarks share: task types, task specs, batches, predictions.

Predictions per clip, by task:
- ``islr``: a ranked list of gloss labels (best first, at least 5 where the model can rank);
- ``cslr``: the recognised gloss sequence as one space-separated string;
- ``slt``: the translated sentence.
References have the same shape as the top prediction: a gloss, a gloss sequence, a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

TASKS: dict[str, str] = {
    "islr": "isolated sign recognition (top-1/top-5 accuracy)",
    "cslr": "continuous sign recognition (word error rate)",
    "slt": "gloss-free sign language translation (BLEU, ROUGE-L)",
}

def trivial_predictions(task: str, clip_ids: list[str], train_labels: list[str]
                        ) -> dict[str, Any]:
    """What a model that learned nothing predicts for ``clip_ids``: the training split's
    most frequent glosses for ISLR (best first, up to 5), empty output for CSLR and SLT.
    Its dev score is the floor an epoch must beat to be selected."""
    if task == "islr":
        counts: dict[str, int] = {}
        for label in train_labels:
            counts[label] = counts.get(label, 0) + 1
        ranked = sorted(counts, key=lambda g: (-counts[g], g))[:5]
        return {i: list(ranked) for i in clip_ids}
    return {i: "" for i in clip_ids}


@dataclass
class TaskSpec:
    """What a method needs to know to build its model for one benchmark task."""

    task: str
    classes: list[str] = field(default_factory=list)
    train_texts: list[str] = field(default_factory=list)
    language: str = "english"
    layout: str = "coco_wholebody_133"
    channels: int = 2
    #: The input modalities the benchmark's store provides ("pose"; "rgb" where it holds
    #: precomputed RGB clip features).
    inputs: tuple[str, ...] = ("pose",)
    #: ISLR: the text of each class (the word its training clips carry; "" where they carry
    #: none), in the order of ``classes``.
    class_texts: list[str] = field(default_factory=list)


@dataclass
class Batch:
    """A padded batch of clips; tensors are (B, T, ...) with ``frame_mask`` marking real frames."""

    ids: list[str]
    keypoints: torch.Tensor
    confidence: torch.Tensor
    valid: torch.Tensor
    frame_mask: torch.Tensor
    gloss: list[str]
    text: list[str]
    #: Precomputed RGB clip features (B, D) where a benchmark provides them, else None.
    rgb: torch.Tensor | None = None
    #: Per-clip 2D transforms (B, 2, 3) of the encoder's normalised coordinates (the data
    #: path's spatial augmentation of a training batch), else None.
    affine: torch.Tensor | None = None

    def to(self, device: Any) -> Batch:
        """The same batch with its tensors on ``device``."""
        return self._map(lambda t: t.to(device, non_blocking=True))

    def pin_memory(self) -> Batch:
        """The same batch with its tensors in page-locked memory (CUDA only), from which
        ``to`` copies asynchronously; torch's ``DataLoader`` calls this when it pins."""
        return self._map(lambda t: t.pin_memory())

    def _map(self, fn: Any) -> Batch:
        """The same batch with ``fn`` applied to each of its tensors."""
        return Batch(self.ids, fn(self.keypoints), fn(self.confidence), fn(self.valid),
                     fn(self.frame_mask), self.gloss, self.text,
                     fn(self.rgb) if self.rgb is not None else None,
                     fn(self.affine) if self.affine is not None else None)

    def part(self, rows: slice) -> Batch:
        """The clips ``rows`` of this batch (a rank's share), padded as in the whole batch."""
        rgb = self.rgb[rows] if self.rgb is not None else None
        affine = self.affine[rows] if self.affine is not None else None
        return Batch(self.ids[rows], self.keypoints[rows], self.confidence[rows],
                     self.valid[rows], self.frame_mask[rows], self.gloss[rows],
                     self.text[rows], rgb, affine)

    def __len__(self) -> int:
        return len(self.ids)
