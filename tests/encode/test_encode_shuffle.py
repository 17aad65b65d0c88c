"""Dinucleotide shuffles keep every neighbouring-pair count and both ends, and do shuffle."""

import numpy as np
import pytest

from dnaseq_cli.encode.shuffle import dinucleotide_shuffle


def _pairs(ids: np.ndarray) -> list[tuple[int, int]]:
    return sorted(zip(ids[:-1].tolist(), ids[1:].tolist(), strict=True))


@pytest.mark.parametrize("seed", range(40))
def test_pair_counts_and_ends_are_kept(seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(7, 12, int(rng.integers(1, 80))).astype(np.uint8)  # A C G T N ids
    shuffled = dinucleotide_shuffle(ids, rng)
    assert shuffled.dtype == ids.dtype and len(shuffled) == len(ids)
    if len(ids) >= 2:
        assert _pairs(shuffled) == _pairs(ids)
        assert shuffled[0] == ids[0] and shuffled[-1] == ids[-1]


def test_it_shuffles_and_is_reproducible_from_the_seed():
    ids = np.random.default_rng(1).integers(7, 11, 500)
    first = dinucleotide_shuffle(ids, np.random.default_rng(5))
    assert np.array_equal(first, dinucleotide_shuffle(ids, np.random.default_rng(5)))
    assert (first != ids).mean() > 0.5  # most positions change
    others = {dinucleotide_shuffle(ids, np.random.default_rng(s)).tobytes() for s in range(20)}
    assert len(others) == 20
