"""The fused numba selective scan (CPU, float32) against the float64 step-by-step reference:
forward and every gradient, both directions, padded channel counts, lengths that cross the kernels'
token blocks and backward checkpoints; dispatch and the fallback without numba."""

import importlib

import numpy as np
import pytest
import torch

from dnaseq_cli.models import build
from dnaseq_cli.models.caduceus.mamba import Mamba
from dnaseq_cli.models.caduceus.selective_scan import (
    selective_scan,
    selective_scan_chunked,
    selective_scan_reference,
)

scan_module = importlib.import_module("dnaseq_cli.models.caduceus.selective_scan")
fused = pytest.importorskip("dnaseq_cli.models.caduceus.fused_scan")
NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def _inputs(batch, channels, n, length, seed=0, parts=("D", "z", "delta_bias")):
    g = torch.Generator().manual_seed(seed)
    values = {
        "u": torch.randn(batch, channels, length, generator=g),
        "delta": torch.randn(batch, channels, length, generator=g) * 0.5,
        "A": -torch.rand(channels, n, generator=g) * 3,
        "B": torch.randn(batch, n, length, generator=g),
        "C": torch.randn(batch, n, length, generator=g),
        "D": torch.randn(channels, generator=g),
        "z": torch.randn(batch, channels, length, generator=g),
        "delta_bias": torch.randn(channels, generator=g) * 0.1,
    }
    return [values[k] if k in ("u", "delta", "A", "B", "C") or k in parts else None for k in NAMES]


def _reference(args, softplus, reverse):
    """float64 reference; ``reverse`` as the scan of the time-flipped inputs, flipped back."""
    u, delta, A, B, C, D, z, bias = args
    if reverse:
        u, delta, B, C = (v.flip(-1) for v in (u, delta, B, C))
        z = None if z is None else z.flip(-1)
    y = selective_scan_reference(u, delta, A, B, C, D, z, bias, softplus)
    return y.flip(-1) if reverse else y


def _relative_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).abs().max() / b.abs().max().clamp(min=1.0))


@pytest.mark.parametrize(
    ("batch", "channels", "n", "length", "softplus", "reverse", "parts"),
    [
        (2, 32, 16, 300, True, False, ("D", "z", "delta_bias")),
        (2, 32, 16, 300, True, True, ("D", "z", "delta_bias")),
        (3, 24, 8, 70, False, False, ()),  # 24 channels: padded to 32 lanes; no D, z or bias
        (1, 16, 4, 1, True, True, ("z",)),
        (1, 48, 16, 600, True, True, ("D", "delta_bias")),  # one whole segment, no gate
        (2, 16, 8, 1300, True, True, ("D", "z", "delta_bias")),  # six 256-step segments
        (1, 16, 8, 1300, True, False, ()),
    ],
)
def test_forward_and_gradients_match_the_float64_reference(
    batch, channels, n, length, softplus, reverse, parts
):
    args = _inputs(batch, channels, n, length, parts=parts)
    ref_args = [None if a is None else a.double().requires_grad_() for a in args]
    own_args = [None if a is None else a.clone().requires_grad_() for a in args]
    expected = _reference(ref_args, softplus, reverse)
    got = scan_module.selective_scan_fused(*own_args, delta_softplus=softplus, reverse=reverse)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    assert _relative_gap(got, expected) < 1e-5
    weights = torch.randn(expected.shape, generator=torch.Generator().manual_seed(9))
    wanted = [a for a in ref_args if a is not None]
    grads_ref = torch.autograd.grad((expected * weights.double()).sum(), wanted)
    grads_own = torch.autograd.grad((got * weights).sum(), [a for a in own_args if a is not None])
    names = [name for name, a in zip(NAMES, args, strict=True) if a is not None]
    for name, own, ref in zip(names, grads_own, grads_ref, strict=True):
        assert _relative_gap(own, ref) < 1e-5, name


def test_cpu_float32_goes_to_the_fused_kernel_and_chunked_can_be_forced(monkeypatch):
    calls = []
    original = scan_module.selective_scan_fused
    monkeypatch.setattr(
        scan_module, "selective_scan_fused", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    args = _inputs(1, 16, 4, 40)
    auto = selective_scan(*args, delta_softplus=True)
    assert calls == [1]
    chunked = selective_scan(*args, delta_softplus=True, scan="chunked")
    assert calls == [1]  # not called again
    assert _relative_gap(auto, chunked) < 1e-5
    selective_scan(*(None if a is None else a.double() for a in args), delta_softplus=True)
    assert calls == [1]  # float64 stays on the PyTorch scan


def test_without_numba_the_chunked_scan_answers(monkeypatch):
    monkeypatch.setattr(scan_module, "_fused_kernels", lambda: None)
    args = _inputs(2, 16, 8, 50)
    got = selective_scan(*args, delta_softplus=True, reverse=True)
    assert _relative_gap(got, _reference(args, True, True)) < 1e-5
    expected = selective_scan_chunked(*args, delta_softplus=True)
    assert torch.equal(selective_scan(*args, delta_softplus=True), expected)


@pytest.mark.parametrize("scan", ["fused", "chunked", "reference"])
def test_a_reverse_mamba_block_is_the_block_on_the_flipped_sequence(scan):
    """BiMamba's right-to-left direction runs without flipped copies: Mamba(reverse=True) must
    equal flip(Mamba(flip(x))), padding mask included."""
    torch.manual_seed(0)
    block = Mamba(32, d_state=8).eval()
    block.scan_impl = scan
    x = torch.randn(2, 37, 32)
    mask = torch.ones(2, 37)
    mask[1, 30:] = 0
    with torch.no_grad():
        reverse = block(x, mask, reverse=True)
        flipped = block(x.flip(1), mask.flip(1)).flip(1)
    assert _relative_gap(reverse, flipped) < 1e-5


def test_caduceus_forward_agrees_across_scans():
    torch.manual_seed(0)
    model = build("caduceus", d_model=32, n_layer=2, rcps=True).eval()
    ids = torch.randint(7, 11, (2, 300))
    outputs = {}
    with torch.no_grad():
        for scan in ("fused", "chunked", "reference"):
            model.set_scan(scan)
            outputs[scan] = model(ids)
    assert _relative_gap(outputs["fused"], outputs["reference"]) < 1e-4
    assert _relative_gap(outputs["chunked"], outputs["reference"]) < 1e-4


def test_inline_exp_and_softplus_are_accurate():
    @fused.numba.njit
    def both(xs):
        e, s = np.empty_like(xs), np.empty_like(xs)
        for i in range(xs.size):
            e[i], s[i] = fused._exp(xs[i]), fused._softplus(xs[i])
        return e, s

    xs = np.linspace(-80, 80, 200_001).astype(np.float32)
    e, s = both(xs)
    exact = np.exp(xs.astype(np.float64))
    assert np.max(np.abs(e - exact) / exact) < 4e-6
    softplus = np.logaddexp(0, xs.astype(np.float64))
    assert np.max(np.abs(s - softplus) / np.maximum(softplus, 1e-30)) < 4e-6


@pytest.mark.parametrize(("reverse", "length"), [(False, 90), (True, 90), (True, 1300)])
def test_the_kernel_projects_the_low_rank_step_like_dt_proj(reverse, length):
    """``delta_proj``: the kernels compute dt_proj per token, forward and backward (the gradients
    of the low-rank step and of the weight included), as the float64 reference on the projected
    step does; 1300 steps cross the backward's checkpoints."""
    u, _, A, B, C, D, z, bias = _inputs(2, 32, 8, length, seed=3)
    g = torch.Generator().manual_seed(4)
    low, weight = torch.randn(2, 5, length, generator=g), torch.randn(32, 5, generator=g) * 0.3
    args = [u, low, weight, A, B, C, D, z, bias]
    ref = [a.double().requires_grad_() for a in args]
    own = [a.clone().requires_grad_() for a in args]
    r_u, r_low, r_w, *r_rest = ref
    expected = _reference([r_u, r_w @ r_low, *r_rest], True, reverse)
    with torch.no_grad():
        got = selective_scan(u, low, A, B, C, D, z, bias, True, reverse=reverse, delta_proj=weight)
    assert _relative_gap(got, expected) < 1e-5
    o_u, o_low, o_w, *o_rest = own
    y = selective_scan(o_u, o_low, *o_rest, True, reverse=reverse, delta_proj=o_w)
    assert _relative_gap(y, expected) < 1e-5
    weights = torch.randn(y.shape, generator=torch.Generator().manual_seed(9))
    grads_ref = torch.autograd.grad((expected * weights.double()).sum(), ref)
    grads_own = torch.autograd.grad((y * weights).sum(), own)
    names = ("u", "low-rank step", "dt_proj weight", "A", "B", "C", "D", "z", "bias")
    for name, mine, theirs in zip(names, grads_own, grads_ref, strict=True):
        assert _relative_gap(mine, theirs) < 1e-5, name


def test_the_backward_uses_the_segment_functions_compiled_without_aliasing():
    """The backward's segment work runs in the versions compiled up front with LLVM's no-alias
    promise (fused_scan._unaliased): a call whose argument types missed that signature would
    compile a second, slower version silently."""
    kernels = importlib.import_module("dnaseq_cli.models.caduceus.fused_scan")
    u, delta, A, B, C, D, z, bias = (t.requires_grad_() for t in _inputs(2, 32, 8, 40, seed=5))
    for project in (False, True):
        weight = torch.randn(32, 3, requires_grad=True) if project else None
        low = torch.randn(2, 3, 40, requires_grad=True) if project else delta
        y = selective_scan(u, low, A, B, C, D, z, bias, True, delta_proj=weight)
        y.sum().backward()
    for name in ("_recompute_segment", "_adjoint_segment", "_step_gradients"):
        assert len(getattr(kernels, name).signatures) == 1, name
