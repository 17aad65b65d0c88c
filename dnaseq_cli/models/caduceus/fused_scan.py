"""Fused selective-scan kernels for the CPU, compiled by numba (optional; the PyTorch scan is the fallback).

Why: the chunked PyTorch scan (:mod:`.selective_scan`) spends most of a long Caduceus forward in
separate passes over (steps, batch, d_state, channels) buffers: one for the decays, one for the
inputs, one per step for the recurrence, one for the output reduction, plus the copies between
them. Here one loop does all of it per step while the state stays in registers: each task owns 16
channels of one sequence (one AVX-512 vector of float32), walks the sequence once and writes y.

The exponential is computed inline (``_exp``: range reduction to 2^n 2^f, f in [-1/2, 1/2], a
degree-6 polynomial for 2^f, 2^n from the exponent bits), so the compiler can vectorise it; libm's
``expf`` cannot be, and was three quarters of the loop's time. Relative error below 4e-6 over
the range used (the recurrence's results agree with the float64 reference to about 1e-6 relative).

Layout: time-major rows as Mamba produces them, u, delta, dy (batch, L, d); B, C (batch, L, n);
``a_t`` = A transposed (n, d); d must be a multiple of ``LANES`` (the caller pads). All float32.
"""

from __future__ import annotations

import math

import llvmlite.ir as llvm_ir
import numba
import numpy as np
from numba.core import compiler as numba_compiler
from numba.core import types
from numba.extending import intrinsic

LANES = 16  # channels per task: one AVX-512 vector of float32; a fixed count lets LLVM vectorise
CHECKPOINT_STEPS = 256  # backward: states kept every this many steps, recomputed in between
# backward: sequences up to this long are one segment (no checkpoint pass, a third fewer
# exponentials; the segment's states and decays, 1 MiB each at d_state 16, stay in cache)
WHOLE_SEQUENCE_STEPS = 1024
TOKEN_BLOCK = 64  # forward: steps whose per-token work (softplus, gate) is done in one flat loop


@intrinsic
def _float_from_bits(typingctx, bits):  # noqa: ARG001 - numba's intrinsic signature
    """Reinterpret an int32 as a float32 (no conversion): builds 2^n from its exponent field."""

    def codegen(context, builder, signature, args):  # noqa: ARG001
        return builder.bitcast(args[0], llvm_ir.FloatType())

    return types.float32(types.int32), codegen


@numba.njit(inline="always", fastmath=True, error_model="numpy")
def _exp(x):
    """e^x for float32, vectorisable (see the module docstring); clamps to 2^(+-126)."""
    y = x * np.float32(1.4426950408889634)  # log2(e)
    y = min(max(y, np.float32(-126.0)), np.float32(126.0))
    whole = np.float32(math.floor(y + np.float32(0.5)))
    f = y - whole
    p = np.float32(1.535336188319500e-4)  # Taylor coefficients of 2^f = e^(f ln 2)
    p = p * f + np.float32(1.339887440266574e-3)
    p = p * f + np.float32(9.618437357674640e-3)
    p = p * f + np.float32(5.550332471162809e-2)
    p = p * f + np.float32(2.402264791363012e-1)
    p = p * f + np.float32(6.931472028550421e-1)
    p = p * f + np.float32(1.0)
    # numba supplies an @intrinsic's typingctx itself; its stubs type the call with it
    bits = (np.int32(whole) + np.int32(127)) << np.int32(23)
    return p * _float_from_bits(bits)  # type: ignore[call-arg]


@numba.njit(inline="always", fastmath=True, error_model="numpy")
def _softplus(x):
    """log(1 + e^x), vectorisable: max(x, 0) + log1p(e^-|x|), the log from 2 atanh(y / (2 + y))."""
    y = _exp(-abs(x))  # (0, 1]
    s = y / (np.float32(2.0) + y)  # [0, 1/3]: the odd series below is exact to ~1e-8
    s2 = s * s
    p = np.float32(1.0 / 13.0)
    p = p * s2 + np.float32(1.0 / 11.0)
    p = p * s2 + np.float32(1.0 / 9.0)
    p = p * s2 + np.float32(1.0 / 7.0)
    p = p * s2 + np.float32(1.0 / 5.0)
    p = p * s2 + np.float32(1.0 / 3.0)
    p = p * s2 + np.float32(1.0)
    return max(x, np.float32(0.0)) + np.float32(2.0) * s * p


@numba.njit(fastmath=True, error_model="numpy", cache=True)
def _softplus_all(block):
    """softplus in place over a C-contiguous 2-d block. A separate long flat loop: inside the scan's
    16-lane loops the same arithmetic was unrolled and left scalar (a third of the forward)."""
    flat = block.reshape(-1)
    for q in range(flat.size):
        flat[q] = _softplus(flat[q])


@numba.njit(fastmath=True, error_model="numpy", cache=True)
def _sigmoid_all(block):
    """1 / (1 + e^-x) in place over a C-contiguous 2-d block (as :func:`_softplus_all`)."""
    flat = block.reshape(-1)
    for q in range(flat.size):
        flat[q] = np.float32(1.0) / (np.float32(1.0) + _exp(-flat[q]))


@numba.njit(inline="always")
def _at(step, length, reverse):
    """The position of scan step ``step``: the same, or counted from the end when ``reverse``."""
    return length - 1 - step if reverse else step


@numba.njit(inline="always", fastmath=True, error_model="numpy")
def _raw_step(delta, delta_bias, project, w_dt, bi, t, d0, out):
    """The step of token ``t`` before softplus, for the ``LANES`` channels from ``d0``, into
    ``out``: ``delta`` + bias, or with ``project`` the low-rank ``delta[bi, t] . w_dt`` + bias."""
    if project:
        for j in range(LANES):
            out[j] = delta_bias[d0 + j]
        for q in range(w_dt.shape[0]):
            low = delta[bi, t, q]
            for j in range(LANES):
                out[j] += low * w_dt[q, d0 + j]
    else:
        for j in range(LANES):
            out[j] = delta[bi, t, d0 + j] + delta_bias[d0 + j]


@numba.njit(fastmath=True, error_model="numpy", cache=True)
def _silu_all(block):
    """x * sigmoid(x) in place over a C-contiguous 2-d block (as :func:`_softplus_all`)."""
    flat = block.reshape(-1)
    for q in range(flat.size):
        x = flat[q]
        flat[q] = x / (np.float32(1.0) + _exp(-x))


@numba.njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def scan_forward(
    u,
    delta,
    a_t,
    b,
    c,
    delta_bias,
    d_skip,
    z,
    z_strides,
    softplus,
    gate,
    y,
    last_state,
    keep,
    ungated,
    reverse,
    project,
    w_dt,
):  # pragma: no cover - compiled
    """y_t = (C_t . h_t + D u_t) silu(z_t) with h_t = e^(dt_t A) h_{t-1} + dt_t u_t B_t, h_{-1} = 0,
    dt_t = softplus(delta_t + bias) when ``softplus`` else delta_t + bias; no gate unless ``gate``
    (then ``z`` is read). Everything per token happens here, in the same pass as the scan. With
    ``keep``, the output before the gate is also written to ``ungated`` (the backward needs it).
    ``z`` is flat, element (b, t, d) at ``b * z_strides[0] + t * z_strides[1] + d``: Mamba's z is a
    strided half of a wider tensor, and a flat array keeps the unit stride along d visible to the
    vectoriser (an any-layout 3-d array does not, and its loads became gathers). ``reverse`` scans
    from the last step to the first (BiMamba's second direction, without flipped copies). With
    ``project``, ``delta`` holds Mamba's low-rank step (batch, L, R) and the step is
    ``delta_t . w_dt[:, channel]`` (dt_proj, ``w_dt`` (R, d)), computed per token here: as a
    separate rank-8 matmul it took a quarter of a long forward."""
    batch, length, channels = u.shape
    n = a_t.shape[0]
    groups = channels // LANES
    for task in numba.prange(batch * groups):
        bi = task // groups
        d0 = (task - bi * groups) * LANES
        h = np.zeros((n, LANES), np.float32)
        a = np.empty((n, LANES), np.float32)
        for k in range(n):
            for j in range(LANES):
                a[k, j] = a_t[k, d0 + j]
        dl = np.empty((TOKEN_BLOCK, LANES), np.float32)
        acc = np.empty((TOKEN_BLOCK, LANES), np.float32)
        gates = np.empty((TOKEN_BLOCK, LANES), np.float32)
        du = np.empty((TOKEN_BLOCK, LANES), np.float32)
        step = np.empty(LANES, np.float32)
        inp = np.empty(LANES, np.float32)
        out = np.empty(LANES, np.float32)
        for t0 in range(0, length, TOKEN_BLOCK):
            m = min(TOKEN_BLOCK, length - t0)
            for i in range(m):  # per-token work in long flat loops (see _softplus_all)
                t = _at(t0 + i, length, reverse)
                for j in range(LANES):
                    acc[i, j] = d_skip[d0 + j] * u[bi, t, d0 + j]
                _raw_step(delta, delta_bias, project, w_dt, bi, t, d0, dl[i])
            if softplus:
                _softplus_all(dl[:m])
            for i in range(m):
                t = _at(t0 + i, length, reverse)
                for j in range(LANES):
                    du[i, j] = dl[i, j] * u[bi, t, d0 + j]
            for i in range(m):
                t = _at(t0 + i, length, reverse)
                for j in range(LANES):
                    step[j] = dl[i, j]
                    inp[j] = du[i, j]
                    out[j] = acc[i, j]
                for k in range(n):
                    bk = b[bi, t, k]
                    ck = c[bi, t, k]
                    for j in range(LANES):
                        state = _exp(step[j] * a[k, j]) * h[k, j] + inp[j] * bk
                        h[k, j] = state
                        out[j] += state * ck
                for j in range(LANES):
                    acc[i, j] = out[j]
            if keep:
                for i in range(m):
                    t = _at(t0 + i, length, reverse)
                    for j in range(LANES):
                        ungated[bi, t, d0 + j] = acc[i, j]
            if gate:
                for i in range(m):
                    row = bi * z_strides[0] + _at(t0 + i, length, reverse) * z_strides[1] + d0
                    for j in range(LANES):
                        gates[i, j] = z[row + j]
                _silu_all(gates[:m])
                for i in range(m):
                    for j in range(LANES):
                        acc[i, j] *= gates[i, j]
            for i in range(m):
                t = _at(t0 + i, length, reverse)
                for j in range(LANES):
                    y[bi, t, d0 + j] = acc[i, j]
        for k in range(n):
            for j in range(LANES):
                last_state[bi, k, d0 + j] = h[k, j]


def _unaliased(*signature: types.Type):
    """njit ``function`` now, for ``signature`` only, promising LLVM that no two array arguments
    overlap (its ``noalias``).

    Why: numba passes arrays without that promise, so in a 16-lane loop that stores into one array
    and reads others LLVM must assume a store may change the next read, and leaves the loop scalar:
    the backward's segment loops ran 2-3x slower than vectorised. The functions compiled here take
    only the kernels' own scratch buffers, each a separate allocation, so the promise holds. numba
    has the option (its ``Flags.noalias``, set for parallel-loop bodies it proves alias-free) but
    no decorator argument for it: it is switched on around this one compilation. A numba without it
    compiles the function lazily as usual (the same results, slower).
    """

    def compile_(function):
        dispatcher = numba.njit(fastmath=True, error_model="numpy", cache=True)(function)
        option = getattr(getattr(numba_compiler, "Flags", None), "options", {}).get("noalias")
        if option is None or not hasattr(option, "_default"):
            return dispatcher
        before = option._default
        option._default = True
        try:
            dispatcher.compile(signature)
        finally:
            option._default = before
        return dispatcher

    return compile_


_INT, _BOOL = types.int64, types.boolean
_VEC, _MAT, _CUBE = types.float32[::1], types.float32[:, ::1], types.float32[:, :, ::1]


@_unaliased(_INT, *(_MAT,) * 6, _CUBE, _CUBE, _MAT)
def _recompute_segment(m, dl, du, a, b_seg, dyb, h, decays, states, gc_seg):
    """The segment's decays e^(dl a) and decayed states e h_(t-1) (into ``states``), from the state
    ``h`` before it (left at the segment's last), and C's gradient sum_j h_t dy_t per step."""
    n = a.shape[0]
    for i in range(m):
        for k in range(n):
            bk = b_seg[i, k]
            gc = np.float32(0)
            for j in range(LANES):
                e = _exp(dl[i, j] * a[k, j])
                decays[i, k, j] = e
                p = e * h[k, j]
                states[i, k, j] = p
                h[k, j] = p + du[i, j] * bk
                gc += h[k, j] * dyb[i, j]
            gc_seg[i, k] = gc


@_unaliased(_INT, *(_MAT,) * 7, _CUBE, _CUBE, *(_MAT,) * 4)
def _adjoint_segment(m, du, dl, a, b_seg, c_seg, dyb, g, decays, states, ga, s_seg, r_seg, gb_seg):
    """The adjoint backwards through the segment: g (arriving scaled by the next decay) picks up
    C_t dy_t; per step, the sums over the state for the input (``s_seg``), the step (``r_seg``), B
    (``gb_seg``) and A (added to ``ga``). Overwrites ``decays`` with the adjoint."""
    n = a.shape[0]
    for i in range(m - 1, -1, -1):
        for k in range(n):
            ck = c_seg[i, k]
            for j in range(LANES):
                gk = g[k, j] + ck * dyb[i, j]
                g[k, j] = decays[i, k, j] * gk
                decays[i, k, j] = gk
        for j in range(LANES):
            s_seg[i, j] = 0
            r_seg[i, j] = 0
        for k in range(n):
            bk = b_seg[i, k]
            gb = np.float32(0)
            for j in range(LANES):
                gk = decays[i, k, j]
                q = gk * states[i, k, j]
                s_seg[i, j] += gk * bk
                r_seg[i, j] += q * a[k, j]
                ga[k, j] += q * dl[i, j]
                gb += gk * du[i, j]
            gb_seg[i, k] = gb


@_unaliased(_INT, *(_MAT,) * 4, _VEC, _MAT, _MAT, _VEC, _VEC, *(_MAT,) * 4, _BOOL)
def _step_gradients(
    m, u_seg, dl, slope, dyb, skip, s_seg, r_seg, g_sk, g_bi, w, low, g_w, g_low, project
):
    """Per step, from the state sums: the input's gradient (into ``s_seg``) and the raw step's
    (into ``r_seg``, or with ``project`` on to the low-rank step ``g_low`` and weight ``g_w``);
    D's and the bias's gradients are added to ``g_sk``, ``g_bi``."""
    rank = w.shape[0]
    for i in range(m):
        for j in range(LANES):
            su = s_seg[i, j]
            ut = u_seg[i, j]
            dyt = dyb[i, j]
            gd = (su * ut + r_seg[i, j]) * slope[i, j]
            s_seg[i, j] = su * dl[i, j] + dyt * skip[j]
            r_seg[i, j] = gd
            g_sk[j] += dyt * ut
            g_bi[j] += gd
    if project:
        for i in range(m):
            for q in range(rank):
                acc = np.float32(0)
                lq = low[i, q]
                for j in range(LANES):
                    gd = r_seg[i, j]
                    acc += gd * w[q, j]
                    g_w[q, j] += gd * lq
                g_low[i, q] = acc


@numba.njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def scan_backward(
    u,
    delta,
    a_t,
    b,
    c,
    delta_bias,
    softplus,
    gy,
    z,
    z_strides,
    gate,
    ungated,
    d_skip,
    g_u,
    g_delta,
    g_a,
    g_b,
    g_c,
    g_z,
    g_skip,
    reverse,
    project,
    w_dt,
    g_bias,
    g_low,
    g_w,
):  # pragma: no cover - compiled
    """Gradients of sum(gy * y) for :func:`scan_forward`'s y (gy (batch, L, d) contiguous), for
    u, the raw delta (through softplus), A, B, C, z (``g_z``, when ``gate``; ``ungated`` is the
    forward's output before the gate) and D (``g_skip`` (batch, d), to be summed over the batch).

    Per task: a forward pass keeps the state every ``CHECKPOINT_STEPS`` steps; then, segment by
    segment from the end, the segment's states and decays are recomputed and the adjoint
    g_t = C_t dy_t + e^(delta_{t+1} A) g_{t+1} runs backwards. The segment's inputs are first
    copied into the task's own buffers and its work done by :func:`_recompute_segment`,
    :func:`_adjoint_segment` and :func:`_step_gradients`, which LLVM vectorises because they
    are compiled knowing no two of those buffers overlap (:func:`_unaliased`).

    Written: g_u, g_delta (batch, L, d);
    g_a (batch, n, d), to be summed over the batch; g_b, g_c (groups, batch, L, n), partial sums
    over each worker group's channels (summed by the caller), so no two tasks write one element.
    Steps are counted in scan order (``reverse``: from the last position). ``g_bias`` (batch, d):
    the bias's gradient, to be summed over the batch. With ``project`` (as in the forward:
    ``delta`` is the low-rank step (batch, L, R), the step ``delta_t . w_dt[:, channel]``) the
    raw-step gradient stays in the task's buffers and goes on to ``g_low`` (groups, batch, L, R; partial
    sums like g_b) and ``g_w`` (batch, R, d); ``g_delta`` is then not written.
    """
    batch, length, channels = u.shape
    n = a_t.shape[0]
    rank = w_dt.shape[0]
    blocks = channels // LANES
    workers = g_b.shape[0]
    seg_len = max(length, 1) if length <= WHOLE_SEQUENCE_STEPS else CHECKPOINT_STEPS
    segments = (length + seg_len - 1) // seg_len
    for task in numba.prange(batch * workers):
        bi = task // workers
        worker = task - bi * workers
        a = np.empty((n, LANES), np.float32)
        starts = np.empty((max(segments, 1), n, LANES), np.float32)  # one even when L = 0
        states = np.empty((seg_len, n, LANES), np.float32)
        decays = np.empty((seg_len, n, LANES), np.float32)
        h = np.empty((n, LANES), np.float32)
        g = np.empty((n, LANES), np.float32)
        dl = np.empty((seg_len, LANES), np.float32)
        du = np.empty((seg_len, LANES), np.float32)
        slope = np.empty((seg_len, LANES), np.float32)  # d step / d raw delta
        dyb = np.empty((seg_len, LANES), np.float32)  # the gradient before the gate
        zb = np.empty((seg_len, LANES), np.float32)
        sb = np.empty((seg_len, LANES), np.float32)
        skip = np.empty(LANES, np.float32)
        g_sk = np.empty(LANES, np.float32)
        g_bi = np.empty(LANES, np.float32)
        # the segment's inputs and results in the task's own buffers (see _unaliased)
        u_seg = np.empty((seg_len, LANES), np.float32)
        b_seg = np.empty((seg_len, n), np.float32)
        c_seg = np.empty((seg_len, n), np.float32)
        gb_seg = np.empty((seg_len, n), np.float32)
        gc_seg = np.empty((seg_len, n), np.float32)
        s_seg = np.empty((seg_len, LANES), np.float32)  # sums over the state: input, then g_u
        r_seg = np.empty((seg_len, LANES), np.float32)  # and step, then the raw step's gradient
        ga = np.empty((n, LANES), np.float32)
        width = max(rank, 1)  # dt_proj's rank (unused buffers of one row without it)
        w_loc = np.empty((width, LANES), np.float32)
        g_w_loc = np.empty((width, LANES), np.float32)
        low_seg = np.empty((seg_len, width), np.float32)
        glow_seg = np.empty((seg_len, width), np.float32)
        for block in range(worker, blocks, workers):
            d0 = block * LANES
            for j in range(LANES):
                skip[j] = d_skip[d0 + j]
                g_sk[j] = 0
                g_bi[j] = 0
                for q in range(rank):
                    w_loc[q, j] = w_dt[q, d0 + j]
                    g_w_loc[q, j] = 0
            for k in range(n):
                for j in range(LANES):
                    a[k, j] = a_t[k, d0 + j]
                    h[k, j] = 0
                    g[k, j] = 0
                    ga[k, j] = 0
            starts[0] = h  # zero: the state before the first step
            for seg in range(segments if segments > 1 else 0):  # checkpoint pass
                t0 = seg * seg_len
                m = min(seg_len, length - t0)
                starts[seg] = h
                _segment_steps(
                    u, delta, delta_bias, softplus, bi, d0, t0, m, reverse, dl, du, slope,
                    project, w_dt,
                )  # fmt: skip
                for i in range(m):
                    t = _at(t0 + i, length, reverse)
                    for k in range(n):
                        bk = b[bi, t, k]
                        for j in range(LANES):
                            h[k, j] = _exp(dl[i, j] * a[k, j]) * h[k, j] + du[i, j] * bk
            for seg in range(segments - 1, -1, -1):
                t0 = seg * seg_len
                m = min(seg_len, length - t0)
                h[:] = starts[seg]
                _segment_steps(
                    u, delta, delta_bias, softplus, bi, d0, t0, m, reverse, dl, du, slope,
                    project, w_dt,
                )  # fmt: skip
                _segment_gate(
                    gy, z, z_strides, gate, ungated, bi, d0, t0, m, reverse, dyb, zb, sb, g_z
                )
                for i in range(m):
                    t = _at(t0 + i, length, reverse)
                    for k in range(n):
                        b_seg[i, k] = b[bi, t, k]
                        c_seg[i, k] = c[bi, t, k]
                    for j in range(LANES):
                        u_seg[i, j] = u[bi, t, d0 + j]
                    if project:
                        for q in range(rank):
                            low_seg[i, q] = delta[bi, t, q]
                _recompute_segment(m, dl, du, a, b_seg, dyb, h, decays, states, gc_seg)
                _adjoint_segment(
                    m, du, dl, a, b_seg, c_seg, dyb, g, decays, states, ga, s_seg, r_seg, gb_seg
                )
                _step_gradients(
                    m, u_seg, dl, slope, dyb, skip, s_seg, r_seg, g_sk, g_bi, w_loc, low_seg,
                    g_w_loc, glow_seg, project,
                )  # fmt: skip
                for i in range(m):
                    t = _at(t0 + i, length, reverse)
                    for k in range(n):
                        g_c[worker, bi, t, k] += gc_seg[i, k]
                        g_b[worker, bi, t, k] += gb_seg[i, k]
                    for j in range(LANES):
                        g_u[bi, t, d0 + j] = s_seg[i, j]
                    if project:
                        for q in range(rank):
                            g_low[worker, bi, t, q] += glow_seg[i, q]
                    else:
                        for j in range(LANES):
                            g_delta[bi, t, d0 + j] = r_seg[i, j]
            if project:
                for q in range(rank):
                    for j in range(LANES):
                        g_w[bi, q, d0 + j] = g_w_loc[q, j]
            for k in range(n):
                for j in range(LANES):
                    g_a[bi, k, d0 + j] = ga[k, j]
            for j in range(LANES):
                g_skip[bi, d0 + j] = g_sk[j]
                g_bias[bi, d0 + j] = g_bi[j]


@numba.njit(fastmath=True, error_model="numpy", cache=True)
def _segment_gate(gy, z, z_strides, gate, ungated, bi, d0, t0, m, reverse, dyb, zb, sb, g_z):
    """For ``m`` scan-order steps from ``t0``: the gradient before the gate, gy silu(z), into
    ``dyb``, and the gate's gradient, gy ungated silu'(z), written to ``g_z`` (with ``gate``)."""
    length = gy.shape[1]
    if not gate:
        for i in range(m):
            t = _at(t0 + i, length, reverse)
            for j in range(LANES):
                dyb[i, j] = gy[bi, t, d0 + j]
        return
    for i in range(m):
        row = bi * z_strides[0] + _at(t0 + i, length, reverse) * z_strides[1] + d0
        for j in range(LANES):
            zb[i, j] = z[row + j]
            sb[i, j] = z[row + j]
    _sigmoid_all(sb[:m])
    for i in range(m):
        t = _at(t0 + i, length, reverse)
        for j in range(LANES):
            g = gy[bi, t, d0 + j]
            sg = sb[i, j]
            zz = zb[i, j]
            dyb[i, j] = g * zz * sg
            g_z[bi, t, d0 + j] = g * ungated[bi, t, d0 + j] * sg * (1 + zz * (1 - sg))


@numba.njit(fastmath=True, error_model="numpy", cache=True)
def _segment_steps(
    u, delta, delta_bias, softplus, bi, d0, t0, m, reverse, dl, du, slope, project, w_dt
):
    """Step sizes, inputs (step x u) and the step's slope for ``m`` scan-order steps from ``t0``
    (``project``: the step from the low-rank ``delta``, as in :func:`scan_forward`)."""
    length = u.shape[1]
    for i in range(m):
        _raw_step(delta, delta_bias, project, w_dt, bi, _at(t0 + i, length, reverse), d0, dl[i])
    if softplus:
        for i in range(m):
            for j in range(LANES):
                slope[i, j] = dl[i, j]
        _sigmoid_all(slope[:m])
        _softplus_all(dl[:m])
    else:
        slope[:m] = 1
    for i in range(m):
        t = _at(t0 + i, length, reverse)
        for j in range(LANES):
            du[i, j] = dl[i, j] * u[bi, t, d0 + j]
