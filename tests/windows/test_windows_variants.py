"""Variant window pairs: fixed length, ALT at the centre offset, contig-edge padding, REF checks."""

from __future__ import annotations

import numpy as np
import pytest

from dnaseq_cli.errors import InputError
from dnaseq_cli.windows import InMemorySource, variant_windows

rng = np.random.default_rng(7)
CONTIG = "".join(rng.choice(list("ACGT"), 60))
SOURCE = InMemorySource({"chr1": CONTIG})
LENGTH = 11
C = LENGTH // 2


def expected_alt(p0: int, ref: str, alt: str, length: int) -> tuple[str, list[bool]]:
    """Reference implementation: splice ALT into a padded genome string, then cut the window."""
    pad = "N" * 100
    genome = pad + CONTIG + pad
    real = [False] * 100 + [True] * len(CONTIG) + [False] * 100
    g0 = p0 + 100
    spliced = genome[:g0] + alt + genome[g0 + len(ref) :]
    spliced_real = real[:g0] + [True] * len(alt) + real[g0 + len(ref) :]
    start = g0 - length // 2
    return spliced[start : start + length], spliced_real[start : start + length]


CASES = {
    "snv": (1, 1),
    "insertion": (1, 4),
    "deletion": (4, 1),
    "mnv": (2, 2),
    "complex": (3, 2),
}


@pytest.mark.parametrize("kind", CASES)
@pytest.mark.parametrize("where", ["middle", "3bp_from_start", "3bp_from_end", "first", "last"])
def test_variant_windows(kind: str, where: str) -> None:
    ref_len, alt_len = CASES[kind]
    p0 = {
        "middle": 30,
        "3bp_from_start": 3,
        "3bp_from_end": len(CONTIG) - 3 - ref_len,
        "first": 0,
        "last": len(CONTIG) - ref_len,
    }[where]
    ref = CONTIG[p0 : p0 + ref_len]
    alt = "".join("T" if b != "T" else "G" for b in ref[0] + "ACG"[: alt_len - 1])
    alt = ref[0] + alt[1:] if kind in ("insertion", "deletion") else alt
    pair = variant_windows(SOURCE, "chr1", p0 + 1, ref, alt, LENGTH)
    assert len(pair.ref_seq) == len(pair.alt_seq) == LENGTH
    assert pair.ref_mask.shape == pair.alt_mask.shape == (LENGTH,)
    assert pair.variant_offset == C and pair.start == p0 - C
    assert pair.ref_seq[C : C + ref_len] == ref[: LENGTH - C]
    assert pair.alt_seq[C : C + alt_len] == alt
    assert pair.ref_matches and pair.observed_ref == ref
    want_ref, want_ref_mask = expected_alt(p0, ref, ref, LENGTH)
    assert pair.ref_seq == want_ref and pair.ref_mask.tolist() == want_ref_mask
    want_alt, want_alt_mask = expected_alt(p0, ref, alt, LENGTH)
    assert pair.alt_seq == want_alt and pair.alt_mask.tolist() == want_alt_mask
    assert pair.alt_seq[:C] == pair.ref_seq[:C]
    assert pair.ref_padding == int((~pair.ref_mask).sum())
    assert pair.alt_padding == int((~pair.alt_mask).sum())
    assert not pair.truncated


@pytest.mark.parametrize(
    ("ref_len", "alt_len", "truncated"),
    [(LENGTH - C, 1, False), (LENGTH - C + 1, 1, True), (1, LENGTH - C, False), (1, 20, True)],
)
def test_truncated_when_the_window_cannot_show_the_whole_change(ref_len, alt_len, truncated):
    """REF or ALT longer than the LENGTH - C bases right of the centre: the window shows part."""
    ref = CONTIG[20 : 20 + ref_len]
    alt = ref[0] + "A" * (alt_len - 1)
    pair = variant_windows(SOURCE, "chr1", 21, ref, alt, LENGTH)
    assert pair.truncated is truncated


def test_padding_counts_match_the_masks_at_both_ends() -> None:
    for pos1, ref in ((1, CONTIG[0]), (58, CONTIG[57:60]), (59, CONTIG[58:60]), (60, CONTIG[59])):
        for alt in (ref[0], ref[0] + "GG", "T"):
            pair = variant_windows(SOURCE, "chr1", pos1, ref, alt, LENGTH)
            assert pair.ref_padding == int((~pair.ref_mask).sum()), (pos1, ref, alt)
            assert pair.alt_padding == int((~pair.alt_mask).sum()), (pos1, ref, alt)
    whole = variant_windows(SOURCE, "chr1", 30, CONTIG[29], "A", 101)  # window > contig
    assert whole.ref_padding == 101 - len(CONTIG) == int((~whole.ref_mask).sum())


def test_contig_edges_are_padded() -> None:
    pair = variant_windows(SOURCE, "chr1", 3, CONTIG[2], "A", LENGTH)
    assert (
        pair.ref_seq.startswith("NNN") and not pair.ref_mask[:3].any() and pair.ref_mask[3:].all()
    )
    pair = variant_windows(SOURCE, "chr1", 59, CONTIG[58:60], CONTIG[58], LENGTH)
    assert pair.alt_seq.endswith("N" * 5) and not pair.alt_mask[-5:].any()
    assert pair.ref_seq.endswith("N" * 4)


def test_deletion_pulls_right_flank_and_insertion_trims_it() -> None:
    p0 = 30
    deletion = variant_windows(SOURCE, "chr1", p0 + 1, CONTIG[p0 : p0 + 4], CONTIG[p0], LENGTH)
    assert deletion.alt_seq[C + 1 :] == CONTIG[p0 + 4 : p0 + 4 + LENGTH - C - 1]
    insertion = variant_windows(SOURCE, "chr1", p0 + 1, CONTIG[p0], CONTIG[p0] + "GGG", LENGTH)
    assert insertion.alt_seq[C + 4 :] == CONTIG[p0 + 1 : p0 + 1 + LENGTH - C - 4]
    long_alt = variant_windows(SOURCE, "chr1", p0 + 1, CONTIG[p0], "A" * 20, LENGTH)
    assert long_alt.alt_seq[C:] == "A" * (LENGTH - C) and long_alt.alt_mask.all()


def test_even_length_window() -> None:
    pair = variant_windows(SOURCE, "chr1", 31, CONTIG[30], "N", 10)
    assert pair.variant_offset == 5 and pair.alt_seq[5] == "N" and len(pair.alt_seq) == 10
    assert pair.ref_seq == CONTIG[25:35]


def test_ref_mismatch_is_reported_not_raised() -> None:
    wrong = "A" if CONTIG[30] != "A" else "C"
    pair = variant_windows(SOURCE, "chr1", 31, wrong, "G", LENGTH)
    assert not pair.ref_matches and pair.observed_ref == CONTIG[30]
    lower = variant_windows(SOURCE, "chr1", 31, CONTIG[30].lower(), "g", LENGTH)
    assert lower.ref_matches
    past_end = variant_windows(SOURCE, "chr1", 60, CONTIG[59] + "A", "A", LENGTH)
    assert not past_end.ref_matches and past_end.observed_ref == CONTIG[59]


@pytest.mark.parametrize("alt", ["<DEL>", "*", "", "A,C", "G]chr1:5]"])
def test_symbolic_alleles_are_input_errors(alt: str) -> None:
    with pytest.raises(InputError, match="chr1:31"):
        variant_windows(SOURCE, "chr1", 31, CONTIG[30], alt, LENGTH)


def test_position_and_contig_errors() -> None:
    for pos1 in (0, 61):
        with pytest.raises(InputError, match="outside"):
            variant_windows(SOURCE, "chr1", pos1, "A", "C", LENGTH)
    with pytest.raises(InputError, match="chr9"):
        variant_windows(SOURCE, "chr9", 5, "A", "C", LENGTH)
    with pytest.raises(ValueError):
        variant_windows(SOURCE, "chr1", 5, "A", "C", 0)
