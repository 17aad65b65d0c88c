"""Encodings of DNA sequences: char tokens, k-mer tokens, one-hot, and their reverse complements.

``encode(seq, name)`` is the single entry point preprocess uses; ``token_dtype(name)`` is the dtype
of the token array stored for that encoding. There is no graph encoding: the GNN backbone reads
k-mer ids and builds its graph itself (``models/gnn.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnaseq_cli.encode.onehot import ids_from_one_hot, one_hot, one_hot_from_ids
from dnaseq_cli.encode.reverse_complement import (
    rc_char_ids,
    rc_encode_kmers,
    rc_kmer_ids,
    rc_one_hot,
    reverse_complement,
)
from dnaseq_cli.encode.tokens import (
    SequenceLike,
    decode_chars,
    decode_kmers,
    encode_batch_chars,
    encode_batch_kmers,
    encode_chars,
    encode_kmers,
    num_kmer_tokens,
)
from dnaseq_cli.encode.vocab import (
    CHAR_COMPLEMENT_IDS,
    CHAR_VOCAB,
    CHAR_VOCAB_SIZE,
    CLS_ID,
    MASK_ID,
    N_ID,
    PAD_ID,
    SEP_ID,
    UNK_ID,
    KmerVocab,
)
from dnaseq_cli.errors import InputError


@dataclass(frozen=True)
class Encoding:
    """What an encoding name means: kind, k, the token array stored for it, vocabulary size."""

    name: str
    kind: str  # "char" | "kmer" | "onehot"
    k: int
    tokens: str  # the token encoding whose ids preprocess stores ("onehot" stores char ids)
    vocab_size: int
    description: str

    @property
    def token_dtype(self) -> np.dtype:
        """uint8 for char and k <= 3 k-mer tokens, uint16 beyond."""
        return np.dtype(np.uint8) if self.k <= 3 else np.dtype(np.uint16)

    @property
    def _vocab(self) -> KmerVocab | None:
        """The k-mer vocabulary of the stored tokens (None: character ids)."""
        return None if self.tokens == "char" else KmerVocab(self.k)

    @property
    def pad_id(self) -> int:
        return PAD_ID if self._vocab is None else self._vocab.pad_id

    @property
    def unk_id(self) -> int:
        return UNK_ID if self._vocab is None else self._vocab.unk_id

    @property
    def cls_id(self) -> int:
        return CLS_ID if self._vocab is None else self._vocab.cls_id

    @property
    def sep_id(self) -> int:
        return SEP_ID if self._vocab is None else self._vocab.sep_id

    def complement_ids(self) -> np.ndarray:
        """``table[id]``: the id of the same token on the other strand (char: complement base;
        k-mers: reverse-complement k-mer); special ids map to themselves."""
        if self._vocab is None:
            return np.array(CHAR_COMPLEMENT_IDS, dtype=np.int64)
        return np.array(self._vocab.complement_ids, dtype=np.int64)  # a writable copy


ENCODINGS: dict[str, Encoding] = {
    "char": Encoding(
        "char", "char", 1, "char", CHAR_VOCAB_SIZE, "single-nucleotide (Caduceus) ids"
    ),
    **{
        f"kmer{k}": Encoding(
            f"kmer{k}", "kmer", k, f"kmer{k}", KmerVocab(k).size, f"overlapping {k}-mer ids"
        )
        for k in range(1, 7)
    },
    "onehot": Encoding("onehot", "onehot", 1, "char", 4, "float32 [L, 4] one-hot, ACGT"),
}


def get_encoding(name: str) -> Encoding:
    """Look an encoding up by name; an unknown name is a usage error (exit 2)."""
    try:
        return ENCODINGS[name]
    except KeyError:
        raise InputError(f"unknown encoding {name!r}; choose from {', '.join(ENCODINGS)}") from None


def token_dtype(name: str) -> np.dtype:
    """Dtype of the stored token ids: uint8 for char, kmer1-3, onehot; uint16 for kmer4-6."""
    return get_encoding(name).token_dtype


def encode(seq: SequenceLike, name: str, *, stride: int | None = None) -> np.ndarray:
    """Encode one sequence by encoding name.

    char / kmerK: token ids in :func:`token_dtype` (``stride`` applies to k-mers); onehot: float32
    ``[L, 4]``.
    """
    enc = get_encoding(name)
    if enc.kind == "char":
        return encode_chars(seq, dtype=enc.token_dtype)
    if enc.kind == "kmer":
        return encode_kmers(seq, enc.k, stride=stride, dtype=enc.token_dtype)
    return one_hot(seq)


def encode_tokens(seq: SequenceLike, name: str, *, stride: int | None = None) -> np.ndarray:
    """The compact token array preprocess stores for ``name`` (char ids for onehot); expand later
    with ``one_hot_from_ids``."""
    return encode(seq, get_encoding(name).tokens, stride=stride)


__all__ = [
    "CHAR_COMPLEMENT_IDS",
    "CHAR_VOCAB",
    "CHAR_VOCAB_SIZE",
    "CLS_ID",
    "ENCODINGS",
    "Encoding",
    "KmerVocab",
    "MASK_ID",
    "N_ID",
    "PAD_ID",
    "SEP_ID",
    "UNK_ID",
    "decode_chars",
    "decode_kmers",
    "encode",
    "encode_batch_chars",
    "encode_batch_kmers",
    "encode_chars",
    "encode_kmers",
    "encode_tokens",
    "get_encoding",
    "ids_from_one_hot",
    "num_kmer_tokens",
    "one_hot",
    "one_hot_from_ids",
    "rc_char_ids",
    "rc_encode_kmers",
    "rc_kmer_ids",
    "rc_one_hot",
    "reverse_complement",
    "token_dtype",
]
