"""The shared sign encoder computes the function of Uni-Sign's released pose encoder.

``tests/golden/unisign_encoder.npz`` holds numbers only, made by running the release's own
code (github ZechengLi19/Uni-Sign at the commit stored in ``meta/release_commit``:
``datasets.load_part_kp`` and ``Base_Dataset.collate_fn`` for normalisation and padding,
``models.Uni_Sign`` for the encoder) outside this project, with mT5 replaced by a tiny one
that the pose branch never reads. What it holds:

- ``inputs/*``: four clips of raw keypoints in [0, 1] (x/W, y/H) with scores and lengths 40,
  31, 24, 18: one ordinary, one whose left hand is lost for ten frames, one whose
  fingertips land outside [-1, 1], one with fewer than 4 confident body points;
- ``w/*`` and ``q/*``: the encoder's weights under the release's key names (the right
  hand's once; the release's state dict repeats them under 'left'). Large tensors are on a
  lattice, base + (k - 1.5) * 2**qexp with k in 0..3 packed four to a byte, so they are
  exact in float32 and small on disk; the adjacency is the release's graph plus a
  perturbation, batch-norm statistics are non-trivial;
- ``parts/*``: the normalised, padded part inputs the release's loader made;
- ``graph/*``: the distance-partitioned adjacency the release builds for each part;
- ``out/eval``: the pose tokens (``pose_proj`` output) of every real frame in eval mode;
  ``out/train``: the same in training mode (batch statistics), whose objective
  sum(out * sin(0.0137 * n)) over real frames was back-propagated: ``grad_norm``,
  ``grad_dot`` (with cos(0.7 * n)) and 16 evenly spaced entries ``grad_at`` of every
  parameter's gradient, and ``bn_after`` the running statistics after that step.

The harness's encoder loads the weights through ``methods.encoders.release`` (the same
mapping ``--set pretrain.checkpoint=PATH`` uses) from a ``.pth`` written the way the release
writes one, and must reproduce each of these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.core.layouts import COCO_WHOLEBODY_133
from harness.io import checkpoint
from methods.encoders.reference import ReferencePartwiseSTGCN
from methods.encoders.release import encoder_key, load_encoder
from methods.encoders.stgcn import PartwiseSTGCN, hop_adjacency

GOLDEN = Path(__file__).parent / "golden" / "unisign_encoder.npz"
PARTS = {"body": "body", "left": "left_hand", "right": "right_hand", "face_all": "face"}
ENCODERS = [PartwiseSTGCN, ReferencePartwiseSTGCN]


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN) as z:
        return {k: z[k] for k in z.files}


def release_state(g: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The release's encoder state dict, as its checkpoints hold it (left = right)."""
    state = {}
    for key, value in g.items():
        kind, _, name = key.partition("/")
        if kind == "w":
            state[name] = torch.from_numpy(np.array(value))
        elif kind == "q":
            codes = np.stack([(value >> s) & 3 for s in (0, 2, 4, 6)], -1).reshape(-1)
            shape = tuple(int(n) for n in g[f"qshape/{name}"])
            base, exp = float(g[f"qbase/{name}"]), int(g[f"qexp/{name}"])
            flat = base + (codes[:int(np.prod(shape))].astype(np.float64) - 1.5) * 2.0 ** exp
            state[name] = torch.from_numpy(flat.astype(np.float32).reshape(shape))
    for name in list(state):
        if ".right." in name:
            state[name.replace(".right.", ".left.")] = state[name]
    return state


def checkpoint_encoder(cls: type, g: dict[str, np.ndarray], tmp_path: Path) -> PartwiseSTGCN:
    """An encoder of class ``cls`` (release defaults) loaded from a release-style .pth."""
    path = tmp_path / "release.pth"
    torch.save({"model": release_state(g)}, path)
    enc = cls()
    report = load_encoder(enc, checkpoint.load(path)["model"], str(path))
    assert report.missing == [] and report.unmatched == []
    return enc


def harness_inputs(g: dict[str, np.ndarray]) -> tuple[torch.Tensor, ...]:
    """The fixture's raw clips as a harness batch over the encoder's input joints."""
    joints = list(PartwiseSTGCN().input_joints)
    kp = torch.from_numpy(g["inputs/keypoints"][:, :, joints])
    conf = torch.from_numpy(g["inputs/scores"][:, :, joints])
    lengths = torch.from_numpy(g["inputs/lengths"])
    mask = torch.arange(kp.shape[1])[None] < lengths[:, None]
    kp = kp * mask[..., None, None]  # the loader pads with zeros
    return kp, conf * mask[..., None], torch.ones_like(conf, dtype=torch.bool), mask


def probe_of(shape: tuple[int, ...]) -> torch.Tensor:
    n = int(np.prod(shape))
    return torch.sin(torch.arange(n, dtype=torch.float32) * 0.0137).view(shape)


def test_graphs_are_the_releases(golden):
    for release, part in PARTS.items():
        if release == "right":
            continue
        p = COCO_WHOLEBODY_133.parts[part]
        np.testing.assert_array_equal(hop_adjacency(p.size, p.edges, 1), golden[f"graph/{release}"])


def test_normalised_and_padded_inputs_are_the_releases(golden, tmp_path):
    enc = checkpoint_encoder(PartwiseSTGCN, golden, tmp_path)
    parts = enc.normalized(*harness_inputs(golden))
    for release, part in PARTS.items():
        np.testing.assert_allclose(parts[part].numpy(), golden[f"parts/{release}"], rtol=0,
                                   atol=2e-6, err_msg=part)


@pytest.mark.parametrize("cls", ENCODERS, ids=lambda c: c.__name__)
def test_outputs_in_eval_mode_are_the_releases(golden, tmp_path, cls):
    enc = checkpoint_encoder(cls, golden, tmp_path).eval()
    kp, conf, valid, mask = harness_inputs(golden)
    with torch.no_grad():
        out = enc(kp, conf, valid, mask)
    want = golden["out/eval"]
    np.testing.assert_allclose(out[mask].numpy(), want, rtol=1e-4, atol=1e-5 * abs(want).max())


@pytest.mark.parametrize("cls", ENCODERS, ids=lambda c: c.__name__)
def test_training_step_is_the_releases(golden, tmp_path, cls):
    """Training mode (batch statistics): outputs, every parameter's gradient under the
    fixture's objective, and the running statistics the step leaves behind."""
    enc = checkpoint_encoder(cls, golden, tmp_path).train()
    kp, conf, valid, mask = harness_inputs(golden)
    out = enc(kp, conf, valid, mask)
    want = golden["out/train"]
    np.testing.assert_allclose(out[mask].detach().numpy(), want, rtol=1e-4,
                               atol=1e-5 * abs(want).max())
    objective = (out * probe_of(tuple(out.shape)) * mask[..., None]).sum()
    np.testing.assert_allclose(float(objective.detach()), float(golden["out/objective"]),
                               rtol=1e-4)
    objective.backward()
    params = dict(enc.named_parameters())
    state = enc.state_dict()
    mapping = mapping_of(golden)
    checked = 0
    for release, ours in mapping.items():
        if f"grad_norm/{release}" in golden:
            check_gradient(params[ours].grad, release, golden)
            checked += 1
        if f"bn_after/{release}" in golden:
            np.testing.assert_allclose(state[ours].numpy(), golden[f"bn_after/{release}"],
                                       rtol=1e-5, atol=1e-6, err_msg=release)
    assert checked == len(params)


#: Biases of convolutions that feed training-mode batch norm directly: batch norm removes
#: any constant per channel, so their gradient is zero in exact arithmetic and both sides
#: hold float32 rounding noise.
ZERO_GRADIENT = ("tcn.0.bias", "residual.0.bias")


def check_gradient(grad: torch.Tensor, release: str, g: dict[str, np.ndarray]) -> None:
    """One parameter's gradient against the fixture's norm, projection and entries.

    Tolerances are float32's through a training-mode network, measured: the release's
    formulation run here (``ReferencePartwiseSTGCN``) differs from the release's numbers by
    up to 5e-4 of a gradient's norm in its norm and entries and 2e-3 in the projection
    (inputs normalised in another order of operations), the channels-last one by 1e-3 and
    8e-3 (the face adjacency, whose gradient sums most terms). A wrong mapping or function
    is off by the order of the norm itself."""
    grad = grad.double().flatten()
    norm = float(g[f"grad_norm/{release}"])
    if release.endswith(ZERO_GRADIENT):
        weight = float(g[f"grad_norm/{release.removesuffix('bias')}weight"])
        assert float(grad.norm()) < 1e-5 * weight and norm < 1e-5 * weight, release
        return
    n = grad.numel()
    direction = torch.cos(torch.arange(n, dtype=torch.float64) * 0.7)
    idx = torch.linspace(0, n - 1, 16).round().long()
    np.testing.assert_allclose(float(grad.norm()), norm, rtol=2e-3, err_msg=release)
    np.testing.assert_allclose(float(grad @ direction), float(g[f"grad_dot/{release}"]),
                               rtol=0, atol=2e-2 * norm, err_msg=release)
    np.testing.assert_allclose(grad[idx].numpy(), g[f"grad_at/{release}"], rtol=0,
                               atol=3e-3 * norm, err_msg=release)


def mapping_of(g: dict[str, np.ndarray]) -> dict[str, str]:
    """Release key -> harness key for every tensor of the fixture."""
    layers: dict[str, set[tuple[int, int]]] = {}
    names = [k.partition("/")[2] for k in g if k.startswith(("w/", "q/"))]
    for name in names:
        parts = name.split(".")
        if parts[0] in ("gcn_modules", "fusion_gcn_modules"):
            i, j = parts[2].removeprefix("layer").split("_")
            layers.setdefault(f"{parts[0]}.{parts[1]}", set()).add((int(i), int(j)))
    ordered = {k: sorted(v) for k, v in layers.items()}
    return {name: encoder_key(name, ordered) for name in names}
