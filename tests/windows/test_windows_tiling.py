"""Tiling covers every base, keeps one window length, and pads only the last window; the
strand-symmetric tiling is also its own mirror image."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnaseq_cli.records import Interval
from dnaseq_cli.windows import tile, tile_interval
from dnaseq_cli.windows.tiling import tile_symmetric


@settings(deadline=None, max_examples=80)
@given(st.integers(0, 300), st.integers(1, 40), st.data())
def test_tiling_covers_every_base(length: int, window: int, data: st.DataObject) -> None:
    stride = data.draw(st.integers(1, window))
    tiling = tile(length, window, stride)
    if length == 0:
        assert len(tiling) == 0
        return
    assert (tiling.ends - tiling.starts == window).all()
    assert tiling.starts[0] == 0 and (np.diff(tiling.starts) == stride).all()
    covered = np.zeros(length, int)
    for start, end in tiling:
        covered[start : min(end, length)] += 1
    assert (covered > 0).all()
    assert tiling.ends[-1] >= length and (len(tiling) == 1 or tiling.ends[-2] < length)
    assert tiling.padded.sum() <= 1 and tiling.padded[-1] == (tiling.ends[-1] > length)
    assert (tiling.valid_lengths == np.minimum(tiling.ends, length) - tiling.starts).all()


@settings(deadline=None, max_examples=200)
@given(st.integers(0, 400), st.integers(1, 40), st.data())
def test_symmetric_tiling_is_its_own_mirror(length: int, window: int, data: st.DataObject) -> None:
    stride = data.draw(st.integers(1, window))
    tiling = tile_symmetric(length, window, stride)
    if length == 0:
        assert len(tiling) == 0
        return
    assert (tiling.ends - tiling.starts == window).all()
    if length <= window:
        assert list(tiling) == [(0, window)]
        return
    assert tiling.starts[0] == 0 and tiling.ends[-1] == length and not tiling.padded.any()
    steps = np.diff(tiling.starts)
    assert (steps >= 1).all() and (steps <= stride).all()
    assert steps.max() - steps.min() <= 1  # the gap is spread evenly
    mirrored = sorted((length - end, length - start) for start, end in tiling)
    assert mirrored == list(tiling)
    regular = tile(length, window, stride)  # never more than one window above the regular rule
    assert len(regular) <= len(tiling) <= len(regular) + 1


def test_symmetric_tiling_examples() -> None:
    assert tile_symmetric(617, 200, 100).starts.tolist() == [0, 83, 167, 250, 334, 417]
    assert tile_symmetric(700, 200, 100).starts.tolist() == [0, 100, 200, 300, 400, 500]
    # odd gap, odd count: one window more, so that no lone middle window sits off-centre
    assert tile_symmetric(301, 200, 100).starts.tolist() == [0, 34, 67, 101]
    assert list(tile_symmetric(5, 8, 4)) == [(0, 8)] and len(tile_symmetric(0, 8, 4)) == 0
    with pytest.raises(ValueError):
        tile_symmetric(10, 4, 5)


def test_tile_examples() -> None:
    assert list(tile(10, 4, 3)) == [(0, 4), (3, 7), (6, 10)]
    t = tile("ACGTACGTACG", 4, 4)
    assert list(t) == [(0, 4), (4, 8), (8, 12)] and t.padded.tolist() == [False, False, True]
    assert t.bounds.tolist() == [[0, 4], [4, 8], [8, 12]]
    assert list(tile(3, 5, 2)) == [(0, 5)]
    for window, stride in ((0, 1), (4, 0), (4, 5)):
        with pytest.raises(ValueError):
            tile(10, window, stride)
    with pytest.raises(ValueError):
        tile(-1, 4, 2)


# tile_array and tile_sequence cut whole arrays and strings by the regular rule; no command does
# (preprocess end-aligns its last tile, predict tiles symmetrically), so they live with their test.


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


def test_tile_sequence_and_array() -> None:
    tiles, mask = tile_sequence("ACGTACGTACG", 4, 4)
    assert tiles == ["ACGT", "ACGT", "ACGN"]
    assert mask.tolist()[-1] == [True, True, True, False] and mask[:2].all()
    ids = np.arange(11, dtype=np.uint8) + 1
    arr, amask = tile_array(ids, 4, 4, pad_value=0)
    assert arr.dtype == np.uint8 and arr[-1].tolist() == [9, 10, 11, 0]
    assert np.array_equal(amask, mask)
    assert tile_sequence("", 4, 2)[0] == [] and tile_array(ids[:0], 4, 2)[0].shape == (0, 4)


def test_tile_interval_strands() -> None:
    plus = tile_interval(Interval("c", 100, 110), 4, 3)
    assert [(w.start, w.end) for w in plus] == [(100, 104), (103, 107), (106, 110)]
    assert all(w.strand == "+" for w in plus)
    minus = tile_interval(Interval("c", 100, 111, "-"), 4, 4)
    assert [(w.start, w.end) for w in minus] == [(107, 111), (105, 109), (102, 106), (100, 104)]
    plus = tile_interval(Interval("c", 100, 111, "+"), 4, 4)
    assert sorted((w.start, w.end) for w in minus) == [(w.start, w.end) for w in plus]
    near_start = tile_interval(Interval("c", 0, 5, "-"), 4, 4)
    assert [(w.start, w.end) for w in near_start] == [(1, 5), (0, 4)]  # inside the interval
    short = tile_interval(Interval("c", 0, 3, "-"), 4, 4)
    assert [(w.start, w.end) for w in short] == [(-1, 3)]  # fetch_window pads it
