"""Tiling long sequences into fixed-length windows that cover every base.

Rule: windows start at ``0, stride, 2 * stride, ...`` and the last one is the first whose end
reaches the sequence end. All windows have the same length; the last may run past the end, and is
then *padded* (flagged in :attr:`Tiling.padded`, filled with N / ``pad_value`` by the extract
helpers, mask False). Padding keeps the regular stride, so every base is seen at the same phase by
every window, rather than shifting the last window left to end-align it. A sequence shorter than one
window gives a single padded window; an empty one gives none.

:func:`tile_symmetric` is the strand-symmetric rule that every input is cut with (``predict`` and
``preprocess`` alike, through :mod:`dnaseq_cli.data.records`): its set of
windows is the mirror image of itself under ``x -> length - x``, so a record and its reverse
complement are cut into the same windows (reversed and complemented) and score the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dnaseq_cli.records import Interval
from dnaseq_cli.windows.centred import Window


@dataclass(frozen=True)
class Tiling:
    """Window bounds over a sequence of ``length`` bases: ``starts``/``ends`` int64 [n]."""

    starts: np.ndarray
    ends: np.ndarray
    length: int

    @property
    def padded(self) -> np.ndarray:
        """True for windows that run past the sequence end (only ever the last)."""
        return self.ends > self.length

    @property
    def valid_lengths(self) -> np.ndarray:
        """Real bases in each window."""
        return np.minimum(self.ends, self.length) - self.starts

    @property
    def bounds(self) -> np.ndarray:
        """``[n, 2]`` array of (start, end)."""
        return np.stack([self.starts, self.ends], axis=1)

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(zip(self.starts.tolist(), self.ends.tolist(), strict=True))


def _check(window: int, stride: int) -> None:
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1, got {window}, {stride}")
    if stride > window:
        raise ValueError(f"stride {stride} > window {window} would leave bases uncovered")


def tile(seq_or_length: str | bytes | int, window: int, stride: int) -> Tiling:
    """Tile a sequence (or a length) with windows of ``window`` bases, ``stride`` apart."""
    _check(window, stride)
    length = seq_or_length if isinstance(seq_or_length, int) else len(seq_or_length)
    if length < 0:
        raise ValueError(f"negative length {length}")
    count = 0 if length == 0 else 1 + -(-max(length - window, 0) // stride)
    starts = np.arange(count, dtype=np.int64) * stride
    return Tiling(starts, starts + window, length)


def tile_symmetric(length: int, window: int, stride: int) -> Tiling:
    """Strand-symmetric tiling: windows inside ``[0, length)``, steps at most ``stride``, and the
    set of windows unchanged by the mirror ``x -> length - x``.

    Rule: with ``gap = length - window`` there are ``n = 1 + ceil(gap / stride)`` windows (one more
    when ``n`` is odd and ``gap`` odd, since a single middle window cannot then sit exactly centred
    on integer coordinates); the first starts at 0, the last ends at ``length``, and the ``gap`` is
    spread evenly between them: start ``i`` is ``round(i * gap / (n - 1))`` (halves up) for the
    left half and ``gap - start[n - 1 - i]`` for the right half. Every window is full length (no
    padding) and consecutive starts differ by ``floor`` or ``ceil`` of ``gap / (n - 1)``, never more
    than ``stride``. A sequence no longer than the window gives one window ``[0, window)`` (padded
    when shorter); an empty one gives none.
    """
    starts = symmetric_starts(length, window, stride)
    return Tiling(starts, starts + window, length)


def symmetric_count(length: int, window: int, stride: int) -> int:
    """How many windows :func:`tile_symmetric` gives, without building them (progress totals)."""
    _check(window, stride)
    if length < 0:
        raise ValueError(f"negative length {length}")
    if length <= window:
        return 1 if length else 0
    gap = length - window
    count = 1 + -(-gap // stride)
    return count + 1 if count % 2 == 1 and gap % 2 == 1 else count


def symmetric_starts(
    length: int, window: int, stride: int, first: int = 0, last: int | None = None
) -> np.ndarray:
    """Starts of windows ``first..last-1`` of :func:`tile_symmetric` (int64), computed directly, so
    a long record's windows can be cut a batch at a time without an array over the whole record."""
    count = symmetric_count(length, window, stride)
    last = count if last is None else last
    if not 0 <= first <= last <= count:
        raise ValueError(f"windows {first}..{last} outside 0..{count}")
    index = np.arange(first, last, dtype=np.int64)
    if count <= 1:
        return np.zeros_like(index)
    gap = length - window
    steps = count - 1

    def rounded(i: np.ndarray) -> np.ndarray:
        # round(i * gap / steps), halves up, in integers: floor((2 * i * gap + steps) / (2 * steps))
        return (2 * i * gap + steps) // (2 * steps)

    # left half by the formula, right half as the mirror image of the left
    left = index < (count + 1) // 2
    return np.where(left, rounded(index), gap - rounded(steps - index))


def interval_starts(
    interval: Interval, window: int, stride: int, first: int = 0, last: int | None = None
) -> np.ndarray:
    """Reference starts of windows ``first..last-1`` of :func:`tile_interval`, in its order, so
    the tiles of a long interval can be made a batch at a time."""
    starts = symmetric_starts(len(interval), window, stride, first, last)
    if interval.strand == "-":
        return interval.end - (starts + window)
    return interval.start + starts


def tile_interval(interval: Interval, window: int, stride: int) -> list[Window]:
    """Tile a genomic interval by :func:`tile_symmetric`: an interval longer than the window gets
    windows inside it, the first at ``interval.start``, the last ending at ``interval.end``; a
    shorter one a single window from ``interval.start`` that runs into the flank (and past the
    contig, where ``fetch_window`` pads with N).

    On strand ``-`` the windows are listed 5'->3' on that strand (from ``interval.end`` leftwards);
    the tiling being symmetric, they are the same windows as on ``+``. Each keeps the strand.
    """
    starts = interval_starts(interval, window, stride).tolist()
    return [Window(interval.chrom, s, s + window, interval.strand) for s in starts]
