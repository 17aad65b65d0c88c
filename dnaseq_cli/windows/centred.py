"""Fixed-length windows centred on intervals, fetched with N padding at contig ends.

Centring rule: the centre base of ``[start, end)`` is ``c = (start + end) // 2`` (the middle base of
an odd-length interval, the right-hand one of the two middle bases of an even-length one), and a
window of ``W`` bases is ``[c - W // 2, c - W // 2 + W)``, so the centre base sits at offset
``W // 2``. An even-length interval in an even-length window is therefore exactly centred; for mixed
parities the window sits half a base to the right. A 1-bp interval (a SNV) lands at offset
``W // 2``, the same offset :func:`dnaseq_cli.windows.variants.variant_windows` uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnaseq_cli.encode.reverse_complement import reverse_complement
from dnaseq_cli.records import Interval
from dnaseq_cli.windows.source import SequenceSource, fetch_padded


@dataclass(frozen=True)
class Window(Interval):
    """An :class:`Interval` that may run off its contig (``start < 0`` or ``end`` past the end).

    Windows keep their length at contig edges; :func:`fetch_window` pads the missing part with N.
    """

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"invalid window {self.chrom}:{self.start}-{self.end}")
        if self.strand not in ("+", "-", "."):
            raise ValueError(f"invalid strand {self.strand!r}")


def centred_window(interval: Interval, length: int, *, flank: int = 0) -> Window:
    """The window of ``length + 2 * flank`` bases centred on ``interval`` (rule in the module doc).

    The strand is kept; centring does not depend on it.
    """
    if length < 0 or flank < 0:
        raise ValueError(f"length and flank must be >= 0, got {length}, {flank}")
    total = length + 2 * flank
    centre = (interval.start + interval.end) // 2
    start = centre - total // 2
    return Window(interval.chrom, start, start + total, interval.strand)


def fetch_window(
    source: SequenceSource, interval: Interval, *, pad_char: str = "N"
) -> tuple[str, np.ndarray]:
    """Bases of ``interval`` with ``pad_char`` where it runs off the contig (mask False there).

    Strand ``-`` returns the reverse complement, with the mask reversed to match; case is kept.
    """
    seq, mask = fetch_padded(
        source, interval.chrom, interval.start, interval.end, pad_char=pad_char
    )
    if interval.strand == "-":
        return reverse_complement(seq), mask[::-1].copy()
    return seq, mask


def fetch_centred(
    source: SequenceSource,
    interval: Interval,
    length: int,
    *,
    flank: int = 0,
    pad_char: str = "N",
) -> tuple[str, np.ndarray]:
    """:func:`centred_window` then :func:`fetch_window`, the common BED-to-window step."""
    return fetch_window(source, centred_window(interval, length, flank=flank), pad_char=pad_char)
