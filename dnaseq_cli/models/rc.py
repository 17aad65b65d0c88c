"""Reverse-complement (RC) helpers shared by the backbones, and a strand-averaging classifier.

Backbones that are not RC-equivariant by construction (BigBird, GNN, Hybrid, CNN) become exactly
RC-*invariant* classifiers by averaging the logits of both strands: ``f(x) = (g(x) + g(rc(x))) / 2``
and ``rc(rc(x)) == x`` (padding included), so ``f(rc(x)) == f(x)``.

Token ids are right-padded: row ``b`` is valid on its first ``mask[b].sum()`` positions. A leading
``[CLS]`` and a trailing ``[SEP]`` (when the ids of the encoding are given) stay where they are.
"""

from __future__ import annotations

import re

import numpy as np
import torch
from torch import Tensor, nn

from dnaseq_cli.encode.vocab import CHAR_COMPLEMENT_IDS, KmerVocab

# (pad, cls, sep) ids of each encoding family
CHAR_SPECIALS = (4, 0, 1)
KMER_SPECIALS = (0, 3, 4)


def _kmer_k(encoding: str) -> int | None:
    match = re.fullmatch(r"kmer(\d+)", encoding)
    return int(match.group(1)) if match else None


def special_ids_for(encoding: str) -> tuple[int, int, int]:
    """``(pad, cls, sep)`` ids of an encoding ("char" or "kmerK")."""
    if encoding == "char":
        return CHAR_SPECIALS
    if _kmer_k(encoding) is not None:
        return KMER_SPECIALS
    raise ValueError(f"unknown encoding {encoding!r}; expected 'char' or 'kmerK' (e.g. 'kmer3')")


def complement_ids_for(encoding: str) -> Tensor:
    """``table[id]``: the id on the other strand (char: complement base; kmerK: reverse-complement
    k-mer); specials map to themselves."""
    if encoding == "char":
        return torch.from_numpy(np.array(CHAR_COMPLEMENT_IDS, dtype=np.int64))
    k = _kmer_k(encoding)
    if k is None:
        raise ValueError(f"unknown encoding {encoding!r}; expected 'char' or 'kmerK'")
    return torch.from_numpy(np.array(KmerVocab(k).complement_ids, dtype=np.int64))


def reverse_complement_ids(
    input_ids: Tensor,
    attention_mask: Tensor | None,
    complement: Tensor,
    *,
    cls_id: int | None = None,
    sep_id: int | None = None,
) -> tuple[Tensor, Tensor]:
    """RC of right-padded ids ``[B, L]``: reverse and complement each row's valid prefix only.

    Padding stays at the end, so applying it twice returns the input exactly. With ``cls_id`` /
    ``sep_id`` a leading ``[CLS]`` / trailing ``[SEP]`` keeps its place.
    """
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids, dtype=torch.bool)
    mask = attention_mask.bool()
    length = input_ids.shape[1]
    pos = torch.arange(length, device=input_ids.device)
    stop = mask.sum(1, keepdim=True)
    start = torch.zeros_like(stop)
    if length and cls_id is not None:
        start = ((input_ids[:, :1] == cls_id) & mask[:, :1]).long()
    if length and sep_id is not None:
        last = input_ids.gather(1, (stop - 1).clamp(min=0)) == sep_id
        stop = stop - (last & (stop > start)).long()
    inside = (pos >= start) & (pos < stop)
    src = torch.where(inside, start + stop - 1 - pos, pos)
    table = complement.to(input_ids.device)
    ids = torch.where(inside, table[input_ids.gather(1, src).long()].to(input_ids.dtype), input_ids)
    return ids, mask


def masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``hidden [B, L, D]`` over valid positions (zero for an empty row)."""
    w = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * w).sum(1) / w.sum(1).clamp(min=1.0)


class RCAveragedClassifier(nn.Module):
    """Masked-mean pooling + linear head, run on both strands with logits averaged.

    RC-invariant by construction for any backbone following the project interface
    (``encoding``, ``d_output``, ``forward(ids, mask) -> (hidden, valid)``). Both strands go through
    the backbone in one batch of ``2B`` rows.
    """

    def __init__(self, backbone: nn.Module, n_outputs: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.d_output, n_outputs)
        self.pad_id, self.cls_id, self.sep_id = special_ids_for(backbone.encoding)
        self.register_buffer("complement", complement_ids_for(backbone.encoding), persistent=False)

    def strand_logits(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Logits of the given strand only."""
        hidden, valid = self.backbone(input_ids, attention_mask)
        return self.head(self.dropout(masked_mean(hidden, valid)))

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        mask = input_ids != self.pad_id if attention_mask is None else attention_mask.bool()
        rc_ids, rc_mask = reverse_complement_ids(
            input_ids, mask, self.complement, cls_id=self.cls_id, sep_id=self.sep_id
        )
        logits = self.strand_logits(torch.cat([input_ids, rc_ids]), torch.cat([mask, rc_mask]))
        fwd, rev = logits.chunk(2)
        return 0.5 * (fwd + rev)
