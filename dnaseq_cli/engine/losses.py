"""Losses for imbalanced classification: class-weighted cross-entropy and focal loss."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOSSES = ("ce", "weighted", "focal", "mse")


def inverse_frequency_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Weights ``N / (C * count_c)``: 1 for balanced data, larger for rare classes."""
    counts = np.bincount(labels[labels >= 0], minlength=n_classes).astype(np.float64)
    weights = len(labels) / (n_classes * np.maximum(counts, 1))
    return torch.tensor(weights, dtype=torch.float32)


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): down-weights easy examples by ``(1 - p_t) ** gamma``."""

    weight: Tensor | None  # a buffer: per-class weights

    def __init__(self, gamma: float = 2.0, weight: Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight if weight is not None else None, persistent=False)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        log_p = F.log_softmax(logits.float(), dim=-1)
        log_pt = log_p.gather(1, target[:, None]).squeeze(1)
        loss = -((1 - log_pt.exp()) ** self.gamma) * log_pt
        if self.weight is not None:
            loss = loss * self.weight[target]
        return loss.mean()


def make_loss(name: str, task: str, train_labels: np.ndarray, n_classes: int) -> nn.Module:
    """The loss module for ``--loss`` and the task."""
    if task == "regression":
        return nn.MSELoss()
    if name == "ce":
        return nn.CrossEntropyLoss()
    if name == "weighted":
        return nn.CrossEntropyLoss(weight=inverse_frequency_weights(train_labels, n_classes))
    if name == "focal":
        return FocalLoss(weight=inverse_frequency_weights(train_labels, n_classes))
    raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")
