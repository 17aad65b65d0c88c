"""A backbone added the way the registry intends: this one module (its config dataclass, size
presets, comparison-table words and class) and one test (``test_new_backbone.py``).

Not part of dnaseq: the tests load it by path, so it is registered only while they run. A real
backbone would live in ``dnaseq_cli/models/`` and be named in ``registry._BUILTIN``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from dnaseq_cli.encode.vocab import PAD_ID
from dnaseq_cli.models.layers import CHAR_EMBED_ROWS
from dnaseq_cli.models.rc import StrandAveragedBackbone
from dnaseq_cli.models.registry import BackboneConfig, make_config, register, written_when_set


@dataclass(frozen=True)
class ToyConfig(BackboneConfig):
    """Embedding width, the one convolution's kernel, and a field new checkpoints write only when
    it is set (as backbones grow fields without changing the configs already on disk)."""

    d_model: int = 8
    kernel_size: int = 3
    dropout: float = written_when_set(0.0)

    def __post_init__(self) -> None:
        if self.kernel_size < 1:
            raise ValueError(f"kernel_size must be >= 1, got {self.kernel_size}")


def describe(config: dict[str, Any]) -> tuple[str, str]:
    return "none (one convolution)", f"base embeddings, d_model {config.get('d_model')}"


@register(
    "toy",
    config=ToyConfig,
    presets={"tiny": {"d_model": 8}, "small": {"d_model": 16}, "base": {"d_model": 32}},
    describe=describe,
)
class ToyBackbone(StrandAveragedBackbone, nn.Module):
    """Base embeddings -> one convolution -> GELU: hidden states ``[B, L, d_model]``."""

    encoding: ClassVar[str] = "char"

    def __init__(self, config: ToyConfig | None = None, **fields: Any) -> None:
        super().__init__()
        self.config = cfg = make_config(ToyConfig, config, fields)
        self.d_output = cfg.d_model
        self.embed = nn.Embedding(CHAR_EMBED_ROWS, cfg.d_model)
        self.conv = nn.Conv1d(cfg.d_model, cfg.d_model, cfg.kernel_size, padding="same")
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        mask = (input_ids != PAD_ID if attention_mask is None else attention_mask.bool())[..., None]
        x = self.embed(input_ids.long()) * mask
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        return self.drop(F.gelu(x)) * mask
