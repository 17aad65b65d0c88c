"""FastaReference: the BED+FASTA acceptance test, index building, fallbacks and error messages."""

from __future__ import annotations

import csv
import gzip
import logging
import os
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.bed import read_bed
from dnaseq_cli.io.fasta import FastaReference, read_fasta
from dnaseq_cli.records import Interval

CHR2 = "hg38_chr2_1-400000.fa.gz"


@pytest.fixture(scope="module")
def chr2(examples: Path) -> Iterator[FastaReference]:
    with FastaReference(examples / CHR2) as ref:
        yield ref


def test_every_gb_row_extracts_the_published_sequence(examples: Path, chr2) -> None:
    """Key acceptance test: BED rows + strand -> exactly the expected sequences (case kept)."""
    with open(examples / "hg38_chr2_gb_rows.sequences.csv", newline="") as fh:
        expected = {
            "|".join((row["dataset"], row["split"], row["cls"], row["id"])): row
            for row in csv.DictReader(fh)
        }
    rows = read_bed(examples / "hg38_chr2_gb_rows.bed")
    assert len(rows) == len(expected) == 108
    assert {row.interval.strand for row in rows} == {"+", "-", "."}
    for row in rows:
        want = expected[row.name]
        assert (row.interval.start, row.interval.end) == (int(want["start"]), int(want["end"]))
        assert chr2.fetch_interval(row.interval, name=row.name) == want["sequence"], row.name


def test_contigs_lengths_and_case(chr2) -> None:
    assert chr2.contigs == ["chr2"]
    assert chr2.lengths == {"chr2": 400_000}
    assert "chr2" in chr2 and "chr1" not in chr2
    assert not chr2.in_memory
    assert set(chr2.fetch("chr2", 0, 10_000)) == {"N"}
    assert chr2.fetch("chr2", 399_990, 400_000) == "GCCGCACGGC"
    assert chr2.fetch("chr2", 5, 5) == ""


def test_fetch_interval_minus_strand_reverse_complements_keeping_case(chr2) -> None:
    forward = chr2.fetch("chr2", 96_484, 96_534)
    assert any(c.islower() for c in forward)
    minus = chr2.fetch_interval(Interval("chr2", 96_484, 96_534, "-"))
    table = str.maketrans("ACGTNacgtn", "TGCANtgcan")
    assert minus == forward.translate(table)[::-1]
    assert chr2.fetch_interval(Interval("chr2", 96_484, 96_534, ".")) == forward


def test_builds_missing_bgzip_index(examples: Path, tmp_path: Path, chr2) -> None:
    copy = tmp_path / CHR2
    shutil.copy(examples / CHR2, copy)
    with FastaReference(copy) as ref:
        assert not ref.in_memory
        assert ref.fetch("chr2", 123_456, 123_556) == chr2.fetch("chr2", 123_456, 123_556)
    assert Path(f"{copy}.fai").exists() and Path(f"{copy}.gzi").exists()


def test_builds_missing_plain_index(examples: Path, tmp_path: Path) -> None:
    copy = tmp_path / "ref_brca1.fa"
    shutil.copy(examples / "ref_brca1.fa", copy)
    ref = FastaReference(copy)
    assert Path(f"{copy}.fai").exists()
    assert ref.lengths == {"ref_brca1": 81_188}
    assert ref.fetch("ref_brca1", 0, 81_188) == read_fasta(copy)[0].sequence


def test_plain_gzip_falls_back_to_memory(chr2, tmp_path: Path, caplog) -> None:
    path = tmp_path / "plain.fa.gz"
    path.write_bytes(gzip.compress(b">chr2 x\n" + chr2.fetch("chr2", 0, 400_000).encode() + b"\n"))
    with caplog.at_level(logging.WARNING, logger="dnaseq_cli.io.fasta"):
        ref = FastaReference(path)
    assert ref.in_memory
    assert len([r for r in caplog.records if "plain gzip" in r.getMessage()]) == 1
    assert ref.lengths == {"chr2": 400_000}
    interval = Interval("chr2", 200_000, 200_300, "-")
    assert ref.fetch_interval(interval) == chr2.fetch_interval(interval)
    with pytest.raises(InputError, match="runs past the end"):
        ref.fetch("chr2", 399_999, 400_001)


def test_unwritable_index_falls_back_to_memory(
    examples: Path, tmp_path: Path, monkeypatch, caplog
) -> None:
    copy = tmp_path / "ref_brca1.fa"
    shutil.copy(examples / "ref_brca1.fa", copy)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: mode != os.W_OK and real_access(p, mode))
    with caplog.at_level(logging.WARNING):
        ref = FastaReference(copy)
    assert ref.in_memory and not Path(f"{copy}.fai").exists()
    assert "cannot be written" in caplog.text
    assert ref.fetch("ref_brca1", 10, 20) == read_fasta(copy)[0].sequence[10:20]


def test_irregular_lines_fall_back_to_memory(write_file) -> None:
    path = write_file("irregular.fa", ">a\nACGTACGT\nACG\nACGTACGT\n>b\nac\n")
    ref = FastaReference(path)
    assert ref.in_memory
    assert ref.fetch("a", 6, 12) == "GTACGA"
    assert ref.fetch("b", 0, 2) == "ac"


def test_reference_from_stdin(fake_stdin) -> None:
    fake_stdin(b">x\nACGTTT\n")
    ref = FastaReference("-")
    assert ref.fetch_interval(Interval("x", 1, 4, "-")) == "ACG"


def test_pickle_round_trip_reopens(chr2) -> None:
    clone = pickle.loads(pickle.dumps(chr2))
    assert clone.fetch("chr2", 50_000, 50_100) == chr2.fetch("chr2", 50_000, 50_100)
    clone.close()


def test_unknown_chromosome_suggests_prefixed_name(chr2) -> None:
    with pytest.raises(InputError) as info:
        chr2.fetch("2", 0, 10, name="row7")
    message = str(info.value)
    assert CHR2 in message and "record 'row7'" in message
    assert "unknown chromosome '2'" in message and "did you mean 'chr2'" in message
    with pytest.raises(InputError, match=r"unknown chromosome 'chr17'.*has chr2"):
        chr2.fetch("chr17", 0, 10)


def test_unknown_chromosome_lists_a_few_names(write_file) -> None:
    text = "".join(f">chr{i}\nACGT\n" for i in range(1, 9))
    ref = FastaReference(write_file("many.fa", text))
    with pytest.raises(InputError, match=r"chr1, chr2, chr3, chr4, chr5, \.\.\. \(8 in all\)"):
        ref.fetch("chrX", 0, 1)
    with pytest.raises(InputError, match="did you mean 'chr1'"):
        ref.fetch("1", 0, 1)


def test_out_of_range_errors(chr2) -> None:
    with pytest.raises(InputError) as info:
        chr2.fetch_interval(Interval("chr2", 399_900, 400_100), name="peak9")
    message = str(info.value)
    assert "interval chr2:399,901-400,100 runs past the end of chr2 (400,000 bp)" in message
    assert CHR2 in message and "record 'peak9'" in message
    with pytest.raises(InputError, match="negative start"):
        chr2.fetch("chr2", -1, 10)
    with pytest.raises(InputError, match="ends before it starts"):
        chr2.fetch("chr2", 10, 5)


def test_missing_reference_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        FastaReference(tmp_path / "absent.fa")


def test_stale_index_warns(examples: Path, tmp_path: Path, caplog) -> None:
    copy = tmp_path / "ref_brca1.fa"
    shutil.copy(examples / "ref_brca1.fa", copy)
    shutil.copy(examples / "ref_brca1.fa.fai", f"{copy}.fai")
    os.utime(f"{copy}.fai", (1_000_000, 1_000_000))
    with caplog.at_level(logging.WARNING, logger="dnaseq_cli.io.fasta"):
        FastaReference(copy).close()
    assert "older than the FASTA" in caplog.text


@pytest.mark.parametrize(
    ("text", "reason"), [("", "no FASTA records"), ("ACGT\n>a\nAC\n", "line 1: sequence data")]
)
def test_malformed_reference_reports_the_fasta_error(write_file, caplog, text, reason) -> None:
    with pytest.raises(InputError, match=reason):
        FastaReference(write_file("broken.fa", text))
    assert "into memory" not in caplog.text
