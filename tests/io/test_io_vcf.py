"""VCF reader: VCF/bgzip/plain gzip/BCF/stdin, allele splitting, skipped alleles and errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pysam
import pytest

from dnaseq_cli.errors import InputError
from dnaseq_cli.io._open import is_bgzf, is_gzip
from dnaseq_cli.io.fasta import FastaReference
from dnaseq_cli.io.vcf import Variant, VariantStats, iter_variants, read_variants

HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=chr1,length=1000>\n"
    '##INFO=<ID=AF,Number=A,Type=Float,Description="alt freq">\n'
    '##INFO=<ID=AD,Number=R,Type=Integer,Description="depths">\n'
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">\n'
    '##INFO=<ID=END,Number=1,Type=Integer,Description="end (declared so BCF round-trips)">\n'
    '##ALT=<ID=DEL,Description="deletion">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)
BODY = (
    "chr1\t10\trs1\tA\tC,g\t.\tPASS\tAF=0.25,0.5;AD=10,3,4;DP=17\n"
    "chr1\t20\t.\tAC\tA,<DEL>,*\t.\t.\tDP=5\n"
    "chr1\t30\t.\tG\t.\t.\t.\t.\n"
    "chr1\t40\t.\tG\tG]chr1:100],<*>\t.\t.\t.\n"
    "chr1\t50\trs5\tT\tTGCA\t.\t.\t.\n"
)
VCF = HEADER + BODY
FIRST_DATA_LINE = HEADER.count("\n") + 1


def _to_bcf(vcf: Path, bcf: Path) -> Path:
    """Convert a text VCF to BCF with pysam (no bcftools needed)."""
    with pysam.VariantFile(str(vcf)) as src:
        with pysam.VariantFile(str(bcf), "wb", header=src.header) as out:
            for record in src:
                out.write(record)
    return bcf


def _check_standard(variants: list[Variant]) -> None:
    assert [(v.pos, v.ref, v.alt, v.record_number, v.allele_index) for v in variants] == [
        (10, "A", "C", 1, 1),
        (10, "A", "G", 1, 2),
        (20, "AC", "A", 2, 1),
        (50, "T", "TGCA", 5, 1),
    ]


@pytest.mark.parametrize("compression", ["none", "bgzip", "gzip"])
def test_vcf_plain_bgzip_and_plain_gzip(write_file, compression: str) -> None:
    path = write_file("v.vcf.gz" if compression != "none" else "v.vcf", VCF, compression)
    if compression == "gzip":
        assert is_gzip(path) and not is_bgzf(path)  # the case pysam cannot seek in
    _check_standard(read_variants(path))


def test_bcf(write_file, tmp_path: Path) -> None:
    bcf = _to_bcf(write_file("v.vcf", VCF), tmp_path / "v.bcf")
    _check_standard(read_variants(bcf))


@pytest.mark.parametrize("compression", ["none", "bgzip", "gzip"])
def test_stdin(write_file, fake_stdin, compression: str) -> None:
    fake_stdin(write_file("in.vcf", VCF, compression).read_bytes())
    _check_standard(read_variants("-"))


def test_multiallelic_split_narrows_per_allele_info(write_file) -> None:
    first, second = read_variants(write_file("v.vcf", VCF))[:2]
    assert first.id == second.id == "rs1"
    assert first.info["AF"] == pytest.approx(0.25) and second.info["AF"] == pytest.approx(0.5)
    assert first.info["AD"] == (10, 3) and second.info["AD"] == (10, 4)
    assert first.info["DP"] == second.info["DP"] == 17


def test_variant_properties(write_file) -> None:
    snv, _, deletion, insertion = read_variants(write_file("v.vcf", VCF))
    assert snv.is_snv and not snv.is_indel and snv.start0 == 9 and snv.end0 == 10
    assert deletion.is_indel and not deletion.is_snv and deletion.end0 == 21
    assert insertion.is_indel and insertion.name == "chr1:50:T:TGCA"
    assert hash(snv) == hash(Variant("chr1", 10, "rs1", "A", "C", 1, 1, {"other": 1}))


def test_skipped_alleles_counted_and_warned_once(write_file, caplog) -> None:
    stats = VariantStats()
    with caplog.at_level(logging.WARNING, logger="dnaseq_cli.io.vcf"):
        variants = list(iter_variants(write_file("v.vcf", VCF), stats=stats))
    assert len(variants) == 4
    assert (stats.records, stats.variants) == (5, 4)
    assert (stats.symbolic, stats.breakend, stats.spanning_deletion, stats.missing_alt) == (
        2,
        1,
        1,
        1,
    )
    assert stats.skipped == 5
    warnings = [r for r in caplog.records if r.name == "dnaseq_cli.io.vcf"]
    assert len(warnings) == 1
    assert "v.vcf" in warnings[0].getMessage() and "2 symbolic" in stats.summary()


def test_no_warning_when_nothing_skipped(write_file, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="dnaseq_cli.io.vcf"):
        read_variants(write_file("ok.vcf", HEADER + BODY.splitlines(keepends=True)[-1]))
    assert not caplog.records


def test_example_clinvar_matches_reference(examples: Path) -> None:
    stats = VariantStats()
    variants = read_variants(examples / "clinvar_brca1.refcoords.vcf.gz", stats=stats)
    assert len(variants) == 209 and stats.records == 209 and stats.skipped == 0
    assert sum(v.is_snv for v in variants) == 161
    assert sum(not v.is_snv for v in variants) == 48
    with FastaReference(examples / "ref_brca1.fa") as ref:
        for v in variants:
            assert ref.fetch(v.chrom, v.start0, v.end0).upper() == v.ref, v.name
    assert variants[0].info["CLNSIG"] == ("Pathogenic",)


def test_header_only_yields_nothing(write_file) -> None:
    assert read_variants(write_file("h.vcf", HEADER)) == []


# -- errors -------------------------------------------------------------------------------------


def _error(path: Path | str) -> str:
    with pytest.raises(InputError) as info:
        read_variants(path)
    return str(info.value)


def test_missing_and_empty_files(tmp_path: Path, write_file) -> None:
    assert "absent.vcf: file not found" in _error(tmp_path / "absent.vcf")
    assert "empty.vcf: empty file" in _error(write_file("empty.vcf", ""))
    assert "empty.vcf.gz" in _error(write_file("empty.vcf.gz", "", "gzip"))


def test_not_a_vcf(write_file) -> None:
    message = _error(write_file("table.vcf", "a\tb\nc\td\n"))
    assert "table.vcf" in message and "not a valid VCF" in message


@pytest.mark.parametrize("compression", ["none", "bgzip"])
def test_bad_pos_names_the_line(write_file, compression: str) -> None:
    text = VCF + "chr1\tabc\t.\tA\tC\t.\t.\t.\n"
    message = _error(write_file("pos.vcf.gz", text, compression))
    assert f"pos.vcf.gz, line {FIRST_DATA_LINE + 5}" in message and "POS 'abc'" in message


def test_too_few_columns(write_file) -> None:
    message = _error(write_file("cols.vcf", HEADER + "chr1\t10\t.\tA\n"))
    assert f"cols.vcf, line {FIRST_DATA_LINE}" in message and "4 tab-separated columns" in message


def test_odd_alleles_are_skipped_with_a_reason_not_fatal(write_file, caplog) -> None:
    """REF '.', '-' or 'AXG', ALT 'R' or '-' (kipoi-veff, gReLU) no longer stop the file: each ALT
    is counted as invalid_allele and, when asked, yielded with that reason in file order."""
    body = (
        "chr1\t10\t.\tAXG\tC\t.\t.\t.\n"
        "chr1\t11\t.\tA\tR\t.\t.\t.\n"
        "chr1\t12\t.\t.\tG\t.\t.\t.\n"
        "chr1\t13\t.\tAAAA\t-\t.\t.\t.\n"
        "chr1\t14\t.\t-\tG\t.\t.\t.\n"
        "chr1\t15\t.\tA\tC,y\t.\t.\t.\n"
    )
    path = write_file("odd.vcf", HEADER + body)
    stats = VariantStats()
    with caplog.at_level(logging.WARNING, logger="dnaseq_cli.io.vcf"):
        kept = list(iter_variants(path, stats=stats))
    assert [(v.pos, v.alt) for v in kept] == [(15, "C")]
    assert (stats.records, stats.variants, stats.invalid_allele, stats.skipped) == (6, 1, 6, 6)
    assert "6 invalid allele" in stats.summary()
    assert len(caplog.records) == 1
    every = list(iter_variants(path, include_skipped=True))
    assert [(v.pos, v.ref, v.alt, v.skip_reason) for v in every] == [
        (10, "AXG", "C", "invalid_allele"),
        (11, "A", "R", "invalid_allele"),
        (12, ".", "G", "invalid_allele"),
        (13, "AAAA", "-", "invalid_allele"),
        (14, "-", "G", "invalid_allele"),
        (15, "A", "C", None),
        (15, "A", "y", "invalid_allele"),
    ]


def test_odd_alleles_in_bcf_are_skipped_too(write_file, tmp_path: Path) -> None:
    text = write_file(
        "r.vcf", HEADER + "chr1\t10\t.\tA\tC\t.\t.\t.\nchr1\t12\t.\tAXG\tC\t.\t.\t.\n"
    )
    every = list(iter_variants(_to_bcf(text, tmp_path / "r.bcf"), include_skipped=True))
    assert [v.skip_reason for v in every] == [None, "invalid_allele"]


def test_line_of_finds_a_record_while_reading(write_file) -> None:
    path = write_file("l.vcf", VCF)
    stats = VariantStats()
    for variant in iter_variants(path, stats=stats):
        if variant.pos == 50:
            assert stats.line_of(variant) == FIRST_DATA_LINE + 4


def test_five_column_records_under_a_vcf_header_point_to_format_variants(write_file) -> None:
    message = _error(write_file("five.vcf", HEADER + "chr1\t10\t.\tA\tC\n"))
    assert f"five.vcf, line {FIRST_DATA_LINE}" in message and "--format variants" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chr1\t10\trs1\tA\tC\n", "headerless variant table"),  # GPN's example.vcf
        ("chr1\t10\trs1\tA\tC\t.\t.\t.\n", "headerless variant table"),
        ("#CHROM\tPOS\tID\tREF\tALT\nchr1\t10\trs1\tA\tC\n", "has 5 columns, a VCF needs 8"),
        (
            "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t10\t.\tA\tC\n",
            "has 5 columns, a VCF needs 8",
        ),
        (
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t1\t.\tA\tC\t.\t.\t.\n",
            "##fileformat",
        ),
    ],
)
def test_a_table_read_as_vcf_says_why_and_names_format_variants(write_file, text, expected) -> None:
    """Only QUAL/FILTER/INFO missing is not reported as a missing header; every message names
    the option that reads such a table."""
    message = _error(write_file("t.vcf", text))
    assert "t.vcf" in message and expected in message and "--format variants" in message


# -- headerless variant tables (--format variants) ----------------------------------------------

TABLE = "1\t1180851\tCommon_1501\tT\tC\n\n1\t1233177\t.\tg\tC,T\textra\tcolumns\n2\t5\tx\t.\tA\n"


@pytest.mark.parametrize("compression", ["none", "gzip", "bgzip"])
def test_variant_table_reads_five_or_more_columns(write_file, compression: str) -> None:
    path = write_file("example.vcf", TABLE, compression)
    stats = VariantStats()
    every = list(iter_variants(path, stats=stats, fmt="variants", include_skipped=True))
    assert [(v.chrom, v.pos, v.id, v.ref, v.alt, v.skip_reason, v.line) for v in every] == [
        ("1", 1180851, "Common_1501", "T", "C", None, 1),
        ("1", 1233177, None, "G", "C", None, 3),
        ("1", 1233177, None, "G", "T", None, 3),
        ("2", 5, "x", ".", "A", "invalid_allele", 4),
    ]
    assert [v.allele_index for v in every[1:3]] == [1, 2]
    assert (stats.records, stats.variants, stats.invalid_allele) == (3, 3, 1)
    assert "3 table records" in stats.summary()


def test_variant_table_skips_header_lines(write_file) -> None:
    text = "##source=x\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t10\t.\tA\tC\n"
    assert [v.pos for v in read_variants(write_file("h.tsv", text), fmt="variants")] == [10]
    text = "chrom\tpos\tid\tref\talt\nchr1\t10\t.\tA\tC\n"
    assert [v.pos for v in read_variants(write_file("h2.tsv", text), fmt="variants")] == [10]


def test_variant_table_from_stdin(fake_stdin) -> None:
    fake_stdin(TABLE.encode())
    assert len(read_variants("-", fmt="variants")) == 3


def test_variant_table_errors_name_the_line(write_file) -> None:
    with pytest.raises(InputError, match=r"t.tsv, line 2: 4 columns"):
        read_variants(write_file("t.tsv", "chr1\t1\t.\tA\tC\nchr1\t2\t.\tA\n"), fmt="variants")
    with pytest.raises(InputError, match=r"p.tsv, line 2: POS 'x'"):
        read_variants(write_file("p.tsv", "chr1\t1\t.\tA\tC\nchr1\tx\t.\tA\tC\n"), fmt="variants")
    with pytest.raises(InputError, match="unknown variant format"):
        read_variants(write_file("q.tsv", TABLE), fmt="bed")
