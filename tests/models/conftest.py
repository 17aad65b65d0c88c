"""Shared toy data for the backbone tests."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from dnaseq_cli.encode.reverse_complement import reverse_complement


def _motif_data(n: int, rng: random.Random, motif: str = "GATTACA") -> tuple[list[str], list[int]]:
    """Random 48-64-mers; label 1 iff the motif was planted (absent on both strands otherwise)."""
    seqs, labels = [], []
    while len(seqs) < n:
        s = "".join(rng.choice("ACGT") for _ in range(rng.randint(48, 64)))
        if motif in s or reverse_complement(motif) in s:
            continue
        label = rng.random() < 0.5
        if label:
            at = rng.randrange(len(s) - len(motif))
            s = s[:at] + motif + s[at + len(motif) :]
        seqs.append(s)
        labels.append(int(label))
    return seqs, labels


@pytest.fixture
def motif_data() -> Callable[..., tuple[list[str], list[int]]]:
    return _motif_data
