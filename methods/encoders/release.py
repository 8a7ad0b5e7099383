"""Uni-Sign release checkpoints: its pose encoder's key names mapped onto ``PartwiseSTGCN``.

A checkpoint of Uni-Sign's release (github ZechengLi19/Uni-Sign, ``fine_tuning.py`` and
``pre_training.py`` save ``{'model': state_dict}``) names the pose encoder's tensors after
the release's modules (``models.Uni_Sign``):

- ``proj_linear.{part}.*``: the Linear(3, 64) joint embedding of each part;
- ``gcn_modules.{part}.layer{i}_0.*``: the spatial blocks, ``fusion_gcn_modules.{part}.
  layer0_{j}.*`` the temporal blocks; in a block ``gcn.A`` is the adjacency, ``gcn.conv`` the
  graph convolution, ``gcn.bn`` its batch norm, ``tcn.0``/``tcn.1`` the temporal
  convolution and its batch norm, ``residual.0``/``residual.1`` the residual projection;
- ``part_para`` the part embedding (4 x 256), ``pose_proj`` the Linear(1024, 768);
- ``mt5_model.*`` the LM (Uni-Sign's own, mapped by ``methods.uni_sign``).

Parts are ``body``, ``left``, ``right`` and ``face_all``; the release shares the right
hand's modules with the left (the same tensors under both names), which the harness holds
once as its ``hand`` chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from harness.errors import UserError

#: Release part name -> the harness encoder's chain ("left" is checked against "right").
CHAINS = {"body": "body", "right": "hand", "left": "hand", "face_all": "face"}
#: Key prefixes of the release's pose encoder and of its LM.
ENCODER_PREFIXES = ("proj_linear.", "gcn_modules.", "fusion_gcn_modules.", "part_para",
                    "pose_proj.")
LM_PREFIX = "mt5_model."
#: Inside one ST-GCN block: the release's sub-module names -> the harness's.
_BLOCK = {"gcn.A": "adjacency", "gcn.conv": "gcn", "gcn.bn": "bn1", "tcn.0": "tconv",
          "tcn.1": "bn2", "residual.0": "residual.0", "residual.1": "residual.1"}
_BLOCK_KEY = re.compile(r"^(gcn_modules|fusion_gcn_modules)\.(\w+)\.layer(\d+)_(\d+)\.(.+)$")


@dataclass
class LoadReport:
    """What loading a foreign checkpoint matched: counts and the keys left over."""

    source: str
    matched: list[str] = field(default_factory=list)
    #: the checkpoint's keys that nothing took
    unmatched: list[str] = field(default_factory=list)
    #: the model's keys that the checkpoint did not set
    missing: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A JSON record for result.json (counts, and up to 20 names of each list)."""
        return {"source": self.source, "matched": len(self.matched),
                "unmatched": len(self.unmatched), "missing": len(self.missing),
                "unmatched_keys": self.unmatched[:20], "missing_keys": self.missing[:20]}


def is_release_state(state: dict[str, Any]) -> bool:
    """Whether a state dict names Uni-Sign's pose encoder as the release does."""
    return any(k.startswith(("gcn_modules.", "proj_linear.")) for k in state)


def _block_name(rest: str) -> str | None:
    for release, ours in _BLOCK.items():
        if rest == release or rest.startswith(release + "."):
            return ours + rest[len(release):]
    return None


def encoder_key(key: str, spatial_layers: dict[str, list[tuple[int, int]]]) -> str | None:
    """The ``PartwiseSTGCN`` key of one release encoder key (None: not an encoder key).

    ``spatial_layers`` lists, per release chain ("gcn_modules.body", ...), its (i, j) layer
    numbers in order, which give the block index."""
    if key == "part_para":
        return "part_embedding"
    if key.startswith("pose_proj."):
        return "proj." + key[len("pose_proj."):]
    if key.startswith("proj_linear."):
        _, part, leaf = key.split(".", 2)
        return f"{CHAINS[part]}.embed.{leaf}" if part in CHAINS else None
    match = _BLOCK_KEY.match(key)
    if match is None or match.group(2) not in CHAINS:
        return None
    level, part, i, j, rest = match.groups()
    block = _block_name(rest)
    if block is None:
        return None
    index = spatial_layers[f"{level}.{part}"].index((int(i), int(j)))
    stage = "spatial" if level == "gcn_modules" else "temporal"
    return f"{CHAINS[part]}.{stage}.{index}.{block}"


def encoder_state(state: dict[str, Any], source: str) -> tuple[dict[str, Any], LoadReport]:
    """The ``PartwiseSTGCN`` state dict in a release state dict, and what was (not) used.

    The left hand's tensors must equal the right hand's (the release shares them); a
    checkpoint where they differ was not written by the release and is refused."""
    layers: dict[str, set[tuple[int, int]]] = {}
    for key in state:
        match = _BLOCK_KEY.match(key)
        if match:
            layers.setdefault(f"{match.group(1)}.{match.group(2)}", set()).add(
                (int(match.group(3)), int(match.group(4))))
    ordered = {chain: sorted(found) for chain, found in layers.items()}
    report = LoadReport(source)
    mapped: dict[str, Any] = {}
    for key, value in state.items():
        ours = encoder_key(key, ordered) if key.startswith(ENCODER_PREFIXES) else None
        if ours is None:
            report.unmatched.append(key)
            continue
        if ".left." in key:
            twin = key.replace(".left.", ".right.")
            if twin in state and not _same(state[twin], value):
                raise UserError(f"{source}: {key} differs from {twin}; Uni-Sign's release shares "
                                f"the right hand's weights with the left, so this is not one of "
                                f"its checkpoints")
            if twin in state:
                report.matched.append(key)
                continue
        mapped[ours] = value
        report.matched.append(key)
    return mapped, report


def _same(a: Any, b: Any) -> bool:
    return bool(a.shape == b.shape and (a == b).all())


def load_encoder(encoder: Any, state: dict[str, Any], source: str) -> LoadReport:
    """Load a release state dict's pose encoder into ``encoder`` (a ``PartwiseSTGCN``).

    Every encoder tensor must be set with its own shape; otherwise one UserError says which
    tensor does not fit and what the release's encoder is."""
    mapped, report = encoder_state(state, source)
    own = encoder.state_dict()
    for key, value in mapped.items():
        if key not in own:
            raise UserError(f"{source}: the checkpoint has {key!r} (from the release's "
                            f"encoder), which this encoder lacks; Uni-Sign's encoder is "
                            f"model.encoder.embed=64 spatial=[64,128,256] "
                            f"temporal=[256,256,256] kt=5 d_model=768")
        if tuple(value.shape) != tuple(own[key].shape):
            raise UserError(f"{source}: {key} is {tuple(value.shape)} in the checkpoint and "
                            f"{tuple(own[key].shape)} in this encoder; Uni-Sign's encoder is "
                            f"model.encoder.embed=64 spatial=[64,128,256] "
                            f"temporal=[256,256,256] kt=5 d_model=768")
    report.missing = [k for k in own if k not in mapped and not k.endswith("position.pe")]
    if not mapped:
        raise UserError(f"{source} holds no pose encoder tensors of Uni-Sign's release "
                        f"(proj_linear.*, gcn_modules.*, ...)")
    encoder.load_state_dict(mapped, strict=False)
    return report
