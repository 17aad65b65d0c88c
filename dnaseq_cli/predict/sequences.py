"""Score every record of a FASTA, table or BED + reference with a model: one TSV row per record.

Records longer than the model window are tiled and the window scores aggregated by mean and max;
shorter ones are padded (FASTA/table: PAD tokens the model ignores; BED: real genomic flanks, centred
on the interval) and flagged. Inputs are read and tiled by :mod:`dnaseq_cli.data.records`, as
``preprocess`` reads them: the first tile starts at the record start, the last ends at the record
end, and the tiles in between are spread evenly, at most ``stride`` apart (default half a window),
so the set of tiles is its own mirror image. A record and its reverse complement are therefore cut
into the same tiles and, each tile being scored on both strands, get the same score for any length. BED
inputs keep their ``chrom start end name`` columns (as in the BED: 0-based start) in the output.

Memory does not grow with the number of records nor with the length of one: records are streamed
in groups of about ``group_windows`` windows, a long record spanning several groups, and its windows
are cut a group at a time (tile starts computed for that group only). A FASTA file that has a faidx
index (or is large enough to be worth building one, ``index_min_bytes``) is read from the index a
window span at a time; other FASTA inputs hold one record's bases at a time, 1 byte per base.
A record's scores are aggregated as they come (max; mean from an exact sum, so it does not depend on
the order of the tiles: a record and its reverse complement agree to the last bit).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dnaseq_cli.data.inputs import detect_format
from dnaseq_cli.data.records import (
    Record,
    RecordOptions,
    Windows,
    iter_records,
    open_records,
    resolve_stride,
)
from dnaseq_cli.errors import InputError
from dnaseq_cli.io.sequence_utils import count_unknown
from dnaseq_cli.output import open_output, refuse_overwriting_inputs
from dnaseq_cli.predict.model import WindowScorer
from dnaseq_cli.shards import SINGLE, Shards

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
    #: A FASTA file this large without a ``.fai`` gets one built (next to it, as ``--reference``
    #: does), so its records are read from the index; smaller ones are streamed a record at a time.
    index_min_bytes: int = 64 << 20


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
def _record_options(options: PredictOptions, window: int) -> RecordOptions:
    return RecordOptions(
        window=window,
        stride=options.stride,
        input_format=options.input_format,
        reference=options.reference,
        harmonise_chroms=options.harmonise_chroms,
        sequence_column=options.sequence_column,
        name_column=options.name_column,
        index_min_bytes=options.index_min_bytes,
    )


def predict_records(options: PredictOptions, window: int) -> Iterator[Record]:
    """Every input record of a predict run, in input order, each input opened when reached."""
    resolve_stride(window, options.stride)
    for path in options.inputs:
        yield from iter_records(path, _record_options(options, window))


# -- scoring and output -----------------------------------------------------------------------
def _flags(
    padded: bool, genomic: bool, unknown: int, real: int, max_n_fraction: float
) -> list[str]:
    """Flags of a record or a single window: padding (short record or contig edge) and Ns.

    ``unknown`` / ``real`` is the share of the real (unpadded) bases that are not A/C/G/T: N and
    the other IUPAC codes alike, since the model reads them all as N (1 when nothing is real)."""
    flags = []
    if padded:
        # Genomic windows are only padded where they run off the contig; others are short records.
        flags.append(FLAG_EDGE if genomic else FLAG_SHORT)
    if (unknown / real if real else 1.0) > max_n_fraction:
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


class ExactSum:
    """Running sums of float64 columns, kept exactly (as integers in units of 2**-1127), so a mean
    is the correctly rounded true mean: it depends neither on the order of the values nor on how
    they were split into batches, and a record and its reverse complement agree to the last bit.

    Non-finite values are summed apart, as floats, so they give ``inf`` or ``nan`` as usual.
    """

    _UNIT = 1127  # 1074 (exponent of the smallest subnormal) + 53 (mantissa bits)

    def __init__(self, width: int) -> None:
        self.totals = [0] * width
        self.special = np.zeros(width, dtype=np.float64)
        self.count = 0

    def add(self, values: np.ndarray) -> None:
        """Add rows ``[n, width]`` (any float dtype; widened to float64 exactly)."""
        values = np.asarray(values, dtype=np.float64).reshape(len(values), len(self.totals))
        self.count += len(values)
        finite = np.isfinite(values)
        if not finite.all():
            with np.errstate(invalid="ignore"):  # inf - inf is nan, as in a plain sum
                self.special += np.where(finite, 0.0, values).sum(axis=0)
            values = np.where(finite, values, 0.0)
        fraction, exponent = np.frexp(values)  # value = fraction * 2**exponent, |fraction| < 1
        mantissa = (fraction * 2.0**53).astype(np.int64)  # exact: 53-bit integers
        shift = exponent.astype(np.int64) + 1074  # value = mantissa * 2**shift units; shift >= 0
        high, low = mantissa >> 26, mantissa & ((1 << 26) - 1)  # halves whose sums stay exact
        for column in range(values.shape[1]):
            keys, where = np.unique(shift[:, column], return_inverse=True)
            # float64 bin sums are exact here: each half is < 2**27, so n * 2**27 < 2**53
            highs = np.bincount(where, weights=high[:, column], minlength=len(keys))
            lows = np.bincount(where, weights=low[:, column], minlength=len(keys))
            self.totals[column] += sum(
                ((int(h) << 26) + int(lo)) << k
                for k, h, lo in zip(keys.tolist(), highs.tolist(), lows.tolist(), strict=True)
            )

    def mean(self) -> np.ndarray:
        """Per-column mean (float64), rounded once from the exact sum."""
        out = np.empty(len(self.totals), dtype=np.float64)
        scale = self.count << self._UNIT
        for column, total in enumerate(self.totals):
            special = float(self.special[column])
            if special != 0.0 or np.isnan(special):  # an inf or nan was met: it decides
                out[column] = special / self.count
            else:
                out[column] = total / scale  # int / int: correctly rounded
        return out


class _Tally:
    """What a record's row needs, gathered window batch by window batch."""

    def __init__(self, width: int) -> None:
        self.windows = 0
        self.unknown = 0
        self.real = 0
        self.padded = False
        self.genomic = False
        self.maximum: np.ndarray | None = None
        self.sums = ExactSum(width)

    def add(self, cut: Windows, scores: np.ndarray, unknown: list[int], real: list[int]) -> None:
        self.windows += len(scores)
        self.unknown += sum(unknown)
        self.real += sum(real)
        self.padded = self.padded or not bool(cut.valid.all())
        self.genomic = cut.chrom is not None
        top = scores.max(axis=0)
        self.maximum = top if self.maximum is None else np.maximum(self.maximum, top)
        self.sums.add(scores)

    def flags(self, max_n_fraction: float) -> list[str]:
        return _flags(self.padded, self.genomic, self.unknown, self.real, max_n_fraction)


def _window_rows(
    record: Record,
    cut: Windows,
    scores: np.ndarray,
    unknown: list[int],
    real: list[int],
    scorer: WindowScorer,
    options: PredictOptions,
) -> Iterator[list[str]]:
    info = scorer.info
    classes = np.array(info.classes)  # empty for regression, which has no class column
    genomic = cut.chrom is not None
    for i, row in enumerate(scores):
        padded = real[i] < cut.valid.shape[1]
        flags = _flags(padded, genomic, unknown[i], real[i], options.max_n_fraction)
        out = [record.name, cut.names[i], str(cut.first_base[i]), str(cut.last_base[i])]
        if info.task == "regression":
            out.append(_fmt(row[0]))
        elif info.task == "binary":
            out += [_fmt(row[-1]), str(classes[int(row.argmax())])]
        else:
            out += [_fmt(v) for v in row] + [str(classes[int(row.argmax())])]
        yield out + [",".join(flags) or "."]


def _record_row(
    record: Record,
    tally: _Tally,
    scorer: WindowScorer,
    options: PredictOptions,
    has_labels: bool,
    has_bed: bool,
) -> list[str]:
    info = scorer.info
    classes = np.array(info.classes)  # empty for regression, which has no class column
    assert tally.maximum is not None
    mean = tally.sums.mean()
    out = []
    if has_bed:
        out += ["."] * len(BED_COLUMNS) if record.bed is None else [str(v) for v in record.bed]
    out += [record.name, str(record.length), str(tally.windows)]
    if info.task in ("regression", "binary"):
        column = 0 if info.task == "regression" else -1
        top, average = tally.maximum[column], mean[column]
        chosen = top if options.aggregate == "max" else average
        out += [_fmt(chosen), _fmt(average), _fmt(top)]
        if info.task == "binary":
            out.append(str(classes[-1] if chosen >= 0.5 else classes[0]))
    else:
        # per-class maxima would not sum to 1: always averaged
        out += [_fmt(v) for v in mean] + [str(classes[int(mean.argmax())])]
    if has_labels:
        out.append("" if record.label is None else str(record.label))
    return out + [",".join(tally.flags(options.max_n_fraction)) or "."]


Piece = tuple[Record, int, int]  # windows first..last-1 of a record


def _groups(records: Iterator[Record], size: int) -> Iterator[list[Piece]]:
    """Groups of about ``size`` windows: whole records while they fit (a group closes after the
    record that reaches ``size``), and a record longer than ``size`` windows cut across groups,
    its last piece closing its group, so that it is scored before the next record is read."""
    group: list[Piece] = []
    count = 0
    for record in records:
        first = 0
        while first < record.count:
            rest = record.count - first
            take = rest if rest <= size else size - count
            group.append((record, first, first + take))
            count += take
            first += take
            if count >= size or (first == record.count and take < record.count):
                yield group
                group, count = [], 0
        del record  # hold no record while the next one is read
    if group:
        yield group


def _units(groups: Iterator[list[Piece]]) -> Iterator[list[list[Piece]]]:
    """The groups gathered into units of whole records (a long record's groups stay together):
    what one process of a sharded run scores on its own (see :mod:`dnaseq_cli.shards`)."""
    unit: list[list[Piece]] = []
    for group in groups:
        unit.append(group)
        record, _, last = group[-1]
        if last == record.count:
            yield unit
            unit = []
    if unit:
        yield unit


def _score(
    scorer: WindowScorer,
    sequences: list[str],
    valid: np.ndarray,
    progress: Callable[[int], None] | None,
) -> np.ndarray:
    """Scores of a group, one forward batch at a time so progress moves within a long record.

    The batches are those the scorer would make from the whole group (``batch_size`` from its
    start), so the numbers are the same as scoring the group at once."""
    step = max(int(getattr(scorer, "batch_size", 0) or len(sequences)), 1)
    parts = []
    for begin in range(0, len(sequences), step):
        parts.append(scorer.score(sequences[begin : begin + step], valid[begin : begin + step]))
        if progress is not None:
            progress(len(parts[-1]))
    return np.concatenate(parts)


def _score_group(
    group: list[Piece],
    tally: _Tally | None,
    scorer: WindowScorer,
    options: PredictOptions,
    writer: Any,
    summary: PredictSummary,
    progress: Callable[[int], None] | None,
    has_labels: bool,
    has_bed: bool,
) -> _Tally | None:
    """Score one group and write its rows; returns the tally of a record that goes on in the next
    group (a local scope, so nothing of the group outlives it)."""
    cuts = [record.cut(a, b) for record, a, b in group]
    sequences = [s for cut in cuts for s in cut.sequences]
    scores = _score(scorer, sequences, np.concatenate([c.valid for c in cuts]), progress)
    offset = 0
    for (record, a, b), cut in zip(group, cuts, strict=True):
        block = scores[offset : offset + b - a]
        offset += b - a
        real = cut.valid.sum(axis=1).tolist()
        unknown = [count_unknown(s, v) for s, v in zip(cut.sequences, cut.valid, strict=True)]
        if options.per_window:
            writer.writerows(_window_rows(record, cut, block, unknown, real, scorer, options))
        if a == 0:
            tally = _Tally(scores.shape[1])
        assert tally is not None
        tally.add(cut, block, unknown, real)
        if b == record.count:
            if not options.per_window:
                writer.writerow(_record_row(record, tally, scorer, options, has_labels, has_bed))
            for flag in tally.flags(options.max_n_fraction):
                summary.flagged[flag] = summary.flagged.get(flag, 0) + 1
            summary.records += 1
    summary.windows += len(sequences)
    return tally


def predict(
    scorer: WindowScorer,
    options: PredictOptions,
    *,
    progress: Callable[[int], None] | None = None,
    shards: Shards = SINGLE,
) -> PredictSummary:
    """Score all input records and write the TSV (atomically when it is a file).

    Under torchrun (``shards``) every process scores its share of whole records and process 0
    writes the output, byte for byte what one process writes; the summary is process 0's.

    ``progress(n)`` is called as each batch of ``n`` windows is scored; if it has a ``set_total``
    attribute, that is called first with the number of windows to come, when every input knows it
    (indexed FASTA, BED)."""
    if options.aggregate not in AGGREGATES:
        raise InputError(f"--aggregate must be one of {', '.join(AGGREGATES)}")
    refuse_overwriting_inputs(
        [options.output], [*options.inputs, options.reference, scorer.info.path]
    )
    window = scorer.info.window_length
    resolve_stride(window, options.stride)
    summary = PredictSummary()
    started = time.perf_counter()
    inputs = [open_records(path, _record_options(options, window)) for path in options.inputs]
    set_total = getattr(progress, "set_total", None)
    if set_total is not None and all(i.total is not None for i in inputs):
        set_total(sum(i.total or 0 for i in inputs))
    records = itertools.chain.from_iterable(opened.records for opened in inputs)
    size = options.group_windows
    if shards.enabled:  # units of about one forward batch, so every process gets a share
        size = min(size, max(int(getattr(scorer, "batch_size", 0) or size), 1))
    groups = _groups(records, size)
    first = next(groups, None)
    if first is None:
        raise InputError("no records in the input", path=options.inputs[0])
    has_labels = any(record.label is not None for record, _, _ in first)
    has_bed = any(detect_format(p, options.input_format) == "bed" for p in options.inputs)
    score = functools.partial(
        _score_group, scorer=scorer, options=options, progress=progress, has_labels=has_labels,
        has_bed=has_bed,
    )  # fmt: skip
    if shards.enabled:
        _predict_sharded(
            itertools.chain([first], groups), score, options, shards, summary, progress,
            _header(scorer, options, has_labels, has_bed),
        )  # fmt: skip
        summary.seconds = time.perf_counter() - started
        return summary
    with open_output(options.output) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(_header(scorer, options, has_labels, has_bed))
        tally: _Tally | None = None
        group: list[Piece] | None = first
        del first
        while group is not None:
            tally = score(group, tally, writer=writer, summary=summary)
            group = None  # drop the scored records before the next are read
            group = next(groups, None)
    summary.seconds = time.perf_counter() - started
    return summary


def _predict_sharded(
    groups: Iterator[list[Piece]],
    score: Callable[..., _Tally | None],
    options: PredictOptions,
    shards: Shards,
    summary: PredictSummary,
    progress: Callable[[int], None] | None,
    header: list[str],
) -> None:
    """Every process reads all records and scores the whole records of its units; process 0
    writes each round's rows in process order, which is input order (:mod:`dnaseq_cli.shards`)."""
    context = open_output(options.output) if shards.is_main else contextlib.nullcontext()
    with context as handle:
        if handle is not None:
            csv.writer(handle, delimiter="\t", lineterminator="\n").writerow(header)
        for round_units in shards.rounds(_units(groups)):
            payload = None
            for mine, unit in round_units:
                if not mine:
                    continue
                buffer = io.StringIO()
                writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
                part = PredictSummary()
                tally: _Tally | None = None
                for group in unit:
                    tally = score(group, tally, writer=writer, summary=part)
                payload = (buffer.getvalue(), part.records, part.windows, part.flagged)
            del round_units
            gathered = shards.gather(payload)
            if handle is None or gathered is None:
                continue
            for rank, item in enumerate(gathered):
                if item is None:
                    continue
                text, records, windows, flagged = item
                handle.write(text)
                summary.records += records
                summary.windows += windows
                for flag, n in flagged.items():
                    summary.flagged[flag] = summary.flagged.get(flag, 0) + n
                if progress is not None and rank != shards.rank:
                    progress(windows)
