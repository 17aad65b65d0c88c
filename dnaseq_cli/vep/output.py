"""Write variant scores: a TSV (one row per ALT), optionally an annotated, indexed VCF and the
``--skipped`` TSV of what was not scored.

The VCF is sites-only with one record per ALT (multi-allelic records split, as they were scored),
the input's meta lines kept, and the scores in ``DNASEQ_*`` INFO fields declared in the header. It
is bgzipped and tabix-indexed when the input is sorted. The skipped file lists every variant that
is not ``ok`` (``CHROM POS ID REF ALT status``), filtered ones included with their ``filtered_*``
reason. Every file goes through :mod:`dnaseq_cli.output` (checked against the inputs, atomic) and
appears only once complete.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path

from dnaseq_cli.errors import InputError
from dnaseq_cli.output import atomic_path, is_stream, open_output, refuse_overwriting_inputs
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

INFO_FIELDS = {
    "DNASEQ_REF": ("Float", "model score of the reference window (positive-class probability)"),
    "DNASEQ_ALT": ("Float", "model score of the alternate window (positive-class probability)"),
    "DNASEQ_DELTA": ("Float", "DNASEQ_ALT - DNASEQ_REF"),
    "DNASEQ_LOR": ("Float", "log-odds ratio logit(ALT score) - logit(REF score)"),
    "DNASEQ_LLR": ("Float", "MLM log-likelihood ratio log p(ALT) - log p(REF), substitutions"),
    "DNASEQ_STATUS": ("String", "ok, ref_mismatch, unknown_contig or why the ALT was skipped"),
    "DNASEQ_FLAGS": ("String", "quality flags of the scored windows, '|'-separated (n_rich, ...)"),
}
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


def _info_text(row: VariantScore) -> str:
    parts = []
    for key, value in (
        ("DNASEQ_REF", row.ref_score),
        ("DNASEQ_ALT", row.alt_score),
        ("DNASEQ_DELTA", row.delta),
        ("DNASEQ_LOR", row.log_odds_ratio),
        ("DNASEQ_LLR", row.llr),
    ):
        if value is not None:
            parts.append(f"{key}={value:.6g}")
    parts.append(f"DNASEQ_STATUS={row.status}")
    if row.flags:
        parts.append("DNASEQ_FLAGS=" + "|".join(row.flags))
    return ";".join(parts)


def _meta_lines(header_text: str | None, contigs: Iterable[tuple[str, int]]) -> list[str]:
    lines = [line for line in (header_text or "").splitlines() if line.startswith("##")]
    lines = [line for line in lines if not line.startswith("##INFO=<ID=DNASEQ_")]
    if not lines or not lines[0].startswith("##fileformat"):
        lines.insert(0, "##fileformat=VCFv4.2")
    if not any(line.startswith("##contig") for line in lines):
        lines += [f"##contig=<ID={name},length={length}>" for name, length in contigs]
    for key, (kind, text) in INFO_FIELDS.items():
        lines.append(f'##INFO=<ID={key},Number=A,Type={kind},Description="dnaseq: {text}">')
    lines.append("##dnaseq_command=" + shlex.join(sys.argv))
    return lines


def write_annotated_vcf(
    path: Path,
    rows: list[VariantScore],
    header_text: str | None,
    contigs: Iterable[tuple[str, int]],
) -> bool:
    """Write ``path`` (.vcf.gz: bgzip + tabix; otherwise plain text). Returns whether it was indexed."""
    import pysam

    lines = _meta_lines(header_text, contigs)
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    for row in rows:
        v = row.variant
        lines.append(
            f"{v.chrom}\t{v.pos}\t{v.id or '.'}\t{v.ref}\t{v.alt}\t.\t.\t{_info_text(row)}"
        )
    text = "\n".join(lines) + "\n"
    compressed = str(path).endswith((".gz", ".bgz"))
    if not compressed or is_stream(path):  # a device or pipe gets no index beside it
        with atomic_path(path) as tmp:
            if compressed:
                plain = Path(str(tmp) + ".vcf")
                plain.write_text(text)
                pysam.tabix_compress(str(plain), str(tmp), force=True)
            else:
                Path(tmp).write_text(text)
        return False
    index = Path(str(path) + ".tbi")
    with atomic_path(path) as tmp, atomic_path(index) as tmp_index:
        plain = Path(str(tmp) + ".vcf")
        plain.write_text(text)
        try:
            pysam.tabix_compress(str(plain), str(tmp), force=True)
        finally:
            plain.unlink(missing_ok=True)
        try:
            pysam.tabix_index(str(tmp), preset="vcf", force=True, index=str(tmp_index))
            indexed = True
        except (OSError, ValueError) as error:
            # Unsorted input: keep the bgzipped VCF and say why there is no index.
            Path(tmp_index).write_bytes(b"")
            indexed = False
            logger.warning(
                "%s: not indexed (%s); sort the input VCF (bcftools sort) to get a .tbi",
                path,
                error,
            )
    if not indexed:
        index.unlink(missing_ok=True)
    return indexed


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
) -> VepSummary:
    """Score a VCF and write the TSV (and annotated VCF, skipped TSV); files appear only when
    complete. A run whose every row is ``unknown_contig`` is an :class:`InputError` (wrong
    reference or naming); one that scores nothing for other reasons logs one warning line."""
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
    kept: list[VariantScore] = []
    summary = VepSummary()
    items = score_vcf(effect, vcf, progress=progress, fmt=fmt)
    first = next(items)  # the first record is read and checked before anything is written
    with ExitStack() as stack:
        handle = stack.enter_context(open_output(output))
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
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
            if output_vcf is not None:
                kept.append(item)
        if summary.variants and summary.statuses.get(STATUS_UNKNOWN_CONTIG) == summary.variants:
            raise InputError(
                nothing_scored_reason(summary, effect.reference.contigs)
                + ": is this the reference the VCF was called against?",
                path=vcf,
            )
        if output_vcf is not None:
            used = dict.fromkeys(row.variant.chrom for row in kept)
            lengths = effect.reference.lengths
            contigs = [
                (name, lengths[effect.mapper.map(name)])
                for name in used
                if effect.mapper.map(name) is not None
            ]
            write_annotated_vcf(output_vcf, kept, summary.stats.header, contigs)
        handle.flush()
    if summary.scored == 0:
        logger.warning("%s", nothing_scored_reason(summary, effect.reference.contigs))
    return summary
