"""Reverse-complement (RC) helpers shared by the backbones, and a strand-averaging classifier.

Backbones that are not RC-equivariant by construction (BigBird, GNN, Hybrid, CNN) become exactly
RC-*invariant* classifiers by averaging the logits of both strands: ``f(x) = (g(x) + g(rc(x))) / 2``
and ``rc(rc(x)) == x`` (padding included), so ``f(rc(x)) == f(x)``.

Token ids are right-padded: row ``b`` is valid on its first ``mask[b].sum()`` positions. A leading
``[CLS]`` and a trailing ``[SEP]`` (when the ids of the encoding are given) stay where they are.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from dnaseq_cli.encode import ENCODINGS, Encoding


def _id_encoding(encoding: str) -> Encoding:
    """The registry's entry for an encoding a backbone reads as ids ("char" or "kmerK")."""
    enc = ENCODINGS.get(encoding)
    if enc is None or enc.kind not in ("char", "kmer"):
        raise ValueError(
            f"unknown encoding {encoding!r}; expected 'char' or 'kmerK' (e.g. 'kmer3')"
        )
    return enc


def special_ids_for(encoding: str) -> tuple[int, int, int]:
    """``(pad, cls, sep)`` ids of an encoding ("char" or "kmerK")."""
    enc = _id_encoding(encoding)
    return enc.pad_id, enc.cls_id, enc.sep_id


def complement_ids_for(encoding: str) -> Tensor:
    """``table[id]``: the id on the other strand (char: complement base; kmerK: reverse-complement
    k-mer); specials map to themselves."""
    return torch.from_numpy(_id_encoding(encoding).complement_ids())


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


class StrandAveragedBackbone:
    """Mixin giving a backbone the interface the shared heads read (``models/heads.py``).

    Backbones that are not RC-equivariant by construction declare ``rc_mode = "ph"``: the classifier
    runs both strands and averages, using :meth:`reverse_complement` in the backbone's own encoding.
    """

    rc_mode: str = "ph"
    d_output: int
    encoding: ClassVar[str]
    config: Any  # the backbone's config dataclass (a registry.BackboneConfig)

    @property
    def hidden_size(self) -> int:
        return self.d_output

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def reverse_complement(
        self, input_ids: Tensor, attention_mask: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        pad, cls_id, sep_id = special_ids_for(self.encoding)
        mask = input_ids != pad if attention_mask is None else attention_mask.bool()
        complement = complement_ids_for(self.encoding).to(input_ids.device)
        return reverse_complement_ids(input_ids, mask, complement, cls_id=cls_id, sep_id=sep_id)
