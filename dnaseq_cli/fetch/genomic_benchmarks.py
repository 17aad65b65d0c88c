"""Genomic Benchmarks coordinate datasets -> labelled BED and sequence tables.

Each dataset ships ``{train,test}/<class>.csv.gz`` with the columns ``id,region,start,end,strand``:
0-based half-open intervals, one file per class, the class (file name) being the label. The
project's own loader extracts ``genome[region][start:end]`` and reverse-complements strand ``-``;
the same is done here with an indexed reference, so the sequences match theirs without holding a
genome in memory. Chromosome names are mapped onto the genome's style (``chr1`` <-> ``1``), since
the CSVs say ``chr1`` while the datasets were cut from Ensembl genomes.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.contigs import check_naming
from dnaseq_cli.io.fasta import FastaReference
from dnaseq_cli.output import atomic_path
from dnaseq_cli.records import Interval

SPLITS = ("train", "test")
HEADER = ["id", "region", "start", "end", "strand"]
BED_HEADER = "#chrom\tstart\tend\tname\tscore\tstrand\tlabel\n"
TSV_COLUMNS = ("name", "chrom", "start", "end", "strand", "label", "sequence")
_CLASS_LINE = re.compile(r"^  ([A-Za-z0-9_.-]+):\s*$")


@dataclass(frozen=True)
class Region:
    """One labelled row of a coordinate file."""

    name: str
    chrom: str
    start: int
    end: int
    strand: str
    label: str
    split: str


def classes_from_metadata(path: Path) -> list[str]:
    """Class names from a dataset's ``metadata.yaml`` (the keys under ``classes:``).

    The file is tiny and regular, so two-space-indented keys are read directly rather than adding
    a YAML dependency.
    """
    classes: list[str] = []
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            inside = line.rstrip() == "classes:"
            continue
        match = _CLASS_LINE.match(line)
        if inside and match:
            classes.append(match.group(1))
    if not classes:
        raise InputError("no classes listed under 'classes:'", path=path)
    return sorted(classes)


def coordinate_file(folder: Path, split: str, label: str) -> Path:
    """Where a class's coordinate CSV lives inside a dataset folder."""
    return folder / split / f"{label}.csv.gz"


def read_coordinates(path: Path, split: str, label: str) -> Iterator[Region]:
    """Rows of one coordinate CSV; malformed rows are an :class:`InputError` naming the line."""
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            yield from _rows(csv.reader(handle), path, split, label)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"corrupt gzip file ({exc})", path=path) from None


def _rows(reader: Iterator[list[str]], path: Path, split: str, label: str) -> Iterator[Region]:
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != HEADER:
        raise InputError(f"expected the header {','.join(HEADER)}", path=path, line=1)
    prefix = f"{split}_{label}_"
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(HEADER):
            raise InputError(
                f"expected {len(HEADER)} fields, got {len(row)}", path=path, line=lineno
            )
        ident, chrom, start_text, end_text, strand = (field.strip() for field in row)
        try:
            start, end = int(start_text), int(end_text)
        except ValueError:
            raise InputError("start and end must be integers", path=path, line=lineno) from None
        if start < 0 or end <= start:
            raise InputError(f"invalid interval {start}-{end}", path=path, line=lineno)
        if strand not in ("+", "-", ""):
            raise InputError(f"invalid strand {strand!r}", path=path, line=lineno)
        name = ident if ident.startswith(prefix) else f"{prefix}{ident}"
        yield Region(name, chrom, start, end, strand or ".", label, split)


def read_dataset(folder: Path, classes: list[str]) -> dict[str, list[Region]]:
    """All rows by split, classes in sorted order, rows in file order; names must be unique."""
    by_split: dict[str, list[Region]] = {}
    seen: set[str] = set()
    for split in SPLITS:
        rows: list[Region] = []
        for label in sorted(classes):
            path = coordinate_file(folder, split, label)
            for region in read_coordinates(path, split, label):
                if region.name in seen:
                    raise InputError("duplicate id", path=path, record=region.name)
                seen.add(region.name)
                rows.append(region)
        by_split[split] = rows
    return by_split


def write_bed(regions: list[Region], path: Path) -> None:
    """BED6 plus a ``label`` column (the class), with a ``#chrom ...`` header naming the columns,
    so ``dnaseq preprocess --label-column label`` reads it as it stands."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        out.write(BED_HEADER)
        for r in regions:
            out.write(f"{r.chrom}\t{r.start}\t{r.end}\t{r.name}\t0\t{r.strand}\t{r.label}\n")


def write_sequences(regions: list[Region], genome: FastaReference, path: Path) -> int:
    """A TSV (``name chrom start end strand label sequence``) of each region's sequence, taken
    from ``genome`` with chromosome names mapped to its style; minus strand reverse-complemented,
    soft-masking kept. Returns the number of rows."""
    mapping = check_naming(
        {r.chrom for r in regions},
        genome.contigs,
        harmonise=True,
        kind="the dataset",
        path=genome.path,
    )
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(TSV_COLUMNS)
        for r in regions:
            strand = "-" if r.strand == "-" else "+"
            interval = Interval(mapping[r.chrom], r.start, r.end, strand)
            sequence = genome.fetch_interval(interval, name=r.name)
            writer.writerow([r.name, r.chrom, r.start, r.end, r.strand, r.label, sequence])
    return len(regions)
