"""BigBird RC backbone: block-sparse attention over 3-mer tokens (Zaheer et al. 2020).

Each query block attends to ``window_blocks`` neighbouring blocks, ``num_global_blocks`` blocks
at *each* end of the sequence (ITC layout: first and last), and ``num_random_blocks`` random blocks
drawn from a fixed seed; global query blocks attend to every key. Key blocks are gathered per query
block (``[B, H, n_blocks, keys_per_block, d]``), so time and memory are linear in length; query
blocks are processed in chunks to bound the gathered tensors (131,072 tokens fit in ~1.3 GB on CPU).

Padding invariance: the block pattern (which blocks are global, which random) is laid out over each
sequence's *valid extent* (up to its last unmasked token), not over the padded batch length, so
appending ``[PAD]`` tokens leaves outputs at valid positions unchanged. Position information is
rotary (RoPE), so no position table bounds the length. Reverse-complement (RC) robustness comes from
training (RC augmentation in the trainer) and from strand averaging in
:class:`dnaseq_cli.models.heads.SequenceClassifier`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dnaseq_cli.encode.vocab import KmerVocab
from dnaseq_cli.models.layers import feed_forward
from dnaseq_cli.models.rc import StrandAveragedBackbone
from dnaseq_cli.models.registry import BackboneConfig, make_config, register

KMER3_VOCAB_SIZE = KmerVocab(3).size  # 5 specials + 64 3-mers: the tokens it reads
Pattern = tuple[Tensor, Tensor, Tensor]  # keys [B, n, K], slot_valid [B, n, K], global [B, 2g]
Rope = tuple[Tensor, Tensor]


# ----------------------------------------------------------------------------- block pattern


def block_pattern(
    n_blocks: int,
    num_global_blocks: int = 1,
    window_blocks: int = 3,
    num_random_blocks: int = 3,
    seed: int = 0,
    layer: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Key blocks of every query block of a sequence with ``n_blocks`` (valid) blocks.

    Returns ``(keys [n, K], slot_valid [n, K], global_blocks [2g])`` with
    ``K = 2g + window_blocks + num_random_blocks``. Slots holding an out-of-range or repeated block
    are invalid (so no key is counted twice in the softmax). Random blocks exclude the global and
    window blocks and are a pure function of ``(seed, layer, n_blocks)``, so save/reload
    reproduces them.
    Rows of global query blocks are placeholders; those blocks attend densely.
    """
    g, w, r = num_global_blocks, window_blocks // 2, num_random_blocks
    n = max(int(n_blocks), 1)
    glob = np.concatenate([np.arange(g), n - g + np.arange(g)]).clip(0, n - 1)
    n_slots = 2 * g + window_blocks + r
    keys = np.zeros((n, n_slots), dtype=np.int64)
    valid = np.zeros((n, n_slots), dtype=bool)
    rng = np.random.default_rng([seed, layer, n])
    glob_set = set(glob.tolist())
    for q in range(n):
        fixed = [*glob.tolist(), *range(q - w, q + w + 1)]
        seen: set[int] = set()
        for s, b in enumerate(fixed):
            if 0 <= b < n and b not in seen:
                keys[q, s], valid[q, s] = b, True
                seen.add(b)
        if r and g <= q < n - g:
            # candidates: everything outside the global and window blocks
            excl = sorted(seen | glob_set)
            n_cand = n - len(excl)
            take = min(r, n_cand)
            if take > 0:
                picks = np.sort(rng.choice(n_cand, size=take, replace=False))
                for e in excl:  # map candidate ranks to block ids by skipping excluded blocks
                    picks = picks + (picks >= e)
                keys[q, 2 * g + window_blocks : 2 * g + window_blocks + take] = picks
                valid[q, 2 * g + window_blocks : 2 * g + window_blocks + take] = True
    return keys, valid, glob


def dense_equivalent_mask(
    length: int,
    block_size: int = 64,
    num_global_blocks: int = 1,
    window_blocks: int = 3,
    num_random_blocks: int = 3,
    seed: int = 0,
    layer: int = 0,
) -> Tensor:
    """The exact pattern of :func:`block_sparse_attention` as a dense ``[L, L]`` bool matrix.

    ``mask[i, j]`` is True when query token ``i`` attends to key token ``j`` (before key padding is
    applied), for a sequence of ``length`` valid tokens. Quadratic: for tests and plots only.
    """
    nb = max(math.ceil(length / block_size), 1)
    keys, valid, glob = block_pattern(
        nb, num_global_blocks, window_blocks, num_random_blocks, seed, layer
    )
    blk = torch.zeros(nb, nb, dtype=torch.bool)
    for q in range(nb):
        blk[q, torch.from_numpy(keys[q][valid[q]])] = True
    blk[torch.from_numpy(glob)] = True
    dense = blk.repeat_interleave(block_size, 0).repeat_interleave(block_size, 1)
    return dense[:length, :length].clone()


# ----------------------------------------------------------------------------- attention kernel


def _neg(dtype: torch.dtype) -> float:
    """A finite "minus infinity": fully masked rows stay finite (no NaN reaching padded values)."""
    return torch.finfo(dtype).min / 2


def block_sparse_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    key_valid: Tensor,
    keys: Tensor,
    slot_valid: Tensor,
    global_blocks: Tensor,
    block_size: int,
    chunk_blocks: int = 64,
    dropout_p: float = 0.0,
) -> Tensor:
    """Block-sparse softmax attention; every query block sees only its gathered key blocks.

    Shapes: ``q, k, v [B, H, L, d]`` with ``L`` a multiple of ``block_size``; ``key_valid [B, L]``;
    ``keys / slot_valid [B, n_blocks, K]`` (per-sample patterns, see :func:`block_pattern`);
    ``global_blocks [B, G]`` query blocks that attend densely. Query blocks are processed
    ``chunk_blocks`` at a time, so peak memory is O(chunk * K * block) on top of O(L) activations.
    """
    bsz, nh, length, dh = q.shape
    nb, bs = length // block_size, block_size
    n_slots = keys.shape[-1]
    qb = q.view(bsz, nh, nb, bs, dh)
    kvb = key_valid.view(bsz, nb, bs)
    b_ar = torch.arange(bsz, device=q.device)
    h_ar = torch.arange(nh, device=q.device)
    neg = _neg(q.dtype)
    k_rows, v_rows = k.reshape(bsz * nh * nb, bs * dh), v.reshape(bsz * nh * nb, bs * dh)
    out = torch.empty_like(qb)
    for c0 in range(0, nb, chunk_blocks):
        c1 = min(c0 + chunk_blocks, nb)
        idx = keys[:, c0:c1]  # [B, c, K]
        # row ids into the (B*H*n_blocks) block rows: one contiguous index_select per tensor
        rows = ((b_ar[:, None] * nh + h_ar[None]) * nb)[:, :, None, None] + idx[:, None]
        kg = k_rows.index_select(0, rows.reshape(-1))
        vg = v_rows.index_select(0, rows.reshape(-1))
        ok = kvb[b_ar[:, None, None], idx] & slot_valid[:, c0:c1, :, None]  # [B, c, K, bs]
        bias = torch.zeros(ok.shape, dtype=q.dtype, device=q.device).masked_fill_(~ok, neg)
        bias = bias.view(bsz, 1, c1 - c0, 1, n_slots * bs).expand(bsz, nh, -1, -1, -1)
        n = bsz * nh * (c1 - c0)  # one SDPA "batch" per (sample, head, query block): fastest on CPU
        o = F.scaled_dot_product_attention(
            qb[:, :, c0:c1].reshape(n, 1, bs, dh),
            kg.reshape(n, 1, n_slots * bs, dh),
            vg.reshape(n, 1, n_slots * bs, dh),
            attn_mask=bias.reshape(n, 1, 1, n_slots * bs),
            dropout_p=dropout_p,
        )
        out[:, :, c0:c1] = o.view(bsz, nh, c1 - c0, bs, dh)
    # global query blocks: dense over all keys (a constant number of blocks, so still linear)
    n_glob = global_blocks.shape[-1]
    gq = (b_ar[:, None, None], h_ar[None, :, None], global_blocks[:, None, :])
    qg = qb[gq].reshape(bsz, nh, n_glob * bs, dh)
    dense_bias = torch.zeros(bsz, 1, 1, length, dtype=q.dtype, device=q.device)
    dense_bias.masked_fill_(~key_valid[:, None, None, :], neg)
    og = F.scaled_dot_product_attention(qg, k, v, attn_mask=dense_bias, dropout_p=dropout_p)
    out[gq] = og.view(bsz, nh, n_glob, bs, dh).to(out.dtype)  # SDPA may run in bf16 (autocast)
    return out.view(bsz, nh, length, dh)


# ----------------------------------------------------------------------------- modules


def _rotary(length: int, dim: int, base: float, device: torch.device) -> tuple[Tensor, Tensor]:
    """RoPE tables ``[L, dim]``: relative positions without a length-bounded position table.

    The sine table carries the rotation's sign (``[-sin, sin]``) so applying it needs no negation.
    """
    inv = 1.0 / base ** (torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim)
    ang = torch.outer(torch.arange(length, device=device, dtype=torch.float32), inv)
    return torch.cat([ang.cos(), ang.cos()], -1), torch.cat([-ang.sin(), ang.sin()], -1)


def _apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([x2, x1], dim=-1) * sin


class BigBirdAttention(nn.Module):
    """Multi-head block-sparse self-attention with rotary positions; pattern seeded per layer."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        block_size: int,
        num_random_blocks: int,
        num_global_blocks: int,
        window_blocks: int,
        dropout: float,
        seed: int,
        layer: int,
        chunk_blocks: int,
    ) -> None:
        super().__init__()
        if d_model % n_heads or (d_model // n_heads) % 2:
            raise ValueError(f"d_model {d_model} must split into {n_heads} heads of even size")
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        self.block_size, self.num_random_blocks = block_size, num_random_blocks
        self.num_global_blocks, self.window_blocks = num_global_blocks, window_blocks
        self.seed, self.layer, self.chunk_blocks, self.dropout = seed, layer, chunk_blocks, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self._patterns: dict[int, Pattern] = {}

    def pattern(self, n_blocks: int) -> Pattern:
        """Cached :func:`block_pattern` of this layer (deterministic: not stored in weights)."""
        if n_blocks not in self._patterns:
            keys, valid, glob = block_pattern(
                n_blocks,
                self.num_global_blocks,
                self.window_blocks,
                self.num_random_blocks,
                self.seed,
                self.layer,
            )
            self._patterns[n_blocks] = (
                torch.from_numpy(keys),
                torch.from_numpy(valid),
                torch.from_numpy(glob),
            )
        return self._patterns[n_blocks]

    def batch_pattern(
        self, extent_blocks: list[int], n_blocks: int, device: torch.device
    ) -> Pattern:
        """Stack per-sample patterns; blocks past a sample's extent just attend to its block 0."""
        n_slots = 2 * self.num_global_blocks + self.window_blocks + self.num_random_blocks
        keys = torch.zeros(len(extent_blocks), n_blocks, n_slots, dtype=torch.long)
        valid = torch.zeros(len(extent_blocks), n_blocks, n_slots, dtype=torch.bool)
        valid[:, :, 0] = True
        glob = torch.zeros(len(extent_blocks), 2 * self.num_global_blocks, dtype=torch.long)
        for i, nbv in enumerate(extent_blocks):
            kk, vv, gg = self.pattern(nbv)
            keys[i, :nbv], valid[i, :nbv], glob[i] = kk, vv, gg
        return keys.to(device), valid.to(device), glob.to(device)

    def forward(self, x: Tensor, key_valid: Tensor, rope: Rope, pattern: Pattern) -> Tensor:
        bsz, length, d = x.shape
        qkv = self.qkv(x).view(bsz, length, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        cos, sin = rope
        q, k = _apply_rotary(qkv[:2], cos.to(x.dtype), sin.to(x.dtype))  # q and k in one pass
        o = block_sparse_attention(
            q,
            k,
            qkv[2].contiguous(),
            key_valid,
            *pattern,
            self.block_size,
            self.chunk_blocks,
            self.dropout if self.training else 0.0,
        )
        return self.out(o.transpose(1, 2).reshape(bsz, length, d))


class BigBirdLayer(nn.Module):
    """Pre-LN transformer block: x + Attn(LN(x)), then x + FFN(LN(x)) with GELU."""

    def __init__(
        self, d_model: int, ffn_mult: int, dropout: float, attention_dropout: float, **attn: Any
    ) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = BigBirdAttention(d_model, dropout=attention_dropout, **attn)
        self.ffn = feed_forward(d_model, ffn_mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, key_valid: Tensor, rope: Rope, pattern: Pattern) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), key_valid, rope, pattern))
        return x + self.drop(self.ffn(self.norm2(x)))


@dataclass(frozen=True)
class BigBirdConfig(BackboneConfig):
    """Widths, the block-sparse pattern (blocks of ``block_size`` tokens: ``window_blocks``
    neighbours, ``num_global_blocks`` at each end, ``num_random_blocks`` drawn from ``seed``), rotary
    positions (``rope_base``) and how many query blocks are gathered at once (``chunk_blocks``)."""

    vocab_size: int = KMER3_VOCAB_SIZE
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    block_size: int = 64
    num_random_blocks: int = 3
    num_global_blocks: int = 1
    window_blocks: int = 3
    ffn_mult: int = 4
    dropout: float = 0.1
    attention_dropout: float = 0.0
    pad_id: int = 0
    seed: int = 0
    rope_base: float = 10000.0
    chunk_blocks: int = 64

    def __post_init__(self) -> None:
        if self.window_blocks < 1 or self.window_blocks % 2 == 0:
            raise ValueError(f"window_blocks must be odd and >= 1, got {self.window_blocks}")
        if (
            self.block_size < 1
            or self.num_global_blocks < 1
            or self.num_random_blocks < 0
            or self.chunk_blocks < 1
        ):
            raise ValueError("block_size, num_global_blocks, chunk_blocks >= 1; random blocks >= 0")


PRESETS = {
    "tiny": {"d_model": 64, "n_layers": 2, "n_heads": 4, "block_size": 32},
    "small": {"d_model": 128, "n_layers": 4, "n_heads": 4, "block_size": 64},
    "base": {"d_model": 256, "n_layers": 6, "n_heads": 8, "block_size": 64},
}


def describe(config: dict[str, Any]) -> tuple[str, str]:
    blocks = (
        f"block-sparse: {config.get('window_blocks', 3)} window + "
        f"{config.get('num_random_blocks', 3)} random + {config.get('num_global_blocks', 1)} "
        f"global blocks of {config.get('block_size', 64)} tokens"
    )
    return blocks, f"3-mer tokens + rotary positions, d_model {config.get('d_model')}"


@register("bigbird", config=BigBirdConfig, presets=PRESETS, describe=describe)
class BigBirdBackbone(StrandAveragedBackbone, nn.Module):
    """BigBird RC encoder over 3-mer token ids -> per-token hidden states ``[B, L, d_model]``."""

    encoding: ClassVar[str] = "kmer3"

    def __init__(self, config: BigBirdConfig | None = None, **fields: Any) -> None:
        super().__init__()
        self.config = cfg = make_config(BigBirdConfig, config, fields)
        self.d_model, self.block_size, self.pad_id = cfg.d_model, cfg.block_size, cfg.pad_id
        self.d_output = cfg.d_model
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.drop = nn.Dropout(cfg.dropout)
        attn = dict(
            n_heads=cfg.n_heads,
            block_size=cfg.block_size,
            num_random_blocks=cfg.num_random_blocks,
            num_global_blocks=cfg.num_global_blocks,
            window_blocks=cfg.window_blocks,
            seed=cfg.seed,
            chunk_blocks=cfg.chunk_blocks,
        )
        self.layers = nn.ModuleList(
            BigBirdLayer(
                cfg.d_model, cfg.ffn_mult, cfg.dropout, cfg.attention_dropout, layer=i, **attn
            )
            for i in range(cfg.n_layers)
        )
        self.norm = nn.LayerNorm(cfg.d_model)

    def load_token_embeddings(self, path: str | Path) -> None:
        """Initialise the token embedding from a ``[vocab, d_model]`` ``.npy`` or ``.pt`` file."""
        path = Path(path)
        weight: object
        if path.suffix == ".npy":
            weight = torch.from_numpy(np.load(path))
        else:
            weight = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(weight, dict):  # a saved nn.Embedding state dict
                weight = weight.get("weight", next(iter(weight.values()), None))
        if not isinstance(weight, Tensor) or tuple(weight.shape) != tuple(self.embed.weight.shape):
            shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
            raise ValueError(
                f"{path}: expected token embeddings of shape {tuple(self.embed.weight.shape)} "
                f"(vocab, d_model), got {shape}"
            )
        with torch.no_grad():
            self.embed.weight.copy_(weight.to(self.embed.weight.dtype))

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``input_ids [B, L]`` -> ``(hidden [B, L, d_model], valid [B, L])``.

        ``attention_mask`` (True = real token) defaults to ``input_ids != pad_id``.
        """
        bsz, length = input_ids.shape
        valid = input_ids != self.pad_id if attention_mask is None else attention_mask.bool()
        bs = self.block_size
        n_blocks = max(math.ceil(length / bs), 1)
        pad = n_blocks * bs - length
        ids = F.pad(input_ids, (0, pad), value=self.pad_id)
        key_valid = F.pad(valid, (0, pad), value=False)
        # each sample's pattern spans its valid extent (last real token), so trailing PADs are inert
        pos = torch.arange(1, length + 1, device=input_ids.device)
        extent = (valid * pos).amax(dim=1) if length else torch.zeros(bsz, dtype=torch.long)
        extent_blocks = [max(math.ceil(int(e) / bs), 1) for e in extent.tolist()]
        head_dim = self.d_model // self.config.n_heads
        rope = _rotary(n_blocks * bs, head_dim, self.config.rope_base, input_ids.device)
        x = self.drop(self.embed(ids))
        for layer in self.layers:
            pattern = cast(BigBirdLayer, layer).attn.batch_pattern(
                extent_blocks, n_blocks, input_ids.device
            )
            x = layer(x, key_valid, rope, pattern)
        x = self.norm(x)
        return x[:, :length], valid
