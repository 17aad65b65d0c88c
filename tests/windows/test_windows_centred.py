"""Centred windows and padded fetches: rounding rule, contig edges, strand, errors."""

from __future__ import annotations

import numpy as np
import pytest

from dnaseq_cli.encode.reverse_complement import reverse_complement
from dnaseq_cli.errors import InputError
from dnaseq_cli.records import Interval
from dnaseq_cli.windows import (
    InMemorySource,
    SequenceSource,
    Window,
    centred_window,
    contig_length,
    fetch_centred,
    fetch_padded,
    fetch_window,
)

CHROM = "ACGTACGTAAccggttNNAC"  # 20 bp, soft-masked middle


@pytest.fixture
def source() -> InMemorySource:
    return InMemorySource({"chr1": CHROM, "chrM": "GATC"})


def test_in_memory_source(source: InMemorySource) -> None:
    assert isinstance(source, SequenceSource)
    assert source.lengths == {"chr1": 20, "chrM": 4}
    assert source.fetch("chrM", 1, 3) == "AT"
    with pytest.raises(InputError):
        source.fetch("chrM", 2, 5)
    with pytest.raises(InputError):
        source.fetch("chrM", -1, 2)
    with pytest.raises(InputError, match="chrX"):
        source.fetch("chrX", 0, 1)
    assert contig_length(source, "chr1") == 20
    with pytest.raises(InputError, match="chr2"):
        contig_length(source, "chr2")


@pytest.mark.parametrize(
    ("start", "end", "length", "want"),
    [
        (10, 11, 5, (8, 13)),  # odd interval, odd window: exact
        (10, 11, 4, (8, 12)),  # SNV at offset length // 2
        (10, 12, 4, (9, 13)),  # even interval, even window: exact
        (10, 12, 3, (10, 13)),  # mixed parity: half a base to the right
        (10, 20, 2, (14, 16)),
        (0, 1, 6, (-3, 3)),  # runs off the left end
    ],
)
def test_centred_window_rounding(start: int, end: int, length: int, want: tuple[int, int]) -> None:
    window = centred_window(Interval("chr1", start, end), length)
    assert (window.start, window.end) == want
    assert len(window) == length and isinstance(window, Interval)


def test_centred_window_flank_and_strand() -> None:
    window = centred_window(Interval("chr1", 10, 11, "-"), 4, flank=3)
    assert (window.start, window.end, window.strand) == (5, 15, "-")
    with pytest.raises(ValueError):
        centred_window(Interval("chr1", 1, 2), -1)
    with pytest.raises(ValueError):
        Window("chr1", 5, 4)
    with pytest.raises(ValueError):
        Window("chr1", 1, 4, "x")


def test_fetch_window_inside(source: InMemorySource) -> None:
    seq, mask = fetch_window(source, Interval("chr1", 8, 14))
    assert seq == "AAccgg" and mask.all() and mask.dtype == bool


@pytest.mark.parametrize(
    ("start", "end", "seq", "valid"),
    [
        (-3, 2, "NNNAC", [0, 0, 0, 1, 1]),
        (17, 23, "NACNNN", [1, 1, 1, 0, 0, 0]),  # the contig's own N is a real base
        (-2, 22, "NN" + CHROM + "NN", [0, 0] + [1] * 20 + [0, 0]),
        (25, 28, "NNN", [0, 0, 0]),
        (-5, -2, "NNN", [0, 0, 0]),
        (3, 3, "", []),
    ],
)
def test_fetch_window_edges(
    source: InMemorySource, start: int, end: int, seq: str, valid: list[int]
) -> None:
    got, mask = fetch_window(source, Window("chr1", start, end))
    assert got == seq and mask.tolist() == [bool(v) for v in valid]


def test_fetch_window_minus_strand(source: InMemorySource) -> None:
    seq, mask = fetch_window(source, Window("chr1", -2, 3, "-"))
    assert seq == reverse_complement("NNACG") == "CGTNN"
    assert mask.tolist() == [True, True, True, False, False]
    seq, _ = fetch_window(source, Interval("chr1", 10, 14, "-"))
    assert seq == "ccgg"


def test_fetch_window_pad_char_and_errors(source: InMemorySource) -> None:
    seq, _ = fetch_window(source, Window("chrM", -1, 5), pad_char="-")
    assert seq == "-GATC-"
    with pytest.raises(ValueError):
        fetch_window(source, Window("chrM", 0, 2), pad_char="NN")
    with pytest.raises(InputError, match="chrZ"):
        fetch_window(source, Interval("chrZ", 0, 2))
    with pytest.raises(ValueError):
        fetch_padded(source, "chrM", 3, 1)


def test_fetch_centred_keeps_length_at_edges(source: InMemorySource) -> None:
    for start in range(20):
        seq, mask = fetch_centred(source, Interval("chr1", start, start + 1), 9)
        assert len(seq) == 9 and mask.shape == (9,)
        assert seq[4] == CHROM[start] and mask[4]
        assert np.array_equal(mask, np.array([0 <= start - 4 + i < 20 for i in range(9)]))


class BadSource:
    """A source that breaks the protocol by returning too few bases."""

    lengths = {"c": 10}

    def fetch(self, chrom: str, start: int, end: int) -> str:
        return "A"


def test_short_fetch_is_reported() -> None:
    with pytest.raises(InputError, match="returned 1 bases"):
        fetch_window(BadSource(), Interval("c", 0, 5))
