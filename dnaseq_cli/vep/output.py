"""Write variant scores: a TSV (one row per ALT), optionally an annotated, indexed VCF and the
``--skipped`` TSV of what was not scored.

The VCF (:mod:`dnaseq_cli.vep.annotated_vcf`) is the input's records, one per ALT, with their
QUAL, FILTER and INFO and the scores in ``DNASEQ_*`` INFO fields, streamed. The skipped file lists
every variant that is not ``ok`` (``CHROM POS ID REF ALT status``), filtered ones included with their ``filtered_*``
reason. Every file goes through :mod:`dnaseq_cli.output` (checked against the inputs, atomic) and
appears only once complete.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from dnaseq_cli.errors import InputError
from dnaseq_cli.output import open_output, refuse_overwriting_inputs
from dnaseq_cli.shards import SINGLE, Shards
from dnaseq_cli.vep.annotated_vcf import AnnotatedVcf
from dnaseq_cli.vep.scoring import (
    STATUS_OK,
    STATUS_UNKNOWN_CONTIG,
    VariantEffectScorer,
    VariantScore,
    VepSummary,
    nothing_scored_reason,
    score_vcf,
)

logger = logging.getLogger(__name__)

#: Columns after the scores: the quality columns of ``predict``, then the status.
QUALITY_COLUMNS = ["n_fraction", "padding", "flags", "status"]
SKIPPED_HEADER = ["CHROM", "POS", "ID", "REF", "ALT", "status"]


def tsv_header(task: str, classes: tuple[str, ...], with_llr: bool, with_scores: bool) -> list[str]:
    head = ["CHROM", "POS", "ID", "REF", "ALT"]
    if with_scores:
        head += ["ref_score", "alt_score", "delta"]
        if task != "regression":
            head.append("log_odds_ratio")
        if task == "multiclass":
            head += [f"delta_{c}" for c in classes]
    if with_llr:
        head.append("llr")
    return head + QUALITY_COLUMNS


def _fmt(value: float | None) -> str:
    return "." if value is None else f"{value:.6g}"


def tsv_row(row: VariantScore, header: list[str]) -> list[str]:
    v = row.variant
    values = {
        "CHROM": v.chrom,
        "POS": str(v.pos),
        "ID": v.id or ".",
        "REF": v.ref,
        "ALT": v.alt,
        "ref_score": _fmt(row.ref_score),
        "alt_score": _fmt(row.alt_score),
        "delta": _fmt(row.delta),
        "log_odds_ratio": _fmt(row.log_odds_ratio),
        "llr": _fmt(row.llr),
        "n_fraction": "." if row.n_fraction is None else f"{row.n_fraction:.4g}",
        "padding": "." if row.padding is None else str(row.padding),
        "flags": ",".join(row.flags) or ".",
        "status": row.status,
    }
    for name, delta in zip(
        (h for h in header if h.startswith("delta_")), row.class_deltas, strict=False
    ):
        values[name] = _fmt(delta)
    return [values.get(name, ".") for name in header]


def _refuse_shared_outputs(outputs: dict[str, str | Path | None]) -> None:
    """Two outputs on one file (or both on stdout) would interleave or overwrite each other."""
    seen: dict[str, str] = {}
    for option, target in outputs.items():
        if target is None:
            continue
        key = "-" if str(target) == "-" else os.path.realpath(target)
        if key in seen:
            where = "stdout" if key == "-" else str(target)
            raise InputError(f"{seen[key]} and {option} both write to {where}; give them two files")
        seen[key] = option


def run_vep(
    effect: VariantEffectScorer,
    vcf: str | Path,
    output: str = "-",
    output_vcf: Path | None = None,
    *,
    skipped: str | Path | None = None,
    fmt: str = "auto",
    progress: Callable[[int], None] | None = None,
    shards: Shards = SINGLE,
) -> VepSummary:
    """Score a VCF and write the TSV (and annotated VCF, skipped TSV); files appear only when
    complete (under torchrun, process 0 writes them). A run whose every row is
    ``unknown_contig`` is an :class:`InputError` (wrong reference or naming); one that scores
    nothing for other reasons logs one warning line."""
    info = effect.scorer.info
    header = tsv_header(
        info.task, info.classes, with_llr=effect.scorer.lm is not None,
        with_scores=info.has_classifier,
    )  # fmt: skip
    index = None if output_vcf is None else Path(str(output_vcf) + ".tbi")
    _refuse_shared_outputs({"--output": output, "--output-vcf": output_vcf, "--skipped": skipped})
    regions = None if effect.regions is None else effect.regions.path
    refuse_overwriting_inputs(
        [output, output_vcf, index, skipped],
        [vcf, effect.reference.path, effect.scorer.info.path, regions],
    )
    summary = VepSummary()
    items = score_vcf(effect, vcf, progress=progress, fmt=fmt, shards=shards)
    if not shards.is_main:  # it scores its share; process 0 writes every file
        for item in items:
            if isinstance(item, VepSummary):
                summary = item
        return summary
    first = next(items)  # the first record is read and checked before anything is written
    with ExitStack() as stack:
        handle = stack.enter_context(open_output(output))
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        annotated = None if output_vcf is None else stack.enter_context(AnnotatedVcf(output_vcf))
        skipped_writer = None
        if skipped is not None:
            skipped_handle = stack.enter_context(open_output(skipped))
            skipped_writer = csv.writer(skipped_handle, delimiter="\t", lineterminator="\n")
            skipped_writer.writerow(SKIPPED_HEADER)
        for item in itertools.chain([first], items):
            if isinstance(item, VepSummary):
                summary = item
                continue
            if skipped_writer is not None and item.status != STATUS_OK:
                v = item.variant
                skipped_writer.writerow([v.chrom, v.pos, v.id or ".", v.ref, v.alt, item.status])
            if item.filtered:
                continue
            writer.writerow(tsv_row(item, header))
            if annotated is not None:
                annotated.add(item)
        if summary.variants and summary.statuses.get(STATUS_UNKNOWN_CONTIG) == summary.variants:
            raise InputError(
                nothing_scored_reason(summary, effect.reference.contigs)
                + ": is this the reference the VCF was called against?",
                path=vcf,
            )
        if annotated is not None:
            annotated.finish(summary.stats.header, effect.contig_length)
        handle.flush()
    if summary.scored == 0:
        logger.warning("%s", nothing_scored_reason(summary, effect.reference.contigs))
    return summary
