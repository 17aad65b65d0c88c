"""Nucleotide alphabet, validation and reverse complement shared by the readers.

The accepted alphabet is DNA with the IUPAC ambiguity codes (``ACGTN`` + ``RYKMSWBDHV``), in either
case (lower case is soft-masking and is kept). Gaps (``-``, ``.``), ``U`` and anything else are
rejected: the models downstream read genomic DNA, and a silent pass-through would hide a wrong file.
"""

from __future__ import annotations

import re

DNA_BASES = "ACGTN"
IUPAC_AMBIGUITY = "RYKMSWBDHV"
VALID_BASES = DNA_BASES + IUPAC_AMBIGUITY
VALID_CHARS = VALID_BASES + VALID_BASES.lower()
VALID_BYTES = VALID_CHARS.encode("ascii")

# IUPAC complements: R(AG)<->Y(CT), K(GT)<->M(AC), S and W self-complementary, B<->V, D<->H, N->N.
_FORWARD = "ACGTRYKMSWBDHVN"
_COMPLEMENT = "TGCAYRMKSWVHDBN"
_COMPLEMENT_TABLE = str.maketrans(_FORWARD + _FORWARD.lower(), _COMPLEMENT + _COMPLEMENT.lower())
_COMPLEMENT_BYTES = bytes.maketrans(
    (_FORWARD + _FORWARD.lower()).encode(), (_COMPLEMENT + _COMPLEMENT.lower()).encode()
)
_INVALID_RE = re.compile(f"[^{VALID_CHARS}]")


def complement(seq: str) -> str:
    """Base-wise IUPAC complement, case kept; characters outside the alphabet pass through."""
    return seq.translate(_COMPLEMENT_TABLE)


def reverse_complement(seq: str) -> str:
    """Reverse complement, IUPAC codes and soft-masking (case) kept, via one ``str.translate``."""
    return seq.translate(_COMPLEMENT_TABLE)[::-1]


def reverse_complement_bytes(seq: bytes) -> bytes:
    """:func:`reverse_complement` for ASCII bytes."""
    return seq.translate(_COMPLEMENT_BYTES)[::-1]


def find_invalid(seq: str) -> int:
    """Index of the first character outside the DNA/IUPAC alphabet, or -1 when all are valid."""
    match = _INVALID_RE.search(seq)
    return -1 if match is None else match.start()


def find_invalid_bytes(seq: bytes) -> int:
    """:func:`find_invalid` for bytes; a C-speed ``translate`` does the common all-valid case."""
    leftover = seq.translate(None, VALID_BYTES)
    if not leftover:
        return -1
    return seq.index(leftover[:1])


def describe_char(char: str | bytes) -> str:
    """A readable name for a bad character (quoted, or a code for invisible/non-ASCII ones)."""
    if isinstance(char, bytes):
        value = char[0]
        if 33 <= value < 127:
            return repr(chr(value))
        return f"byte 0x{value:02x}"
    if char.isprintable() and not char.isspace():
        return repr(char)
    return f"U+{ord(char):04X}"
