"""``dnaseq explain``: inputs as ``predict`` reads them, one explained window per record, the outputs.

A record that fits the model window is explained on the window ``predict`` scores (FASTA/table:
padded; BED: centred with genomic flanks). A longer record needs ``--per-window`` (every tile
``predict`` scores) or ``--region START-END`` (the window centred on that part of the record, rows
for the region only). Outputs: a long TSV (one row per position: the ISM delta of each base and the
attribution), an optional ``.npz`` with the arrays, motif hits (TSV, BED), and one PNG per window.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnaseq_cli.data.inputs import SequenceWindow, detect_format
from dnaseq_cli.errors import InputError
from dnaseq_cli.explain.gradients import METHODS as GRADIENT_METHODS
from dnaseq_cli.explain.ism import BASES, IsmResult, ism_windows, target_column
from dnaseq_cli.output import (
    check_folder_output,
    open_output,
    output_directory,
    refuse_overwriting_inputs,
)
from dnaseq_cli.predict.model import WindowScorer
from dnaseq_cli.predict.sequences import PredictOptions, predict_records

METHODS = ("ism", *GRADIENT_METHODS)


@dataclass
class ExplainOptions:
    """Inputs, method and outputs of one ``dnaseq explain`` run."""

    inputs: list[Path]
    output: str = "-"
    method: str = "ism"
    reference: Path | None = None
    input_format: str = "auto"
    sequence_column: str | None = None
    name_column: str | None = None
    per_window: bool = False
    region: str | None = None
    stride: int | None = None
    target: str | None = None
    ig_steps: int = 32
    ig_baselines: int = 8
    gradient_correction: bool = True
    no_ism: bool = False
    npz: str | None = None
    plot_dir: Path | None = None
    motif_hits: str | None = None
    motif_bed: str | None = None
    motif_pvalue: float = 1e-4
    top_fraction: float = 0.1
    force: bool = False
    harmonise_chroms: bool = False


@dataclass
class Explained:
    """One explained window: where it lies, its ISM and its attributions."""

    record: str
    window: SequenceWindow
    positions: np.ndarray  # coordinate of each reported row (1-based)
    rows: np.ndarray  # window indices of the reported rows
    ism: IsmResult | None
    attribution: np.ndarray  # [L] over the whole window
    chrom: str | None = None
    hits: list = field(default_factory=list)


@dataclass
class ExplainSummary:
    windows: int = 0
    rows: int = 0
    mutants: int = 0
    hits: int = 0
    seconds: float = 0.0


def parse_region(text: str) -> tuple[int, int]:
    """``START-END`` (1-based, inclusive) -> 0-based half-open ``(start, end)``."""
    match = re.fullmatch(r"\s*(\d[\d,]*)\s*-\s*(\d[\d,]*)\s*", text)
    if match is None:
        raise InputError(f"--region must be START-END (1-based, inclusive), got {text!r}")
    start, end = (int(g.replace(",", "")) for g in match.groups())
    if start < 1 or end < start:
        raise InputError(f"--region {text}: need 1 <= START <= END")
    return start - 1, end


def _full_sequence(windows: list[SequenceWindow], length: int) -> str:
    """A tiled record's sequence again, from its tiles (they cover it from first to last base)."""
    chars = ["N"] * length
    for w in windows:
        chars[w.start : w.end] = w.sequence
    return "".join(chars)


def _windows_to_explain(record, window: int, options: ExplainOptions) -> Iterator[Explained]:
    """The windows of one record and which of their rows are reported."""
    is_bed = record.windows[0].chrom is not None
    if options.region is not None:
        if is_bed:
            raise InputError(
                "--region is for FASTA/table records; for BED give the region as a line"
            )
        start, end = parse_region(options.region)
        if end > record.length:
            raise InputError(
                f"--region {options.region} runs past the record's end ({record.length} bp)",
                record=record.name,
            )
        if end - start > window:
            raise InputError(f"--region is {end - start} bp, more than the {window}-bp window")
        if record.length <= window:
            w = record.windows[0]
            offset = 0
        else:
            sequence = _full_sequence(record.windows, record.length)
            offset = min(max((start + end) // 2 - window // 2, 0), record.length - window)
            w = SequenceWindow(
                name=f"{record.name}:{offset + 1}-{offset + window}",
                sequence=sequence[offset : offset + window],
                valid=np.ones(window, dtype=bool),
                label=None,
                start=offset,
                end=offset + window,
                source_length=record.length,
            )
        rows = np.arange(start - offset, end - offset)
        yield Explained(record.name, w, rows + offset + 1, rows, None, np.zeros(0))
        return
    if len(record.windows) > 1 and not options.per_window:
        raise InputError(
            f"the record is {record.length:,} bp, longer than the model's {window}-bp window: "
            "give --per-window (every tile) or --region START-END",
            record=record.name,
        )
    for w in record.windows:
        rows = np.flatnonzero(w.valid)
        base = w.start if w.start is not None else 0
        yield Explained(record.name, w, rows + base + 1, rows, None, np.zeros(0), chrom=w.chrom)


def _groups(items: Iterator[Explained], size: int) -> Iterator[list[Explained]]:
    group: list[Explained] = []
    for item in items:
        group.append(item)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


def _header(has_bed: bool, per_window: bool) -> list[str]:
    head = ["chrom"] if has_bed else []
    head += ["name"] + (["window"] if per_window else [])
    return head + ["pos", "ref", *BASES, "attribution"]


def _fmt(value: float) -> str:
    return "." if not np.isfinite(value) else f"{value:.6g}"


def _rows(item: Explained, has_bed: bool, per_window: bool) -> Iterator[list[str]]:
    sequence = item.window.sequence
    for row, pos in zip(item.rows, item.positions, strict=True):
        out = [item.chrom or "."] if has_bed else []
        out += [item.record] + ([item.window.name] if per_window else [])
        out += [str(int(pos)), sequence[row].upper()]
        if item.ism is None:
            out += ["."] * 4
        else:
            out += [_fmt(v) for v in item.ism.delta[row]]
        out.append(_fmt(item.attribution[row]))
        yield out


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120] or "record"


def explain(
    scorer: WindowScorer,
    options: ExplainOptions,
    *,
    progress: Callable[[int], None] | None = None,
) -> ExplainSummary:
    """Explain every input record and write the outputs (each one atomically)."""
    if options.method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}, got {options.method!r}")
    if scorer.classifier is None:
        raise InputError(
            "the model has no classification head; explain needs one", path=scorer.info.path
        )
    inputs = [*options.inputs, options.reference, scorer.info.path]
    outputs = [options.output, options.npz, options.motif_hits, options.motif_bed]
    refuse_overwriting_inputs(outputs, inputs)
    if options.plot_dir is not None:
        check_folder_output(options.plot_dir, force=options.force, inputs=inputs)
    column = target_column(scorer, options.target)
    explainer = None
    if options.method != "ism":
        from dnaseq_cli.explain.gradients import GradientExplainer

        explainer = GradientExplainer(
            scorer.classifier, scorer.info.model_encoding, scorer.info.task, column,
            path=scorer.info.path,
        )  # fmt: skip
    scanner = None
    if options.motif_hits or options.motif_bed or options.plot_dir:
        from dnaseq_cli.explain.motifs import MotifScanner

        scanner = MotifScanner.bundled()
    window = scorer.info.window_length
    predict_options = PredictOptions(
        inputs=options.inputs,
        reference=options.reference,
        input_format=options.input_format,
        sequence_column=options.sequence_column,
        name_column=options.name_column,
        stride=options.stride,
        harmonise_chroms=options.harmonise_chroms,
    )
    has_bed = any(detect_format(p, options.input_format) == "bed" for p in options.inputs)
    summary = ExplainSummary()
    started = time.perf_counter()
    explained: list[Explained] = []
    items = (
        item
        for record in predict_records(predict_options, window)
        for item in _windows_to_explain(record, window, options)
    )
    with open_output(options.output) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(_header(has_bed, options.per_window))
        for group in _groups(items, max(1, 4096 // (3 * window + 1))):
            ids = scorer.encode(
                [g.window.sequence for g in group], np.stack([g.window.valid for g in group])
            )
            if not options.no_ism:
                results = ism_windows(scorer, ids, [g.rows for g in group], column)
                for item, result in zip(group, results, strict=True):
                    item.ism = result
                    summary.mutants += 3 * int(np.isfinite(result.delta).all(1).sum())
            for i, item in enumerate(group):
                if explainer is not None:
                    item.attribution, _ = explainer.attribute(
                        ids[i],
                        options.method,
                        options.ig_steps,
                        options.ig_baselines,
                        correct=options.gradient_correction,
                    )
                elif item.ism is not None:
                    item.attribution = item.ism.attribution
                else:
                    item.attribution = np.full(window, np.nan)
                if scanner is not None:
                    item.hits = scanner.hits_near_attribution(
                        item.window.sequence, item.attribution, item.rows,
                        pvalue=options.motif_pvalue, top_fraction=options.top_fraction,
                    )  # fmt: skip
                    summary.hits += len(item.hits)
                writer.writerows(_rows(item, has_bed, options.per_window))
                summary.rows += len(item.rows)
            summary.windows += len(group)
            explained += group
            if progress is not None:
                progress(len(group))
    if summary.windows == 0:
        raise InputError("no records in the input", path=options.inputs[0])
    if options.npz:
        _write_npz(options.npz, explained, options)
    if options.motif_hits or options.motif_bed:
        from dnaseq_cli.explain.motifs import write_hits

        write_hits(explained, options.motif_hits, options.motif_bed)
    if options.plot_dir is not None:
        _write_plots(explained, options.plot_dir, options, inputs)
    summary.seconds = time.perf_counter() - started
    return summary


def _coordinates(item: Explained) -> np.ndarray:
    """1-based coordinate of every window position (-1 where padded)."""
    w = item.window
    base = w.start if w.start is not None else 0
    out = np.arange(len(w.sequence)) + base + 1
    out[~w.valid] = -1
    return out


def _write_npz(target: str, explained: list[Explained], options: ExplainOptions) -> None:
    length = len(explained[0].window.sequence)
    nan = np.full((length, 4), np.nan)
    arrays = {
        "name": np.array([e.record for e in explained]),
        "window": np.array([e.window.name for e in explained]),
        "chrom": np.array([e.chrom or "" for e in explained]),
        "sequence": np.array([e.window.sequence for e in explained]),
        "position": np.stack([_coordinates(e) for e in explained]),
        "reported": np.stack([np.isin(np.arange(length), e.rows) for e in explained]),
        "ism_delta": np.stack([nan if e.ism is None else e.ism.delta for e in explained]),
        "ism_log_odds": np.stack([nan if e.ism is None else e.ism.log_odds for e in explained]),
        "reference_score": np.array(
            [np.nan if e.ism is None else e.ism.reference for e in explained]
        ),
        "attribution": np.stack([e.attribution for e in explained]),
        "method": np.array(options.method),
        "ig_steps": np.array(options.ig_steps),
        "ig_baselines": np.array(options.ig_baselines),
        "gradient_correction": np.array(options.gradient_correction),
    }
    with open_output(target, binary=True) as handle:
        np.savez_compressed(handle, allow_pickle=True, **arrays)


def _write_plots(
    explained: list[Explained], plot_dir: Path, options: ExplainOptions, inputs: list
) -> None:
    from dnaseq_cli.explain.plots import plot_window

    used: dict[str, int] = {}
    with output_directory(plot_dir, force=options.force, inputs=inputs) as folder:
        for item in explained:
            stem = _safe_name(item.window.name if options.per_window else item.record)
            used[stem] = used.get(stem, 0) + 1
            if used[stem] > 1:
                stem = f"{stem}_{used[stem]}"
            rows = item.rows
            offset = int(item.positions[0] - rows[0]) if len(rows) else 1
            hits = [
                (h.start + offset, h.end + offset - 1, h.motif_name, h.strand) for h in item.hits
            ]
            plot_window(
                folder / f"{stem}.png",
                title=f"{item.window.name} ({options.method})",
                positions=item.positions,
                sequence="".join(item.window.sequence[r] for r in rows).upper(),
                delta=None if item.ism is None else item.ism.delta[rows],
                attribution=item.attribution[rows],
                method=options.method,
                hits=hits,
                xlabel=f"{item.chrom} position" if item.chrom else "position in record",
            )


__all__ = ["METHODS", "ExplainOptions", "ExplainSummary", "explain", "parse_region"]
