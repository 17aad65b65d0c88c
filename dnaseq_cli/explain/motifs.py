"""Motif hits with exact p-values: the bundled JASPAR 2024 vertebrate matrices over a window.

Matrices are read with Biopython's ``Bio.motifs`` (JASPAR format). Each becomes a log-odds matrix
``log2(p / 0.25)`` with a pseudocount of 0.8 spread evenly over the bases, as the project's motif
features use (:func:`dnaseq_cli.encode.motifs.log_odds`). Both strands are scanned; a window holding
an N (or padding) is never a hit.

P-values are computed as FIMO does: the log-odds matrix is rounded to integers after scaling by
:data:`SCALE` (100 steps per bit), and the exact distribution of the integer score of a random
sequence (i.i.d. uniform bases, the 0.25 background) is built by dynamic programming, one column
at a time: ``P_j(s) = sum_b 0.25 * P_{j-1}(s - W[j, b])``. The p-value of a hit is
``P(S >= its integer score)`` under that distribution: exact for the rounded matrix, within
rounding (at most ``width / (2 * SCALE)`` bits) of the real-valued score.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from dnaseq_cli.output import open_output

SCALE = 100  # integer score steps per bit
PSEUDOCOUNT = 0.8
BACKGROUND = 0.25
JASPAR_FILE = "JASPAR2024_CORE_vertebrates.jaspar.gz"
_CODE = np.full(256, 4, dtype=np.int64)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _CODE[ord(_b.lower())] = _i


@dataclass(frozen=True)
class MotifHit:
    """A motif match in window indices (``start`` 0-based, ``end`` exclusive)."""

    motif_id: str
    motif_name: str
    start: int
    end: int
    strand: str
    score: float  # log-odds, bits
    pvalue: float
    attribution: float = 0.0  # sum of the attributions over the hit


def log_odds_matrix(counts: np.ndarray) -> np.ndarray:
    """``[4, w]`` counts -> ``[w, 4]`` log2 odds against the uniform background."""
    total = counts.sum(0, keepdims=True)
    probability = (counts + PSEUDOCOUNT * BACKGROUND) / (total + PSEUDOCOUNT)
    return np.log2(probability / BACKGROUND).T


def score_survival(integer: np.ndarray) -> tuple[int, np.ndarray]:
    """Exact null distribution of an integer matrix ``[w, 4]``: ``(lowest score, P(S >= s))``.

    ``survival[k]`` is the probability that a uniform random sequence scores at least
    ``lowest + k`` (dynamic programming over the columns, see the module docstring)."""
    lowest = int(integer.min(1).sum())
    dist = np.ones(1)
    floor = 0
    for column in integer:
        low = int(column.min())
        width = len(dist) + int(column.max()) - low
        new = np.zeros(width)
        for value in column:
            shift = int(value) - low
            new[shift : shift + len(dist)] += BACKGROUND * dist
        dist, floor = new, floor + low
    assert floor == lowest
    survival = np.cumsum(dist[::-1])[::-1]
    return lowest, np.minimum(survival, 1.0)


@dataclass
class _Matrix:
    id: str
    name: str
    weights: np.ndarray  # [w, 4] float log-odds
    integer: np.ndarray  # [w, 4] rounded, scaled
    lowest: int
    survival: np.ndarray

    def pvalue(self, integer_score: np.ndarray) -> np.ndarray:
        index = np.clip(integer_score - self.lowest, 0, len(self.survival) - 1)
        return self.survival[index]

    def threshold(self, pvalue: float) -> int:
        """The lowest integer score whose p-value is at most ``pvalue`` (above all if none)."""
        ok = np.flatnonzero(self.survival <= pvalue)
        return self.lowest + int(ok[0]) if len(ok) else self.lowest + len(self.survival)


class MotifScanner:
    """Scans windows with a set of matrices (both strands) and keeps hits below a p-value."""

    def __init__(self, motifs: list[tuple[str, str, np.ndarray]]) -> None:
        self.matrices = []
        for motif_id, name, counts in motifs:
            weights = log_odds_matrix(np.asarray(counts, dtype=np.float64))
            integer = np.rint(weights * SCALE).astype(np.int64)
            lowest, survival = score_survival(integer)
            self.matrices.append(_Matrix(motif_id, name, weights, integer, lowest, survival))

    @classmethod
    def from_jaspar(cls, path: Path) -> MotifScanner:
        """Matrices of a JASPAR-format file (plain or gzip), read with ``Bio.motifs``."""
        import gzip

        from Bio import motifs

        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt") as handle:
            records = list(motifs.parse(handle, "jaspar"))
        return cls(
            [(m.matrix_id, m.name, np.array([m.counts[b] for b in "ACGT"])) for m in records]
        )

    @classmethod
    def bundled(cls) -> MotifScanner:
        """The JASPAR 2024 CORE vertebrates matrices shipped with the package (cached)."""
        global _BUNDLED
        if _BUNDLED is None:
            resource = resources.files("dnaseq_cli") / "resources" / "motifs" / JASPAR_FILE
            with resources.as_file(resource) as path:
                _BUNDLED = cls.from_jaspar(path)
        return _BUNDLED

    def scan(self, sequence: str, pvalue: float = 1e-4) -> list[MotifHit]:
        """Every hit with p-value <= ``pvalue`` on either strand, in window indices."""
        codes = _CODE[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]
        hits = []
        for m in self.matrices:
            width = len(m.weights)
            if width > len(codes):
                continue
            windows = np.lib.stride_tricks.sliding_window_view(codes, width)  # [n, w]
            clean = (windows < 4).all(1)
            safe = np.where(windows < 4, windows, 0)
            cols = np.arange(width)
            # reverse strand: the complement (3 - code) read backwards against the matrix
            for strand, picked in (("+", safe), ("-", 3 - safe[:, ::-1])):
                integer = m.integer[cols, picked].sum(1)
                keep = np.flatnonzero(clean & (integer >= m.threshold(pvalue)))
                if not len(keep):
                    continue
                scores = m.weights[cols, picked[keep]].sum(1)
                pvalues = m.pvalue(integer[keep])
                hits += [
                    MotifHit(m.id, m.name, int(i), int(i) + width, strand, float(s), float(p))
                    for i, s, p in zip(keep, scores, pvalues, strict=True)
                ]
        return hits

    def hits_near_attribution(
        self,
        sequence: str,
        attribution: np.ndarray,
        rows: np.ndarray,
        *,
        pvalue: float = 1e-4,
        top_fraction: float = 0.1,
    ) -> list[MotifHit]:
        """Hits that overlap a high-attribution position: among the reported ``rows``, those whose
        |attribution| is in the top ``top_fraction`` (and not 0)."""
        magnitude = np.abs(np.nan_to_num(attribution[rows]))
        if not len(rows) or magnitude.max() <= 0:
            return []
        cut = np.quantile(magnitude, 1.0 - top_fraction)
        high = np.zeros(len(sequence), dtype=bool)
        high[rows[(magnitude >= cut) & (magnitude > 0)]] = True
        inside = np.zeros(len(sequence), dtype=bool)
        inside[rows] = True
        values = np.nan_to_num(attribution)
        out = []
        for hit in self.scan(sequence, pvalue):
            if inside[hit.start : hit.end].all() and high[hit.start : hit.end].any():
                total = float(values[hit.start : hit.end].sum())
                out.append(_with_attribution(hit, total))
        return sorted(out, key=lambda h: (h.pvalue, h.start))


def _with_attribution(hit: MotifHit, total: float) -> MotifHit:
    from dataclasses import replace

    return replace(hit, attribution=total)


_BUNDLED: MotifScanner | None = None

HIT_COLUMNS = ["name", "window", "chrom", "motif_id", "motif", "start", "end", "strand", "score",
               "pvalue", "attribution"]  # fmt: skip


def write_hits(explained: list, tsv: str | None, bed: str | None) -> None:
    """Hits of every explained window: a TSV (1-based inclusive coordinates) and/or a BED
    (0-based half-open; the record name stands for the chromosome of FASTA/table records)."""
    rows = []
    for item in explained:
        offset = int(item.positions[0] - item.rows[0]) if len(item.rows) else 1
        for hit in item.hits:
            rows.append((item, hit, hit.start + offset, hit.end + offset - 1))
    if tsv:
        with open_output(tsv) as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(HIT_COLUMNS)
            for item, hit, first, last in rows:
                writer.writerow([
                    item.record, item.window.name, item.chrom or ".", hit.motif_id, hit.motif_name,
                    first, last, hit.strand, f"{hit.score:.4g}", f"{hit.pvalue:.3g}",
                    f"{hit.attribution:.4g}",
                ])  # fmt: skip
    if bed:
        with open_output(bed) as handle:
            for item, hit, first, last in rows:
                bed_score = min(1000, int(round(-100 * np.log10(max(hit.pvalue, 1e-10)))))
                fields = [
                    item.chrom or item.record,
                    first - 1,
                    last,
                    f"{hit.motif_name}|{hit.motif_id}|{item.record}",
                    bed_score,
                    hit.strand,
                ]
                handle.write("\t".join(str(f) for f in fields) + "\n")
