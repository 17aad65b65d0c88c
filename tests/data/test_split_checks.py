"""What the training checks read from a dataset: split sizes, shared windows, regression strata,
and a tokens.npy that holds numbers only."""

from collections import Counter

import numpy as np
import pytest

from dnaseq_cli.data.dataset import load_dataset, window_keys
from dnaseq_cli.data.preprocess import PreprocessOptions, preprocess
from dnaseq_cli.data.splits import (
    describe_sizes,
    shared_across_splits,
    split_sizes,
    stratified_split,
)
from dnaseq_cli.errors import InputError


def test_split_sizes_name_every_split_even_when_empty():
    sizes = split_sizes(np.array(["train", "train", "test"]))
    assert sizes == {"train": 2, "val": 0, "test": 1}
    assert describe_sizes(sizes) == "train 2, val 0, test 1"


def test_window_keys_are_equal_exactly_for_equal_rows():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 8, (5000, 33), dtype=np.uint8)
    tokens[10] = tokens[4000]
    keys = window_keys(tokens)
    assert keys.dtype == np.uint64 and keys[10] == keys[4000]
    assert len(np.unique(keys)) == len(np.unique(tokens, axis=0)) == 4999
    assert np.array_equal(keys, window_keys(np.ascontiguousarray(tokens)))  # chunking-independent


def test_shared_across_splits_counts_rows_of_the_later_split():
    keys = np.array([1, 2, 3, 1, 1, 9, 2, 7])
    split = np.array(["train", "train", "train", "val", "test", "val", "test", "test"])
    assert shared_across_splits(keys, split) == {"val/train": 1, "test/train": 2, "test/val": 1}
    distinct = shared_across_splits(np.arange(8), split)
    assert not any(distinct.values())


def test_regression_values_are_split_by_quantile_bins_not_one_stratum_per_value():
    """Each distinct measurement used to be its own stratum: no row reached val or test."""
    values = [f"{v:.3f}" for v in np.random.default_rng(1).normal(size=200)]
    split = stratified_split(values, val_fraction=0.1, test_fraction=0.1, seed=0)
    assert Counter(split) == {"train": 160, "val": 20, "test": 20}
    ordered = np.asarray(split)[np.argsort([float(v) for v in values])]
    for low in range(0, 200, 20):  # every tenth of the value range reaches val and test
        assert {"val", "test"} <= set(ordered[low : low + 20])


def test_integer_labels_stay_classes():
    split = stratified_split(["1"] * 10 + ["2"] * 10, val_fraction=0.1, test_fraction=0.1, seed=0)
    assert Counter(split) == {"train": 16, "val": 2, "test": 2}


class _WritesMarker:
    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_tokens_file_holding_pickled_objects_is_refused(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("seq\tlabel\n" + "ACGTACGTAA\t0\nACGTTTGTAA\t1\n" * 5)
    dataset = preprocess(PreprocessOptions(inputs=[table]), tmp_path / "d")
    tokens = dataset.path / "tokens.npy"
    marker = tmp_path / "pwned"
    objects = np.empty(len(dataset.records), dtype=object)
    objects[:] = [_WritesMarker(marker)] * len(objects)
    np.save(tokens, objects, allow_pickle=True)
    with pytest.raises(InputError, match="tokens.npy is not a readable token array") as error:
        load_dataset(dataset.path)
    assert str(tokens) in str(error.value) and not marker.exists()
    tokens.write_bytes(b"\x93NUMPY truncated")
    with pytest.raises(InputError, match="tokens.npy is not a readable token array"):
        load_dataset(dataset.path)
