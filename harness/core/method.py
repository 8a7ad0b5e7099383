"""The interface every method implements (see methods/ for the implementations).

A method builds torch modules that follow ``TrainableModel``: ``loss(batch)`` returns a
dict of scalar tensors whose ``"loss"`` entry is optimised (other entries are logged), and
fine-tuning models add ``predict(batch)`` returning one prediction per clip in the shapes
``harness.core.tasks`` describes. The same predictions select the checkpoint on dev and are
reported on test, so selection never rewards a decoder that the report does not use.

A method with a pre-training stage builds a pre-training model that follows
``PretrainedModel``: fine-tuning continues from its ``sign_encoder`` (and from whatever
else the method's ``build`` takes from it, e.g. a language model).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from harness.core.tasks import TaskSpec
from harness.errors import UserError

if TYPE_CHECKING:
    import torch

    from harness.core.tasks import Batch


class TrainableModel(Protocol):
    """What the trainer needs from a model (an ``nn.Module``)."""

    #: Layout joint indices the model reads (the data path drops the others), or None.
    input_joints: tuple[int, ...] | None

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Training losses of a batch; ``"loss"`` is the one optimised."""

    def predict(self, batch: Batch) -> list[Any]:
        """One prediction per clip of the batch."""


class PretrainedModel(Protocol):
    """What fine-tuning needs from a pre-training model: the sign encoder it trained."""

    #: The pre-trained sign encoder; every fine-tuning model starts from its weights.
    sign_encoder: torch.nn.Module


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
    #: Presets every method of a family shares (the sign encoder and task heads), merged
    #: under a method's own preset of the same name (see ``preset_files``), or None.
    shared_presets_dir: ClassVar[Path | None] = None
    #: A method preset whose shared base has another name (e.g. ``smoke_minilm`` -> smoke).
    preset_family: ClassVar[dict[str, str]] = {}
    #: Config keys (dotted) where this method departs from the shared encoder and heads on
    #: purpose, each with its reason; the registry-wide test allows exactly these.
    encoder_differences: ClassVar[dict[str, str]] = {}
    has_pretraining: ClassVar[bool] = False
    #: Whether pre-training learns from pose-text pairs: its grounding is then checked on
    #: held-out pairs (harness.cell.grounding) and recorded with the pre-training.
    pretrains_with_text: ClassVar[bool] = False
    #: Named ablations: the config values (dotted keys) that switch a component off. The
    #: leaderboard names a configuration after the one it matches; "no pre-training"
    #: (``pretrain.epochs=0``) is every pre-training method's.
    ablations: ClassVar[dict[str, dict[str, Any]]] = {}
    #: The presets meant for real benchmarks (the others, e.g. ``smoke``, are sized for
    #: SynthSign): ``run`` warns and the leaderboard marks a cell of another preset on real
    #: data, and never compares it with a paper's number.
    real_data_presets: ClassVar[tuple[str, ...]] = ("paper",)

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

    @classmethod
    def preset_files(cls, preset: str) -> list[Path]:
        """The files a preset resolves from, merged in order: the shared preset of its
        family (where the method has one), then the method's own."""
        own = cls.preset_path(preset)
        if cls.shared_presets_dir is None:
            return [own]
        shared = cls.shared_presets_dir / f"{cls.preset_family.get(preset, preset)}.py"
        return [shared, own] if shared.exists() else [own]

    @classmethod
    def preset_meant_for(cls, preset: str, synthetic: bool) -> bool:
        """Whether ``preset`` is meant for a benchmark of generated (``synthetic``) or real
        data: any preset on SynthSign, ``real_data_presets`` on real data."""
        return synthetic or preset in cls.real_data_presets

    @classmethod
    def check_config(cls, cfg: dict[str, Any]) -> None:
        """Raise one ConfigError where a value of the method's model config breaks a rule
        that the code reading it declares (``harness.core.config.check``); none by default."""

    def build(self, cfg: dict[str, Any], spec: TaskSpec, pretrained: Any = None) -> Any:
        """The fine-tuning model for ``spec.task``, continuing from the pre-training model
        ``pretrained`` (a ``PretrainedModel``) when there is one."""
        raise NotImplementedError

    def build_pretrainer(self, cfg: dict[str, Any], spec: TaskSpec) -> Any:
        """The pre-training model (a ``PretrainedModel``); ``spec.train_texts`` holds the
        pre-training corpus's texts."""
        raise NotImplementedError(f"{self.name} has no pre-training stage")

    def describe(self, cfg: dict[str, Any], spec: TaskSpec) -> dict[str, Any]:
        """What a result records about the method as configured for a benchmark: ``input``,
        the modalities the cell reads ("pose", "pose+rgb"), and ``variant``, the name of the
        harness's adaptation where it is not the paper's method as published (None: it is).
        The leaderboard compares a cell with a paper's number only where ``input`` matches
        and there is no ``variant``."""
        return {"input": "pose", "variant": None}

    def load_checkpoint(self, model: Any, state: dict[str, Any], source: str) -> dict[str, Any]:
        """Load a checkpoint's state dict into the pre-training model ``model`` and say what
        it matched (a JSON record for result.json). The harness's own checkpoints load as
        they are; a method may also read the checkpoints of a reference release."""
        model.load_state_dict(state)
        return {"source": source, "format": "harness", "matched": len(state)}
