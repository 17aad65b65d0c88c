"""Selective scan (Mamba S6): reference recurrence, chunked pure-PyTorch scan, fused CPU kernel, CUDA.

Shapes follow mamba-ssm: u, delta, z (batch, d, L); A (d, n) real; B, C (batch, n, L); D, delta_bias (d,).
Dispatch (:func:`selective_scan`): mamba-ssm's kernel for CUDA tensors when installed; on the CPU the
fused numba kernel (:mod:`.fused_scan`) for float32 when numba is installed; else the chunked scan.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

try:  # optional CUDA kernels; only used for CUDA tensors
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _cuda_scan
except ImportError:  # pragma: no cover - depends on the environment
    _cuda_scan = None

#: ``scan`` values of :func:`selective_scan` (and of the model's ``set_scan``, with "reference").
SCANS = ("auto", "fused", "chunked")

# Elements of one (T, chunks, batch, d_state, d_inner) work buffer of the inference scan: ~4 MB keeps
# both buffers in L3 while each vectorised step still covers many chunks (few Python-level ops).
BLOCK_ELEMENTS = 1 << 20
# Elements of one (T, batch, d_state, d_inner) buffer of the backward pass (three are live at once):
# 16 MB each bounds training memory at any length while keeping the per-step loops short.
GRAD_BLOCK_ELEMENTS = 1 << 22


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
        u_s, dl_s, b_s, c_s = (
            _steps_first(v, kb) for v in (ub, dl, b_t[s:e].to(acc), c_t[s:e].to(acc))
        )
        yb, h = _recurrent_span(u_s, dl_s, b_s, c_s, at=at, h=h, a=bufs[0], x=bufs[1], slabs=slabs)
        yb = yb.transpose(0, 1).flatten(0, 1)
        if skip is not None:
            yb.addcmul_(ub, skip)
        if z_t is not None:
            yb.mul_(F.silu(z_t[s:e].to(acc)))
        y[s:e] = yb
        s = e
    return y.permute(1, 2, 0), h.transpose(1, 2)


def _decays_and_inputs(dl: Tensor, u: Tensor, b: Tensor, at: Tensor) -> tuple[Tensor, Tensor]:
    """Per-step decay e^(A delta) and input delta B u, both (T, b, n, d), for time-major slices."""
    shape = (*dl.shape[:2], *at.shape)
    a = torch.mul(at, dl[:, :, None, :], out=dl.new_empty(shape)).exp_()
    x = torch.mul((dl * u)[:, :, None, :], b[..., None], out=dl.new_empty(shape))
    return a, x


def _scan_states(a: Tensor, x: Tensor, h: Tensor) -> Tensor:
    """States h_t = a_t h_{t-1} + x_t of one block, written into x; h (b, n, d) is the start state."""
    x[0].addcmul_(a[0], h)
    for t in range(1, x.shape[0]):
        x[t].addcmul_(a[t], x[t - 1])
    return x


class _SelectiveScanFn(torch.autograd.Function):
    """Selective scan with a hand-written backward for the CPU/PyTorch path.

    Autograd through the per-chunk arithmetic kept several (batch, d, n, L) tensors per layer alive
    (gigabytes for a batch of 500-bp windows). Here the forward is the inference scan and the
    backward recomputes the states one block of steps at a time from block-start states (found by a
    first pass when there is more than one block), runs
    the adjoint recurrence g_t = C_t dy_t + a_{t+1} g_{t+1} backwards, and reduces the gradients
    per block. Inputs use mamba-ssm's shapes: u, delta, z (b, d, L); A (d, n); B, C (b, n, L).
    """

    @staticmethod
    def forward(
        ctx: Any,
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
        y, h = _scan_time_major(u, delta, A, B, C, D, z, delta_bias, delta_softplus, chunk_size)
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias)
        ctx.delta_softplus = delta_softplus
        ctx.mark_non_differentiable(h)  # the final state is for inspection only
        return y.to(u.dtype), h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: Tensor, _grad_h: Tensor | None) -> tuple[Tensor | None, ...]:
        u, delta, A, B, C, D, z, delta_bias = ctx.saved_tensors
        acc = torch.promote_types(u.dtype, torch.float32)
        length, bsz = u.shape[2], u.shape[0]
        d, n = A.shape
        # time-major (L, b, .) views, as in the forward
        u_t = u.permute(2, 0, 1).to(acc)
        raw = delta.permute(2, 0, 1).to(acc)
        if delta_bias is not None:
            raw = raw + delta_bias.to(acc)
        dl = F.softplus(raw) if ctx.delta_softplus else raw
        b_t, c_t = B.permute(2, 0, 1).to(acc), C.permute(2, 0, 1).to(acc)
        at = A.to(acc).t().contiguous()  # (n, d)
        gy = grad_out.permute(2, 0, 1).to(acc)
        if z is not None:
            z_t = z.permute(2, 0, 1).to(acc)
            gate = F.silu(z_t)
            gy_pre = gy * gate  # gradient of the ungated output y + D u
        else:
            gy_pre = gy
        steps = max(1, GRAD_BLOCK_ELEMENTS // max(1, bsz * n * d))
        bounds = [(s, min(s + steps, length)) for s in range(0, length, steps)]
        starts = [u_t.new_zeros(bsz, n, d)]  # state before each block
        for s, e in bounds[:-1]:
            a, x = _decays_and_inputs(dl[s:e], u_t[s:e], b_t[s:e], at)
            starts.append(_scan_states(a, x, starts[-1])[-1].clone())
        g_du, g_dl = torch.empty_like(u_t), torch.empty_like(dl)
        g_b, g_c = torch.empty_like(b_t), torch.empty_like(c_t)
        g_a = at.new_zeros(n, d)
        y_ssm = torch.empty_like(u_t) if z is not None else None
        carry = u_t.new_zeros(bsz, n, d)  # a_e g_e from the block after, flowing into step e-1
        for (s, e), h0 in zip(reversed(bounds), reversed(starts), strict=True):
            a, x = _decays_and_inputs(dl[s:e], u_t[s:e], b_t[s:e], at)
            hs = _scan_states(a, x, h0)
            rows = (e - s) * bsz  # (t, b) flattened: the reductions become batched matmuls
            gys = gy_pre[s:e].reshape(rows, d, 1)
            cs = c_t[s:e].reshape(rows, 1, n)
            bs = b_t[s:e].reshape(rows, 1, n)
            if y_ssm is not None:
                y_ssm[s:e] = torch.bmm(cs, hs.view(rows, n, d)).view(e - s, bsz, d)
            g = cs.view(e - s, bsz, n, 1) * gys.view(e - s, bsz, 1, d)  # adjoint of the states
            g[-1].add_(carry)
            for t in range(e - s - 2, -1, -1):
                g[t].addcmul_(a[t + 1], g[t + 1])
            carry = a[0] * g[0]
            g_c[s:e] = torch.bmm(hs.view(rows, n, d), gys).view(e - s, bsz, n)
            g_bsum = torch.bmm(bs, g.view(rows, n, d)).view(e - s, bsz, d)  # sum_n g B
            g_du[s:e] = g_bsum * dl[s:e]
            g_dl[s:e] = g_bsum * u_t[s:e]
            du_in = (dl[s:e] * u_t[s:e]).reshape(rows, d, 1)
            g_b[s:e] = torch.bmm(g.view(rows, n, d), du_in).view(e - s, bsz, n)
            q = a.mul_(g)  # g_t a_t h_{t-1}: the decay's share, reusing a's buffer
            q[0].mul_(h0)
            q[1:].mul_(hs[:-1])
            g_dl[s:e] += (q * at).sum(2)
            g_a += (q.mul_(dl[s:e, :, None, :])).sum((0, 1))
        grad_d = None
        if D is not None:
            g_du.addcmul_(gy_pre, D.to(acc))
            grad_d = (gy_pre * u_t).sum((0, 1)).to(D.dtype)
        grad_z = None
        if z is not None:
            assert y_ssm is not None  # kept whenever z is given
            y_pre = y_ssm if D is None else y_ssm.addcmul_(u_t, D.to(acc))
            sig = torch.sigmoid(z_t)
            grad_z = (gy * y_pre * sig * (1 + z_t * (1 - sig))).permute(1, 2, 0).to(z.dtype)
        g_raw = g_dl * torch.sigmoid(raw) if ctx.delta_softplus else g_dl
        grad_bias = None if delta_bias is None else g_raw.sum((0, 1)).to(delta_bias.dtype)
        return (
            g_du.permute(1, 2, 0).to(u.dtype),
            g_raw.permute(1, 2, 0).to(delta.dtype),
            g_a.t().to(A.dtype),
            g_b.permute(1, 2, 0).to(B.dtype),
            g_c.permute(1, 2, 0).to(C.dtype),
            grad_d,
            grad_z,
            grad_bias,
            None,
            None,
        )


def _fused_kernels():
    """The numba kernels module, or None when numba is not installed (or fails to import)."""
    try:
        from . import fused_scan
    except ImportError:
        return None
    return fused_scan


def _numba_threads() -> None:
    """Run numba's parallel loops on as many threads as torch uses (``--threads``)."""
    import numba

    # numba.config sets its options at run time (from the environment), unseen by the type checker
    limit = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    numba.set_num_threads(max(1, min(torch.get_num_threads(), limit)))


def _rows(v: Tensor, lanes: int) -> Tensor:
    """(b, x, L) -> float32 (b, L, x) rows for the kernels: a view when Mamba's time-major layout
    already fits (x a multiple of ``lanes``, unit stride along x), else a padded copy."""
    v = v.transpose(1, 2)
    pad = -v.shape[2] % lanes
    if v.dtype == torch.float32 and v.stride(2) == 1 and not pad:
        return v
    return F.pad(v.float(), (0, pad)).contiguous()


def _flat(v: Tensor) -> tuple[Tensor, tuple[int, ...]]:
    """A 1-d view of the storage ``v`` (unit stride along its last axis) spans, and its strides."""
    span = sum((size - 1) * stride for size, stride in zip(v.shape, v.stride(), strict=True)) + 1
    return v.as_strided((span,), (1,)), v.stride()


def _lanes(v: Tensor | None, size: int, lanes: int) -> Tensor:
    """A per-channel vector (or zeros for None) as float32, padded to the kernels' lanes."""
    v = torch.zeros(size) if v is None else v.detach().float()
    return F.pad(v, (0, -size % lanes)).contiguous()


def _lanes_of(A: Tensor, lanes: int) -> Tensor:
    """A (d, n) -> contiguous float32 (n, d) with d padded like the channels."""
    return F.pad(A.detach().float().t(), (0, -A.shape[0] % lanes)).contiguous()


class _FusedScanFn(torch.autograd.Function):
    """The fused CPU kernels (float32): the forward does dt_proj (with ``delta_proj``), bias,
    softplus, the scan, the D skip and the z gate in one pass; the backward kernel gives every
    gradient (u, delta or the low-rank step and dt_proj's weight, A, B, C, D, z, bias); only the
    partial sums of tasks are added up here. Channels that are not a multiple of the kernels' 16 lanes
    are padded (zero delta and input: their states stay zero).
    """

    @staticmethod
    def forward(
        ctx: Any,
        u: Tensor,
        delta: Tensor,
        A: Tensor,
        B: Tensor,
        C: Tensor,
        D: Tensor | None,
        z: Tensor | None,
        delta_bias: Tensor | None,
        delta_softplus: bool,
        reverse: bool,
        delta_proj: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        kernels = _fused_kernels()
        lanes = kernels.LANES
        bsz, d, length = u.shape
        u_r = _rows(u, lanes)
        if delta_proj is None:
            dl_r, w_dt = _rows(delta, lanes), u_r.new_zeros(0, u_r.shape[2])
        else:  # the kernel projects the low-rank step (and its backward takes dt_proj's grads)
            dl_r, w_dt = _rows(delta, 1), _lanes_of(delta_proj, lanes)
        z_r = _rows(z, lanes) if z is not None else u_r
        z_flat, z_strides = _flat(z_r)
        width = u_r.shape[2]
        b_r, c_r = _rows(B, 1), _rows(C, 1)
        keep = z is not None and ctx.needs_input_grad[6]  # the gate's gradient needs C.h + D u
        y = u_r.new_empty(bsz, length, width)
        ungated = u_r.new_empty(bsz, length, width) if keep else y
        last = u_r.new_empty(bsz, A.shape[1], width)
        _numba_threads()
        kernels.scan_forward(
            *(x.numpy() for x in (u_r, dl_r, _lanes_of(A, lanes), b_r, c_r)),
            _lanes(delta_bias, d, lanes).numpy(),
            _lanes(D, d, lanes).numpy(),
            z_flat.numpy(),
            np.array(z_strides[:2], dtype=np.int64),
            delta_softplus,
            z is not None,
            y.numpy(),
            last.numpy(),
            keep,
            ungated.numpy(),
            reverse,
            delta_proj is not None,
            w_dt.numpy(),
        )
        ctx.save_for_backward(
            u, delta, A, B, C, D, z, delta_bias, ungated if keep else None, delta_proj
        )
        ctx.delta_softplus, ctx.reverse = delta_softplus, reverse
        ctx.mark_non_differentiable(last)
        return y[:, :, :d].transpose(1, 2).to(u.dtype), last[:, :, :d].transpose(1, 2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: Tensor, _grad_h: Tensor | None) -> tuple[Tensor | None, ...]:
        import numba

        u, delta, A, B, C, D, z, delta_bias, ungated, delta_proj = ctx.saved_tensors
        kernels = _fused_kernels()
        lanes = kernels.LANES
        bsz, d, length = u.shape
        n = A.shape[1]
        project = delta_proj is not None
        gy = _rows(grad_out, lanes).contiguous()  # (b, L, d padded)
        u_r = _rows(u, lanes)
        width = gy.shape[2]
        gated = z is not None
        z_flat, z_strides = _flat(_rows(z, lanes) if gated else gy)
        g_z = torch.empty_like(gy) if gated else gy  # unwritten without the gate
        if ungated is None:  # z wants no gradient: g_z is computed and dropped
            ungated = gy
        _numba_threads()
        workers = max(1, -(-numba.get_num_threads() // bsz))  # tasks = batch x workers
        g_u = torch.empty_like(gy)
        g_a = gy.new_empty(bsz, n, width)
        g_b = gy.new_zeros(workers, bsz, length, n)
        g_c = gy.new_zeros(workers, bsz, length, n)
        g_skip, g_bias = gy.new_empty(bsz, width), gy.new_empty(bsz, width)
        if project:  # the kernel applies dt_proj: gradients of the low-rank step and the weight
            rank = delta_proj.shape[1]
            delta_r, w_dt = _rows(delta, 1), _lanes_of(delta_proj, lanes)
            g_raw = gy.new_empty(0, 0, 0)
            g_low = gy.new_zeros(workers, bsz, length, rank)
            g_w = gy.new_empty(bsz, rank, width)
        else:
            delta_r, w_dt = _rows(delta, lanes), gy.new_zeros(0, width)
            g_raw = torch.empty_like(gy)
            g_low, g_w = gy.new_empty(0, 0, 0, 0), gy.new_empty(0, 0, 0)
        kernels.scan_backward(
            *(x.numpy() for x in (u_r, delta_r, _lanes_of(A, lanes))),
            *(x.numpy() for x in (_rows(B, 1), _rows(C, 1))),
            _lanes(delta_bias, d, lanes).numpy(),
            ctx.delta_softplus,
            gy.numpy(),
            z_flat.numpy(),
            np.array(z_strides[:2], dtype=np.int64),
            gated,
            ungated.contiguous().numpy(),
            _lanes(D, d, lanes).numpy(),
            *(x.numpy() for x in (g_u, g_raw, g_a, g_b, g_c, g_z, g_skip)),
            ctx.reverse,
            project,
            w_dt.numpy(),
            *(x.numpy() for x in (g_bias, g_low, g_w)),
        )
        grad_d = None if D is None else g_skip.sum(0)[:d].to(D.dtype)
        grad_z = None
        if gated and ctx.needs_input_grad[6]:
            grad_z = g_z[:, :, :d].transpose(1, 2).to(z.dtype)
        grad_bias = None if delta_bias is None else g_bias.sum(0)[:d].to(delta_bias.dtype)
        if project:
            grad_delta = g_low.sum(0).transpose(1, 2).to(delta.dtype)
            grad_proj = g_w.sum(0)[:, :d].t().to(delta_proj.dtype)
        else:
            grad_delta, grad_proj = g_raw[:, :, :d].transpose(1, 2).to(delta.dtype), None
        return (
            g_u[:, :, :d].transpose(1, 2).to(u.dtype),
            grad_delta,
            g_a.sum(0)[:, :d].t().to(A.dtype),
            g_b.sum(0).transpose(1, 2).to(B.dtype),
            g_c.sum(0).transpose(1, 2).to(C.dtype),
            grad_d,
            grad_z,
            grad_bias,
            None,
            None,
            grad_proj,
        )


def _project(delta: Tensor, delta_proj: Tensor) -> Tensor:
    """Mamba's dt_proj: the low-rank step (b, R, L) -> (b, d, L), as a time-major product."""
    return (delta.transpose(1, 2) @ delta_proj.t()).transpose(1, 2)


def fused_scan_usable(*tensors: Tensor | None) -> bool:
    """Whether the fused CPU kernel can run these inputs: numba installed, CPU, float32 only."""
    present = [t for t in tensors if t is not None]
    return (
        all(t.device.type == "cpu" and t.dtype == torch.float32 for t in present)
        and _fused_kernels() is not None
    )


def selective_scan_fused(
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
    reverse: bool = False,
    delta_proj: Tensor | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """The fused numba kernel (CPU, float32; see :func:`fused_scan_usable`), with its backward;
    ``reverse`` scans from the last position to the first; ``delta_proj`` as in
    :func:`selective_scan`."""
    y, h = _FusedScanFn.apply(
        u, delta, A, B, C, D, z, delta_bias, delta_softplus, reverse, delta_proj
    )
    return (y, h) if return_last_state else y


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
    With autograd the same forward runs inside _SelectiveScanFn, whose backward recomputes the states
    block by block (as mamba-ssm's kernel does) instead of keeping the autograd graph of every step.
    Neither materialises a (batch, d, length, n) tensor; work memory is bounded by the block size.
    """
    dtype = u.dtype
    needs_grad = any(
        t.requires_grad for t in (u, delta, A, B, C, D, z, delta_bias) if t is not None
    )
    if not (torch.is_grad_enabled() and needs_grad):
        y, h = _scan_time_major(u, delta, A, B, C, D, z, delta_bias, delta_softplus, chunk_size)
        y = y.to(dtype)
        return (y, h) if return_last_state else y
    y, h = _SelectiveScanFn.apply(u, delta, A, B, C, D, z, delta_bias, delta_softplus, chunk_size)
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
    scan: str = "auto",
    reverse: bool = False,
    delta_proj: Tensor | None = None,
) -> Tensor:
    """mamba-ssm's CUDA kernel for CUDA tensors when installed; on the CPU the fused kernel when it
    can run (``scan="auto"`` or ``"fused"``), else (or with ``scan="chunked"``) the chunked scan.
    ``reverse`` scans from the last position to the first: the fused kernel walks backwards, the
    others run on time-flipped copies (the result is flipped back). ``delta_proj`` (d, R): ``delta``
    is Mamba's low-rank step (b, R, L) and the step is ``delta_proj @ delta`` (dt_proj), which the
    fused kernel computes per token (forward and backward) instead of materialising (b, d, L)."""
    fused = fused_scan_usable(u, delta, A, B, C, D, z, delta_bias, delta_proj)
    if scan != "chunked" and not u.is_cuda and fused:
        # without return_last_state the scans return the output alone
        return cast(Tensor, selective_scan_fused(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, reverse=reverse,
            delta_proj=delta_proj,
        ))  # fmt: skip
    if delta_proj is not None:
        delta = _project(delta, delta_proj)
    if reverse:
        u, delta, B, C = (v.flip(-1) for v in (u, delta, B, C))
        z = None if z is None else z.flip(-1)
    if _cuda_scan is not None and u.is_cuda:
        y = _cuda_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    else:
        y = selective_scan_chunked(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, chunk_size=chunk_size
        )
    return y.flip(-1) if reverse else y
