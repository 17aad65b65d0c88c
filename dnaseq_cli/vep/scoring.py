"""Variant effect scores: ref and alt windows centred on each ALT, scored by one model.

For every ALT of a VCF (multi-allelic records split) the reference window and the alternate window
(same length, indels included; see :mod:`dnaseq_cli.windows.variants`) are scored with both strands
averaged. Scores: ``delta`` = P(alt) - P(ref) of the positive class, ``log_odds_ratio`` =
logit P(alt) - logit P(ref), and for models with an MLM head ``llr`` = sum over the changed bases of
log p(alt base) - log p(ref base) read from the reference window (substitutions only). A variant
that cannot be scored is still written, with its reason in ``status``:

``ok`` | ``ref_mismatch`` (REF differs from the reference; never scored) | ``unknown_contig`` |
``symbolic`` / ``breakend`` / ``spanning_deletion`` / ``missing_alt`` (ALT is not a sequence).

Reference windows are shared between the ALTs of one site, and variants are scored in chunks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.vcf import Variant, VariantStats, iter_variants
from dnaseq_cli.predict.model import WindowScorer, logit
from dnaseq_cli.windows.variants import VariantWindowPair, variant_windows

STATUS_OK = "ok"
STATUS_REF_MISMATCH = "ref_mismatch"
STATUS_UNKNOWN_CONTIG = "unknown_contig"


@dataclass
class VariantScore:
    """One output row: the variant as written in the VCF, its scores and its status."""

    variant: Variant
    status: str
    ref_score: float | None = None
    alt_score: float | None = None
    delta: float | None = None
    log_odds_ratio: float | None = None
    llr: float | None = None
    class_deltas: tuple[float, ...] = ()
    observed_ref: str | None = None


@dataclass
class VepSummary:
    variants: int = 0
    scored: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    renamed_contigs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    stats: VariantStats = field(default_factory=VariantStats)

    @property
    def variants_per_second(self) -> float:
        return self.variants / self.seconds if self.seconds > 0 else 0.0


class VariantEffectScorer:
    """Turns variants into :class:`VariantScore` rows with one :class:`WindowScorer`."""

    def __init__(
        self,
        scorer: WindowScorer,
        reference_path: Path,
        *,
        strict: bool = False,
        harmonise_chroms: bool = True,
    ) -> None:
        from dnaseq_cli.io.contigs import ContigMapper
        from dnaseq_cli.io.fasta import FastaReference

        self.scorer = scorer
        self.reference = FastaReference(reference_path)
        self.mapper = ContigMapper.from_reference(self.reference.contigs)
        self.strict = strict
        self.harmonise_chroms = harmonise_chroms
        self.renamed: dict[str, str] = {}

    @property
    def window(self) -> int:
        return self.scorer.info.window_length

    def _contig(self, variant: Variant, source: str) -> str | None:
        target = self.mapper.map(variant.chrom)
        if target is not None and target != variant.chrom:
            if not self.harmonise_chroms:
                raise InputError(
                    f"the VCF uses '{variant.chrom}' but the reference names it '{target}'; "
                    "drop --no-harmonise-chroms to map them",
                    path=source,
                    record=variant.name,
                )
            self.renamed[variant.chrom] = target
        if target is None and self.strict:
            raise InputError(
                f"chromosome '{variant.chrom}' is not in the reference", path=source,
                record=variant.name,
            )  # fmt: skip
        return target

    def score_chunk(self, variants: list[Variant], source: str) -> list[VariantScore]:
        """Scores of a chunk of variants, in input order (one batched model call)."""
        rows: list[VariantScore] = []
        # (row index, window pair, ref-window key, row of the alt window in ``sequences``)
        pending: list[tuple[int, VariantWindowPair, tuple[str, int, str], int]] = []
        ref_windows: dict[tuple, int] = {}
        sequences: list[str] = []
        masks: list[np.ndarray] = []
        for variant in variants:
            if variant.skip_reason is not None:
                rows.append(VariantScore(variant, variant.skip_reason))
                continue
            chrom = self._contig(variant, source)
            if chrom is None:
                rows.append(VariantScore(variant, STATUS_UNKNOWN_CONTIG))
                continue
            pair = variant_windows(
                self.reference, chrom, variant.pos, variant.ref, variant.alt, self.window,
                path=source, record=variant.name,
            )  # fmt: skip
            if not pair.ref_matches:
                if self.strict:
                    raise InputError(
                        f"REF {variant.ref} does not match the reference ({pair.observed_ref or '-'})"
                        " (--strict)",
                        path=source,
                        record=variant.name,
                    )
                rows.append(
                    VariantScore(variant, STATUS_REF_MISMATCH, observed_ref=pair.observed_ref)
                )
                continue
            key = (chrom, variant.pos, variant.ref)
            if key not in ref_windows:
                ref_windows[key] = len(sequences)
                sequences.append(pair.ref_seq)
                masks.append(pair.ref_mask)
            sequences.append(pair.alt_seq)
            masks.append(pair.alt_mask)
            pending.append((len(rows), pair, key, len(sequences) - 1))
            rows.append(VariantScore(variant, STATUS_OK))
        if not pending:
            return rows
        valid = np.stack(masks)
        info = self.scorer.info
        probs = self.scorer.score(sequences, valid) if info.has_classifier else None
        logp = None
        if self.scorer.lm is not None:
            ref_rows = sorted(ref_windows.values())
            index_of = {row: i for i, row in enumerate(ref_rows)}
            logp_all = self.scorer.log_probs([sequences[i] for i in ref_rows], valid[ref_rows])
            logp = (logp_all, index_of)
        for row_index, pair, key, alt_row in pending:
            result = rows[row_index]
            ref_row = ref_windows[key]
            if probs is not None:
                self._fill_classifier_scores(result, probs[ref_row], probs[alt_row])
            if logp is not None:
                result.llr = _substitution_llr(
                    logp[0][logp[1][ref_row]], pair.variant_offset, result.variant
                )
        return rows

    def _fill_classifier_scores(self, result: VariantScore, ref: np.ndarray, alt: np.ndarray):
        task = self.scorer.info.task
        if task == "regression":
            result.ref_score, result.alt_score = float(ref[0]), float(alt[0])
            result.delta = result.alt_score - result.ref_score
            return
        result.ref_score, result.alt_score = float(ref[-1]), float(alt[-1])
        result.delta = result.alt_score - result.ref_score
        result.log_odds_ratio = float(logit(alt[-1:])[0] - logit(ref[-1:])[0])
        if task == "multiclass":
            result.class_deltas = tuple(float(a - r) for a, r in zip(alt, ref, strict=True))


def _substitution_llr(logp: np.ndarray, offset: int, variant: Variant) -> float | None:
    """sum log p(alt) - log p(ref) over substituted bases (None for indels: no aligned bases)."""
    from dnaseq_cli.encode.tokens import encode_chars

    if len(variant.ref) != len(variant.alt):
        return None
    positions = np.arange(offset, offset + len(variant.ref))
    positions = positions[positions < logp.shape[0]]
    ref_ids = encode_chars(variant.ref)[: len(positions)]
    alt_ids = encode_chars(variant.alt)[: len(positions)]
    return float((logp[positions, alt_ids] - logp[positions, ref_ids]).sum())


def _chunks(variants: Iterator[Variant], size: int) -> Iterator[list[Variant]]:
    chunk: list[Variant] = []
    for variant in variants:
        chunk.append(variant)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def score_vcf(
    effect: VariantEffectScorer,
    vcf: str | Path,
    *,
    chunk_size: int = 1024,
    progress: Callable[[int], None] | None = None,
) -> Iterator[VariantScore | VepSummary]:
    """Yield a :class:`VariantScore` per ALT in file order, then the :class:`VepSummary`."""
    summary = VepSummary()
    started = time.perf_counter()
    source = str(vcf)
    variants = iter_variants(vcf, stats=summary.stats, include_skipped=True)
    for chunk in _chunks(variants, chunk_size):
        for row in effect.score_chunk(chunk, source):
            summary.variants += 1
            summary.statuses[row.status] = summary.statuses.get(row.status, 0) + 1
            summary.scored += row.status == STATUS_OK
            yield row
        if progress is not None:
            progress(len(chunk))
    summary.seconds = time.perf_counter() - started
    summary.renamed_contigs = dict(effect.renamed)
    yield summary
