"""Turn any supported input (FASTA, labelled table, BED + reference) into fixed-length windows.

This is the one place where the input kind is decided and BED inputs are checked against their
reference; :mod:`dnaseq_cli.data.records` reads every kind into records and cuts them into windows
by one tiling rule, for preprocess, train and predict alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dnaseq_cli.errors import InputError
from dnaseq_cli.records import Interval

if TYPE_CHECKING:
    from dnaseq_cli.io.bed import BedRecord
    from dnaseq_cli.io.fasta import FastaReference

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


@dataclass
class LocatedBed:
    """A BED record with its interval renamed onto the reference's contig names."""

    bed: BedRecord
    interval: Interval

    @property
    def name(self) -> str:
        """The BED name, else the region ``chrom:start-end`` (1-based closed)."""
        i = self.interval
        return self.bed.name or f"{i.chrom}:{i.start + 1}-{i.end}"


def read_located_beds(
    path: Path,
    reference_path: Path | None,
    *,
    harmonise_chroms: bool,
    label_column: str | int | None = None,
    label_constant: str | None = None,
) -> tuple[FastaReference, list[LocatedBed]]:
    """Read a BED against its reference: naming mapped (or refused), every interval on a contig.

    The one place BED inputs are checked, for preprocess/train and predict alike.
    """
    from dnaseq_cli.io.bed import read_bed
    from dnaseq_cli.io.contigs import check_naming
    from dnaseq_cli.io.fasta import FastaReference

    if reference_path is None:
        raise InputError("BED input needs a reference genome: pass --reference FASTA", path=path)
    beds = read_bed(path, label_column=label_column, label_constant=label_constant)
    if not beds:
        raise InputError("no intervals in BED file", path=path)
    reference = FastaReference(reference_path)
    mapping = check_naming(
        sorted({bed.interval.chrom for bed in beds}),
        reference.contigs,
        harmonise=harmonise_chroms,
        path=path,
    )
    located = []
    for bed in beds:
        interval = bed.interval
        chrom = mapping.get(interval.chrom, interval.chrom)
        length = reference.lengths[chrom]
        if interval.end > length:
            raise InputError(
                f"interval {interval.region} runs past the end of {chrom} ({length:,} bp)",
                path=path,
                line=bed.line,
            )
        renamed = type(interval)(chrom, interval.start, interval.end, interval.strand)
        located.append(LocatedBed(bed, renamed))
    return reference, located
