"""BED reader: column layouts, skipped lines, label columns of every kind, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.bed import iter_bed, read_bed
from dnaseq_cli.records import Interval

BED12 = (
    "chr2\t1000\t5000\ttx1\t960\t-\t1200\t4800\t255,0,0\t2\t500,400,\t0,3600,\n"
    "chr2\t6000\t7000\ttx2\t0\t+\t6000\t7000\t0\t1\t1000,\t0,\n"
)
WITH_HEADER = (
    "track name=test\n"
    "browser position chr2:1-100\n"
    "# a free comment\n"
    "#chrom\tstart\tend\tname\tscore\tstrand\tLabel\n"
    "\n"
    "chr2\t10\t20\tr1\t5\t+\tpos\n"
    "chr2\t30\t40\tr2\t.\t-\tneg\n"
)


def test_bed3_has_no_strand(write_file) -> None:
    records = read_bed(write_file("a.bed", "chr1\t0\t10\nchr1\t5\t5\n"))
    assert [r.interval for r in records] == [
        Interval("chr1", 0, 10, "."),
        Interval("chr1", 5, 5, "."),
    ]
    assert records[0].name is None and records[0].score is None and records[0].label is None
    assert records[0].fields == ["chr1", "0", "10"] and records[1].line == 2


def test_example_bed6(examples: Path) -> None:
    records = read_bed(examples / "hg38_chr2_gb_rows.bed")
    assert len(records) == 108
    first = records[0]
    assert first.interval == Interval("chr2", 15_600, 16_200, ".")
    assert first.name == "human_ensembl_regulatory|train|enhancer|10899"
    assert first.score == 0.0


def test_example_bed6_plus_label_with_track_line(examples: Path) -> None:
    records = read_bed(examples / "hg38_chr2_enhancers.bed", label_column=7)
    assert len(records) == 18
    assert {r.label for r in records} == {"0", "1"}
    row = next(r for r in records if r.interval.start == 80_647)
    # chr2 80647 81147 = bases 80,648..81,147 1-based: 0-based half-open kept as written
    assert row.interval == Interval("chr2", 80_647, 81_147, "+")
    assert len(row.interval) == 500 and row.interval.region == "chr2:80648-81147"
    assert row.line == 4


def test_bed12(write_file) -> None:
    records = read_bed(write_file("tx.bed", BED12))
    assert records[0].interval == Interval("chr2", 1000, 5000, "-")
    assert records[0].name == "tx1" and records[0].score == 960.0
    assert len(records[0].fields) == 12 and records[0].fields[10] == "500,400,"


def test_skips_track_browser_comments_and_blank_lines(write_file) -> None:
    records = read_bed(write_file("h.bed", WITH_HEADER))
    assert [(r.name, r.line) for r in records] == [("r1", 6), ("r2", 7)]
    assert records[1].score is None


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("name", ["r1", "r2"]),
        ("strand", ["+", "-"]),
        (7, ["pos", "neg"]),
        ("7", ["pos", "neg"]),
        ("label", ["pos", "neg"]),
        ("LABEL", ["pos", "neg"]),
    ],
)
def test_label_column_kinds(write_file, column: str | int, expected: list[str]) -> None:
    records = read_bed(write_file("h.bed", WITH_HEADER), label_column=column)
    assert [r.label for r in records] == expected


def test_label_from_score_column(write_file) -> None:
    records = read_bed(
        write_file("s.bed", "chr1\t0\t5\tx\tenhancer\nchr1\t5\t9\ty\t0.5\n"), label_column="score"
    )
    assert [r.label for r in records] == ["enhancer", "0.5"]
    assert records[0].score is None and records[1].score == 0.5


def test_label_constant(write_file) -> None:
    records = read_bed(write_file("c.bed", "chr1\t0\t5\nchr1\t5\t9\n"), label_constant="1")
    assert [r.label for r in records] == ["1", "1"]


def test_header_without_hash(write_file) -> None:
    path = write_file("nh.bed", "chrom\tstart\tend\tcls\nchr1\t0\t5\tA\n")
    assert [r.label for r in read_bed(path, label_column="cls")] == ["A"]


def test_whitespace_separated_and_crlf(write_file) -> None:
    records = read_bed(write_file("ws.bed", "chr1   10  20 n1\r\nchr1 30 40\r\n"))
    assert records[0].interval == Interval("chr1", 10, 20, ".") and records[0].name == "n1"
    assert records[1].fields == ["chr1", "30", "40"]


@pytest.mark.parametrize("compression", ["gzip", "bgzip"])
def test_compressed(write_file, compression: str) -> None:
    records = read_bed(write_file("z.bed.gz", BED12, compression))
    assert [r.name for r in records] == ["tx1", "tx2"]


def test_stdin(fake_stdin) -> None:
    fake_stdin(b"chr3\t1\t2\tq\t0\t-\n")
    assert read_bed("-")[0].interval == Interval("chr3", 1, 2, "-")


def test_iter_bed_is_lazy(write_file) -> None:
    records = iter_bed(write_file("l.bed", "chr1\t0\t5\nchr1\tx\t9\n"))
    assert next(records).interval.end == 5
    with pytest.raises(InputError, match="line 2"):
        next(records)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("chr1\t5", "at least 3 tab-separated columns"),
        ("chr1\tfive\t9", "start 'five' in column 2 is not an integer"),
        ("chr1\t5\t9.5", "end '9.5' in column 3 is not an integer"),
        ("chr1\t10\t5", "start 10 is after end 5"),
        ("chr1\t-1\t5", "negative start -1"),
        ("chr1\t1\t5\tn\t0\tplus", "invalid strand 'plus'"),
        ("\t1\t5", "empty chromosome name"),
    ],
)
def test_bad_lines(write_file, line: str, reason: str) -> None:
    path = write_file("bad.bed", f"track name=x\nchr1\t0\t1\n{line}\n")
    with pytest.raises(InputError) as info:
        read_bed(path)
    assert "bad.bed, line 3" in str(info.value)
    assert reason in str(info.value)


def test_label_missing_on_a_line(write_file) -> None:
    path = write_file("short.bed", "chr1\t0\t5\tn\t0\t+\t1\nchr1\t5\t9\tn\t0\t+\n")
    with pytest.raises(InputError) as info:
        read_bed(path, label_column=7)
    assert "short.bed, line 2" in str(info.value) and "column 7" in str(info.value)


def test_empty_label_value(write_file) -> None:
    path = write_file("dot.bed", "chr1\t0\t5\t.\n")
    with pytest.raises(InputError, match=r"dot.bed, line 1: empty label \('\.'\) in column 4"):
        read_bed(path, label_column="name")


def test_label_name_needs_a_header(write_file) -> None:
    with pytest.raises(InputError, match="no '#chrom start end ...' header"):
        read_bed(write_file("nohdr.bed", "chr1\t0\t5\tx\n"), label_column="label")


def test_label_name_not_in_header(write_file) -> None:
    with pytest.raises(InputError, match=r"label column 'class' not found.*chrom, start, end"):
        read_bed(write_file("h.bed", WITH_HEADER), label_column="class")


def test_label_arguments_validated() -> None:
    with pytest.raises(InputError, match="not both"):
        read_bed("unused.bed", label_column=4, label_constant="1")
    with pytest.raises(InputError, match="numbered from 1"):
        read_bed("unused.bed", label_column=0)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="absent.bed: file not found"):
        read_bed(tmp_path / "absent.bed")
