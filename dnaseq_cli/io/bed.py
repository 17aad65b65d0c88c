"""BED reader: BED3 to BED12 and extra columns, with an optional label taken from any column.

Coordinates stay 0-based half-open, exactly as written (``chr2 80647 81147`` is bases 80,648..81,147
1-based). Fields are tab separated; a line without tabs is split on runs of whitespace, which is
what hand-written files usually mean. ``track``/``browser`` lines, ``#`` comments and blank lines
are skipped; a ``#chrom start end ...`` comment names the columns, so a label column can be chosen
by name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from dnaseq_cli.errors import InputError
from dnaseq_cli.io._open import (
    STDIN,
    check_readable,
    display_name,
    numbered_lines,
    open_text,
)
from dnaseq_cli.records import Interval

__all__ = ["BED_COLUMNS", "BedRecord", "iter_bed", "read_bed"]

BED_COLUMNS = (
    "chrom",
    "chromStart",
    "chromEnd",
    "name",
    "score",
    "strand",
    "thickStart",
    "thickEnd",
    "itemRgb",
    "blockCount",
    "blockSizes",
    "blockStarts",
)
# Standard column names a label can be taken from, as 0-based indexes.
_NAMED_COLUMNS = {"name": 3, "score": 4, "strand": 5}
_HEADER_FIRST = {"chrom", "chr", "chromosome", "seqname", "seqid", "contig"}
_INT_RE = re.compile(r"-?[0-9]+")
_MISSING = ("", ".")


@dataclass
class BedRecord:
    """One BED line: its interval (strand ``.`` if the file has no strand column) and all fields."""

    interval: Interval
    name: str | None
    score: float | None
    label: str | None
    fields: list[str]
    line: int


def read_bed(
    path: str | os.PathLike[str],
    *,
    label_column: str | int | None = None,
    label_constant: str | None = None,
) -> list[BedRecord]:
    """All records of a BED file as a list (see :func:`iter_bed`)."""
    return list(iter_bed(path, label_column=label_column, label_constant=label_constant))


def iter_bed(
    path: str | os.PathLike[str],
    *,
    label_column: str | int | None = None,
    label_constant: str | None = None,
) -> Iterator[BedRecord]:
    """Yield the records of a BED file (plain, gzip, bgzip, or stdin for ``-``).

    ``label_column`` picks the label: ``"name"``, ``"score"``, ``"strand"``, a 1-based column
    number (``7`` or ``"7"``), or a column name from a ``#chrom start end ...`` header line.
    ``label_constant`` gives every record the same label instead. Errors name the file and line.
    """
    if label_column is not None and label_constant is not None:
        raise InputError("give either a label column or a constant label, not both")
    column: int | str | None = None
    if label_column is not None:
        column = _label_index(label_column)
    if str(path) != STDIN:
        check_readable(path)
    return _iter_bed(path, column, label_constant)


def _label_index(label_column: str | int) -> int | str:
    """0-based index for a number or a standard name; other names stay names (need a header)."""
    if isinstance(label_column, bool):
        raise InputError(f"invalid label column {label_column!r}")
    if isinstance(label_column, str):
        key = label_column.strip()
        if key.isdecimal():
            label_column = int(key)
        elif key.lower() in _NAMED_COLUMNS:
            return _NAMED_COLUMNS[key.lower()]
        elif key:
            return key
        else:
            raise InputError("empty label column name")
    if label_column < 1:
        raise InputError(f"invalid label column {label_column}: columns are numbered from 1")
    return label_column - 1


def _split(line: str) -> list[str]:
    if "\t" in line:
        return [field.strip() for field in line.split("\t")]
    return line.split()


def _header_names(fields: list[str]) -> list[str] | None:
    """Column names if this (comment or first) line is a header like ``#chrom start end label``."""
    if len(fields) >= 3 and fields[0].lstrip("#").strip().lower() in _HEADER_FIRST:
        names = [field.strip() for field in fields]
        names[0] = names[0].lstrip("#").strip()
        return names
    return None


def _iter_bed(
    path: str | os.PathLike[str], column: int | str | None, constant: str | None
) -> Iterator[BedRecord]:
    shown = display_name(path)
    header: list[str] | None = None
    label_index: int | None = column if isinstance(column, int) else None
    label_desc = ""
    seen_data = False
    lineno = 0
    with open_text(path) as fh:
        for lineno, raw in numbered_lines(fh, shown):
            text = raw.rstrip("\r\n")
            stripped = text.strip()
            if not stripped or stripped.startswith(("track", "browser")):
                continue
            if stripped.startswith("#"):
                names = _header_names(_split(stripped))
                if names is not None and not seen_data:
                    header = names
                continue
            fields = _split(text)
            if not seen_data and not _INT_RE.fullmatch(fields[1] if len(fields) > 1 else ""):
                names = _header_names(fields)
                if names is not None:
                    header = names
                    continue
            if not seen_data:
                seen_data = True
                if isinstance(column, str):
                    label_index = _index_from_header(column, header, shown, lineno)
                if label_index is not None:
                    label_desc = _describe_column(label_index, header)
            yield _parse_line(fields, lineno, shown, label_index, label_desc, constant)


def _index_from_header(name: str, header: list[str] | None, shown: str, lineno: int) -> int:
    if header is None:
        raise InputError(
            f"label column '{name}' is not a column name here: the file has no "
            "'#chrom start end ...' header line; give a column number, or name, score or strand",
            path=shown,
            line=lineno,
        )
    lowered = [column.lower() for column in header]
    if name.lower() not in lowered:
        raise InputError(
            f"label column '{name}' not found; the header names {', '.join(header)}",
            path=shown,
        )
    return lowered.index(name.lower())


def _describe_column(index: int, header: list[str] | None) -> str:
    if header is not None and index < len(header):
        return f"column {index + 1} ('{header[index]}')"
    if index < len(BED_COLUMNS):
        return f"column {index + 1} ({BED_COLUMNS[index]})"
    return f"column {index + 1}"


def _parse_line(
    fields: list[str],
    lineno: int,
    shown: str,
    label_index: int | None,
    label_desc: str,
    constant: str | None,
) -> BedRecord:
    def fail(reason: str) -> InputError:
        return InputError(reason, path=shown, line=lineno)

    if len(fields) < 3:
        raise fail(
            f"expected at least 3 tab-separated columns (chrom, start, end), found {len(fields)}"
        )
    chrom, start_text, end_text = fields[0], fields[1], fields[2]
    if not chrom:
        raise fail("empty chromosome name in column 1")
    if not _INT_RE.fullmatch(start_text):
        raise fail(f"start '{start_text}' in column 2 is not an integer")
    if not _INT_RE.fullmatch(end_text):
        raise fail(f"end '{end_text}' in column 3 is not an integer")
    start, end = int(start_text), int(end_text)
    if start < 0:
        raise fail(f"negative start {start} (BED is 0-based, the first base is 0)")
    if start > end:
        raise fail(f"start {start} is after end {end}")
    strand = "."
    if len(fields) > 5:
        strand = fields[5]
        if strand not in ("+", "-", "."):
            raise fail(f"invalid strand '{strand}' in column 6 (expected +, - or .)")
    name = fields[3] if len(fields) > 3 and fields[3] not in _MISSING else None
    score = None
    if len(fields) > 4:
        try:
            score = float(fields[4])
        except ValueError:
            score = None  # BED-like files often keep text here; the score has no meaning for us
    label = constant
    if label_index is not None:
        value = fields[label_index] if label_index < len(fields) else ""
        if value in _MISSING:
            raise fail(
                f"no label in {label_desc}: this line has {len(fields)} columns"
                if label_index >= len(fields)
                else f"empty label ('{value}') in {label_desc}"
            )
        label = value
    return BedRecord(Interval(chrom, start, end, strand), name, score, label, fields, lineno)
