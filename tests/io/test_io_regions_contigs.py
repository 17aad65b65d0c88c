"""Region strings, chromosome naming detection/harmonisation, and reverse complement."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.contigs import ContigMapper, check_naming, naming_style
from dnaseq_cli.io.sequence_utils import (
    VALID_CHARS,
    complement,
    find_invalid,
    reverse_complement,
    reverse_complement_bytes,
)
from dnaseq_cli.records import Interval

from .region_strings import Region, parse_region, parse_region_spec

LENGTHS = {"chr1": 5_000, "chr2": 400_000, "HLA-A*01:01": 3_000}

# -- regions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chr1:1,000-2,000", Interval("chr1", 999, 2000)),
        ("chr1:1_000-2_000", Interval("chr1", 999, 2000)),
        ("chr1:1000", Interval("chr1", 999, 1000)),
        ("chr1:1000-2000:-", Interval("chr1", 999, 2000, "-")),
        (" chr1:1-1:+ ", Interval("chr1", 0, 1, "+")),
        ("{chrUn:odd}:5-6", Interval("chrUn:odd", 4, 6)),
    ],
)
def test_parse_region(text: str, expected: Interval) -> None:
    assert parse_region(text) == expected


def test_whole_contig_and_open_end_need_lengths() -> None:
    assert parse_region("chr2", LENGTHS) == Interval("chr2", 0, 400_000)
    assert parse_region("chr2:399,001-", LENGTHS) == Interval("chr2", 399_000, 400_000)
    assert parse_region("chr2:-", LENGTHS) == Interval("chr2", 0, 400_000, "-")
    assert parse_region("HLA-A*01:01", LENGTHS) == Interval("HLA-A*01:01", 0, 3_000)
    spec = parse_region_spec("chr2")
    assert spec == Region("chr2") and spec.is_whole_contig
    with pytest.raises(InputError, match="region 'chr2' does not say where it ends"):
        parse_region("chr2")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "invalid region ''"),
        ("chr1:abc-def", "invalid region 'chr1:abc-def'"),
        ("chr1:10-20:x", "invalid region 'chr1:10-20:x'"),
        ("chr1 :1-2", "invalid region"),
        ("chr1:0-10", "1-based"),
        ("chr1:20-10", "the end (10) is before the start (20)"),
    ],
)
def test_parse_region_errors(text: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        parse_region(text)
    assert reason in str(info.value)


def test_region_checked_against_lengths() -> None:
    with pytest.raises(
        InputError, match=r"region 'chr2:399,901-400,100' runs past the end of chr2"
    ):
        parse_region("chr2:399,901-400,100", LENGTHS)
    with pytest.raises(InputError, match="unknown chromosome '2'; did you mean 'chr2'"):
        parse_region("2:1-10", LENGTHS)


# -- contigs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "style"),
    [
        (["chr1", "chrX", "chrM", "chrUn_KI270302v1"], "ucsc"),
        (["1", "X", "MT", "GL000192.1"], "ensembl"),
        (["chr1", "2"], "mixed"),
        (["ref_brca1"], "other"),
        ([], "other"),
    ],
)
def test_naming_style(names: list[str], style: str) -> None:
    assert naming_style(names) == style


def test_mapper_both_directions() -> None:
    ucsc = ContigMapper.from_reference(["chr1", "chrX", "chrM", "chrUn_KI270302v1"])
    assert ucsc.style == "ucsc"
    assert [ucsc.map(n) for n in ("1", "x", "MT", "M", "Chr1", "chr1", "KI270302.1", "7")] == [
        "chr1",
        "chrX",
        "chrM",
        "chrM",
        "chr1",
        "chr1",
        "chrUn_KI270302v1",
        None,
    ]
    ensembl = ContigMapper.from_reference(["1", "X", "MT", "KI270706.1"])
    assert [ensembl.map(n) for n in ("chr1", "chrX", "chrM", "chr1_KI270706v1_random")] == [
        "1",
        "X",
        "MT",
        "KI270706.1",
    ]
    assert ensembl.map("ref_brca1") is None


def test_check_naming_identity_and_harmonised() -> None:
    assert check_naming(["chr1", "chr1"], ["chr1", "chr2"], harmonise=False) == {"chr1": "chr1"}
    mapping = check_naming(["1", "X", "MT"], ["chr1", "chrX", "chrM"], harmonise=True)
    assert mapping == {"1": "chr1", "X": "chrX", "MT": "chrM"}


def test_check_naming_mismatch_message() -> None:
    with pytest.raises(InputError) as info:
        check_naming(["1", "2"], ["chr1", "chr2"], harmonise=False, path="calls.vcf.gz")
    assert str(info.value) == (
        "calls.vcf.gz: the VCF uses '1'-style names but the reference uses 'chr1'; "
        "pass --harmonise-chroms to map them"
    )


def test_check_naming_unknown_names() -> None:
    with pytest.raises(InputError) as info:
        check_naming(["chr1", "chr9", "chrZ"], ["chr1", "chr2"], harmonise=True, path="a.bed")
    assert "a.bed" in str(info.value) and "'chr9', 'chrZ'" in str(info.value)
    mapping = check_naming(["1", "9"], ["chr1"], harmonise=True, allow_unknown=True)
    assert mapping == {"1": "chr1"}


# -- reverse complement -------------------------------------------------------------------------


def test_reverse_complement_iupac_and_case() -> None:
    assert reverse_complement("ACGTNacgtn") == "nacgtNACGT"
    assert complement("RYKMSWBDHVrykmswbdhv") == "YRMKSWVHDByrmkswvhdb"
    assert reverse_complement("") == ""
    assert reverse_complement_bytes(b"AAcg") == b"cgTT"
    assert find_invalid("ACGT") == -1 and find_invalid("ACXT") == 2


@given(st.text(alphabet=VALID_CHARS, max_size=200))
def test_reverse_complement_is_an_involution(seq: str) -> None:
    assert reverse_complement(reverse_complement(seq)) == seq
    assert reverse_complement_bytes(seq.encode()).decode() == reverse_complement(seq)
    assert len(reverse_complement(seq)) == len(seq)
