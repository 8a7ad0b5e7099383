"""The encoder's fast CPU dropout is inverted dropout with the probability it was given."""

from __future__ import annotations

import math

import pytest
import torch

from methods.common.dropout import Dropout, dropout, keep_mask


def binomial_bound(n: int, q: float, sigmas: float = 6.0) -> float:
    """A bound on |observed rate - q| over n draws that a correct sampler all but never
    exceeds (6 standard deviations: about 2e-9)."""
    return sigmas * math.sqrt(q * (1 - q) / n)


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.9])
def test_each_element_is_dropped_with_probability_p_independently(p):
    torch.manual_seed(0)
    n = 1 << 22
    keep, used = keep_mask((n,), p)
    assert abs(used - p) <= 2 ** -16
    dropped = 1 - keep.double()
    assert abs(dropped.mean().item() - used) < binomial_bound(n, used)
    # the four lanes cut from one 64-bit word drop at the same rate (a lane with its sign
    # bit left in would keep about half its elements, whatever p is) ...
    for lane in range(4):
        rate = dropped[lane::4].mean().item()
        assert abs(rate - used) < binomial_bound(n // 4, used), (lane, rate)
    # ... and independently of their neighbours, within a word and across words
    for gap in (1, 2, 3, 4, 5):
        both = (dropped[:-gap] * dropped[gap:]).mean().item()
        assert abs(both - used * used) < binomial_bound(n - gap, used * used), (gap, both)


def test_kept_elements_are_scaled_so_the_expectation_is_the_input():
    torch.manual_seed(1)
    x = torch.randn(512, 1024)
    y = dropout(x, 0.1, True)
    kept = y != 0
    _, used = keep_mask((1,), 0.1)
    torch.testing.assert_close(y[kept], x[kept] / (1 - used), rtol=1e-6, atol=0)
    ones = dropout(torch.ones(1 << 22), 0.3, True)
    assert abs(ones.double().mean().item() - 1.0) < binomial_bound(1 << 22, 0.3) / 0.7


def test_the_gradient_has_the_same_mask_and_scale():
    torch.manual_seed(2)
    x = (torch.rand(64, 300) + 0.5).requires_grad_()  # no exact zeros in x
    y = dropout(x, 0.2, True)
    g = torch.randn_like(y)
    y.backward(g)
    scale = (y.detach() / x.detach())
    assert torch.equal(x.grad == 0, y.detach() == 0)
    torch.testing.assert_close(x.grad, g * scale)


def test_bfloat16_stays_bfloat16_and_matches_float32_drawn_from_the_same_state():
    x = torch.randn(32, 257)
    torch.manual_seed(3)
    a = dropout(x, 0.1, True)
    torch.manual_seed(3)
    b = dropout(x.bfloat16(), 0.1, True)
    assert b.dtype == torch.bfloat16
    assert torch.equal(a == 0, b == 0)
    torch.testing.assert_close(b.float(), a, rtol=2 ** -7, atol=0)


def test_masks_follow_torch_seed_and_the_generator_state():
    x = torch.ones(10_000)
    torch.manual_seed(7)
    first = dropout(x, 0.5, True)
    state = torch.get_rng_state()
    second = dropout(x, 0.5, True)
    torch.manual_seed(7)
    assert torch.equal(dropout(x, 0.5, True), first)
    torch.set_rng_state(state)  # a resumed run draws what the uninterrupted one drew
    assert torch.equal(dropout(x, 0.5, True), second)
    assert not torch.equal(first, second)


def test_evaluation_mode_and_edge_probabilities():
    x = torch.randn(100, 30)
    module = Dropout(0.4)
    module.eval()
    assert module(x) is x
    assert dropout(x, 0.0, True) is x
    assert torch.count_nonzero(dropout(x, 1.0, True)) == 0
    assert torch.count_nonzero(dropout(x, 1 - 2 ** -20, True)) == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        Dropout(1.5)
    assert dropout(torch.empty(0, 4), 0.3, True).shape == (0, 4)
