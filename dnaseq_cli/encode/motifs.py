"""Transcription-factor motifs: position frequency matrices and their log-odds scanning weights.

Why: a model trained on a few thousand labelled windows cannot learn hundreds of TF binding motifs
by itself, but curated matrices (JASPAR) carry that prior knowledge. Scanning a window with every
matrix and keeping the best match gives features a linear model can weigh. The bundled set is JASPAR
2024 CORE vertebrates (CC BY 4.0; see resources/motifs/SOURCE.txt).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from dnaseq_cli.errors import InputError

BASES = "ACGT"
MOTIF_SETS = {"jaspar2024_vertebrates": "JASPAR2024_CORE_vertebrates.jaspar.gz"}


@dataclass(frozen=True)
class Motif:
    """One position frequency matrix: ``counts[b, j]`` for base ``ACGT[b]`` at motif column ``j``."""

    id: str
    name: str
    counts: np.ndarray

    @property
    def width(self) -> int:
        return self.counts.shape[1]


def read_jaspar(path: Path) -> list[Motif]:
    """Matrices of a JASPAR-format file (plain or gzip): ``>ID NAME`` then ``A [ ... ]`` rows."""
    opener = gzip.open if str(path).endswith(".gz") else open
    motifs: list[Motif] = []
    header: tuple[str, str] | None = None
    rows: dict[str, list[float]] = {}

    def finish(line_number: int) -> None:
        if header is None:
            return
        if sorted(rows) != sorted(BASES) or len({len(r) for r in rows.values()}) != 1:
            raise InputError(f"{path}: motif {header[0]} (before line {line_number}) needs "
                             "A, C, G and T rows of one length")  # fmt: skip
        counts = np.array([rows[b] for b in BASES], dtype=np.float64)
        if counts.shape[1] == 0 or (counts < 0).any() or (counts.sum(0) <= 0).any():
            raise InputError(
                f"{path}: motif {header[0]}: counts must be >= 0 with a positive column sum"
            )
        motifs.append(Motif(header[0], header[1], counts))

    with opener(path, "rt") as handle:
        line_number = 0
        for line_number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                finish(line_number)
                fields = line[1:].split(None, 1)
                if not fields:
                    raise InputError(f"{path}: line {line_number}: '>' with no motif ID")
                header, rows = (fields[0], fields[1] if len(fields) > 1 else fields[0]), {}
                continue
            fields = line.replace("[", " ").replace("]", " ").split()  # "A [ 1 2 ]", "T[1 2]"
            if header is None or not fields or fields[0].upper() not in BASES:
                raise InputError(
                    f"{path}: line {line_number}: expected '>ID NAME' or an A/C/G/T row"
                )
            try:
                rows[fields[0].upper()] = [float(v) for v in fields[1:]]
            except ValueError:
                raise InputError(f"{path}: line {line_number}: counts must be numbers") from None
        finish(line_number + 1)
    if not motifs:
        raise InputError(f"{path}: no motifs")
    return motifs


def motif_set(name: str) -> list[Motif]:
    """A bundled motif set by name (see ``MOTIF_SETS``)."""
    if name not in MOTIF_SETS:
        raise ValueError(f"unknown motif set {name!r}; choose from {', '.join(MOTIF_SETS)}")
    resource = resources.files("dnaseq_cli") / "resources" / "motifs" / MOTIF_SETS[name]
    with resources.as_file(resource) as path:
        return read_jaspar(path)


def log_odds(counts: np.ndarray, pseudocount: float = 0.8, background: float = 0.25) -> np.ndarray:
    """Position weight matrix ``log2(p / background)``, with the pseudocount spread over the bases
    so that a column seen in few sites is not certain."""
    total = counts.sum(0, keepdims=True)
    probability = (counts + pseudocount * background) / (total + pseudocount)
    return np.log2(probability / background)


def best_score(weights: np.ndarray) -> float:
    """The highest log-odds any sequence can reach: the best base in every column."""
    return float(weights.max(0).sum())


__all__ = ["MOTIF_SETS", "Motif", "best_score", "log_odds", "motif_set", "read_jaspar"]
