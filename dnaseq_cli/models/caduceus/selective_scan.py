"""Selective scan (Mamba S6): reference recurrence, chunked pure-PyTorch scan, CUDA dispatch.

Shapes follow mamba-ssm: u, delta, z (batch, d, L); A (d, n) real; B, C (batch, n, L); D, delta_bias (d,).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

try:  # optional CUDA kernels; only used for CUDA tensors
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _cuda_scan
except ImportError:  # pragma: no cover - depends on the environment
    _cuda_scan = None

# Largest decay |A| * sum(delta) allowed inside one chunk: the chunk is factorised around its midpoint
# so exponents stay within +-LOG_SPREAD/2 (e^40 ~ 2e17): no fp32 overflow and no denormals.
LOG_SPREAD = 80.0


def _prepare(
    u: Tensor, delta: Tensor, A: Tensor, delta_bias: Tensor | None, delta_softplus: bool
) -> tuple[Tensor, Tensor, Tensor]:
    acc = torch.promote_types(u.dtype, torch.float32)  # fp32 accumulation (fp64 kept for checks)
    # contiguous time axis: the chunk loop slices, cumsums and reduces along it
    u, delta, A = u.to(acc).contiguous(), delta.to(acc).contiguous(), A.to(acc)
    if delta_bias is not None:
        delta = delta + delta_bias.to(acc)[..., None]
    if delta_softplus:
        delta = F.softplus(delta)
    return u, delta, A


def _finish(y: Tensor, u: Tensor, D: Tensor | None, z: Tensor | None, dtype: torch.dtype) -> Tensor:
    if D is not None:
        y = y + u * D.to(y.dtype)[:, None]
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    return y.to(dtype)


def selective_scan_reference(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Step-by-step recurrence, the ground truth (as mamba-ssm's selective_scan_ref); slow, O(L) loop."""
    dtype = u.dtype
    u, delta, A = _prepare(u, delta, A, delta_bias, delta_softplus)
    B, C = B.to(u.dtype), C.to(u.dtype)
    delta_a = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    delta_b_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    x = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for i in range(u.shape[2]):
        x = delta_a[:, :, i] * x + delta_b_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
    y = _finish(torch.stack(ys, dim=2), u, D, z, dtype)
    return (y, x) if return_last_state else y


def _scan_block(
    dl: Tensor,
    du: Tensor,
    A: Tensor,
    bm: Tensor,
    cm: Tensor,
    h: Tensor,
    work: tuple[Tensor, Tensor] | None = None,
    cum: Tensor | None = None,
    a_max: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Scan one chunk for rows (...): dl, du (..., T); A, h (..., n); bm, cm (..., n, T) broadcastable.

    With c_t = A * cumsum(delta)_t and midpoint m = c_T / 2 the chunk is parallel:
    h_t = e^(c_t - m) * (sum_{s<=t} e^(m - c_s) delta_s B_s u_s + e^m h_0).
    Rows whose decay spread exceeds LOG_SPREAD (would overflow fp32) are redone on halves.
    Time is the last axis so that cumsum and reductions run over contiguous memory; `work` holds two
    reusable (..., n, T) buffers; `cum` (cumsum of dl) and `a_max` (max |A| per row) may be given.
    """
    length = dl.shape[-1]
    if length == 1:
        h = torch.exp(dl * A) * h + du * bm[..., 0]
        return (h * cm[..., 0]).sum(-1, keepdim=True), h
    cum = dl.cumsum(-1) if cum is None else cum
    half = cum[..., -1:] * 0.5
    hot = cum[..., -1] * (A.abs().amax(-1) if a_max is None else a_max) > LOG_SPREAD
    any_hot = bool(hot.any())
    expo = (cum - half)[..., None, :]
    if work is None:  # autograd-friendly path (no out= buffers)
        expo = A[..., None] * expo
        decay = torch.exp(expo.clamp(-0.5 * LOG_SPREAD, 0.5 * LOG_SPREAD) if any_hot else expo)
        acc = du[..., None, :] * bm / decay
        acc = torch.cat([acc[..., :1] + (torch.exp(half * A) * h)[..., None], acc[..., 1:]], -1)
        acc = acc.cumsum(-1) * decay
        y, h_last = (acc * cm).sum(-2), acc[..., -1]
    else:  # inference: two reused buffers, no large allocation per chunk
        shape = torch.broadcast_shapes(bm.shape, dl.shape[:-1] + (A.shape[-1], length))
        decay, acc = (w if w.shape == shape else dl.new_empty(shape) for w in work)
        torch.mul(A[..., None], expo, out=decay)  # c_t - m: (..., n, T)
        if any_hot:
            decay.clamp_(-0.5 * LOG_SPREAD, 0.5 * LOG_SPREAD)  # finite; hot rows redone below
        decay.exp_()  # e^(c_t - m)
        torch.mul(du[..., None, :], bm, out=acc).div_(decay)
        acc[..., 0] += torch.exp(half * A) * h  # e^m h_0 enters with the first step
        acc.cumsum_(-1).mul_(decay)
        h_last = acc[..., -1].clone()
        y = torch.mul(acc, cm, out=decay).sum(-2)
    if any_hot:
        idx = hot.nonzero(as_tuple=True)
        rows = hot.shape
        a_r = A.expand(*rows, A.shape[-1])[idx]
        b_r = bm.expand(*rows, *bm.shape[-2:])[idx]
        c_r = cm.expand(*rows, *cm.shape[-2:])[idx]
        dl_r, du_r, mid = dl[idx], du[idx], length // 2
        y1, h1 = _scan_block(
            dl_r[:, :mid], du_r[:, :mid], a_r, b_r[..., :mid], c_r[..., :mid], h[idx]
        )
        y2, h2 = _scan_block(dl_r[:, mid:], du_r[:, mid:], a_r, b_r[..., mid:], c_r[..., mid:], h1)
        y, h_last = y.clone(), h_last.clone()
        y[idx] = torch.cat([y1, y2], dim=-1)
        h_last[idx] = h2
    return y, h_last


def selective_scan_chunked(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    chunk_size: int = 32,
) -> Tensor | tuple[Tensor, Tensor]:
    """Chunked scan: parallel inside a chunk (cumulative log-decays), state carried across chunks.

    Only (batch, d, n, chunk) is ever materialised, never the full length; accumulation is fp32.
    """
    dtype = u.dtype
    u, delta, A = _prepare(u, delta, A, delta_bias, delta_softplus)
    bt = B.to(u.dtype).contiguous()[:, None]  # (b, 1, n, L)
    ct = C.to(u.dtype).contiguous()[:, None]
    du = delta * u
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    y = torch.empty_like(u)
    work = None
    needs_grad = any(t.requires_grad for t in (u, delta, A, B, C))
    if not (torch.is_grad_enabled() and needs_grad):
        shape = (u.shape[0], u.shape[1], A.shape[1], chunk_size)
        work = (u.new_empty(shape), u.new_empty(shape))
    length, a_max = u.shape[-1], A.abs().amax(-1)
    pad = (-length) % chunk_size  # all within-chunk cumsums of delta in one call
    cum = F.pad(delta, (0, pad)).unflatten(-1, (-1, chunk_size)).cumsum(-1).flatten(-2)
    for s in range(0, length, chunk_size):
        e = min(s + chunk_size, length)
        y[:, :, s:e], h = _scan_block(
            delta[:, :, s:e], du[:, :, s:e], A, bt[..., s:e], ct[..., s:e], h, work,
            cum[:, :, s:e], a_max,
        )  # fmt: skip
    y = _finish(y, u, D, z, dtype)
    return (y, h) if return_last_state else y


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    chunk_size: int = 32,
) -> Tensor:
    """mamba-ssm's CUDA kernel for CUDA tensors when installed, the chunked PyTorch scan otherwise."""
    if _cuda_scan is not None and u.is_cuda:
        return _cuda_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    return selective_scan_chunked(
        u, delta, A, B, C, D, z, delta_bias, delta_softplus, chunk_size=chunk_size
    )
