"""Task heads shared by all backbones, and the model wrappers that pair a backbone with a head.

Backbone protocol used here (all of it: :class:`dnaseq_cli.models.registry.Backbone`):
`forward(input_ids, attention_mask) -> hidden (B, L, hidden_size)` or `(hidden, valid mask)`,
attributes `hidden_size` and `rc_mode` ("ps": channel halves are forward / RC features; "ph": run both
strands and average; "none"), and for "ph" `reverse_complement(ids, mask)`; for MaskedLM also
`lm_logits(hidden)` and `rc_logits(logits)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from dnaseq_cli.models.registry import Backbone, LanguageModelBackbone


def as_backbone(module: nn.Module) -> Backbone:
    """``module`` seen through the backbone protocol (``nn.Module`` types its attributes as
    ``Tensor | Module``)."""
    return cast("Backbone", module)


def masked_mean(hidden: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over the length axis of (B, L, D), counting only positions where mask == 1."""
    if mask is None:
        return hidden.mean(dim=1)
    m = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class SequenceHead(nn.Module):
    """Masked mean pooling + dropout + linear: hidden (B, L, D) + mask (B, L) -> (B, n_out).

    With `rc_equivariant=True` (PS backbones, D = 2d) the pooled forward half and the channel-flipped
    RC half are averaged first; that pair swaps under RC, so the output is exactly RC-invariant.
    """

    def __init__(
        self, hidden_size: int, n_out: int, rc_equivariant: bool = False, dropout: float = 0.0,
        bias: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        self._cfg = dict(
            hidden_size=hidden_size, n_out=n_out, rc_equivariant=rc_equivariant, dropout=dropout,
            bias=bias,
        )  # fmt: skip
        self.rc_equivariant = rc_equivariant
        d = hidden_size // 2 if rc_equivariant else hidden_size
        self.dropout = nn.Dropout(dropout)
        self.score = nn.Linear(d, n_out, bias=bias)

    def config_dict(self) -> dict[str, Any]:
        return dict(self._cfg)

    def pool(self, hidden: Tensor, mask: Tensor | None = None) -> Tensor:
        pooled = masked_mean(hidden, mask)
        if self.rc_equivariant:
            d = pooled.shape[-1] // 2
            pooled = 0.5 * (pooled[..., :d] + pooled[..., d:].flip(-1))
        return pooled

    def forward(self, hidden: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.score(self.dropout(self.pool(hidden, mask)))


class SequenceClassifier(nn.Module):
    """backbone + SequenceHead; for "ph" backbones the logits of both strands are averaged
    (always in eval; in training only with `conjoin_train`, otherwise RC augmentation is the job
    of the data pipeline)."""

    def __init__(
        self, backbone: nn.Module, head: SequenceHead, conjoin_train: bool = False
    ) -> None:
        super().__init__()
        self.backbone, self.head, self.conjoin_train = backbone, head, conjoin_train

    @classmethod
    def create(
        cls, backbone: nn.Module, n_out: int, conjoin_train: bool = False, **head_kwargs: Any
    ) -> SequenceClassifier:
        """Head sized and RC-configured from the backbone's attributes."""
        rc_eq = getattr(backbone, "rc_mode", "none") == "ps"
        head = SequenceHead(as_backbone(backbone).hidden_size, n_out, rc_eq, **head_kwargs)
        return cls(backbone, head, conjoin_train=conjoin_train)

    def strand_logits(self, input_ids: Tensor, attention_mask: Tensor | None) -> Tensor:
        """Logits of the given strand only. Backbones that pool along the sequence return
        ``(hidden, valid_mask)``; the others return hidden states aligned with the input mask."""
        out = self.backbone(input_ids, attention_mask)
        hidden, mask = out if isinstance(out, tuple) else (out, attention_mask)
        return self.head(hidden, mask)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        if getattr(self.backbone, "rc_mode", "none") == "ph" and (
            self.conjoin_train or not self.training
        ):
            rc_ids, rc_mask = as_backbone(self.backbone).reverse_complement(
                input_ids, attention_mask
            )
            # Without a mask the backbone derives one from the padding ids, for both strands alike.
            masks = None
            if attention_mask is not None:
                masks = torch.cat([attention_mask.bool(), rc_mask.bool()])
            # One batch of 2B rows: both strands go through the backbone in a single pass.
            both = self.strand_logits(torch.cat([input_ids, rc_ids]), masks)
            forward, reverse = both.chunk(2)
            return 0.5 * (forward + reverse)
        return self.strand_logits(input_ids, attention_mask)


class MaskedLM(nn.Module):
    """Per-position log-probabilities over the vocabulary (zero-shot variant scoring).

    PS backbones are RC-equivariant already; for "ph" backbones (`conjoin`) the RC strand's
    log-probs, mapped back by flip + complement, are averaged in.
    """

    def __init__(self, backbone: nn.Module, conjoin: bool = True) -> None:
        super().__init__()
        self.backbone, self.conjoin = backbone, conjoin

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        backbone = cast("LanguageModelBackbone", self.backbone)
        logp = F.log_softmax(backbone.lm_logits(self.backbone(input_ids, attention_mask)), -1)
        if self.conjoin and getattr(self.backbone, "rc_mode", "none") == "ph":
            rc_ids, rc_mask = backbone.reverse_complement(input_ids, attention_mask)
            rc_logits = backbone.lm_logits(self.backbone(rc_ids, rc_mask))
            rc_logp = backbone.rc_logits(F.log_softmax(rc_logits, -1))
            logp = torch.logsumexp(torch.stack([logp, rc_logp]), 0) - torch.log(torch.tensor(2.0))
        return logp
