"""Small building blocks shared by the attention backbones."""

from __future__ import annotations

from torch import nn


def feed_forward(d_model: int, mult: int, dropout: float) -> nn.Sequential:
    """Transformer feed-forward: Linear -> GELU -> Dropout -> Linear (``mult`` x wider inside)."""
    return nn.Sequential(
        nn.Linear(d_model, mult * d_model),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(mult * d_model, d_model),
    )
