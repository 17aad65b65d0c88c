"""Convert stored character tokens into the encoding a backbone reads, on the fly and batched.

Datasets store character tokens (the canonical form); a k-mer backbone gets overlapping k-mer ids
computed here from the character ids, so one dataset folder serves every backbone.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dnaseq_cli.encode import get_encoding
from dnaseq_cli.encode.vocab import A_ID, KMER_OFFSET, KMER_PAD_ID, KMER_UNK_ID, PAD_ID, T_ID
from dnaseq_cli.errors import InputError

_CHAR_BASE_CODE = torch.full((256,), -1, dtype=torch.long)
_CHAR_BASE_CODE[A_ID : T_ID + 1] = torch.arange(4)  # A C G T character ids -> 0..3


def pad_id_for(encoding: str) -> int:
    """The padding token of an encoding."""
    return get_encoding(encoding).pad_id


def char_to_kmer_ids(char_ids: Tensor, k: int) -> Tensor:
    """Overlapping k-mer ids ``[B, L-k+1]`` from character ids ``[B, L]``.

    A window touching padding becomes ``[PAD]``; one with any other non-ACGT base becomes ``[UNK]``.
    """
    codes = _CHAR_BASE_CODE.to(char_ids.device)[char_ids.long()]
    windows = codes.unfold(-1, k, 1)  # [B, L-k+1, k]
    weights = 4 ** torch.arange(k - 1, -1, -1, device=char_ids.device)
    ids = (windows.clamp(min=0) * weights).sum(-1) + KMER_OFFSET
    ids = ids.masked_fill((windows < 0).any(-1), KMER_UNK_ID)
    padded = (char_ids == PAD_ID).unfold(-1, k, 1).any(-1)
    return ids.masked_fill(padded, KMER_PAD_ID)


def convert_tokens(tokens: Tensor, stored: str, wanted: str) -> Tensor:
    """Tokens stored as ``stored`` re-expressed as ``wanted`` (identity when equal)."""
    if stored == wanted:
        return tokens.long()
    target = get_encoding(wanted)
    if stored == "char" and target.kind == "kmer":
        return char_to_kmer_ids(tokens, target.k)
    raise InputError(
        f"the dataset holds {stored} tokens but the backbone reads {wanted}; "
        f"re-run dnaseq preprocess with --encoding char (works for every backbone)"
    )
