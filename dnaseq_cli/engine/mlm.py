"""Masked-language-model pretraining (``dnaseq train --task mlm``): BERT/Caduceus-style masking.

15% of the real bases (A, C, G, T, N; never padding or special tokens) are chosen per window; of
those 80% become ``[MASK]``, 10% a random base and 10% stay as they are. The loss is the negative
log-likelihood of the original base at the chosen positions only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from dnaseq_cli.encode.vocab import A_ID, MASK_ID, N_ID, T_ID
from dnaseq_cli.errors import InputError

IGNORE = -100
MASK_RATE = 0.15


@dataclass
class Masked:
    input_ids: Tensor  # [B, L] with masked positions replaced
    targets: Tensor  # [B, L] original ids at chosen positions, IGNORE elsewhere


def lm_backbones() -> list[str]:
    """Registered backbones with a per-position LM head (``lm_logits``)."""
    from dnaseq_cli.models import registry

    return [name for name in registry.available() if hasattr(registry.get(name), "lm_logits")]


def check_lm_backbone(backbone: str) -> None:
    supported = lm_backbones()
    if backbone not in supported:
        raise InputError(
            f"--task mlm needs a backbone with a language-model head; {backbone!r} has none "
            f"(supported: {', '.join(supported)})"
        )


def mask_tokens(
    ids: Tensor,
    attention_mask: Tensor,
    generator: torch.Generator,
    rate: float = MASK_RATE,
) -> Masked:
    """Choose and corrupt positions of character-token ``ids`` [B, L] (CPU tensors)."""
    valid = attention_mask.bool() & (ids >= A_ID) & (ids <= N_ID)
    chosen = (torch.rand(ids.shape, generator=generator) < rate) & valid
    action = torch.rand(ids.shape, generator=generator)
    random_base = torch.randint(A_ID, T_ID + 1, ids.shape, generator=generator)
    corrupted = torch.where(chosen & (action < 0.8), torch.full_like(ids, MASK_ID), ids)
    corrupted = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_base, corrupted)
    targets = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    return Masked(corrupted, targets)


def masked_nll(log_probs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, int]:
    """(summed NLL, number of correct argmax predictions, count) over the chosen positions."""
    chosen = targets != IGNORE
    count = int(chosen.sum())
    if count == 0:
        zero = log_probs.sum() * 0.0  # keeps the graph (and DDP's gradient hooks) alive
        return zero, torch.zeros((), device=log_probs.device), 0
    picked = log_probs[chosen].float()
    wanted = targets[chosen]
    loss = F.nll_loss(picked, wanted, reduction="sum")
    correct = (picked.argmax(-1) == wanted).sum()
    return loss, correct, count
