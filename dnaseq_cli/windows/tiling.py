"""Tiling long sequences into fixed-length windows that cover every base.

Rule: windows start at ``0, stride, 2 * stride, ...`` and the last one is the first whose end
reaches the sequence end. All windows have the same length; the last may run past the end, and is
then *padded* (flagged in :attr:`Tiling.padded`, filled with N / ``pad_value`` by the extract
helpers, mask False). Padding keeps the regular stride, so every base is seen at the same phase by
every window, rather than shifting the last window left to end-align it. A sequence shorter than one
window gives a single padded window; an empty one gives none.
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


def tile_array(
    values: np.ndarray, window: int, stride: int, *, pad_value: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a 1-D array (e.g. char ids) into ``[n, window]`` tiles plus a validity mask."""
    tiling = tile(int(values.shape[0]), window, stride)
    if not len(tiling):
        return np.zeros((0, window), values.dtype), np.zeros((0, window), bool)
    total = int(tiling.ends[-1])
    padded = np.full(total, pad_value, dtype=values.dtype)
    padded[: values.shape[0]] = values
    mask = np.zeros(total, dtype=bool)
    mask[: values.shape[0]] = True
    view = np.lib.stride_tricks.sliding_window_view
    return view(padded, window)[::stride].copy(), view(mask, window)[::stride].copy()


def tile_sequence(
    seq: str, window: int, stride: int, *, pad_char: str = "N"
) -> tuple[list[str], np.ndarray]:
    """Cut a string into tiles (the last padded with ``pad_char``) plus a ``[n, window]`` mask."""
    tiling = tile(seq, window, stride)
    padded = seq + pad_char * (int(tiling.ends[-1]) - len(seq) if len(tiling) else 0)
    tiles = [padded[s:e] for s, e in tiling]  # one slice per window, not per base
    return tiles, np.arange(window)[None, :] < tiling.valid_lengths[:, None]


def tile_interval(interval: Interval, window: int, stride: int) -> list[Window]:
    """Tile a genomic interval; the last window may extend past ``interval.end`` into flanking
    sequence (and past the contig, where ``fetch_window`` pads with N).

    On strand ``-`` the tiling runs 5'->3' on that strand: from ``interval.end`` leftwards, the last
    window reaching past ``interval.start``. Each window keeps the interval's strand.
    """
    tiling = tile(len(interval), window, stride)
    if interval.strand == "-":
        starts = interval.end - tiling.ends
        return [Window(interval.chrom, s, s + window, "-") for s in starts.tolist()]
    starts = interval.start + tiling.starts
    return [Window(interval.chrom, s, s + window, interval.strand) for s in starts.tolist()]
