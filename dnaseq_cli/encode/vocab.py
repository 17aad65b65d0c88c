"""Token vocabularies: single-nucleotide (Caduceus-compatible) and k-mer.

The character vocabulary is deliberately identical to the Hugging Face Caduceus character tokenizer
(``[CLS]``=0 ... ``N``=11), so that public Caduceus checkpoints read our token ids unchanged. Models
pad the embedding table to 16 rows; only ids 0..11 are ever produced.

Byte -> id rules (``CHAR_LUT``): ``ACGT`` and ``acgt`` map to A..T, ``U``/``u`` map to T (RNA
input), ``N`` and the IUPAC ambiguity codes ``RYKMSWBDHV`` (either case) map to N because a model
cannot use a partial base call, and every other byte (gaps, digits, ``X``, non-ASCII) maps to
``[UNK]``.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

CLS_ID = 0
SEP_ID = 1
BOS_ID = 2
MASK_ID = 3
PAD_ID = 4
RESERVED_ID = 5
UNK_ID = 6
A_ID, C_ID, G_ID, T_ID, N_ID = 7, 8, 9, 10, 11

CHAR_VOCAB: dict[str, int] = {
    "[CLS]": CLS_ID,
    "[SEP]": SEP_ID,
    "[BOS]": BOS_ID,
    "[MASK]": MASK_ID,
    "[PAD]": PAD_ID,
    "[RESERVED]": RESERVED_ID,
    "[UNK]": UNK_ID,
    "A": A_ID,
    "C": C_ID,
    "G": G_ID,
    "T": T_ID,
    "N": N_ID,
}
CHAR_VOCAB_SIZE = len(CHAR_VOCAB)
IUPAC_AMBIGUITY = "RYKMSWBDHV"


def _char_lut() -> np.ndarray:
    lut = np.full(256, UNK_ID, dtype=np.uint8)
    for letters, token in (
        ("A", A_ID),
        ("C", C_ID),
        ("G", G_ID),
        ("TU", T_ID),
        ("N" + IUPAC_AMBIGUITY, N_ID),
    ):
        for letter in letters:
            lut[ord(letter)] = token
            lut[ord(letter.lower())] = token
    lut.flags.writeable = False
    return lut


CHAR_LUT: np.ndarray = _char_lut()
"""256-entry byte -> char id table (uint8), read-only."""

CHAR_COMPLEMENT_IDS: np.ndarray = np.arange(CHAR_VOCAB_SIZE, dtype=np.int64)
CHAR_COMPLEMENT_IDS[[A_ID, C_ID, G_ID, T_ID]] = [T_ID, G_ID, C_ID, A_ID]
CHAR_COMPLEMENT_IDS.flags.writeable = False

ID_TO_CHAR: dict[int, str] = {v: k for k, v in CHAR_VOCAB.items()}

# 2-bit base codes used by the k-mer encoders: A=0, C=1, G=2, T=3 (U too); anything else is 4.
BASE_CODE_LUT = np.full(256, 4, dtype=np.uint8)
BASE_CODE_LUT[np.frombuffer(b"AaCcGgTtUu", np.uint8)] = [0, 0, 1, 1, 2, 2, 3, 3, 3, 3]
BASE_CODE_LUT.flags.writeable = False

KMER_SPECIALS = ("[PAD]", "[MASK]", "[UNK]", "[CLS]", "[SEP]")
KMER_PAD_ID, KMER_MASK_ID, KMER_UNK_ID, KMER_CLS_ID, KMER_SEP_ID = range(5)
KMER_OFFSET = len(KMER_SPECIALS)
MAX_K = 6
_BASES = "ACGT"


def reverse_complement_values(k: int) -> np.ndarray:
    """``rc[v]``: the base-4 value (A=0..T=3, first base most significant) of the reverse
    complement of the k-mer with value ``v``; the one table of k-mer strands in the project."""
    index = np.arange(4**k, dtype=np.int64)
    rc = np.zeros_like(index)
    for i in range(k):  # loop over k digit positions, not over bases
        digit = (index >> (2 * i)) & 3
        rc |= (3 - digit) << (2 * (k - 1 - i))
    return rc


class KmerVocab:
    """k-mer ids: 5 specials, then ``5 + base-4 index`` (A=0..T=3, first base most significant).

    A k-mer with any base outside ACGT (N, IUPAC, junk) is ``[UNK]``: the model sees "unknown"
    rather than a guessed base.
    """

    pad_id = KMER_PAD_ID
    mask_id = KMER_MASK_ID
    unk_id = KMER_UNK_ID
    cls_id = KMER_CLS_ID
    sep_id = KMER_SEP_ID
    offset = KMER_OFFSET

    def __init__(self, k: int) -> None:
        if not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
            raise ValueError(f"k must be an integer in 1..{MAX_K}, got {k!r}")
        self.k = int(k)
        self.size = KMER_OFFSET + 4**self.k

    def __repr__(self) -> str:
        return f"KmerVocab(k={self.k})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KmerVocab) and other.k == self.k

    def __hash__(self) -> int:
        return hash(("KmerVocab", self.k))

    @property
    def dtype(self) -> np.dtype:
        """Smallest unsigned dtype that holds every id (uint8 up to k=3, uint16 beyond)."""
        return np.dtype(np.uint8 if self.size <= 256 else np.uint16)

    def token_to_kmer(self, token: int) -> str:
        """The k-mer string for an id, or the special's name (``[PAD]``...) for ids below 5."""
        token = int(token)
        if not 0 <= token < self.size:
            raise ValueError(f"token id {token} out of range for {self!r} (size {self.size})")
        if token < KMER_OFFSET:
            return KMER_SPECIALS[token]
        index = token - KMER_OFFSET
        return "".join(_BASES[(index >> (2 * (self.k - 1 - i))) & 3] for i in range(self.k))

    def kmer_to_token(self, kmer: str) -> int:
        """The id of a k-mer (case-insensitive, U as T); specials by name; non-ACGT -> ``[UNK]``."""
        if kmer in KMER_SPECIALS:
            return KMER_SPECIALS.index(kmer)
        if len(kmer) != self.k:
            raise ValueError(f"expected a {self.k}-mer, got {kmer!r}")
        codes = BASE_CODE_LUT[np.frombuffer(kmer.encode("ascii", "replace"), dtype=np.uint8)]
        if (codes > 3).any():
            return KMER_UNK_ID
        weights = 4 ** np.arange(self.k - 1, -1, -1)
        return KMER_OFFSET + int(codes.astype(np.int64) @ weights)

    @cached_property
    def complement_ids(self) -> np.ndarray:
        """``complement_ids[id]``: id of the reverse-complement k-mer; specials stay put."""
        rc = reverse_complement_values(self.k)
        table = np.concatenate([np.arange(KMER_OFFSET, dtype=np.int64), rc + KMER_OFFSET])
        table.flags.writeable = False
        return table
