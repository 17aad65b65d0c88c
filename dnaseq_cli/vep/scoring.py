"""Variant effect scores: ref and alt windows centred on each ALT, scored by one model.

For every ALT of a VCF (multi-allelic records split) the reference window and the alternate window
(same length, indels included; see :mod:`dnaseq_cli.windows.variants`) are scored with both strands
averaged. Scores: ``delta`` = P(alt) - P(ref) of the positive class, ``log_odds_ratio`` =
logit P(alt) - logit P(ref), and for models with an MLM head the zero-shot ``llr`` = sum over the
changed bases of log p(alt base) - log p(ref base), read at those positions of the reference window
with them replaced by [MASK] (as GPN and the Caduceus paper score variants; both strands averaged
for PH models; substitutions only, one extra batched forward per site).

No record stops a run: a variant that cannot be scored is still written, with its reason in
``status`` (``--strict`` turns the first such row into an error instead):

``ok`` | ``ref_mismatch`` (REF differs from the reference; never scored) | ``unknown_contig`` |
``out_of_range`` (POS is not on the contig) | ``ref_off_contig`` (REF runs past the contig end) |
``invalid_allele`` (REF or ALT is not A/C/G/T/N: ``.``, ``-``, IUPAC ``R``) | ``symbolic`` /
``breakend`` / ``spanning_deletion`` / ``missing_alt`` (ALT is not a sequence).

Variants dropped by a filter (``--regions``, ``--snvs-only``, ``--max-indel-length``) are not rows;
they come back with ``filtered`` set and a ``filtered_*`` status, for the ``--skipped`` file and the
summary counts. Scored rows carry the quality columns of ``predict``: ``n_fraction`` of the
reference window's real bases that are not A/C/G/T, ``padding`` bases, and ``flags`` (see
``FLAGS``). Reference windows are shared between the ALTs of one site, and variants are scored in
chunks; the per-variant bookkeeping is a few set/dict operations, not per-base Python.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.sequence_utils import read_u_as_t
from dnaseq_cli.io.vcf import Variant, VariantStats, iter_variants
from dnaseq_cli.predict.model import WindowScorer, logit
from dnaseq_cli.predict.sequences import FLAG_EDGE, FLAG_N_RICH
from dnaseq_cli.shards import SINGLE, Shards
from dnaseq_cli.windows.variants import VariantWindowPair, variant_windows

logger = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_REF_MISMATCH = "ref_mismatch"
STATUS_UNKNOWN_CONTIG = "unknown_contig"
STATUS_OUT_OF_RANGE = "out_of_range"
STATUS_REF_OFF_CONTIG = "ref_off_contig"
STATUS_INVALID_ALLELE = "invalid_allele"
#: Why a variant was filtered out (not a row; written to --skipped).
FILTERED_REGION = "filtered_region"
FILTERED_NOT_SNV = "filtered_not_snv"
FILTERED_INDEL_LENGTH = "filtered_indel_length"

#: ``flags`` column values, in the order they are written.
FLAG_INDEL_TRUNCATED = "indel_truncated"  # REF or ALT longer than the window's right half
FLAG_REF_EQ_ALT = "ref_eq_alt"  # ALT is REF: the two windows are one
FLAG_N_ALLELE = "n_allele"  # REF or ALT holds N: the model sees an unknown base there
FLAG_DUPLICATE = "duplicate"  # same CHROM POS REF ALT as an earlier record of the file
FLAGS = (
    FLAG_N_RICH,
    FLAG_EDGE,
    FLAG_INDEL_TRUNCATED,
    FLAG_REF_EQ_ALT,
    FLAG_N_ALLELE,
    FLAG_DUPLICATE,
)
_KNOWN_BASES = b"ACGTacgt"


@dataclass
class VariantScore:
    """One output row: the variant as written in the VCF, its scores, quality and status."""

    variant: Variant
    status: str
    ref_score: float | None = None
    alt_score: float | None = None
    delta: float | None = None
    log_odds_ratio: float | None = None
    llr: float | None = None
    class_deltas: tuple[float, ...] = ()
    observed_ref: str | None = None
    n_fraction: float | None = None
    padding: int | None = None
    flags: tuple[str, ...] = ()
    #: Dropped by a filter: not an output row, only a --skipped line and a count.
    filtered: bool = False


@dataclass
class VepSummary:
    """Counts of one run: rows by status, filtered variants by reason, flags, unknown contigs."""

    variants: int = 0
    scored: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    filtered: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    unknown_contigs: dict[str, int] = field(default_factory=dict)
    renamed_contigs: dict[str, str] = field(default_factory=dict)
    u_bases: int = 0
    u_variants: int = 0
    seconds: float = 0.0
    stats: VariantStats = field(default_factory=VariantStats)

    @property
    def variants_per_second(self) -> float:
        return self.variants / self.seconds if self.seconds > 0 else 0.0


class RegionFilter:
    """BED intervals (merged per chromosome) that a variant's REF bases must overlap to be kept.

    Chromosome names are mapped onto the reference's (``1`` -> ``chr1``) on both sides, so a BED
    and a VCF that name chromosomes differently still meet.
    """

    def __init__(self, path: str | Path, mapper: Callable[[str], str | None]) -> None:
        from dnaseq_cli.io.bed import iter_bed

        spans: dict[str, list[tuple[int, int]]] = {}
        for record in iter_bed(path):
            interval = record.interval
            if interval.end > interval.start:
                chrom = mapper(interval.chrom) or interval.chrom
                spans.setdefault(chrom, []).append((interval.start, interval.end))
        if not spans:
            raise InputError("--regions: the BED has no non-empty interval", path=path)
        self.path = path
        self.intervals = sum(len(v) for v in spans.values())
        self._index: dict[str, tuple[list[int], list[int]]] = {}
        for chrom, items in spans.items():
            starts: list[int] = []
            ends: list[int] = []
            for start, end in sorted(items):
                if ends and start <= ends[-1]:
                    ends[-1] = max(ends[-1], end)
                else:
                    starts.append(start)
                    ends.append(end)
            self._index[chrom] = (starts, ends)

    def overlaps(self, chrom: str, start0: int, end0: int) -> bool:
        """Whether ``[start0, end0)`` on the (reference-named) ``chrom`` meets an interval."""
        entry = self._index.get(chrom)
        if entry is None:
            return False
        starts, ends = entry
        i = bisect.bisect_left(starts, max(end0, start0 + 1)) - 1
        return i >= 0 and ends[i] > start0


class _UAsT:
    """The reference as the windows see it: ``U`` read as ``T`` (counted), all else as stored."""

    def __init__(self, reference: object) -> None:
        self._reference = reference
        self.lengths: Mapping[str, int] = reference.lengths  # type: ignore[attr-defined]
        self.fetches = 0  # fetches that held a U

    def fetch(self, chrom: str, start: int, end: int) -> str:
        seq, count = read_u_as_t(self._reference.fetch(chrom, start, end))  # type: ignore[attr-defined]
        if count:
            self.fetches += 1
        return seq


def _unknown_bases(seq: str) -> int:
    """Bases other than A/C/G/T in either case (N, IUPAC codes, padding): the count_unknown rule
    of predict, as one C-speed ``bytes.translate`` (U is already read as T here)."""
    return len(seq.encode("ascii", "replace").translate(None, _KNOWN_BASES))


class VariantEffectScorer:
    """Turns variants into :class:`VariantScore` rows with one :class:`WindowScorer`."""

    def __init__(
        self,
        scorer: WindowScorer,
        reference_path: Path,
        *,
        strict: bool = False,
        harmonise_chroms: bool = True,
        max_n_fraction: float = 0.5,
        regions: str | Path | None = None,
        snvs_only: bool = False,
        max_indel_length: int | None = None,
    ) -> None:
        from dnaseq_cli.io.contigs import ContigMapper
        from dnaseq_cli.io.fasta import FastaReference

        self.scorer = scorer
        self.reference = FastaReference(reference_path)
        self.source = _UAsT(self.reference)
        self.mapper = ContigMapper.from_reference(self.reference.contigs)
        self.strict = strict
        self.harmonise_chroms = harmonise_chroms
        self.max_n_fraction = max_n_fraction
        self.snvs_only = snvs_only
        self.max_indel_length = max_indel_length
        self.regions = None if regions is None else RegionFilter(regions, self.mapper.map)
        self.renamed: dict[str, str] = {}
        self.reset()

    def contig_length(self, vcf_name: str) -> int | None:
        """Length of the reference contig a VCF contig name maps to (None when it maps to none)."""
        name = self.mapper.map(vcf_name)
        return None if name is None else self.reference.lengths[name]

    def reset(self) -> None:
        """Forget what the previous file showed (duplicates, unknown contigs, U counts)."""
        self._seen: set[int] = set()
        self.unknown_contigs: dict[str, int] = {}
        self.u_bases = 0
        self.u_variants = 0

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
        return target

    @property
    def filtering(self) -> bool:
        """Whether any of --regions, --snvs-only, --max-indel-length is set."""
        return self.regions is not None or self.snvs_only or self.max_indel_length is not None

    def _filter(self, variant: Variant) -> str | None:
        """The ``filtered_*`` reason that drops this variant, or None to keep it."""
        if self.regions is not None:
            chrom = self.mapper.map(variant.chrom) or variant.chrom
            if not self.regions.overlaps(chrom, variant.start0, variant.end0):
                return FILTERED_REGION
        if variant.skip_reason is not None:
            return None  # not a sequence: its own status says more than a type filter would
        if self.snvs_only and not variant.is_snv:
            return FILTERED_NOT_SNV
        if (
            self.max_indel_length is not None
            and abs(len(variant.ref) - len(variant.alt)) > self.max_indel_length
        ):
            return FILTERED_INDEL_LENGTH
        return None

    def note_chunk(self, variants: list[Variant]) -> None:
        """Remember a chunk another process scores (sharded runs), so that this process flags a
        later ``duplicate`` of one of its variants exactly as a single process would."""
        for variant in variants:
            if not (self.filtering and self._filter(variant) is not None):
                _seen_before(self._seen, variant)

    def score_chunk(
        self, variants: list[Variant], source: str, stats: VariantStats | None = None
    ) -> list[VariantScore]:
        """Scores of a chunk of variants, in input order (one batched model call)."""
        rows: list[VariantScore] = []
        # (row index, window pair, ref-window key, row of the alt window in ``sequences``)
        pending: list[tuple[int, VariantWindowPair, tuple[str, int, str], int]] = []
        ref_windows: dict[tuple, int] = {}
        sequences: list[str] = []
        masks: list[np.ndarray] = []
        lengths = self.reference.lengths
        window = self.window
        seen = self._seen
        for variant in variants:
            if self.filtering:
                reason = self._filter(variant)
                if reason is not None:
                    rows.append(VariantScore(variant, reason, filtered=True))
                    continue
            ref, alt = variant.ref, variant.alt
            allele_flags: list[str] = []
            if variant.skip_reason is None:
                if ref == alt:
                    allele_flags.append(FLAG_REF_EQ_ALT)
                if "N" in ref or "N" in alt:
                    allele_flags.append(FLAG_N_ALLELE)
            if _seen_before(seen, variant):
                allele_flags.append(FLAG_DUPLICATE)
            if variant.skip_reason is not None:
                rows.append(VariantScore(variant, variant.skip_reason, flags=tuple(allele_flags)))
                continue
            chrom = self._contig(variant, source)
            if chrom is None:
                self.unknown_contigs[variant.chrom] = self.unknown_contigs.get(variant.chrom, 0) + 1
                rows.append(VariantScore(variant, STATUS_UNKNOWN_CONTIG, flags=tuple(allele_flags)))
                continue
            size = lengths[chrom]
            if not 1 <= variant.pos <= size:
                rows.append(VariantScore(variant, STATUS_OUT_OF_RANGE, flags=tuple(allele_flags)))
                continue
            if variant.pos - 1 + len(ref) > size:
                rows.append(VariantScore(variant, STATUS_REF_OFF_CONTIG, flags=tuple(allele_flags)))
                continue
            u_before = self.source.fetches
            pair = variant_windows(
                self.source, chrom, variant.pos, ref, alt, window,
                path=source, record=variant.name,
            )  # fmt: skip
            if self.source.fetches != u_before:
                self._count_u(chrom, pair.start, size)
            if not pair.ref_matches:
                rows.append(
                    VariantScore(
                        variant, STATUS_REF_MISMATCH, observed_ref=pair.observed_ref,
                        flags=tuple(allele_flags),
                    )
                )  # fmt: skip
                continue
            real = window - pair.ref_padding
            unknown = _unknown_bases(pair.ref_seq) - pair.ref_padding  # padding is N
            n_fraction = unknown / real if real > 0 else 1.0
            padding = max(pair.ref_padding, pair.alt_padding)
            flags: list[str] = []
            if n_fraction > self.max_n_fraction:
                flags.append(FLAG_N_RICH)
            if padding:
                flags.append(FLAG_EDGE)
            if pair.truncated:
                flags.append(FLAG_INDEL_TRUNCATED)
            key = (chrom, variant.pos, ref)
            if key not in ref_windows:
                ref_windows[key] = len(sequences)
                sequences.append(pair.ref_seq)
                masks.append(pair.ref_mask)
            if ref == alt:
                alt_row = ref_windows[key]  # the same window: delta exactly 0, one window fewer
            else:
                sequences.append(pair.alt_seq)
                masks.append(pair.alt_mask)
                alt_row = len(sequences) - 1
            pending.append((len(rows), pair, key, alt_row))
            rows.append(
                VariantScore(
                    variant, STATUS_OK, n_fraction=n_fraction, padding=padding,
                    flags=(*flags, *allele_flags),
                )
            )  # fmt: skip
        if self.strict and len(pending) != len(rows):
            for row in rows:
                if row.status != STATUS_OK and not row.filtered:
                    raise self._strict_error(row, source, stats)
        if not pending:
            return rows
        self._score_pending(rows, pending, ref_windows, sequences, masks)
        return rows

    def _score_pending(
        self,
        rows: list[VariantScore],
        pending: list[tuple[int, VariantWindowPair, tuple[str, int, str], int]],
        ref_windows: dict[tuple, int],
        sequences: list[str],
        masks: list[np.ndarray],
    ) -> None:
        valid = np.stack(masks)
        info = self.scorer.info
        probs = self.scorer.score(sequences, valid) if info.has_classifier else None
        masked = self._masked_log_probs(rows, pending, ref_windows, sequences, valid)
        for row_index, pair, key, alt_row in pending:
            result = rows[row_index]
            ref_row = ref_windows[key]
            if probs is not None:
                self._fill_classifier_scores(result, probs[ref_row], probs[alt_row])
            site = (ref_row, pair.variant_offset, len(result.variant.ref))
            if site in masked:
                result.llr = _masked_llr(masked[site], result.variant)

    def _masked_log_probs(
        self,
        rows: list[VariantScore],
        pending: list[tuple[int, VariantWindowPair, tuple[str, int, str], int]],
        ref_windows: dict[tuple, int],
        sequences: list[str],
        valid: np.ndarray,
    ) -> dict[tuple[int, int, int], np.ndarray]:
        """Log-probs at the masked REF bases of each substitution site (shared by its ALTs),
        one batched forward of the masked reference windows: ``{(window, offset, length): [n, V]}``."""
        if self.scorer.lm is None:
            return {}
        sites: dict[tuple[int, int, int], np.ndarray] = {}
        for row_index, pair, key, _ in pending:
            variant = rows[row_index].variant
            if len(variant.ref) != len(variant.alt):
                continue  # an indel has no aligned bases to compare
            start = pair.variant_offset
            where = np.arange(start, min(start + len(variant.ref), self.window))
            if len(where):
                sites.setdefault((ref_windows[key], start, len(variant.ref)), where)
        if not sites:
            return {}
        keys = list(sites)
        logp = self.scorer.masked_log_probs(
            [sequences[k[0]] for k in keys], valid[[k[0] for k in keys]], [sites[k] for k in keys]
        )
        return dict(zip(keys, logp, strict=True))

    def _count_u(self, chrom: str, start: int, size: int) -> None:
        """Count the U of a reference window (rare: only windows that held one get here)."""
        lo, hi = max(start, 0), min(start + self.window, size)
        self.u_bases += read_u_as_t(self.reference.fetch(chrom, lo, hi))[1]
        self.u_variants += 1

    def _strict_error(
        self, row: VariantScore, source: str, stats: VariantStats | None
    ) -> InputError:
        """The --strict error for the first row that was not scored: file, line, record, why."""
        v = row.variant
        chrom = self.mapper.map(v.chrom)
        size = None if chrom is None else self.reference.lengths[chrom]
        details = {
            STATUS_REF_MISMATCH: f"REF {v.ref} does not match the reference "
            f"({row.observed_ref or '-'})",
            STATUS_UNKNOWN_CONTIG: f"chromosome '{v.chrom}' is not in the reference (it has "
            f"{_names(self.reference.contigs)})",
            STATUS_OUT_OF_RANGE: f"position {v.pos:,} is outside {chrom} (length {size or 0:,})",
            STATUS_REF_OFF_CONTIG: f"REF ({len(v.ref):,} bp) runs past the end of {chrom} "
            f"({size or 0:,} bp)",
            STATUS_INVALID_ALLELE: f"REF {v.ref!r} / ALT {v.alt!r}: an allele is not a sequence "
            "of A, C, G, T, N",
        }
        detail = details.get(row.status, f"ALT {v.alt!r} is not a sequence")
        line = None if stats is None else stats.line_of(v)
        return InputError(
            f"{row.status} (record {v.record_number:,}): {detail}; --strict stops at the first "
            "variant that cannot be scored",
            path=source,
            line=line,
            record=f"{v.chrom}:{v.pos}",
        )

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


def _names(names: list[str] | tuple[str, ...], limit: int = 5) -> str:
    """``a, b, c`` or ``a, b, ... (12 in all)``: contig lists in one-line messages."""
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names):,} in all)" if len(names) > limit else "")


def _masked_llr(logp: np.ndarray, variant: Variant) -> float:
    """sum over the masked bases of log p(alt base) - log p(ref base) (``logp``: ``[n, V]``)."""
    from dnaseq_cli.encode.tokens import encode_chars

    n = len(logp)
    ref_ids, alt_ids = encode_chars(variant.ref)[:n], encode_chars(variant.alt)[:n]
    rows = np.arange(n)
    return float((logp[rows, alt_ids] - logp[rows, ref_ids]).sum())


def _seen_before(seen: set[int], variant: Variant) -> bool:
    """Whether the same CHROM POS REF ALT came earlier in the file (and remember this one)."""
    key = hash((variant.chrom, variant.pos, variant.ref, variant.alt))
    if key in seen:
        return True
    seen.add(key)
    return False


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
    fmt: str = "auto",
    shards: Shards = SINGLE,
) -> Iterator[VariantScore | VepSummary]:
    """Yield a :class:`VariantScore` per ALT in file order (filtered ones marked), then the
    :class:`VepSummary`. ``fmt`` is ``auto``/``vcf`` (VCF/BCF) or ``variants`` (a table).

    Under torchrun (``shards``) the variants are scored in chunks split across the processes;
    process 0 yields every row and the whole summary, the others only a summary of the read."""
    summary = VepSummary()
    started = time.perf_counter()
    source = str(vcf)
    effect.reset()
    # The reader's skipped-allele warning waits until every row is scored: --strict may fail first.
    variants = iter_variants(vcf, stats=summary.stats, include_skipped=True, fmt=fmt, warn=False)
    statuses, filtered, flagged = summary.statuses, summary.filtered, summary.flags
    if shards.enabled:  # chunks of about one forward batch, so every process gets a share
        chunk_size = min(chunk_size, max(int(getattr(effect.scorer, "batch_size", 0) or 1), 1))
    chunks = _chunks(variants, chunk_size)
    for rows, size in _scored_chunks(effect, chunks, source, summary, shards):
        for row in rows:
            if row.filtered:
                filtered[row.status] = filtered.get(row.status, 0) + 1
                yield row
                continue
            summary.variants += 1
            statuses[row.status] = statuses.get(row.status, 0) + 1
            for flag in row.flags:
                flagged[flag] = flagged.get(flag, 0) + 1
            yield row
        if progress is not None:
            progress(size)
    summary.scored = statuses.get(STATUS_OK, 0)
    summary.seconds = time.perf_counter() - started
    counts = shards.all_gather(
        (dict(effect.renamed), dict(effect.unknown_contigs), effect.u_bases, effect.u_variants)
    )
    for renamed, unknown, u_bases, u_variants in counts:
        summary.renamed_contigs.update(renamed)
        for name, n in unknown.items():
            summary.unknown_contigs[name] = summary.unknown_contigs.get(name, 0) + n
        summary.u_bases += u_bases
        summary.u_variants += u_variants
    if not shards.is_main:
        yield summary
        return
    summary.stats.warn()
    if summary.u_variants:
        logger.warning(
            "%s: read %s U bases as T in the reference windows of %s variant%s",
            effect.reference.path,
            f"{summary.u_bases:,}",
            f"{summary.u_variants:,}",
            "" if summary.u_variants == 1 else "s",
        )
    yield summary


def _scored_chunks(
    effect: VariantEffectScorer,
    chunks: Iterator[list[Variant]],
    source: str,
    summary: VepSummary,
    shards: Shards,
) -> Iterator[tuple[list[VariantScore], int]]:
    """Each chunk's rows in file order, with the chunk's size. Sharded: this process scores its
    chunks of each round, notes the others', and process 0 gets every chunk's rows (the others
    get empty lists, so they only take part in the gathering)."""
    if not shards.enabled:
        for chunk in chunks:
            yield effect.score_chunk(chunk, source, summary.stats), len(chunk)
        return
    for round_chunks in shards.rounds(chunks):
        payload = None
        for mine, chunk in round_chunks:
            if mine:
                payload = (effect.score_chunk(chunk, source, summary.stats), len(chunk))
            else:
                effect.note_chunk(chunk)
        gathered = shards.gather(payload)
        for item in gathered or [([], len(chunk)) for _, chunk in round_chunks]:
            if item is not None:
                yield item


def nothing_scored_reason(summary: VepSummary, reference_contigs: list[str]) -> str:
    """One line saying why no variant was scored: the counts, and the contigs that did not meet."""
    counts = {**summary.statuses, **summary.filtered}
    text = ", ".join(f"{n:,} {status}" for status, n in sorted(counts.items())) or "no variants"
    if summary.unknown_contigs:
        text += (
            f" (VCF contigs {_names(list(summary.unknown_contigs))}; "
            f"reference has {_names(reference_contigs)})"
        )
    return f"no variant was scored: {text}"
