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
# Elements of one (T, chunks, batch, d_state, d_inner) work buffer of the inference scan: ~4 MB keeps
# both buffers in L3 while each vectorised step still covers many chunks (few Python-level ops).
BLOCK_ELEMENTS = 1 << 20


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
    cum: Tensor | None = None,
    a_max: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Scan one chunk for rows (...): dl, du (..., T); A, h (..., n); bm, cm (..., n, T) broadcastable.

    With c_t = A * cumsum(delta)_t and midpoint m = c_T / 2 the chunk is parallel:
    h_t = e^(c_t - m) * (sum_{s<=t} e^(m - c_s) delta_s B_s u_s + e^m h_0).
    Rows whose decay spread exceeds LOG_SPREAD (would overflow fp32) are redone on halves.
    Time is the last axis so that cumsum and reductions run over contiguous memory; `cum` (cumsum of
    dl) and `a_max` (max |A| per row) may be given. Used where gradients are needed (training).
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
    expo = A[..., None] * expo
    decay = torch.exp(expo.clamp(-0.5 * LOG_SPREAD, 0.5 * LOG_SPREAD) if any_hot else expo)
    acc = du[..., None, :] * bm / decay
    acc = torch.cat([acc[..., :1] + (torch.exp(half * A) * h)[..., None], acc[..., 1:]], -1)
    acc = acc.cumsum(-1) * decay
    y, h_last = (acc * cm).sum(-2), acc[..., -1]
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


def _steps_first(v: Tensor, kb: int) -> Tensor:
    """(kb*T, ...) -> (T, kb, ...) view: chunk k covers rows k*T .. k*T+T-1."""
    return v.unflatten(0, (kb, -1)).transpose(0, 1)


def _recurrent_span(
    u: Tensor,
    dl: Tensor,
    bt: Tensor,
    ct: Tensor,
    at: Tensor,
    h: Tensor,
    a: Tensor,
    x: Tensor,
    slabs: tuple[tuple[Tensor, ...], tuple[Tensor, ...]],
) -> tuple[Tensor, Tensor]:
    """Scan kb chunks of T steps at once: u, dl (T, kb, b, d); bt, ct (T, kb, b, n); at (n, d).

    The recurrence runs step by step inside every chunk simultaneously (T steps, each vectorised over
    all kb chunks), from a zero state; the running product P_t of the decays is kept alongside, so the
    true state is local_t + P_t h_start. Chunk-start states follow from a short loop over the kb
    chunks; h (b, n, d) is the state before the first. Exponents never exceed one step's, so
    nothing overflows (no log-space factorisation), and the reused buffers a, x (T, kb, b, n, d)
    are the only large tensors; step-major, so every step reads and writes contiguous slabs.
    `slabs` = (a.unbind(0), x.unbind(0)), made once per buffer (indexing per step costs as much as
    the arithmetic at this size).
    """
    kb = dl.shape[1]
    torch.mul(at, dl[..., None, :], out=a).exp_()  # per-step decay e^(A delta)
    torch.mul((dl * u)[..., None, :], bt[..., None], out=x)  # delta B u
    a_s, x_s = slabs
    for t in range(1, len(a_s)):
        x_s[t].addcmul_(a_s[t], x_s[t - 1])  # local state, zero start
        a_s[t].mul_(a_s[t - 1])  # P_t: decay since the chunk start
    starts = h.new_empty(kb + 1, *h.shape)  # state before chunk k, and after the last
    starts[0] = h
    x_end, p_end = x_s[-1], a_s[-1]
    for k in range(kb):
        torch.addcmul(x_end[k], p_end[k], starts[k], out=starts[k + 1])
    x.addcmul_(a, starts[:kb])
    y = torch.mul(x, ct[..., None], out=a).sum(-2)  # (T, kb, b, d)
    return y, starts[kb]


def _scan_time_major(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None,
    z: Tensor | None,
    delta_bias: Tensor | None,
    delta_softplus: bool,
    chunk_size: int,
) -> tuple[Tensor, Tensor]:
    """Inference scan: blocks of chunks in time-major layout; y (b, d, L) as a time-major view.

    Everything per token (bias, softplus, delta*u, D skip, z gate) is done per block, so no tensor of
    the full length is allocated apart from y itself; (b, L, d)-strided inputs (transposed
    projections, as Mamba passes them) are read without copies.
    """
    acc = torch.promote_types(u.dtype, torch.float32)
    bsz, d, length = u.shape
    n = A.shape[1]
    u_t, dl_t, z_t = u.permute(2, 0, 1), delta.permute(2, 0, 1), None
    b_t, c_t = B.permute(2, 0, 1), C.permute(2, 0, 1)
    if z is not None:
        z_t = z.permute(2, 0, 1)
    at = A.to(acc).t().contiguous()  # (n, d)
    bias = None if delta_bias is None else delta_bias.to(acc)
    skip = None if D is None else D.to(acc)
    y = torch.empty(length, bsz, d, dtype=acc, device=u.device)
    h = torch.zeros(bsz, n, d, dtype=acc, device=u.device)
    steps = min(chunk_size, max(length, 1))
    kb_max = max(1, BLOCK_ELEMENTS // (steps * bsz * n * d))
    bufs: tuple[Tensor, Tensor] | None = None
    slabs: tuple[tuple[Tensor, ...], tuple[Tensor, ...]] = ((), ())
    s = 0
    while s < length:
        full = (length - s) // steps
        kb, t_len = (min(kb_max, full), steps) if full else (1, length - s)
        e = s + kb * t_len
        shape = (t_len, kb, bsz, n, d)
        if bufs is None or bufs[0].shape != shape:
            bufs = (u.new_empty(shape, dtype=acc), u.new_empty(shape, dtype=acc))
            slabs = (bufs[0].unbind(0), bufs[1].unbind(0))
        dl = dl_t[s:e].to(acc)
        if bias is not None:
            dl = dl + bias
        if delta_softplus:
            dl = F.softplus(dl)
        ub = u_t[s:e].to(acc)
        views = (_steps_first(v, kb) for v in (ub, dl, b_t[s:e].to(acc), c_t[s:e].to(acc)))
        yb, h = _recurrent_span(*views, at=at, h=h, a=bufs[0], x=bufs[1], slabs=slabs)
        yb = yb.transpose(0, 1).flatten(0, 1)
        if skip is not None:
            yb.addcmul_(ub, skip)
        if z_t is not None:
            yb.mul_(F.silu(z_t[s:e].to(acc)))
        y[s:e] = yb
        s = e
    return y.permute(1, 2, 0), h.transpose(1, 2)


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
    """Chunked scan of `chunk_size` steps per chunk, state carried across chunks; fp32 accumulation.

    Inference (no gradient needed): many chunks advance together step by step (_scan_time_major).
    With autograd: each chunk is parallel in time via cumulative log-decays (_scan_block). Neither
    materialises a (batch, d, length, n) tensor; work memory is bounded by the block/chunk size.
    """
    dtype = u.dtype
    needs_grad = any(
        t.requires_grad for t in (u, delta, A, B, C, D, z, delta_bias) if t is not None
    )
    if not (torch.is_grad_enabled() and needs_grad):
        y, h = _scan_time_major(u, delta, A, B, C, D, z, delta_bias, delta_softplus, chunk_size)
        y = y.to(dtype)
        return (y, h) if return_last_state else y
    u, delta, A = _prepare(u, delta, A, delta_bias, delta_softplus)
    bt = B.to(u.dtype).contiguous()[:, None]  # (b, 1, n, L)
    ct = C.to(u.dtype).contiguous()[:, None]
    du = delta * u
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    y = torch.empty_like(u)
    length, a_max = u.shape[-1], A.abs().amax(-1)
    pad = (-length) % chunk_size  # all within-chunk cumsums of delta in one call
    cum = F.pad(delta, (0, pad)).unflatten(-1, (-1, chunk_size)).cumsum(-1).flatten(-2)
    for s in range(0, length, chunk_size):
        e = min(s + chunk_size, length)
        y[:, :, s:e], h = _scan_block(
            delta[:, :, s:e], du[:, :, s:e], A, bt[..., s:e], ct[..., s:e], h, cum[:, :, s:e],
            a_max,
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
