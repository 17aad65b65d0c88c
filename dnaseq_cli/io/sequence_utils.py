"""Nucleotide alphabet, validation and reverse complement shared by the readers.

The accepted alphabet is DNA with the IUPAC ambiguity codes (``ACGTN`` + ``RYKMSWBDHV``), in either
case (lower case is soft-masking and is kept). ``U`` (RNA) is read as ``T`` by every reader through
:func:`read_u_as_t`, with one counted warning per file (:class:`UAsTCount`). Gaps (``-``, ``.``) and
anything else are rejected: the models downstream read genomic DNA, and a silent pass-through would
hide a wrong file. Only ``A/C/G/T`` are known bases: every other IUPAC code is unknown for the
N-fraction (:func:`count_unknown`) exactly as the encoder reads it as N.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

logger = logging.getLogger(__name__)
_Seq = TypeVar("_Seq", str, bytes)

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
_U_TO_T = str.maketrans("Uu", "Tt")
_U_TO_T_BYTES = bytes.maketrans(b"Uu", b"Tt")
# 1 for every byte that is not a known base (A/C/G/T, U read as T), either case.
_UNKNOWN_LUT = np.ones(256, dtype=np.uint8)
_UNKNOWN_LUT[np.frombuffer(b"ACGTUacgtu", np.uint8)] = 0


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


def read_u_as_t(seq: _Seq) -> tuple[_Seq, int]:
    """``U``/``u`` -> ``T``/``t`` (case kept) and how many were changed: the one rule by which every
    reader accepts RNA, so FASTA, tables and references agree. Count them with :class:`UAsTCount`."""
    if isinstance(seq, bytes):
        count = seq.count(b"U") + seq.count(b"u")
        return (seq.translate(_U_TO_T_BYTES) if count else seq), count
    count = seq.count("U") + seq.count("u")
    return (seq.translate(_U_TO_T) if count else seq), count


@dataclass
class UAsTCount:
    """U bases read as T in one file, reported by :meth:`warn` as one stderr line, not per record."""

    source: str
    bases: int = 0
    records: int = 0

    def convert(self, seq: _Seq) -> _Seq:
        """:func:`read_u_as_t` on one record, counted."""
        seq, count = read_u_as_t(seq)
        self.add(count)
        return seq

    def add(self, count: int, records: int = 1) -> None:
        """Count ``count`` U bases met in ``records`` records (nothing when ``count`` is 0)."""
        if count:
            self.bases += count
            self.records += records

    def warn(self) -> None:
        """Log ``read N U bases as T in M records of FILE`` once, if any were read (then reset)."""
        if self.bases:
            plural = "" if self.records == 1 else "s"
            logger.warning(
                "read %s U bases as T in %s record%s of %s",
                f"{self.bases:,}",
                f"{self.records:,}",
                plural,
                self.source,
            )
        self.bases = self.records = 0


def count_unknown(seq: str | bytes, mask: np.ndarray | None = None) -> int:
    """Bases other than A/C/G/T (U counts as T), either case, where ``mask`` is True: N and every
    other IUPAC code, which the encoder reads as N, so the N-fraction counts what the model cannot
    see."""
    raw = seq.encode("ascii", errors="replace") if isinstance(seq, str) else seq
    unknown = _UNKNOWN_LUT[np.frombuffer(raw, np.uint8)]
    if mask is not None:
        unknown = unknown[mask]
    return int(unknown.sum())
