"""read_labelled_table: delimiters, compression, stdin, column detection and row-level errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.tables import read_labelled_table

ROWS = "id,sequence,label,split\nx1,ACGT,1,train\nx2,acgtn,0,test\n"


def test_example_tsv(examples: Path) -> None:
    records = read_labelled_table(examples / "enhancers_cohn.tsv")
    assert len(records) == 300
    assert records[0].name == "cohn_0013" and records[0].label == "0" and len(records[0]) == 500
    assert {r.label for r in records} == {"0", "1"}
    assert records[0].extra == {}


@pytest.mark.parametrize(
    ("name", "text", "compression"),
    [
        ("t.csv", ROWS, "none"),
        ("t.csv.gz", ROWS, "gzip"),
        ("t.tsv", ROWS.replace(",", "\t"), "none"),
        ("t.tsv.gz", ROWS.replace(",", "\t"), "bgzip"),
        ("t.txt", ROWS.replace(",", "\t"), "none"),
        ("t.txt.gz", ROWS, "gzip"),
        ("noext", ROWS.replace(",", ";"), "none"),
    ],
)
def test_formats(write_file, name: str, text: str, compression: str) -> None:
    records = read_labelled_table(write_file(name, text, compression))
    assert [(r.name, r.sequence, r.label) for r in records] == [
        ("x1", "ACGT", "1"),
        ("x2", "acgtn", "0"),
    ]
    assert records[1].extra == {"split": "test"}


def test_stdin_gzip(write_file, fake_stdin) -> None:
    fake_stdin(write_file("in.tsv", ROWS.replace(",", "\t"), "gzip").read_bytes())
    assert [r.label for r in read_labelled_table("-")] == ["1", "0"]


def test_auto_columns_case_insensitive_and_row_names(write_file) -> None:
    path = write_file("c.tsv", "Seq\tLabel\tscore\n ACGT \tpos\t0.1\nGG\tneg\t0.2\n")
    records = read_labelled_table(path, label_column="label", uppercase=True)
    assert [(r.name, r.sequence, r.label) for r in records] == [
        ("row1", "ACGT", "pos"),
        ("row2", "GG", "neg"),
    ]
    assert records[0].extra == {"score": "0.1"}


def test_explicit_columns_and_unlabelled(write_file) -> None:
    path = write_file("e.csv", "dna,target,tag\nAC,NA,a\nGT,,b\n")
    records = read_labelled_table(path, sequence_column="dna", label_column=None, name_column="tag")
    assert [(r.name, r.sequence, r.label) for r in records] == [
        ("a", "AC", None),
        ("b", "GT", None),
    ]
    assert records[0].extra == {"target": "NA"}


def test_labels_kept_as_written(write_file) -> None:
    records = read_labelled_table(write_file("l.tsv", "seq\tlabel\nAC\t007\nGT\t1.50\n"))
    assert [r.label for r in records] == ["007", "1.50"]


# -- errors -------------------------------------------------------------------------------------


def _error(path: Path | str, **kwargs: str | None) -> str:
    with pytest.raises(InputError) as info:
        read_labelled_table(path, **kwargs)
    return str(info.value)


def test_missing_label_column_lists_columns(write_file) -> None:
    message = _error(write_file("m.tsv", "seq\tclass\nAC\t1\n"))
    assert "m.tsv" in message and "no label column 'label'" in message and "seq, class" in message


def test_missing_named_sequence_column(write_file) -> None:
    message = _error(write_file("m.tsv", "seq\tlabel\nAC\t1\n"), sequence_column="dna")
    assert "no sequence column 'dna'" in message and "seq, label" in message


def test_no_sequence_column_found(write_file) -> None:
    message = _error(write_file("n.tsv", "dna\tlabel\nAC\t1\n"))
    assert "n.tsv" in message and "no sequence column" in message and "dna, label" in message


def test_empty_tables(write_file) -> None:
    assert "empty table" in _error(write_file("empty.tsv", ""))
    message = _error(write_file("hdr.tsv", "seq\tlabel\n"))
    assert "hdr.tsv" in message and "no rows" in message


def test_empty_sequence(write_file) -> None:
    message = _error(write_file("s.tsv", "seq\tlabel\nAC\t1\nGG\t0\n\t1\n"))
    assert "s.tsv, line 4" in message and "empty sequence at row 3" in message


def test_invalid_sequence(write_file) -> None:
    message = _error(write_file("s.csv", "seq,label\nAC,1\nACGXT,0\n"))
    assert "s.csv, line 3" in message and "'X'" in message and "position 4" in message


def test_u_is_read_as_t_with_one_counted_warning(write_file, caplog) -> None:
    path = write_file("rna.csv", "seq,label\nACGU,1\nACGT,0\nuuAC,1\n")
    with caplog.at_level("WARNING"):
        records = read_labelled_table(path)
    assert [r.sequence for r in records] == ["ACGT", "ACGT", "ttAC"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"read 3 U bases as T in 2 records of {path}"]


def test_bad_table_with_u_gives_the_error_only(write_file, caplog) -> None:
    with caplog.at_level("WARNING"):
        message = _error(write_file("bad.csv", "seq,label\nACGU,1\nAXG,0\n"))
    assert "'X'" in message and "row 2" in message and not caplog.records


@pytest.mark.parametrize("missing", ["", "NA", "nan", "."])
def test_missing_label(write_file, missing: str) -> None:
    message = _error(write_file("l.tsv", f"seq\tlabel\nAC\t1\nGG\t{missing}\n"))
    assert "l.tsv, line 3" in message and "missing label" in message and "row 2" in message


def test_ragged_rows(write_file) -> None:
    message = _error(write_file("r.csv", "seq,label\nAC,1\nGG,0,extra,more\n"))
    assert "r.csv" in message and "cannot parse" in message


def test_missing_file(tmp_path: Path) -> None:
    assert "absent.tsv: file not found" in _error(tmp_path / "absent.tsv")
