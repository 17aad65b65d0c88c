"""Where window code gets bases from: any object with contig lengths and a 0-based ``fetch``.

The FASTA-backed implementation lives in :mod:`dnaseq_cli.io.fasta`; :class:`InMemorySource` serves
tests and small inputs. Window code never asks a source for bases outside a contig: it clips first
and pads with N itself (:func:`fetch_padded`), so sources may raise however they like out of range.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

import numpy as np

from dnaseq_cli.errors import InputError


@runtime_checkable
class SequenceSource(Protocol):
    """A reference: contig lengths, and bases of ``[start, end)`` on the forward strand."""

    @property
    def lengths(self) -> Mapping[str, int]: ...

    def fetch(self, chrom: str, start: int, end: int) -> str: ...


class _Lengths(Mapping[str, int]):
    """Live ``{contig: length}`` view, so a lookup costs O(1) however many contigs there are."""

    def __init__(self, sequences: dict[str, str]) -> None:
        self._sequences = sequences

    def __getitem__(self, chrom: str) -> int:
        return len(self._sequences[chrom])

    def __iter__(self) -> Iterator[str]:
        return iter(self._sequences)

    def __len__(self) -> int:
        return len(self._sequences)


class InMemorySource(dict[str, str]):
    """A :class:`SequenceSource` over a ``{contig: sequence}`` dict."""

    @property
    def lengths(self) -> Mapping[str, int]:
        return _Lengths(self)

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases ``[start, end)``; unknown contig or out-of-range coordinates raise InputError."""
        if chrom not in self:
            raise InputError(f"contig {chrom!r} not in the reference", record=chrom)
        seq = self[chrom]
        if not 0 <= start <= end <= len(seq):
            raise InputError(
                f"{chrom}:{start}-{end} is outside the contig (length {len(seq)})", record=chrom
            )
        return seq[start:end]


def contig_length(source: SequenceSource, chrom: str) -> int:
    """Length of a contig, or an InputError naming the contig (a user-fixable naming problem)."""
    try:
        return int(source.lengths[chrom])
    except KeyError:
        raise InputError(f"contig {chrom!r} not in the reference", record=chrom) from None


def fetch_padded(
    source: SequenceSource, chrom: str, start: int, end: int, *, pad_char: str = "N"
) -> tuple[str, np.ndarray]:
    """Bases of ``[start, end)`` (``start`` may be negative, ``end`` past the contig) padded with
    ``pad_char`` where the range runs off the contig; ``mask`` is True on real bases."""
    if len(pad_char) != 1:
        raise ValueError(f"pad_char must be one character, got {pad_char!r}")
    if end < start:
        raise ValueError(f"end {end} < start {start}")
    size = contig_length(source, chrom)
    total = end - start
    lo, hi = max(start, 0), min(end, size)
    core = source.fetch(chrom, lo, hi) if lo < hi else ""
    if len(core) != max(hi - lo, 0):
        raise InputError(
            f"reference returned {len(core)} bases for {chrom}:{lo}-{hi}", record=chrom
        )
    left = min(max(-start, 0), total)
    right = total - left - len(core)
    mask = np.zeros(total, dtype=bool)
    mask[left : left + len(core)] = True
    return pad_char * left + core + pad_char * right, mask
