"""CNN baseline in the style of the Genomic Benchmarks CNN (Gresova et al. 2023).

Char embedding, then ``n_layers`` x (Conv1d ``kernel_size`` -> BatchNorm -> ReLU -> MaxPool 2).
Padding is respected exactly in eval mode: padded positions are zeroed before every convolution
(so they look like the convolution's own zero padding) and excluded from max pooling
(``ceil_mode``, so a trailing odd position forms its own window whatever padding follows). In train
mode BatchNorm statistics include padded positions, as in the original baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from dnaseq_cli.encode.vocab import PAD_ID as CHAR_PAD_ID
from dnaseq_cli.models.layers import CHAR_EMBED_ROWS, masked_max_pool, pool_mask
from dnaseq_cli.models.rc import StrandAveragedBackbone
from dnaseq_cli.models.registry import BackboneConfig, make_config, register


@dataclass(frozen=True)
class CnnConfig(BackboneConfig):
    """``n_layers`` x (Conv1d ``kernel_size`` -> BatchNorm -> ReLU -> MaxPool ``pool``)."""

    embed_dim: int = 16
    n_filters: int = 16
    kernel_size: int = 8
    n_layers: int = 3
    pool: int = 2
    dropout: float = 0.0


PRESETS = {
    "tiny": {"embed_dim": 16, "n_filters": 16, "n_layers": 3},
    "small": {"embed_dim": 32, "n_filters": 64, "n_layers": 3},
    "base": {"embed_dim": 64, "n_filters": 128, "n_layers": 4},
}


def describe(config: dict[str, Any]) -> tuple[str, str]:
    return "none (convolutions)", f"base embeddings, {config.get('embed_dim')} dims"


@register("cnn", config=CnnConfig, presets=PRESETS, describe=describe)
class CNNBaseline(StrandAveragedBackbone, nn.Module):
    """Genomic-Benchmarks-style CNN over chars: ``[B, ceil(L / pool**n_layers), n_filters]``."""

    encoding: ClassVar[str] = "char"

    def __init__(self, config: CnnConfig | None = None, **fields: Any) -> None:
        super().__init__()
        self.config = cfg = make_config(CnnConfig, config, fields)
        self.pool = cfg.pool
        self.same = ((cfg.kernel_size - 1) // 2, cfg.kernel_size // 2)  # "same" padding, even k
        self.d_output = cfg.n_filters
        self.embed = nn.Embedding(CHAR_EMBED_ROWS, cfg.embed_dim)
        self.convs = nn.ModuleList(
            nn.Conv1d(cfg.embed_dim if i == 0 else cfg.n_filters, cfg.n_filters, cfg.kernel_size)
            for i in range(cfg.n_layers)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(cfg.n_filters) for _ in range(cfg.n_layers))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        mask = input_ids != CHAR_PAD_ID if attention_mask is None else attention_mask.bool()
        if input_ids.shape[1] == 0:  # convolutions need one position; it stays masked
            input_ids, mask = F.pad(input_ids, (0, 1), value=CHAR_PAD_ID), F.pad(mask, (0, 1))
        x = self.embed(input_ids.long()).transpose(1, 2)  # [B, C, L]
        # Full windows (the usual case at inference) need no masking: skip its passes over x.
        all_valid = bool(mask.all())
        for conv, norm in zip(self.convs, self.norms, strict=True):
            if not all_valid:
                x = x.masked_fill(~mask[:, None], 0.0)
            x = F.relu(norm(conv(F.pad(x, self.same))))
            if all_valid:
                x, mask = (
                    F.max_pool1d(x, self.pool, self.pool, ceil_mode=True),
                    pool_mask(mask, self.pool),
                )
            else:
                x, mask = masked_max_pool(x, mask, self.pool)
            x = self.dropout(x)
        return x.transpose(1, 2), mask


__all__ = ["CNNBaseline", "CnnConfig", "masked_max_pool", "pool_mask"]
