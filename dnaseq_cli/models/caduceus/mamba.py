"""Mamba (S6) mixer in plain PyTorch, with mamba-ssm / causal-conv1d kernels used on CUDA when present.

Parameter names and initialisation follow mamba_ssm.modules.mamba_simple.Mamba so that checkpoints
trained with the CUDA kernels load unchanged.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .selective_scan import selective_scan, selective_scan_reference

try:  # optional fused kernels (GPU only)
    from mamba_ssm.ops.selective_scan_interface import mamba_inner_fn
except ImportError:  # pragma: no cover
    mamba_inner_fn = None
try:
    from causal_conv1d import causal_conv1d_fn
except ImportError:  # pragma: no cover
    causal_conv1d_fn = None


class Mamba(nn.Module):
    """Selective state-space mixer: in_proj -> causal depthwise conv -> S6 scan gated by z -> out_proj.

    `mask` (batch, L) with 0 at padding makes padded positions invisible to real ones: their conv input
    and their dt are zeroed, so the state passes through them unchanged (exact for left/right padding).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init: str = "random",
        dt_scale: float = 1.0,
        dt_init_floor: float = 1e-4,
        conv_bias: bool = True,
        bias: bool = False,
        use_fast_path: bool = True,
        chunk_size: int = 32,
        **_: object,  # tolerate extra ssm_cfg keys (layer_idx, device, ...)
    ) -> None:
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.use_fast_path, self.chunk_size = use_fast_path, chunk_size
        self.scan_impl = "auto"  # "auto" (chunked / CUDA) or "reference" (step-by-step, for checks)
        self.in_proj = nn.Linear(d_model, self.d_inner * 2, bias=bias)
        self.conv1d = nn.Conv1d(
            self.d_inner,
            self.d_inner,
            d_conv,
            groups=self.d_inner,
            padding=d_conv - 1,
            bias=conv_bias,
        )
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + d_state * 2, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        std = self.dt_rank**-0.5 * dt_scale  # keeps dt_proj output variance independent of dt_rank
        if dt_init == "constant":
            nn.init.constant_(self.dt_proj.weight, std)
        elif dt_init == "random":
            nn.init.uniform_(self.dt_proj.weight, -std, std)
        else:
            raise ValueError(f"dt_init must be 'constant' or 'random', got {dt_init!r}")
        # dt bias = softplus^-1(dt) with dt log-uniform in [dt_min, dt_max]: sensible initial time steps
        dt = torch.exp(
            torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        )
        dt = dt.clamp(min=dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.dt_proj.bias._no_reinit = True  # type: ignore[attr-defined]
        # S4D-real init: A = -(1..d_state) per channel, stored as log for positivity
        a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(a))
        self.A_log._no_weight_decay = True  # type: ignore[attr-defined]
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.D._no_weight_decay = True  # type: ignore[attr-defined]
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def causal_conv(self, x: Tensor, reverse: bool = False) -> Tensor:
        """silu(causal depthwise conv) of time-major x (b, L, d): k shifted multiply-adds.

        Equals silu(self.conv1d(x^T)[..., :L]) but stays in (b, L, d) layout, which avoids two
        transposed copies and is several times faster than the CPU depthwise convolution.
        ``reverse``: causal in the other direction (the conv of the flipped sequence, flipped back).
        """
        w = self.conv1d.weight[:, 0, :]  # (d, k); tap k-1 multiplies the current step
        k, length = w.shape[1], x.shape[1]
        bias = self.conv1d.bias
        out = x * w[:, -1] if bias is None else torch.addcmul(bias, x, w[:, -1])
        for lag in range(1, min(k, length)):
            if reverse:
                out[:, :-lag].addcmul_(x[:, lag:], w[:, k - 1 - lag])
            else:
                out[:, lag:].addcmul_(x[:, :-lag], w[:, k - 1 - lag])
        return F.silu(out, inplace=not (torch.is_grad_enabled() and out.requires_grad))

    def forward(
        self,
        hidden_states: Tensor,
        mask: Tensor | None = None,
        xz: Tensor | None = None,
        reverse: bool = False,
    ) -> Tensor:
        """hidden_states (batch, L, d_model) -> (batch, L, d_model).

        `xz` is in_proj(hidden_states) (batch, L, 2*d_inner) when the caller already has it
        (BiMamba's tied projection). `reverse` runs the block right to left: the same as running it
        on the flipped sequence and flipping the result, without the flipped copies on the CPU.
        """
        xz = self.in_proj(hidden_states) if xz is None else xz
        if reverse and xz.is_cuda:  # the CUDA kernels only run left to right
            return self.forward(hidden_states.flip(1), _flip(mask), xz.flip(1)).flip(1)
        xz = xz.transpose(1, 2)  # (b, 2di, L)
        A = -torch.exp(self.A_log.float())
        if (
            mamba_inner_fn is not None
            and causal_conv1d_fn is not None
            and self.use_fast_path
            and mask is None
            and xz.is_cuda
            and self.scan_impl == "auto"
        ):
            return mamba_inner_fn(
                xz, self.conv1d.weight, self.conv1d.bias, self.x_proj.weight, self.dt_proj.weight,
                self.out_proj.weight, self.out_proj.bias, A, None, None, self.D.float(),
                delta_bias=self.dt_proj.bias.float(), delta_softplus=True,
            )  # fmt: skip
        # time-major (b, L, d) from here on: the projections and the CPU scan read it without copies
        x, z = xz.transpose(1, 2).chunk(2, dim=-1)
        m = None if mask is None else mask[:, :, None].to(x.dtype)
        if m is not None:
            x = x * m
        if causal_conv1d_fn is not None and x.is_cuda:
            x = causal_conv1d_fn(
                x.transpose(1, 2), self.conv1d.weight.squeeze(1), self.conv1d.bias,
                activation="silu",
            ).transpose(1, 2)  # fmt: skip
        else:
            x = self.causal_conv(x, reverse)
        x_dbl = self.x_proj(x)  # (b, L, dt_rank + 2*d_state)
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt_bias = self.dt_proj.bias.float()
        bias: Tensor | None = dt_bias
        dt_proj: Tensor | None = self.dt_proj.weight
        softplus = True
        if m is not None:  # dt = 0 at padding: state carried through unchanged, no input added
            dt = dt @ self.dt_proj.weight.t()
            dt, bias, softplus, dt_proj = F.softplus(dt.float() + dt_bias) * m, None, False, None
        elif self.scan_impl == "reference":
            dt, dt_proj = dt @ self.dt_proj.weight.t(), None
        # dt (b, L, dt_rank): the scan applies dt_proj (the fused kernel per token); bias inside
        u_s, dt_s, B_s, C_s = (
            x.transpose(1, 2),
            dt.transpose(1, 2),
            B.transpose(1, 2),
            C.transpose(1, 2),
        )
        if self.scan_impl == "reference":
            if reverse:
                u_s, dt_s, B_s, C_s = (v.flip(-1) for v in (u_s, dt_s, B_s, C_s))
            zr = z.transpose(1, 2).flip(-1) if reverse else z.transpose(1, 2)
            y = selective_scan_reference(u_s, dt_s, A, B_s, C_s, self.D.float(), zr, bias, softplus)
            # without return_last_state the scan returns the output alone
            y = cast(Tensor, y).flip(-1) if reverse else cast(Tensor, y)
        else:
            y = selective_scan(
                u_s,
                dt_s,
                A,
                B_s,
                C_s,
                self.D.float(),
                z.transpose(1, 2),
                bias,
                softplus,
                self.chunk_size,
                scan=self.scan_impl,
                reverse=reverse,
                delta_proj=dt_proj,
            )
        return self.out_proj(y.transpose(1, 2))


def _flip(mask: Tensor | None) -> Tensor | None:
    return None if mask is None else mask.flip(1)
