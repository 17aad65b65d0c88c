"""Hybrid CNN Transformer backbone: hierarchical k-mer embeddings, a multi-scale convolution stem,
hierarchical pooling, then a pre-LN transformer encoder over the pooled sequence.

* Embeddings: for every ``k`` in ``kmer_sizes`` the k-mer centred on each base (start
  ``i - (k-1)//2``) is looked up in its own table and the levels are **summed** (summing keeps the
  width at ``d_model`` and equals concatenation followed by a block-structured projection, at a
  fraction of the cost). ``k = 1`` uses the char vocabulary itself (so N and specials stay
  distinct); for ``k > 1`` a window that touches N, a special token, padding or the sequence end
  gets one shared UNK id. k-mer ids are computed on the tensor (base-4 shift-and-add, k passes).
* Stem: parallel ``Conv1d`` with kernel sizes ``stem_kernels`` (motif detectors of several widths),
  concatenated to ``d_model``, GELU, LayerNorm.
* Pooling: per stage a residual conv block then max pooling by ``pool_sizes[s]`` (ceil mode, the
  mask pooled alike): ``(4, 4)`` turns 16,384 chars into 1,024 tokens before attention, which is
  where the quadratic cost lives.
* Transformer: sinusoidal positions at the pooled resolution (no length limit), pre-LN blocks with
  ``scaled_dot_product_attention`` and a key padding mask; ``attention_window=w`` switches to
  block-local attention (each block of ``w`` pooled tokens sees itself and its neighbours) for very
  long inputs.

Padding is respected exactly: padded positions are zeroed before every convolution and excluded
from pooling and attention, so appending padding leaves the valid outputs unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dnaseq_cli.encode.vocab import A_ID  # A, C, G, T = A_ID + 0..3
from dnaseq_cli.encode.vocab import PAD_ID as CHAR_PAD_ID
from dnaseq_cli.models.layers import (
    CHAR_EMBED_ROWS,
    ChannelNorm,
    TransformerBlock,
    char_kmer_levels,
    masked_max_pool,
    pool_mask,
    self_attention_words,
    sinusoidal,
)
from dnaseq_cli.models.rc import StrandAveragedBackbone
from dnaseq_cli.models.registry import BackboneConfig, make_config, register


@dataclass(frozen=True)
class HybridConfig(BackboneConfig):
    """Widths, the k-mer levels summed, the stem's kernel sizes, the pooling of each stage and the
    transformer (``attention_window``: block-local attention over that many pooled tokens)."""

    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    kmer_sizes: tuple[int, ...] = (1, 3, 5, 6)
    stem_kernels: tuple[int, ...] = (3, 9, 19)
    pool_sizes: tuple[int, ...] = (4, 4)
    conv_kernel: int = 5
    ff_mult: int = 4
    dropout: float = 0.1
    attention_window: int | None = None

    def __post_init__(self) -> None:
        if not self.kmer_sizes or any(not 1 <= k <= 8 for k in self.kmer_sizes):
            raise ValueError(f"kmer_sizes must be one or more k in 1..8, got {self.kmer_sizes}")
        self._set(
            kmer_sizes=tuple(self.kmer_sizes),
            stem_kernels=tuple(self.stem_kernels),
            pool_sizes=tuple(self.pool_sizes),
        )


PRESETS = {
    "tiny": {"d_model": 64, "n_layers": 2, "n_heads": 4},
    "small": {"d_model": 128, "n_layers": 4, "n_heads": 4},
    "base": {"d_model": 256, "n_layers": 6, "n_heads": 8},
}


def describe(config: dict[str, Any]) -> tuple[str, str]:
    pools = config.get("pool_sizes") or []
    factor = math.prod(pools) if pools else 1
    return (
        self_attention_words(config.get("attention_window"))
        + f" over {factor}x pooled CNN features",
        f"summed k-mer embeddings (k = {', '.join(map(str, config.get('kmer_sizes', [])))}), "
        f"conv stem {config.get('stem_kernels')}, d_model {config.get('d_model')}",
    )


@register("hybrid", config=HybridConfig, presets=PRESETS, describe=describe)
class HybridCNNTransformerBackbone(StrandAveragedBackbone, nn.Module):
    """Hierarchical k-mer embeddings -> multi-scale conv stem -> conv + pool stages -> transformer.

    Returns ``[B, ceil(L / prod(pool_sizes)), d_model]`` and the pooled mask.
    """

    encoding: ClassVar[str] = "char"

    def __init__(self, config: HybridConfig | None = None, **fields: Any) -> None:
        super().__init__()
        self.config = cfg = make_config(HybridConfig, config, fields)
        d_model = cfg.d_model
        self.d_output = d_model
        self.kmer_sizes = list(cfg.kmer_sizes)
        self.pool_sizes = list(cfg.pool_sizes)
        self.embeds = nn.ModuleList(
            nn.Embedding(CHAR_EMBED_ROWS if k == 1 else 4**k + 1, d_model) for k in self.kmer_sizes
        )
        n = len(cfg.stem_kernels)
        widths = [d_model // n + (i < d_model % n) for i in range(n)]
        self.stem = nn.ModuleList(
            nn.Conv1d(d_model, w, ks, padding="same")
            for w, ks in zip(widths, cfg.stem_kernels, strict=True)
        )
        self.stem_norm = ChannelNorm(d_model)
        self.stage_convs = nn.ModuleList(
            nn.Conv1d(d_model, d_model, cfg.conv_kernel, padding="same") for _ in self.pool_sizes
        )
        self.stage_norms = nn.ModuleList(ChannelNorm(d_model) for _ in self.pool_sizes)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, cfg.n_heads, cfg.ff_mult, cfg.dropout, cfg.attention_window)
            for _ in range(cfg.n_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def embed(self, input_ids: Tensor, mask: Tensor) -> Tensor:
        """Summed hierarchical k-mer embeddings ``[B, L, D]`` (zero at padding)."""
        ids = input_ids.long()
        levels = char_kmer_levels(ids, mask, [k for k in self.kmer_sizes if k > 1] or [1])
        fused = None if torch.is_grad_enabled() or self.training else self._fused_table()
        if fused is not None:  # inference: one lookup by the largest k-mer, the rest fixed up
            top = levels[max(self.kmer_sizes)]
            x = fused[(top - 1).clamp(min=0)]
            rows, cols = ((top == 0) & mask).nonzero(as_tuple=True)  # edges, next to N
            if len(rows):
                x[rows, cols] = self._level_sum(
                    ids[rows, cols], {k: v[rows, cols] for k, v in levels.items()}
                )
            return x * mask.unsqueeze(-1)
        return self._level_sum(ids, levels) * mask.unsqueeze(-1)

    def _level_sum(self, ids: Tensor, levels: dict[int, Tensor]) -> Tensor:
        x: Tensor | None = None
        for k, table in zip(self.kmer_sizes, self.embeds, strict=True):
            level = table(ids if k == 1 else levels[k])
            x = level if x is None else x + level
        assert x is not None  # HybridConfig rejects an empty kmer_sizes
        return x

    def _fused_table(self) -> Tensor | None:
        """The level sum as one table indexed by the largest k-mer (inference only, cached).

        Every centred k-mer with k <= K lies inside the centred K-mer, so over plain bases the sum
        of the levels is a function of the K-mer alone: one lookup instead of len(kmer_sizes)
        lookups and additions (a quarter of the model's CPU time at 500 bp). Positions whose K-mer
        is unknown (window ends, next to N) are summed level by level as before.
        """
        top = max(self.kmer_sizes)
        if top > 7:  # 4^8 rows would outweigh the saving
            return None
        weights = [cast(nn.Embedding, t).weight for t in self.embeds]
        key = tuple((w.data_ptr(), w._version) for w in weights)
        cached = getattr(self, "_fused_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        value = torch.arange(4**top, device=weights[0].device)
        digits = [(value // 4 ** (top - 1 - j)) % 4 for j in range(top)]  # leftmost base first
        fused: Tensor | None = None
        for k, table in zip(self.kmer_sizes, self.embeds, strict=True):
            offset = (top - 1) // 2 - (k - 1) // 2  # where the centred k-mer starts in the K-mer
            sub = digits[offset]
            for j in range(offset + 1, offset + k):
                sub = sub * 4 + digits[j]
            level = table(sub + A_ID if k == 1 else sub + 1)
            fused = level if fused is None else fused + level
        self._fused_cache = (key, fused)
        return fused

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        mask = input_ids != CHAR_PAD_ID if attention_mask is None else attention_mask.bool()
        if input_ids.shape[1] == 0:  # convolutions need one position; it stays masked
            input_ids, mask = F.pad(input_ids, (0, 1), value=CHAR_PAD_ID), F.pad(mask, (0, 1))
        x = self.embed(input_ids, mask).transpose(1, 2)  # [B, D, L]
        x = torch.cat([conv(x) for conv in self.stem], dim=1)
        x = self.stem_norm(F.gelu(x))
        all_valid = bool(mask.all())  # full windows (usual at inference) skip the masking passes
        for conv, norm, factor in zip(
            self.stage_convs, self.stage_norms, self.pool_sizes, strict=True
        ):
            if not all_valid:
                x = x.masked_fill(~mask[:, None], 0.0)
            x = x + self.drop(F.gelu(norm(conv(x))))
            if all_valid and factor > 1:
                x = F.max_pool1d(x, factor, factor, ceil_mode=True)
                mask = pool_mask(mask, factor)
            else:
                x, mask = masked_max_pool(x, mask, factor)
        x = x.transpose(1, 2)
        pos = torch.arange(x.shape[1], device=x.device)
        x = self.drop(x + sinusoidal(pos, x.shape[-1]).to(x.dtype))
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x) * mask.unsqueeze(-1), mask


__all__ = ["HybridCNNTransformerBackbone", "HybridConfig"]
