"""Reverse-complement parameter sharing (RCPS, Zhou et al. 2022) building blocks and RMSNorm.

Hidden states of an RCPS model have 2*d channels: the first half describes the forward strand, the
second half is the reverse complement (RC) of the reverse strand's features. RC of such a tensor is
`flip(length, channels)`, and every module here commutes with it exactly.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def rc_hidden(x: Tensor) -> Tensor:
    """RC of (batch, L, channels) hidden states: flip length and channels."""
    return torch.flip(x, dims=[-2, -1])


class RMSNorm(nn.Module):
    """RMSNorm as in mamba-ssm (weight only, no bias), computed in fp32."""

    def __init__(self, d: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        out = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight.float()
        return out.to(self.weight.dtype)


class RCPSEmbedding(nn.Module):
    """Embeds ids and their RC: output (batch, L, 2*d) = [emb(x), rc(emb(rc(x)))]."""

    complement_map: Tensor  # a buffer

    def __init__(self, vocab_size: int, d_model: int, complement_map: Tensor) -> None:
        super().__init__()
        self.register_buffer("complement_map", complement_map.clone().long())
        self.embedding = nn.Embedding(vocab_size, d_model)

    @property
    def weight(self) -> Tensor:
        return self.embedding.weight

    def rc(self, ids: Tensor) -> Tensor:
        """Reverse complement of token ids (batch, L)."""
        return self.complement_map[ids.flip(-1)]

    def forward(self, ids: Tensor) -> Tensor:
        return torch.cat([self.embedding(ids), rc_hidden(self.embedding(self.rc(ids)))], dim=-1)


class RCPSWrapper(nn.Module):
    """Applies a d-channel module to the forward half and to the RC of the reverse half."""

    def __init__(self, submodule: nn.Module) -> None:
        super().__init__()
        self.submodule = submodule

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        d = x.shape[-1] // 2
        rc_mask = None if mask is None else mask.flip(-1)
        fwd = self.submodule(x[..., :d], mask)
        rev = self.submodule(rc_hidden(x[..., d:]), rc_mask)
        return torch.cat([fwd, rc_hidden(rev)], dim=-1)


class RCPSAddNormWrapper(RCPSWrapper):
    """Residual add + norm on both halves (the RC half normalised in its own orientation)."""

    def forward(  # type: ignore[override]
        self, x: Tensor, residual: Tensor | None = None, prenorm: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        d = x.shape[-1] // 2
        residual = x if residual is None else x + residual
        dtype = cast(Tensor, self.submodule.weight).dtype  # the wrapped norm's weight
        fwd = self.submodule(residual[..., :d].to(dtype))
        rev = self.submodule(rc_hidden(residual[..., d:]).to(dtype))
        out = torch.cat([fwd, rc_hidden(rev)], dim=-1)
        return (out, residual) if prenorm else out


class RCPSLMHead(nn.Module):
    """Token logits from 2*d channels: W x_fwd + W[comp] flip(x_rc); RC-equivariant over the vocab."""

    complement_map: Tensor  # a buffer

    def __init__(self, true_dim: int, vocab_size: int, complement_map: Tensor) -> None:
        super().__init__()
        self.register_buffer("complement_map", complement_map.clone().long())
        self.true_dim = true_dim
        self.lm_head = nn.Linear(true_dim, vocab_size, bias=False)

    @property
    def weight(self) -> Tensor:
        return self.lm_head.weight

    def forward(self, x: Tensor) -> Tensor:
        d = self.true_dim
        fwd = F.linear(x[..., :d], self.weight)
        rev = F.linear(x[..., d:].flip(-1), self.weight[self.complement_map])
        return fwd + rev
