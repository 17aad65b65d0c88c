"""Building blocks the backbones share, one home each: character k-mer ids, masked pooling,
positions, self-attention (global or block-local), the pre-LN transformer block and channel norm.

A backbone module composes these and holds only what is its own (as gReLU's shared layers), so no
backbone imports another.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dnaseq_cli.encode.vocab import A_ID  # A, C, G, T = A_ID + 0..3


def feed_forward(d_model: int, mult: int, dropout: float) -> nn.Sequential:
    """Transformer feed-forward: Linear -> GELU -> Dropout -> Linear (``mult`` x wider inside)."""
    return nn.Sequential(
        nn.Linear(d_model, mult * d_model),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(mult * d_model, d_model),
    )


CHAR_EMBED_ROWS = 16  # char vocab (12) padded to 16 rows, as elsewhere in the project


def pool_mask(mask: Tensor, factor: int) -> Tensor:
    """Validity of ``ceil_mode`` pooled windows: a window is valid if any position in it is."""
    if factor == 1:
        return mask
    return F.max_pool1d(mask[:, None].float(), factor, factor, ceil_mode=True)[:, 0].bool()


def masked_max_pool(x: Tensor, mask: Tensor, factor: int) -> tuple[Tensor, Tensor]:
    """Max pool ``x [B, C, L]`` by ``factor`` ignoring invalid positions; pooled invalid -> 0."""
    if factor == 1:
        return x, mask
    x = x.masked_fill(~mask[:, None], float("-inf"))
    pooled = F.max_pool1d(x, factor, factor, ceil_mode=True)
    new_mask = pool_mask(mask, factor)
    return pooled.masked_fill(~new_mask[:, None], 0.0), new_mask


def char_kmer_levels(input_ids: Tensor, mask: Tensor, ks: list[int]) -> dict[int, Tensor]:
    """Centred k-mer ids ``[B, L]`` from char ids for each k in ``ks``: ``1 + base-4 index``, or 0
    when the window holds anything but A/C/G/T inside the valid part. The (k+1)-mer value extends
    the k-mer one, so ``max(ks)`` passes replace ``sum(ks)`` (the embedding's main cost on short
    windows)."""
    top = max(ks)
    code = input_ids.long() - A_ID
    ok = mask & (code >= 0) & (code <= 3)
    code = torch.where(ok, code, torch.zeros_like(code))
    code, ok = F.pad(code, (top, top)), F.pad(ok, (top, top), value=False)
    length = input_ids.shape[1]
    value, good = code, ok  # left-aligned k-mers starting at each padded position
    out: dict[int, Tensor] = {}
    for k in range(1, top + 1):
        if k > 1:
            value = value[:, :-1] * 4 + code[:, k - 1 :]
            good = good[:, :-1] & ok[:, k - 1 :]
        if k in ks:
            start = top - (k - 1) // 2  # the centred k-mer at p starts at p - (k-1)//2
            v, g = value[:, start : start + length], good[:, start : start + length]
            out[k] = torch.where(g, v + 1, torch.zeros_like(v))
    return out


def sinusoidal(positions: Tensor, dim: int) -> Tensor:
    """Transformer sine/cosine position encodings ``[..., dim]`` for integer positions."""
    half = dim // 2
    freq = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=positions.device, dtype=torch.float32) / half
    )
    angle = positions.float().unsqueeze(-1) * freq
    enc = torch.cat([angle.sin(), angle.cos()], dim=-1)
    return F.pad(enc, (0, dim - 2 * half))


class SelfAttention(nn.Module):
    """Multi-head self-attention with a key padding mask (SDPA, so flash/memory-efficient kernels).

    ``window=w`` restricts each query to keys in its own block of ``w`` positions and the two
    neighbouring blocks (blocks aligned at position 0, so trailing padding changes nothing): memory
    ``O(N * 3w)`` instead of ``O(N^2)``.
    """

    def __init__(
        self, d_model: int, n_heads: int, dropout: float = 0.0, window: int | None = None
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} must be divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.window = window
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        if self.window is None or n <= self.window:
            keys = mask[:, None, None, :]
            # an all-padding row would softmax over nothing (NaN): let it see everything instead
            keys = keys | ~mask.any(1)[:, None, None, None]
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=keys, dropout_p=p)
        else:
            y = block_local_attention(q, k, v, mask, self.window, p)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


def block_local_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor, w: int, dropout: float = 0.0,
    extra_k: Tensor | None = None, extra_v: Tensor | None = None,
) -> Tensor:  # fmt: skip
    """Block-local attention, optionally plus ``G`` extra keys that every query sees.

    ``q, k, v [B, H, N, dh]``, ``mask [B, N]``, ``extra_k/v [B, H, G, dh]`` (the GNN's summary
    tokens). Query block ``b`` (positions ``b*w .. b*w+w-1``) sees key blocks ``b-1, b, b+1`` where
    ``mask`` holds, plus all extra keys; scores take ``B * H * N * (3w + G)`` memory instead of
    ``B * H * N^2``.
    """
    b, h, n, dh = q.shape
    nb = -(-n // w)
    pad = nb * w - n
    n_extra = 0 if extra_k is None else extra_k.shape[-2]

    def neighbours(t: Tensor) -> Tensor:  # [..., N, X] -> [..., nb, 3w, X]
        t = F.pad(t, (0, 0, w, w + pad)).unflatten(-2, (nb + 2, w))
        return torch.cat([t[..., :-2, :, :], t[..., 1:-1, :, :], t[..., 2:, :, :]], dim=-2)

    def blocks(t: Tensor, extra: Tensor | None) -> Tensor:  # -> [B*nb, H, 3w(+G), dh]
        if extra is not None:
            t = torch.cat([t, extra[:, :, None].expand(-1, -1, nb, -1, -1)], dim=-2)
        return t.transpose(1, 2).flatten(0, 1)  # fused SDPA is 4-D

    qb = F.pad(q, (0, 0, 0, pad)).unflatten(-2, (nb, w)).transpose(1, 2).flatten(0, 1)
    keys = neighbours(mask[:, None, :, None].float())[..., 0].bool()  # [B, 1, nb, 3w]
    if n_extra:
        keys = torch.cat([keys, keys.new_ones(b, 1, nb, n_extra)], dim=-1)
    keys = keys | ~keys.any(-1, keepdim=True)  # no extra keys and pure padding: avoid NaN
    keys = keys.transpose(1, 2).flatten(0, 1)[:, :, None, :]  # [B*nb, 1, 1, 3w(+G)]
    y = F.scaled_dot_product_attention(
        qb, blocks(neighbours(k), extra_k), blocks(neighbours(v), extra_v), attn_mask=keys,
        dropout_p=dropout,
    )  # fmt: skip
    return y.unflatten(0, (b, nb)).transpose(1, 2).flatten(2, 3)[:, :, :n]


class TransformerBlock(nn.Module):
    """Pre-LN transformer block: ``x + attn(LN(x))`` then ``x + FFN(LN(x))``."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        ff_mult: int = 4,
        dropout: float = 0.0,
        window: int | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads, dropout, window)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = feed_forward(d_model, ff_mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), mask))
        return x + self.drop(self.ff(self.norm2(x)))


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over channels of a ``[B, C, L]`` tensor."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def self_attention_words(window: int | None) -> str:
    """The comparison table's words for :class:`SelfAttention` with ``window``."""
    return "full self-attention" if window is None else f"block-local self-attention (w={window})"
