"""The interface every method implements (see methods/ for the implementations).

A method builds torch modules that follow ``TrainableModel``: ``loss(batch)`` returns a
dict of scalar tensors whose ``"loss"`` entry is optimised (other entries are logged), and
fine-tuning models add ``predict(batch, final)`` returning one prediction per clip in the
shapes ``harness.tasks`` describes. ``final`` is False while selecting checkpoints on dev
(a method may decode more cheaply then) and True for the reported predictions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from harness.errors import UserError
from harness.tasks import TaskSpec

if TYPE_CHECKING:
    import torch

    from harness.tasks import Batch


class TrainableModel(Protocol):
    """What the trainer needs from a model (an ``nn.Module``)."""

    #: Layout joint indices the model reads (the data path drops the others), or None.
    input_joints: tuple[int, ...] | None

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Training losses of a batch; ``"loss"`` is the one optimised."""

    def predict(self, batch: Batch, final: bool) -> list[Any]:
        """One prediction per clip of the batch."""


class Method:
    """A registered method: metadata, presets and model builders.

    Subclasses set ``tasks`` and ``summary`` and implement ``build``; methods with a
    pre-training stage set ``has_pretraining`` and implement ``build_pretrainer``.
    Module-level imports of a method package stay light; torch is imported inside builders.
    """

    name: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]] = ("islr", "cslr", "slt")
    summary: ClassVar[str] = ""
    presets_dir: ClassVar[Path]
    has_pretraining: ClassVar[bool] = False
    #: Named ablations: the config values (dotted keys) that switch a component off. The
    #: leaderboard names a configuration after the one it matches; "no pre-training"
    #: (``pretrain.epochs=0``) is every pre-training method's.
    ablations: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def presets(cls) -> list[str]:
        """Names of the presets this method ships."""
        return sorted(p.stem for p in cls.presets_dir.glob("*.py") if not p.stem.startswith("_"))

    @classmethod
    def preset_path(cls, preset: str) -> Path:
        """Path of a preset file, or a UserError naming the available ones."""
        path = cls.presets_dir / f"{preset}.py"
        if not path.exists():
            raise UserError(f"method {cls.name} has no preset {preset!r}; "
                            f"available: {', '.join(cls.presets())}")
        return path

    def build(self, cfg: dict[str, Any], spec: TaskSpec, pretrained: Any = None) -> Any:
        """The fine-tuning model for ``spec.task``, continuing from the pre-training model
        ``pretrained`` when the method has a pre-training stage and it ran."""
        raise NotImplementedError

    def build_pretrainer(self, cfg: dict[str, Any], spec: TaskSpec) -> Any:
        """The pre-training model (methods with ``has_pretraining``); ``spec.train_texts``
        holds the pre-training corpus's texts."""
        raise NotImplementedError(f"{self.name} has no pre-training stage")
