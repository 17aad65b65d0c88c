"""Genome-wide scoring: tile every contig (or chosen contigs or regions) of a reference with the
model's window and write a track that genome browsers load (bedGraph; bigWig with pyBigWig).

Tiling rule: windows start at ``0, stride, 2*stride, ...`` until one reaches the end of the contig
or region (the last one N-padded past a contig end, as everywhere in dnaseq). A window's score is
written over the ``stride``-wide bin at its centre, so the bins tile the span without gaps or
overlap (the first bin is widened to the span start and the last to its end): bedGraph and bigWig
need non-overlapping intervals. Windows with no A/C/G/T base (inside an assembly gap) are not
scored and leave a gap in the track. The reference is read one chunk of windows at a time, so
memory does not grow with contig length.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import numpy as np

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.sequence_utils import count_unknown
from dnaseq_cli.output import atomic_path, open_output, refuse_overwriting_inputs
from dnaseq_cli.predict.model import WindowScorer
from dnaseq_cli.windows import fetch_padded


@dataclass(frozen=True)
class Span:
    """A stretch of one contig to tile (0-based, half-open)."""

    chrom: str
    start: int
    end: int


@dataclass
class GenomeOptions:
    reference: Path
    output: str = "-"
    bigwig: Path | None = None
    contigs: list[str] | None = None
    regions: Path | None = None
    stride: int | None = None
    harmonise_chroms: bool = False
    chunk_windows: int = 2048


@dataclass
class GenomeSummary:
    spans: int = 0
    windows: int = 0
    skipped_all_n: int = 0
    bases: int = 0
    seconds: float = 0.0
    contigs: list[str] = field(default_factory=list)

    @property
    def windows_per_second(self) -> float:
        return self.windows / self.seconds if self.seconds > 0 else 0.0


def window_starts(span: Span, window: int, stride: int) -> np.ndarray:
    """Starts of the windows tiling ``span``: every ``stride`` until one reaches its end."""
    length = span.end - span.start
    count = 1 if length <= window else -(-(length - window) // stride) + 1
    return span.start + stride * np.arange(count, dtype=np.int64)


def bins(span: Span, starts: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """The non-overlapping bin of each window: ``stride`` wide at its centre, first and last
    stretched to the span's ends."""
    lefts = np.minimum(starts + (window - stride) // 2, span.end)
    lefts[0] = span.start
    rights = np.empty_like(lefts)
    rights[:-1] = lefts[1:]
    rights[-1] = span.end
    return lefts, rights


def _spans(options: GenomeOptions, reference) -> list[Span]:
    lengths = reference.lengths
    if options.regions is not None:
        from dnaseq_cli.data.inputs import read_located_beds

        _, located = read_located_beds(
            options.regions, options.reference, harmonise_chroms=options.harmonise_chroms
        )
        return _merged(
            [Span(item.interval.chrom, item.interval.start, item.interval.end) for item in located],
            order=list(lengths),
        )
    names = options.contigs or list(lengths)
    unknown = [name for name in names if name not in lengths]
    if unknown:
        shown = ", ".join(list(lengths)[:5]) + (", ..." if len(lengths) > 5 else "")
        raise InputError(
            f"--contigs names {', '.join(unknown)}, not in the reference (it has {shown})",
            path=options.reference,
        )
    return [Span(name, 0, lengths[name]) for name in names]


def _merged(spans: list[Span], order: list[str]) -> list[Span]:
    """Overlapping or touching regions merged, in reference contig order (as tracks need)."""
    rank = {name: i for i, name in enumerate(order)}
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (rank[s.chrom], s.start, s.end)):
        last = merged[-1] if merged else None
        if last is not None and last.chrom == span.chrom and span.start <= last.end:
            merged[-1] = Span(last.chrom, last.start, max(last.end, span.end))
        elif span.end > span.start:
            merged.append(span)
    return merged


def _chunks(
    reference, span: Span, window: int, stride: int, size: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]]:
    """(bin lefts, bin rights, window starts, sequences, valid masks), ``size`` windows at a time,
    each chunk fetched from the reference in one read."""
    starts = window_starts(span, window, stride)
    lefts, rights = bins(span, starts, window, stride)
    for first in range(0, len(starts), size):
        part = starts[first : first + size]
        chunk_start = int(part[0])
        chunk_end = int(part[-1]) + window
        sequence, valid = fetch_padded(reference, span.chrom, chunk_start, chunk_end)
        offsets = part - chunk_start
        seqs = [sequence[o : o + window] for o in offsets]
        masks = np.stack([valid[o : o + window] for o in offsets])
        yield lefts[first : first + size], rights[first : first + size], part, seqs, masks


def score_genome(
    scorer: WindowScorer,
    options: GenomeOptions,
    *,
    progress: Callable[[int], None] | None = None,
) -> GenomeSummary:
    """Write the bedGraph (and bigWig) of window scores over the reference's contigs or regions."""
    from dnaseq_cli.io.fasta import FastaReference

    info = scorer.info
    if info.task not in ("binary", "regression"):
        raise InputError(
            f"a genome track holds one value per window; this {info.task} model gives "
            f"{len(info.classes)} class probabilities (use a binary or regression model)",
            path=info.path,
        )
    outputs = [options.output, options.bigwig]
    refuse_overwriting_inputs(outputs, [options.reference, options.regions, info.path])
    window = info.window_length
    stride = options.stride or window
    reference = FastaReference(options.reference)
    spans = _spans(options, reference)
    if not spans:
        raise InputError("no regions to score", path=options.regions or options.reference)
    summary = GenomeSummary(spans=len(spans))
    started = time.perf_counter()
    track_name = f"dnaseq {info.path.name}"
    with open_output(options.output) as handle, _bigwig(options.bigwig, reference, spans) as big:
        handle.write(
            f'track type=bedGraph name="{track_name}" description="dnaseq {info.backbone} '
            f'window {window} stride {stride}"\n'
        )
        for span in spans:
            if span.chrom not in summary.contigs:
                summary.contigs.append(span.chrom)
            summary.bases += span.end - span.start
            for lefts, rights, _, seqs, masks in _chunks(
                reference, span, window, stride, options.chunk_windows
            ):
                known = np.array(
                    [
                        mask.sum() - count_unknown(s, mask)
                        for s, mask in zip(seqs, masks, strict=True)
                    ]
                )
                keep = np.flatnonzero(known > 0)
                summary.skipped_all_n += len(seqs) - len(keep)
                if len(keep):
                    scores = scorer.score([seqs[i] for i in keep], masks[keep])[:, -1]
                    values = scores.astype(np.float64)
                    handle.writelines(
                        f"{span.chrom}\t{lefts[i]}\t{rights[i]}\t{value:.6g}\n"
                        for i, value in zip(keep, values, strict=True)
                    )
                    if big is not None:
                        big.addEntries(
                            [span.chrom] * len(keep),
                            [int(lefts[i]) for i in keep],
                            ends=[int(rights[i]) for i in keep],
                            values=[float(v) for v in values],
                        )
                summary.windows += len(keep)
                if progress is not None:
                    progress(len(seqs))
    summary.seconds = time.perf_counter() - started
    return summary


class _NoTrack:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _BigWig:
    """A bigWig written to a temporary file and renamed into place when complete."""

    def __init__(self, path: Path, header: list[tuple[str, int]]) -> None:
        self.path, self.header = path, header

    def __enter__(self):
        import pyBigWig

        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self._handle = pyBigWig.open(str(tmp), "w")
        self._handle.addHeader(self.header)
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._handle.close()
        self._atomic.__exit__(exc_type, exc, tb)


def _bigwig(path: Path | None, reference, spans: list[Span]):
    if path is None:
        return _NoTrack()
    try:
        import pyBigWig  # noqa: F401
    except ImportError:
        raise InputError(
            "writing bigWig needs pyBigWig: pip install 'dnaseq[tracks]' (or write the bedGraph "
            "and convert it with bedGraphToBigWig)",
            path=path,
        ) from None
    used = {span.chrom for span in spans}
    header = [(name, int(length)) for name, length in reference.lengths.items() if name in used]
    return _BigWig(path, header)
