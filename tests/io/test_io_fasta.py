"""iter_fasta: formats, tolerated quirks, labels, stdin, speed and every error it reports."""

from __future__ import annotations

import csv
import gzip
import time
from pathlib import Path

import numpy as np
import pytest

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.fasta import iter_fasta, read_fasta

MULTI = ">seq1 first record\nACGTN\nacgtn\n\n>seq2\nRYKMSWBDHV\nrykm\n"


@pytest.mark.parametrize("compression", ["none", "gzip", "bgzip"])
def test_reads_plain_gzip_and_bgzip(write_file, compression: str) -> None:
    path = write_file("x.fa", MULTI, compression)
    records = read_fasta(path)
    assert [r.name for r in records] == ["seq1", "seq2"]
    assert records[0].sequence == "ACGTNacgtn"
    assert records[0].extra["description"] == "first record"
    assert records[1].sequence == "RYKMSWBDHVrykm"
    assert records[1].extra["description"] == ""
    assert records[0].label is None


def test_gzip_detected_by_content_not_name(write_file) -> None:
    path = write_file("looks_plain.fa", MULTI, "gzip")
    assert [r.name for r in iter_fasta(path)] == ["seq1", "seq2"]


def test_crlf_blank_lines_and_trailing_spaces(write_file) -> None:
    path = write_file("crlf.fa", "\r\n>a desc\r\nAC \r\n\r\nGT\r\n\r\n>b\r\nTT\r\n")
    records = read_fasta(path)
    assert [(r.name, r.sequence) for r in records] == [("a", "ACGT"), ("b", "TT")]
    assert records[0].extra["description"] == "desc"


def test_uppercase_option(write_file) -> None:
    path = write_file("soft.fa", ">a\nacgtNNrY\n")
    assert read_fasta(path)[0].sequence == "acgtNNrY"
    assert read_fasta(path, uppercase=True)[0].sequence == "ACGTNNRY"


def test_labelled_fasta(write_file) -> None:
    path = write_file(
        "lab.fa", ">s1 label=1\nACGT\n>s2 cell=K562 label=enhancer extra\nAC\n>s3\nA\n"
    )
    labels = [r.label for r in read_fasta(path)]
    assert labels == ["1", "enhancer", None]


def test_example_labelled_fasta_matches_tsv(examples: Path) -> None:
    records = read_fasta(examples / "enhancers_cohn.fa")
    with open(examples / "enhancers_cohn.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(records) == 300
    assert [(r.name, r.sequence, r.label) for r in records] == [
        (row["name"], row["seq"], row["label"]) for row in rows
    ]
    assert sum(r.label == "1" for r in records) == 150


@pytest.mark.parametrize("compression", ["none", "gzip", "bgzip"])
def test_stdin(write_file, fake_stdin, compression: str) -> None:
    fake_stdin(write_file("in.fa", MULTI, compression).read_bytes())
    records = read_fasta("-")
    assert [r.sequence for r in records] == ["ACGTNacgtn", "RYKMSWBDHVrykm"]


def test_streams_records_lazily(write_file) -> None:
    path = write_file("lazy.fa", ">a\nAC\n>b\nAC\n>a\nGG\n")
    records = iter_fasta(path)
    assert next(records).name == "a"
    assert next(records).name == "b"
    with pytest.raises(InputError, match="duplicate"):
        next(records)


def test_large_chromosome_is_fast(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    seq = rng.choice(np.frombuffer(b"ACGTacgtN", dtype=np.uint8), size=2_333_275).tobytes()
    lines = b"\n".join(seq[i : i + 50] for i in range(0, len(seq), 50))
    path = tmp_path / "chr.fa.gz"
    path.write_bytes(gzip.compress(b">chr2\n" + lines + b"\n", compresslevel=1))
    start = time.perf_counter()
    records = read_fasta(path)
    elapsed = time.perf_counter() - start
    assert records[0].sequence.encode() == seq
    assert elapsed < 1.0, f"reading 2.3 Mb took {elapsed:.2f} s"


# -- errors -------------------------------------------------------------------------------------


def _error(path: Path | str) -> InputError:
    with pytest.raises(InputError) as info:
        read_fasta(path)
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    error = _error(tmp_path / "nope.fa")
    assert "nope.fa" in str(error) and "not found" in str(error)


def test_directory(tmp_path: Path) -> None:
    assert "directory" in str(_error(tmp_path))


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(write_file, text: str) -> None:
    error = _error(write_file("empty.fa", text))
    assert "empty.fa" in str(error) and "no FASTA records" in str(error)


def test_sequence_before_header(write_file) -> None:
    error = _error(write_file("nohead.fa", "\nACGT\n>a\nAC\n"))
    assert "nohead.fa, line 2" in str(error) and "before the first '>'" in str(error)


def test_header_without_name(write_file) -> None:
    error = _error(write_file("noname.fa", ">a\nAC\n>  \nAC\n"))
    assert "noname.fa, line 3" in str(error) and "no sequence name" in str(error)


@pytest.mark.parametrize("text", [">a\n>b\nAC\n", ">b\nAC\n>a\n\n"])
def test_record_without_sequence(write_file, text: str) -> None:
    error = _error(write_file("noseq.fa", text))
    assert "noseq.fa" in str(error) and "record 'a'" in str(error)
    assert "no sequence" in str(error)
    assert error.line == text.split("\n").index(">a") + 1


@pytest.mark.parametrize(("bad", "shown"), [("X", "'X'"), ("-", "'-'"), ("é", "0xc3")])
def test_invalid_character(write_file, bad: str, shown: str) -> None:
    error = _error(write_file("bad.fa", f">ok\nACGT\n>chrZ\nACGTACGT\nACG{bad}T\n"))
    message = str(error)
    assert "bad.fa, line 5, record 'chrZ'" in message
    assert shown in message and "column 4" in message


def test_u_is_read_as_t_with_one_counted_warning(write_file, caplog) -> None:
    path = write_file("rna.fa", ">r1\nACGU\nuuAC\n>dna\nACGT\n>r2\nUUUU\n")
    with caplog.at_level("WARNING"):
        records = read_fasta(path)
    assert [r.sequence for r in records] == ["ACGTttAC", "ACGT", "TTTT"]  # case kept
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"read 7 U bases as T in 2 records of {path}"]


def test_u_after_an_invalid_character_still_names_that_character(write_file) -> None:
    error = _error(write_file("mixed.fa", ">a\nAC!U\n"))
    assert "'!'" in str(error) and "column 3" in str(error)


def test_dna_only_fasta_gives_no_warning(write_file, caplog) -> None:
    with caplog.at_level("WARNING"):
        read_fasta(write_file("dna.fa", MULTI))
    assert not caplog.records


def test_space_inside_sequence_is_invalid(write_file) -> None:
    error = _error(write_file("space.fa", ">a\nAC GT\n"))
    assert "line 2" in str(error) and "0x20" in str(error)


def test_duplicate_names(write_file) -> None:
    error = _error(write_file("dup.fa", ">a x\nAC\n>b\nAC\n>a y\nGG\n"))
    assert "dup.fa, line 5, record 'a'" in str(error) and "first seen on line 1" in str(error)


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress((">a\n" + "ACGT" * 20_000 + "\n").encode())
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    error = _error(path)
    assert "cut.fa.gz" in str(error) and "truncated" in str(error)


def test_missing_file_is_reported_before_iteration(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        iter_fasta(tmp_path / "absent.fa")  # no next() needed
