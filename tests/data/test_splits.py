from collections import Counter

import numpy as np
import pytest

from dnaseq_cli.data.splits import chromosome_split, stratified_split
from dnaseq_cli.errors import InputError


def test_stratified_split_keeps_class_balance_and_is_reproducible():
    labels = ["1"] * 80 + ["0"] * 20
    first = stratified_split(labels, val_fraction=0.1, test_fraction=0.2, seed=7)
    second = stratified_split(labels, val_fraction=0.1, test_fraction=0.2, seed=7)
    assert (first == second).all()
    counts = Counter(zip(first, labels, strict=True))
    assert counts[("test", "1")] == 16 and counts[("test", "0")] == 4
    assert counts[("val", "1")] == 8 and counts[("val", "0")] == 2
    assert counts[("train", "1")] == 56 and counts[("train", "0")] == 14
    other = stratified_split(labels, val_fraction=0.1, test_fraction=0.2, seed=8)
    assert not (first == other).all()


def test_stratified_split_rejects_fractions_that_leave_no_training_rows():
    with pytest.raises(InputError, match="leave rows for training"):
        stratified_split(["a", "b"], val_fraction=0.5, test_fraction=0.5, seed=0)
    with pytest.raises(InputError, match="--val-fraction"):
        stratified_split(["a"], val_fraction=-0.1, test_fraction=0.1, seed=0)


def test_chromosome_split_holds_out_whole_chromosomes():
    chroms = ["chr1"] * 10 + ["chr8"] * 5 + ["chr9"] * 5
    labels = ["1", "0"] * 10
    split = chromosome_split(chroms, labels, test_chroms=["chr8"], val_chroms=["chr9"])
    assert set(split[10:15]) == {"test"}
    assert set(split[15:]) == {"val"}
    assert set(split[:10]) == {"train"}
    split = chromosome_split(chroms, labels, test_chroms=["chr8", "chr9"], val_fraction=0.2, seed=1)
    assert set(split[10:]) == {"test"}
    assert Counter(split[:10]) == {"train": 8, "val": 2}


def test_chromosome_split_errors():
    with pytest.raises(InputError, match="chr5"):
        chromosome_split(["chr1", "chr2"], ["0", "1"], test_chroms=["chr5"])
    with pytest.raises(InputError, match="genomic coordinates"):
        chromosome_split([None, "chr2"], ["0", "1"], test_chroms=["chr2"])
    with pytest.raises(InputError, match="both"):
        chromosome_split(["chr1", "chr2"], ["0", "1"], test_chroms=["chr1"], val_chroms=["chr1"])


def test_split_values_are_strings():
    split = stratified_split([None] * 10, val_fraction=0.1, test_fraction=0.1, seed=0)
    assert split.dtype.kind == "U"
    assert np.isin(split, ["train", "val", "test"]).all()
