"""Task heads: CTC decoding, a frozen encoder under a training head."""

import itertools
import math

import numpy as np
import torch

from methods.heads.ctc import greedy_decode, prefix_beam_search


def collapse(path):
    out, prev = [], None
    for s in path:
        if s != prev and s != 0:
            out.append(s)
        prev = s
    return tuple(out)


def labelling_probs(logprobs):
    """Exact probability of every labelling by summing over all alignments."""
    probs = {}
    for path in itertools.product(range(logprobs.shape[1]), repeat=logprobs.shape[0]):
        p = math.exp(sum(logprobs[t, s] for t, s in enumerate(path)))
        key = collapse(path)
        probs[key] = probs.get(key, 0.0) + p
    return probs


def test_greedy_collapses_repeats_and_blanks():
    lp = np.log(np.array([[.1, .8, .1], [.1, .8, .1], [.8, .1, .1], [.1, .8, .1], [.1, .1, .8]]))
    assert greedy_decode(lp) == [1, 1, 2]


def test_beam_search_finds_the_most_probable_labelling():
    rng = np.random.default_rng(0)
    for _ in range(20):
        logits = rng.normal(size=(5, 3)) * 2
        lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        probs = labelling_probs(lp)
        best = max(probs.items(), key=lambda kv: kv[1])[0]
        got = tuple(prefix_beam_search(lp, beam=50, prune=3))
        assert math.isclose(probs[got], probs[best], rel_tol=1e-9)


def test_beam_can_beat_greedy():
    # Greedy picks the blank path, but the two paths to label [1] together are likelier.
    lp = np.log(np.array([[0.4, 0.35, 0.25], [0.4, 0.35, 0.25]]))
    assert greedy_decode(lp) == []
    assert prefix_beam_search(lp, beam=5) == [1]


def test_frozen_encoder_stays_fixed_while_the_head_trains():
    from harness.cell.runner import freeze
    from harness.core.tasks import Batch, TaskSpec
    from methods.encoders.stgcn import PartwiseSTGCN
    from methods.heads.models import build_task_model

    torch.manual_seed(0)
    enc = PartwiseSTGCN(embed=8, spatial=[16], temporal=[16], d_model=32)
    model = build_task_model(enc, TaskSpec("islr", classes=["A", "B", "C"]), {})
    freeze(model.encoder)
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head = model.head.weight.clone()
    v = len(enc.input_joints)
    batch = Batch(ids=["a", "b", "c"], keypoints=torch.rand(3, 8, v, 2) * 400,
                  confidence=torch.rand(3, 8, v), valid=torch.ones(3, 8, v, dtype=torch.bool),
                  frame_mask=torch.ones(3, 8, dtype=torch.bool), gloss=["A", "B", "C"],
                  text=["", "", ""])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()  # as the trainer does each epoch
    assert not model.encoder.training and model.head.training
    for _ in range(2):
        opt.zero_grad()
        model.loss(batch)["loss"].backward()
        opt.step()
    for k, v in model.encoder.state_dict().items():  # batch-norm statistics included
        assert torch.equal(v, before[k]), k
    assert not torch.equal(model.head.weight, head)
