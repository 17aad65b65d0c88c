"""Labelled sequence tables (TSV/CSV with a header) as :class:`SequenceRecord` lists.

The delimiter comes from the file name (``.tsv``/``.tab``, ``.csv``, each optionally ``.gz``) or,
for ``.txt``, other names and stdin, from the header line. Every cell is read as text so labels such
as ``0``/``1`` or ``enhancer`` reach the caller exactly as written; the sequence column is validated
column-wise, not row by row in Python.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dnaseq_cli.errors import InputError
from dnaseq_cli.io._open import (
    DECOMPRESSION_ERRORS,
    STDIN,
    check_readable,
    display_name,
    open_binary,
)
from dnaseq_cli.io.sequence_utils import (
    VALID_CHARS,
    UAsTCount,
    describe_char,
    find_invalid,
    read_u_as_t,
)
from dnaseq_cli.records import SequenceRecord

__all__ = ["read_labelled_table"]

SEQUENCE_COLUMNS = ("sequence", "seq")
NAME_COLUMNS = ("name", "id")
MISSING_LABELS = frozenset({"", "na", "n/a", "nan", "none", "null", "."})
_DELIMITERS = {".tsv": "\t", ".tab": "\t", ".csv": ","}


def _delimiter_from_name(path: str | os.PathLike[str]) -> str | None:
    name = Path(str(path)).name.lower()
    for suffix in (".gz", ".bgz"):
        name = name.removesuffix(suffix)
    return _DELIMITERS.get(Path(name).suffix)


def _sniff_delimiter(first_line: str) -> str:
    """Tab if the header has tabs, else comma, else semicolon: the header line decides."""
    for candidate in ("\t", ",", ";"):
        if candidate in first_line:
            return candidate
    return "\t"


def _find_column(
    columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, shown: str
) -> str | None:
    """Exact match, then case-insensitive; with ``wanted`` None, the first candidate present."""
    lowered = {column.lower(): column for column in reversed(columns)}
    if wanted is not None:
        if wanted in columns:
            return wanted
        if wanted.lower() in lowered:
            return lowered[wanted.lower()]
        raise InputError(
            f"no {what} column '{wanted}'; the columns are {', '.join(columns)}", path=shown
        )
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    return None


def read_labelled_table(
    path: str | os.PathLike[str],
    *,
    sequence_column: str | None = None,
    label_column: str | None = "label",
    name_column: str | None = None,
    uppercase: bool = False,
) -> list[SequenceRecord]:
    """Read a TSV/CSV (plain, gzip, or stdin ``-``) with a header into sequence records.

    ``sequence_column`` defaults to the first of ``sequence``/``seq`` (any case), ``name_column`` to
    ``name``/``id`` and otherwise ``row1``, ``row2``, ...; ``label_column=None`` reads an unlabelled
    table. Labels are kept as strings; the other columns go into ``record.extra``. ``U`` in a
    sequence is read as ``T`` (one counted warning for the file). Error line numbers count the
    header as line 1.
    """
    import pandas as pd  # deferred: pandas costs most of a second to import

    shown = display_name(path)
    if str(path) != STDIN:
        check_readable(path)
    delimiter = _delimiter_from_name(path) if str(path) != STDIN else None
    try:
        with open_binary(path) as fh:
            if delimiter is None:
                head = fh.peek(1 << 16)
                first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
                delimiter = _sniff_delimiter(first)
            frame = pd.read_csv(
                fh,
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding="utf-8-sig",
                encoding_errors="replace",
            )
    except pd.errors.EmptyDataError as exc:
        raise InputError("empty table (no header line)", path=shown) from exc
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse the table: {exc}", path=shown) from exc
    except DECOMPRESSION_ERRORS as exc:
        raise InputError(f"cannot read the file, corrupt or truncated? ({exc})", path=shown) from (
            exc
        )

    columns = [str(column) for column in frame.columns]
    frame.columns = columns
    if frame.empty:
        raise InputError(f"empty table: a header ({', '.join(columns)}) but no rows", path=shown)
    seq_col = _find_column(columns, sequence_column, SEQUENCE_COLUMNS, "sequence", shown)
    if seq_col is None:
        raise InputError(
            "no sequence column: expected one named 'sequence' or 'seq' (or name the column); "
            f"the columns are {', '.join(columns)}",
            path=shown,
        )
    label_col = None
    if label_column is not None:
        label_col = _find_column(columns, label_column, (), "label", shown)
    name_col = _find_column(columns, name_column, NAME_COLUMNS, "name", shown)

    sequences = frame[seq_col].str.strip()
    u_count = UAsTCount(shown)
    with_u = sequences.str.contains("[Uu]", regex=True).to_numpy(dtype=bool)
    if with_u.any():  # the rare RNA table: only its U rows go through the shared rule
        converted = [read_u_as_t(seq) for seq in sequences[with_u]]
        sequences = sequences.copy()
        sequences[with_u] = [seq for seq, _ in converted]
        u_count.add(sum(count for _, count in converted), records=len(converted))
    _check_sequences(sequences, shown)
    u_count.warn()  # after the checks, so a bad table gives its one error line only
    if uppercase:
        sequences = sequences.str.upper()
    labels: list[Any] = [None] * len(frame)
    if label_col is not None:
        label_values = frame[label_col].str.strip()
        missing = label_values.str.lower().isin(MISSING_LABELS).to_numpy()
        if missing.any():
            row = int(missing.argmax())
            raise InputError(
                f"missing label in column '{label_col}' at row {row + 1}",
                path=shown,
                line=row + 2,
            )
        labels = label_values.tolist()
    if name_col is not None:
        names = frame[name_col].str.strip().tolist()
    else:
        names = [f"row{i}" for i in range(1, len(frame) + 1)]
    extra_cols = [c for c in columns if c not in (seq_col, label_col, name_col)]
    extras = frame[extra_cols].to_dict("records") if extra_cols else [{}] * len(frame)
    return [
        SequenceRecord(name=name, sequence=seq, label=label, extra=dict(extra))
        for name, seq, label, extra in zip(names, sequences.tolist(), labels, extras, strict=True)
    ]


def _check_sequences(sequences: Any, shown: str) -> None:
    """Raise for the first empty or invalid sequence, found with vectorised string tests."""
    empty = (sequences.str.len() == 0).to_numpy()
    invalid = ~sequences.str.fullmatch(f"[{VALID_CHARS}]*").to_numpy(dtype=bool)
    bad = empty | invalid
    if not bad.any():
        return
    row = int(bad.argmax())
    if empty[row]:
        raise InputError(f"empty sequence at row {row + 1}", path=shown, line=row + 2)
    seq = sequences.iloc[row]
    position = find_invalid(seq)
    raise InputError(
        f"invalid character {describe_char(seq[position])} at position {position + 1} of the "
        f"sequence at row {row + 1} (expected A, C, G, T, N or an IUPAC code)",
        path=shown,
        line=row + 2,
    )
