"""The fast channels-last encoder computes the straightforward (N, C, T, V) formulation
(which tests/test_encoder_golden.py pins, like it, to Uni-Sign's release)."""

from __future__ import annotations

import pytest
import torch

from methods.encoders.reference import ReferencePartwiseSTGCN
from methods.encoders.stgcn import PartwiseSTGCN
from tests.conftest import HEAVY

CONFIGS = {
    "smoke-like": dict(embed=8, spatial=[8, 16, 24], temporal=[24, 24], kt=5, d_model=32),
    "zero-padding": dict(embed=8, spatial=[16], temporal=[16, 16], kt=5, d_model=16,
                         padding="zero"),
    "joint-hands-torch-init": dict(embed=8, spatial=[8, 16], temporal=[16], kt=5, d_model=16,
                                   hands="joint", init="torch", part_scale=0.5),
    "joint-hands-zero-padding": dict(embed=8, spatial=[12], temporal=[12], kt=3, d_model=16,
                                     hands="joint", padding="zero"),
    "two-hops-kt3-context": dict(embed=8, spatial=[12], temporal=[12], kt=3, d_model=16,
                                 max_hop=2, context={"layers": 1, "heads": 2, "ff": 16,
                                                     "dropout": 0.0}),
}


def inputs(v: int, dtype: torch.dtype, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    kp = (torch.rand(3, 11, v, 2, generator=g) * 300 + 20).to(dtype)
    conf = torch.rand(3, 11, v, generator=g).to(dtype)
    valid = torch.rand(3, 11, v, generator=g) > 0.1  # some missing points
    mask = torch.ones(3, 11, dtype=torch.bool)
    mask[1, 7:] = False  # a padded clip
    return kp, conf, valid, mask


def pair(cfg: dict, dtype: torch.dtype):
    torch.manual_seed(0)
    fast = PartwiseSTGCN(**cfg).to(dtype)
    # give the batch-norm layers non-trivial affine parameters and running statistics
    with torch.no_grad():
        for m in fast.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    ref = ReferencePartwiseSTGCN(**cfg).to(dtype)
    ref.load_state_dict(fast.state_dict())
    return fast, ref


def run(model, data, train: bool):
    model.train(train)
    model.zero_grad(set_to_none=True)
    out = model(*data)
    (out.pow(2).sum() + out.sum()).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    return out.detach(), grads, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_float64_outputs_gradients_and_statistics_are_equal(name, train):
    fast, ref = pair(CONFIGS[name], torch.float64)
    data = inputs(len(fast.input_joints), torch.float64)
    a, ga, sa = run(fast, data, train)
    b, gb, sb = run(ref, data, train)
    torch.testing.assert_close(a, b, atol=1e-11, rtol=1e-10)
    scale = max(g.abs().max().item() for g in gb.values())
    for n in gb:  # biases followed by batch norm have zero gradient: compare on the scale
        torch.testing.assert_close(ga[n], gb[n], atol=1e-11 * scale, rtol=1e-9, msg=n)
    assert sa.keys() == sb.keys()
    for k in sb:  # running statistics and batch counters move identically
        torch.testing.assert_close(sa[k], sb[k], atol=1e-12, rtol=1e-10, msg=k)


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("seed", range(4))
def test_float32_is_as_close_to_float64_as_the_reference(name, seed):
    """In fp32 both formulations round; on these 3-clip batches with random (often clipped)
    points the batch norms amplify that to ~1e-3 of the gradient scale for either of them
    (measured against float64, which pins the function itself to 1e-10 above)."""
    fast, ref = pair(CONFIGS[name], torch.float32)
    truth = ReferencePartwiseSTGCN(**CONFIGS[name]).double()
    truth.load_state_dict(ref.state_dict())
    data = inputs(len(fast.input_joints), torch.float32, seed=seed)
    a, ga, _ = run(fast, data, True)
    b, gb, _ = run(ref, data, True)
    c, gc, _ = run(truth, tuple(x.double() if x.is_floating_point() else x for x in data), True)
    out_scale = c.abs().max().item()
    err = (a.double() - c).abs().max().item() / out_scale
    err_ref = (b.double() - c).abs().max().item() / out_scale
    assert err_ref <= 1e-4 and err <= max(1e-5, 2 * err_ref), (err, err_ref)
    scale = max(g.abs().max().item() for g in gc.values())
    worst = max((ga[n].double() - gc[n]).abs().max().item() for n in gc) / scale
    worst_ref = max((gb[n].double() - gc[n]).abs().max().item() for n in gc) / scale
    assert worst <= max(5e-3, 2 * worst_ref), (worst, worst_ref)


def run_autocast(model, data, dtype):
    with torch.autocast("cpu", dtype):
        return run(model, data, True)


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("seed", range(2))
def test_bfloat16_is_as_close_to_float64_as_the_reference(name, seed):
    """Under bf16 autocast the fast encoder's batch norm takes its batch statistics without
    the fp32 shift: it must stay as close to the float64 function as the (N, C, T, V)
    formulation under the same autocast, in outputs, gradients and running statistics."""
    fast, ref = pair(CONFIGS[name], torch.float32)
    truth = ReferencePartwiseSTGCN(**CONFIGS[name]).double()
    truth.load_state_dict(ref.state_dict())
    data = inputs(len(fast.input_joints), torch.float32, seed=seed)
    a, ga, sa = run_autocast(fast, data, torch.bfloat16)
    b, gb, sb = run_autocast(ref, data, torch.bfloat16)
    c, gc, sc = run(truth, tuple(x.double() if x.is_floating_point() else x for x in data),
                    True)
    out_scale = c.abs().max().item()
    err = (a.double() - c).abs().max().item() / out_scale
    err_ref = (b.double() - c).abs().max().item() / out_scale
    assert err <= max(3e-2, 2 * err_ref), (err, err_ref)
    scale = max(g.abs().max().item() for g in gc.values())
    worst = max((ga[n].double() - gc[n]).abs().max().item() for n in gc) / scale
    worst_ref = max((gb[n].double() - gc[n]).abs().max().item() for n in gc) / scale
    assert worst <= max(5e-2, 2 * worst_ref), (worst, worst_ref)
    for k in sc:  # running means and variances, and the batch counters
        if sc[k].is_floating_point():
            stat = max(sc[k].abs().max().item(), 1e-3)
            gap = (sa[k].double() - sc[k]).abs().max().item() / stat
            gap_ref = (sb[k].double() - sc[k]).abs().max().item() / stat
            assert gap <= max(2e-2, 2 * gap_ref), (k, gap, gap_ref)
        else:
            assert torch.equal(sa[k], sc[k]), k


def test_a_different_computation_is_caught():
    """The comparison has teeth: one changed adjacency entry is far outside the tolerance."""
    fast, ref = pair(CONFIGS["smoke-like"], torch.float64)
    with torch.no_grad():
        ref.hand.temporal[0].adjacency[0, 3, 4] += 0.05
    data = inputs(len(fast.input_joints), torch.float64)
    a, _, _ = run(fast, data, False)
    b, _, _ = run(ref, data, False)
    assert (a - b).abs().max() > 1e-6


@HEAVY  # TorchInductor compiles C++ kernels: about a minute on 2 cores
def test_compiled_encoder_computes_the_eager_one():
    """``compile=true`` runs the encoder under torch.compile: outputs and gradients equal
    the eager encoder's within float32 rounding (the kernels fuse, the math is the same)."""
    cfg = CONFIGS["smoke-like"]
    torch.manual_seed(0)
    eager = PartwiseSTGCN(**cfg)
    compiled = PartwiseSTGCN(**cfg)
    compiled.load_state_dict(eager.state_dict())
    compiled.compile()
    kp, conf, valid, mask = inputs(len(eager.input_joints), torch.float32)
    outs = []
    for model in (eager, compiled):
        model.train()
        out = model(kp, conf, valid, mask)
        out.pow(2).mean().backward()
        outs.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (a, grads_a), (b, grads_b) = outs
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)
    for ga, gb in zip(grads_a, grads_b, strict=True):
        assert torch.allclose(ga, gb, rtol=1e-3, atol=1e-5)
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints unchanged


def test_compile_switch_compiles_the_encoders_in_place(monkeypatch):
    """``compile=true`` compiles each sign encoder of a model in place (the first call
    compiles), so checkpoints keep their keys; without a C++ compiler on the CPU it is one
    clear ConfigError instead of an Inductor traceback minutes into the run."""
    from harness.cell.runner import compile_units
    from harness.errors import ConfigError

    model = torch.nn.ModuleDict({"encoder": PartwiseSTGCN(**CONFIGS["smoke-like"]),
                                 "head": torch.nn.Linear(32, 4)})
    keys = list(model.state_dict())
    assert compile_units(model, "cpu") == 1
    assert model["encoder"]._compiled_call_impl is not None
    assert getattr(model["head"], "_compiled_call_impl", None) is None
    assert list(model.state_dict()) == keys
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ConfigError, match=r"compile=true on the CPU needs a C\+\+ compiler"):
        compile_units(model, "cpu")


@pytest.mark.parametrize("hands", ["separate", "joint"])
def test_joint_hands_evaluate_the_network_they_trained(hands):
    """With running statistics equal to the last training batch's (momentum 1), evaluation
    reproduces the training forward exactly when both hands share one pass
    (``hands='joint'``); with the release's separate passes the hand chain's running
    statistics are the right hand's, and the evaluated left hand is another function."""
    torch.manual_seed(0)
    enc = PartwiseSTGCN(embed=8, spatial=[8, 16], temporal=[16], kt=3, d_model=16, hands=hands)
    for m in enc.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0
    kp, conf, valid, mask = inputs(len(enc.input_joints), torch.float64)
    kp = kp.clone()
    for name, side in (("left_hand", 1.0), ("right_hand", -1.0)):
        # the left hand's points lie right of its wrist, the right hand's left of its own
        part = kp[:, :, enc.slices[name]]
        wrist = part[:, :, enc.anchors[name], None]
        part[..., 0] = wrist[..., 0] + side * (part[..., 0] - wrist[..., 0]).abs()
    mask[:] = True
    enc = enc.double().train()
    trained = enc(kp, conf, valid, mask)
    evaluated = enc.eval()(kp, conf, valid, mask)
    gap = (trained - evaluated).abs().max().item() / trained.abs().max().item()
    if hands == "joint":
        assert gap < 1e-2, gap  # the unbiased running variance against the biased one
    else:
        assert gap > 0.1, gap
