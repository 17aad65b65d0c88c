"""Score every record of a FASTA, table or BED + reference with a model: one TSV row per record.

Records longer than the model window are tiled and the window scores aggregated by mean and max;
shorter ones are padded (FASTA/table: PAD tokens the model ignores; BED: real genomic flanks, centred
on the interval) and flagged. Tiling is strand-symmetric (``tile_symmetric`` in
:mod:`dnaseq_cli.windows.tiling`): the first tile starts at the record start, the last ends at the
record end, and the tiles in between are spread evenly, at most ``stride`` apart (default half a
window), so the set of tiles is its own mirror image. A record and its reverse complement are therefore cut into the
same tiles and, each tile being scored on both strands, get the same score for any length. BED
inputs keep their ``chrom start end name`` columns (as in the BED: 0-based start) in the output.
Records are streamed in groups, so a large FASTA never sits in memory at once.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnaseq_cli.data.inputs import (
    SequenceWindow,
    detect_format,
    read_located_beds,
)
from dnaseq_cli.errors import InputError
from dnaseq_cli.io.sequence_utils import count_unknown
from dnaseq_cli.output import open_output, refuse_overwriting_inputs
from dnaseq_cli.predict.model import WindowScorer
from dnaseq_cli.records import SequenceRecord

AGGREGATES = ("max", "mean")
#: Flags written in the ``flags`` column ("." when none applies).
FLAG_SHORT = "short"  # record shorter than the window: padded
FLAG_EDGE = "contig_edge"  # window runs off the contig end: N-padded there
FLAG_N_RICH = "n_rich"  # more than ``max_n_fraction`` of the real bases are N or other IUPAC codes
#: Leading columns of per-record rows when an input is BED (values as in the BED; "." otherwise).
BED_COLUMNS = ("chrom", "start", "end")


@dataclass
class PredictOptions:
    """Inputs and output of one ``dnaseq predict`` run."""

    inputs: list[Path]
    output: str = "-"
    reference: Path | None = None
    input_format: str = "auto"
    sequence_column: str | None = None
    name_column: str | None = None
    stride: int | None = None
    per_window: bool = False
    aggregate: str = "max"
    max_n_fraction: float = 0.5
    harmonise_chroms: bool = False
    group_windows: int = 4096


@dataclass
class _Record:
    """One input record and its windows, waiting to be scored."""

    name: str
    length: int
    label: str | None
    windows: list[SequenceWindow]
    bed: tuple[str, int, int] | None = None  # chrom, start, end as written in the BED


@dataclass
class PredictSummary:
    records: int = 0
    windows: int = 0
    seconds: float = 0.0
    flagged: dict[str, int] = field(default_factory=dict)

    @property
    def windows_per_second(self) -> float:
        return self.windows / self.seconds if self.seconds > 0 else 0.0


# -- reading inputs ---------------------------------------------------------------------------
def _sequence_records(path: Path, kind: str, options: PredictOptions) -> Iterator[SequenceRecord]:
    if kind == "fasta":
        from dnaseq_cli.io.fasta import iter_fasta

        yield from iter_fasta(path)
        return
    from dnaseq_cli.io.tables import read_labelled_table

    for record in read_labelled_table(
        path,
        sequence_column=options.sequence_column,
        label_column=None,
        name_column=options.name_column,
    ):
        extra = getattr(record, "extra", None) or {}
        if record.label is None and "label" in extra:
            record.label = extra["label"]
        yield record


def _sequence_windows(record: SequenceRecord, window: int, stride: int) -> list[SequenceWindow]:
    """A record's windows: one padded window when it fits, else the strand-symmetric tiling, so
    the reverse complement of the record gets the mirror-image tiles."""
    from dnaseq_cli.windows.tiling import tile_symmetric

    seq = record.sequence
    length = len(seq)
    if length <= window:
        valid = np.zeros(window, dtype=bool)
        valid[:length] = True
        padded = SequenceWindow(
            name=record.name,
            sequence=seq + "N" * (window - length),
            valid=valid,
            label=record.label,
            source_length=length,
        )
        return [padded]
    full = np.ones(window, dtype=bool)
    return [
        SequenceWindow(
            name=f"{record.name}:{start + 1}-{end}",
            sequence=seq[start:end],
            valid=full,
            label=record.label,
            start=start,
            end=end,
            source_length=length,
        )
        for start, end in tile_symmetric(length, window, stride)
    ]


def _fasta_or_table_records(
    path: Path, kind: str, window: int, stride: int, options: PredictOptions
) -> Iterator[_Record]:
    for record in _sequence_records(path, kind, options):
        if len(record.sequence) == 0:
            raise InputError("empty sequence", path=path, record=record.name)
        windows = _sequence_windows(record, window, stride)
        yield _Record(record.name, len(record.sequence), record.label, windows)


def _bed_records(
    path: Path, window: int, stride: int, options: PredictOptions
) -> Iterator[_Record]:
    from dnaseq_cli.windows import centred_window, fetch_window
    from dnaseq_cli.windows.tiling import tile_interval

    reference, located = read_located_beds(
        path, options.reference, harmonise_chroms=options.harmonise_chroms
    )
    for item in located:
        interval = item.interval
        if len(interval) <= window:
            targets = [centred_window(interval, window)]
        else:
            targets = tile_interval(interval, window, stride)
        windows = []
        for target in targets:
            sequence, valid = fetch_window(reference, target)
            windows.append(
                SequenceWindow(
                    name=f"{target.chrom}:{target.start + 1}-{target.end}",
                    sequence=sequence,
                    valid=np.asarray(valid, dtype=bool),
                    label=None,
                    chrom=target.chrom,
                    start=target.start,
                    end=target.end,
                    strand=target.strand,
                    source_length=len(interval),
                )
            )
        given = item.bed.interval  # the BED's own chrom name, before any --harmonise-chroms
        yield _Record(
            item.name, len(interval), None, windows, bed=(given.chrom, given.start, given.end)
        )


def iter_records(options: PredictOptions, window: int) -> Iterator[_Record]:
    """Every input record with its windows, in input order."""
    stride = options.stride or max(window // 2, 1)
    if stride < 1:
        raise InputError(f"--stride must be >= 1, got {stride}")
    for path in options.inputs:
        kind = detect_format(path, options.input_format)
        if kind == "bed":
            yield from _bed_records(path, window, stride, options)
        else:
            yield from _fasta_or_table_records(path, kind, window, stride, options)


# -- scoring and output -----------------------------------------------------------------------
def _n_fraction(windows: list[SequenceWindow]) -> float:
    """Share of the real (unpadded) bases that are not A/C/G/T: N and the other IUPAC codes alike,
    since the model reads them all as N."""
    real = sum(int(w.valid.sum()) for w in windows)
    if real == 0:
        return 1.0
    return sum(count_unknown(w.sequence, w.valid) for w in windows) / real


def _flags(windows: list[SequenceWindow], max_n_fraction: float) -> list[str]:
    """Flags of a record or a single window: padding (short record or contig edge) and Ns."""
    flags = []
    if any(w.padded for w in windows):
        # Genomic windows are only padded where they run off the contig; others are short records.
        flags.append(FLAG_EDGE if windows[0].chrom is not None else FLAG_SHORT)
    if _n_fraction(windows) > max_n_fraction:
        flags.append(FLAG_N_RICH)
    return flags


def _score_columns(scorer: WindowScorer) -> list[str]:
    info = scorer.info
    if info.task == "regression":
        return ["value"]
    if info.task == "binary":
        return ["score"]
    return [f"prob_{c}" for c in info.classes]


def _header(
    scorer: WindowScorer, options: PredictOptions, has_labels: bool, has_bed: bool
) -> list[str]:
    info = scorer.info
    if options.per_window:
        head = ["name", "window", "start", "end"] + _score_columns(scorer)
        if info.task != "regression":
            head.append("predicted")
        return head + ["flags"]
    head = [*BED_COLUMNS, "name"] if has_bed else ["name"]
    head += ["length", "windows"]
    if info.task == "regression":
        head += ["value", "value_mean", "value_max"]
    elif info.task == "binary":
        head += ["score", "score_mean", "score_max", "predicted"]
    else:
        head += [f"prob_{c}" for c in info.classes] + ["predicted"]
    if has_labels:
        head.append("label")
    return head + ["flags"]


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _mean(values: np.ndarray) -> np.ndarray:
    """Mean over windows (axis 0) that does not depend on their order: float64 over sorted values,
    so a record and its reverse complement (same tiles, listed in reverse) agree to the last bit."""
    return np.sort(values.astype(np.float64), axis=0).mean(axis=0)


def _record_rows(
    record: _Record,
    scores: np.ndarray,
    scorer: WindowScorer,
    options: PredictOptions,
    has_labels: bool,
    has_bed: bool,
) -> Iterator[list[str]]:
    info = scorer.info
    classes = np.array(info.classes) if info.classes else None
    if options.per_window:
        for w, row in zip(record.windows, scores, strict=True):
            if w.chrom is not None:
                start, end = w.start + 1, w.end
            elif w.start is not None:
                start, end = w.start + 1, w.end
            else:
                start, end = 1, int(w.valid.sum())
            flags = _flags([w], options.max_n_fraction)
            out = [record.name, w.name, str(start), str(end)]
            if info.task == "regression":
                out.append(_fmt(row[0]))
            elif info.task == "binary":
                out += [_fmt(row[-1]), str(classes[int(row.argmax())])]
            else:
                out += [_fmt(v) for v in row] + [str(classes[int(row.argmax())])]
            yield out + [",".join(flags) or "."]
        return
    out = []
    if has_bed:
        out += ["."] * len(BED_COLUMNS) if record.bed is None else [str(v) for v in record.bed]
    out += [record.name, str(record.length), str(len(record.windows))]
    if info.task == "regression":
        values = scores[:, 0]
        chosen = values.max() if options.aggregate == "max" else _mean(values)
        out += [_fmt(chosen), _fmt(_mean(values)), _fmt(values.max())]
    elif info.task == "binary":
        positive = scores[:, -1]
        chosen = positive.max() if options.aggregate == "max" else _mean(positive)
        out += [_fmt(chosen), _fmt(_mean(positive)), _fmt(positive.max())]
        out.append(str(classes[-1] if chosen >= 0.5 else classes[0]))
    else:
        probs = _mean(scores)  # per-class maxima would not sum to 1: always averaged
        out += [_fmt(v) for v in probs] + [str(classes[int(probs.argmax())])]
    if has_labels:
        out.append("" if record.label is None else str(record.label))
    flags = _flags(record.windows, options.max_n_fraction)
    yield out + [",".join(flags) or "."]


def _groups(records: Iterator[_Record], size: int) -> Iterator[list[_Record]]:
    group: list[_Record] = []
    count = 0
    for record in records:
        group.append(record)
        count += len(record.windows)
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group


def predict(
    scorer: WindowScorer,
    options: PredictOptions,
    *,
    progress: Callable[[int], None] | None = None,
) -> PredictSummary:
    """Score all input records and write the TSV (atomically when it is a file)."""
    if options.aggregate not in AGGREGATES:
        raise InputError(f"--aggregate must be one of {', '.join(AGGREGATES)}")
    refuse_overwriting_inputs(
        [options.output], [*options.inputs, options.reference, scorer.info.path]
    )
    window = scorer.info.window_length
    summary = PredictSummary()
    started = time.perf_counter()
    records = iter_records(options, window)
    groups = _groups(records, options.group_windows)
    first = next(groups, None)
    if first is None:
        raise InputError("no records in the input", path=options.inputs[0])
    has_labels = any(r.label is not None for r in first)
    has_bed = any(detect_format(p, options.input_format) == "bed" for p in options.inputs)
    with open_output(options.output) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(_header(scorer, options, has_labels, has_bed))
        group: list[_Record] | None = first
        while group is not None:
            windows = [w for record in group for w in record.windows]
            scores = scorer.score(
                [w.sequence for w in windows], np.stack([w.valid for w in windows])
            )
            offset = 0
            for record in group:
                n = len(record.windows)
                block = scores[offset : offset + n]
                writer.writerows(_record_rows(record, block, scorer, options, has_labels, has_bed))
                offset += n
                for flag in _flags(record.windows, options.max_n_fraction):
                    summary.flagged[flag] = summary.flagged.get(flag, 0) + 1
            summary.records += len(group)
            summary.windows += len(windows)
            if progress is not None:
                progress(len(windows))
            group = next(groups, None)
    summary.seconds = time.perf_counter() - started
    return summary
