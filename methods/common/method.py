"""The build path every method shares: the part-wise ST-GCN sign encoder, the shared task
heads, the shared presets, and checkpoints (the harness's own and Uni-Sign's release)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.core.config import check
from harness.core.method import Method
from harness.core.tasks import TaskSpec
from harness.errors import UserError

#: The shared presets: the sign encoder and task heads that every method fine-tunes.
SHARED_PRESETS = Path(__file__).parent / "presets"


class EncoderMethod(Method):
    """A method that fine-tunes the shared sign encoder under the shared task heads.

    ``build`` is written once here: the encoder of ``model.encoder``, continuing from the
    pre-trained model's ``sign_encoder``, under the head of ``model.heads`` for the task.
    A method without a pre-training stage can still start from a checkpoint
    (``pretrain.checkpoint``): its pre-training model is then the encoder alone.
    """

    shared_presets_dir = SHARED_PRESETS

    @classmethod
    def check_config(cls, cfg: dict[str, Any]) -> None:
        """The encoder's and the CSLR head's values against the rules they declare."""
        from methods.encoders.stgcn import PartwiseSTGCN
        from methods.heads.models import CTCModel

        model = cfg.get("model") or {}
        check("model.encoder", model.get("encoder"), PartwiseSTGCN.RULES)
        check("model.heads.cslr", (model.get("heads") or {}).get("cslr"), CTCModel.RULES)

    def build_encoder(self, cfg: dict[str, Any], spec: TaskSpec) -> Any:
        """The sign encoder ``model.encoder`` describes."""
        from methods.encoders.stgcn import PartwiseSTGCN

        return PartwiseSTGCN(layout=spec.layout, **cfg["model"]["encoder"])

    def build(self, cfg: dict[str, Any], spec: TaskSpec, pretrained: Any = None) -> Any:
        """The shared head for ``spec.task`` on the sign encoder, continuing from
        ``pretrained.sign_encoder`` when given."""
        from methods.heads.models import build_task_model

        return build_task_model(self.pretrained_encoder(cfg, spec, pretrained), spec,
                                cfg["model"]["heads"])

    def pretrained_encoder(self, cfg: dict[str, Any], spec: TaskSpec, pretrained: Any) -> Any:
        """A fresh sign encoder with ``pretrained.sign_encoder``'s weights (if given)."""
        encoder = self.build_encoder(cfg, spec)
        if pretrained is not None:
            encoder.load_state_dict(pretrained.sign_encoder.state_dict())
        return encoder

    def build_pretrainer(self, cfg: dict[str, Any], spec: TaskSpec) -> Any:
        """Without a pre-training stage: the encoder alone, for a checkpoint to load into."""
        from methods.common.holder import EncoderOnly

        return EncoderOnly(self.build_encoder(cfg, spec))

    def load_checkpoint(self, model: Any, state: dict[str, Any], source: str) -> dict[str, Any]:
        """Load the harness's checkpoint of this method's pre-training model, or the sign
        encoder of another (``sign_encoder.*``), or a Uni-Sign release checkpoint's pose
        encoder (``proj_linear.*``, ``gcn_modules.*``, ...; see ``release_extras``)."""
        from methods.encoders.release import is_release_state, load_encoder

        if is_release_state(state):
            report = load_encoder(model.sign_encoder, state, source)
            taken = set(self.release_extras(model, state, source))
            report.matched += sorted(taken)
            report.unmatched = [k for k in report.unmatched if k not in taken]
            return {"format": "uni-sign release", **report.summary()}
        own = model.state_dict()
        if set(state) == set(own):
            _load(model, state, source)
            return {"source": source, "format": "harness", "matched": len(state),
                    "unmatched": 0, "missing": 0}
        encoder = {k.removeprefix("sign_encoder."): v for k, v in state.items()
                   if k.startswith("sign_encoder.")}
        if not encoder:
            raise UserError(f"{source} holds neither this method's pre-training model nor a "
                            f"sign encoder (sign_encoder.*) nor Uni-Sign's release encoder")
        _load(model.sign_encoder, encoder, source)
        unmatched = sorted(k for k in state if not k.startswith("sign_encoder."))
        missing = sorted(k for k in own if not k.startswith("sign_encoder."))
        return {"source": source, "format": "harness (sign encoder only)",
                "matched": len(encoder), "unmatched": len(unmatched), "missing": len(missing),
                "unmatched_keys": unmatched[:20], "missing_keys": missing[:20]}

    def release_extras(self, model: Any, state: dict[str, Any], source: str) -> list[str]:
        """Load what else of a release checkpoint this method takes besides the pose encoder
        (Uni-Sign: its mT5) and return those keys; nothing by default."""
        return []


def _load(module: Any, state: dict[str, Any], source: str) -> None:
    """``module.load_state_dict(state)`` (strict), with a mismatch as one clear line."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise UserError(f"{source} does not fit this model's config ({detail[:300]}); "
                        f"resolve the config it was trained with (python -m harness config) "
                        f"and use the same model settings") from None
