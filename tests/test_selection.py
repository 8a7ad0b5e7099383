"""Checkpoint selection on dev cannot favour an untrained model: ties go to the later epoch,
only epochs that beat the trivial prediction's score are candidates, and when none does the
last epoch is used and the state says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.core.tasks import trivial_predictions
from harness.training.trainer import StageConfig, Trainer


class Loader:
    """Two batches an epoch of a model that needs no data."""

    batch_size = 1

    def __len__(self) -> int:
        return 2

    def batches(self, epoch: int = 0, start: int = 0):
        for _ in range(start, 2):
            yield Nothing()


class Nothing:
    def to(self, device):
        return self

    def __len__(self) -> int:
        return 1


class Model(torch.nn.Module):
    input_joints = None

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))

    def loss(self, batch):
        return {"loss": (self.w - 1).pow(2).sum()}


def train(tmp_path: Path, scores: list[float], higher: bool, trivial: float | None):
    """Train for len(scores) epochs with dev scores ``scores``; the state, and the epoch whose
    weights are loaded at the end (read from the weights: w moves every epoch)."""
    model = Model()
    seen = iter(scores)
    weights = {}

    def evaluate(m):
        value = next(seen)
        weights[value, len(weights) + 1] = m.w.detach().clone()
        return value, {"x": value}

    trainer = Trainer(model, "finetune", StageConfig(epochs=len(scores), lr=0.1), Loader(),
                      tmp_path, evaluate=evaluate, higher_is_better=higher,
                      device=torch.device("cpu"), log=lambda msg: None, trivial=trivial)
    state = trainer.run()
    loaded = [epoch for (_, epoch), w in weights.items() if torch.equal(w, model.w.detach())]
    return state, loaded


@pytest.mark.parametrize(("scores", "higher", "best"), [
    ([10.0, 30.0, 30.0, 20.0], True, 3),     # a tie goes to the later epoch
    ([90.0, 60.0, 60.0, 70.0], False, 3),    # lower is better (WER): the same rule
    ([10.0, 30.0, 20.0, 25.0], True, 2),
])
def test_a_tie_on_dev_selects_the_later_epoch(tmp_path, scores, higher, best):
    state, loaded = train(tmp_path, scores, higher, trivial=None)
    assert state["best_epoch"] == best and loaded == [best]
    assert not state["selection_fallback"]


def test_only_epochs_that_beat_the_trivial_score_are_candidates(tmp_path):
    """WER of the empty output is 100: an epoch at 100 (empty output) or worse is no
    candidate, however early it came (the case that had reported WER 232)."""
    state, loaded = train(tmp_path, [100.0, 100.0, 95.0, 97.0], higher=False, trivial=100.0)
    assert state["best_epoch"] == 3 and loaded == [3]


def test_when_no_epoch_beats_the_trivial_score_the_last_is_used_and_said(tmp_path):
    state, loaded = train(tmp_path, [100.0, 100.0, 120.0], higher=False, trivial=100.0)
    assert state["best_epoch"] == 3 and loaded == [3] and state["selection_fallback"]
    (tmp_path / "b").mkdir()
    state, _ = train(tmp_path / "b", [1.0, 1.0], higher=True, trivial=1.0)
    assert state["selection_fallback"] and state["best_epoch"] == 2


def test_trivial_predictions_are_the_majority_classes_or_empty_output():
    preds = trivial_predictions("islr", ["a", "b"], ["X", "Y", "Y", "Z", "Z", "Z"])
    assert preds == {"a": ["Z", "Y", "X"], "b": ["Z", "Y", "X"]}
    assert trivial_predictions("cslr", ["a"], ["X Y"]) == {"a": ""}
    assert trivial_predictions("slt", ["a"], []) == {"a": ""}


def test_lr_scale_gives_named_submodules_their_own_learning_rate():
    from harness.errors import ConfigError
    from harness.training.trainer import param_groups

    class Two(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.text_model = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)

    model = Two()
    groups = param_groups(model, StageConfig(epochs=1, lr=1e-3,
                                             lr_scale={"text_model": 0.25}))
    by_param = {id(p): (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}
    assert by_param[id(model.encoder.weight)] == (1e-3, 0.01)
    assert by_param[id(model.encoder.bias)] == (1e-3, 0.0)
    assert by_param[id(model.text_model.weight)] == (2.5e-4, 0.01)
    assert by_param[id(model.text_model.bias)] == (2.5e-4, 0.0)
    with pytest.raises(ConfigError, match="text_modle"):
        param_groups(model, StageConfig(epochs=1, lr=1e-3, lr_scale={"text_modle": 0.5}))
