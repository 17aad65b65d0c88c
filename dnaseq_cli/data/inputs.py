"""Turn any supported input (FASTA, labelled table, BED + reference) into fixed-length windows.

This is the one place where the input kind is decided, so preprocess, train and predict all accept the
same inputs and cut windows the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnaseq_cli.errors import InputError
from dnaseq_cli.records import SequenceRecord

INPUT_FORMATS = ("auto", "fasta", "table", "bed")
_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".ffn", ".seq")
_TABLE_SUFFIXES = (".tsv", ".csv", ".txt")
_BED_SUFFIXES = (".bed",)


@dataclass
class SequenceWindow:
    """One model input: a fixed-length sequence, where it came from, and which bases are real."""

    name: str
    sequence: str
    valid: np.ndarray  # bool per base: False where padded (short input or off the contig end)
    label: str | float | int | None
    chrom: str | None = None
    start: int | None = None  # 0-based start of the window on the reference (may be < 0 at edges)
    end: int | None = None
    strand: str = "+"
    source_length: int = 0  # length of the record or region the window was cut from

    @property
    def padded(self) -> bool:
        return not bool(self.valid.all())


def detect_format(path: str | Path, declared: str = "auto") -> str:
    """Decide the input kind from ``--format`` or the file name (compression suffixes ignored)."""
    if declared != "auto":
        if declared not in INPUT_FORMATS:
            raise InputError(
                f"unknown --format {declared!r}; choose from {', '.join(INPUT_FORMATS)}"
            )
        return declared
    if str(path) == "-":
        return "fasta"  # a pipe has no name; FASTA is what tools usually stream (else --format)
    name = str(path).lower()
    for suffix in (".gz", ".bgz", ".bgzf"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith(_FASTA_SUFFIXES):
        return "fasta"
    if name.endswith(_TABLE_SUFFIXES):
        return "table"
    if name.endswith(_BED_SUFFIXES):
        return "bed"
    raise InputError(
        "cannot tell the input format from the file name; pass --format fasta|table|bed", path=path
    )


def record_windows(
    records: Iterator[SequenceRecord] | list[SequenceRecord],
    *,
    window: int,
    stride: int | None = None,
) -> Iterator[SequenceWindow]:
    """Cut sequence records into windows: shorter ones padded at the end, longer ones tiled.

    A record longer than ``window`` yields tiles ``name:start-end`` (1-based closed, like samtools) every
    ``stride`` bases (default: ``window``), the last one aligned to the record end so no base is lost.
    """
    step = stride or window
    for record in records:
        seq = record.sequence
        length = len(seq)
        if length <= window:
            valid = np.zeros(window, dtype=bool)
            valid[:length] = True
            yield SequenceWindow(
                name=record.name,
                sequence=seq + "N" * (window - length),
                valid=valid,
                label=record.label,
                source_length=length,
            )
            continue
        starts = list(range(0, length - window + 1, step))
        if starts[-1] != length - window:
            starts.append(length - window)
        for start in starts:
            yield SequenceWindow(
                name=f"{record.name}:{start + 1}-{start + window}",
                sequence=seq[start : start + window],
                valid=np.ones(window, dtype=bool),
                label=record.label,
                start=start,
                end=start + window,
                source_length=length,
            )
