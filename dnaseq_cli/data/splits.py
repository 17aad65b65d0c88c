"""Train/validation/test assignment: stratified random splits or held-out chromosomes.

Splitting by chromosome is what genomics papers use to avoid leakage between neighbouring windows;
random stratified splits keep class balance for sequence-only data such as FASTA or tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dnaseq_cli.errors import InputError

SPLITS = ("train", "val", "test")


def stratified_split(
    labels: Sequence[object],
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> np.ndarray:
    """Assign each row to train/val/test, drawing the fractions within every label separately.

    Unlabelled rows (label ``None``) form their own stratum. Rounding is per stratum, so small classes
    still get at least one validation/test row when their fraction times the class size is >= 0.5.
    Regression values (numbers, not all integers) are stratified by quantile bins instead.
    """
    _check_fractions(val_fraction, test_fraction)
    rng = np.random.default_rng(seed)
    keys = _strata(labels)
    assignment = np.empty(len(keys), dtype=object)
    for key in sorted(set(keys)):
        rows = np.flatnonzero(keys == key)
        rng.shuffle(rows)
        n_test = int(round(len(rows) * test_fraction))
        n_val = int(round(len(rows) * val_fraction))
        if n_test + n_val > len(rows):
            n_val = len(rows) - n_test
        assignment[rows[:n_test]] = "test"
        assignment[rows[n_test : n_test + n_val]] = "val"
        assignment[rows[n_test + n_val :]] = "train"
    return assignment.astype(str)


def _strata(labels: Sequence[object]) -> np.ndarray:
    """One key per row: the class, or for regression values their quantile bin.

    Why: every distinct value of a measurement would be a stratum of one row, which rounds to no
    validation or test row at all (a regression dataset got empty held-out splits).
    """
    keys = np.array(["\0none" if label is None else str(label) for label in labels], dtype=object)
    labelled = np.flatnonzero(keys != "\0none")
    values = pd.to_numeric(pd.Series(keys[labelled], dtype=object), errors="coerce").to_numpy()
    regression = (
        len(labelled) > 0
        and not np.isnan(values).any()
        and not np.allclose(values, np.round(values))  # what infer_task calls a regression
    )
    if regression:
        bins = max(1, min(10, len(labelled) // 10))
        ranks = np.empty(len(labelled), dtype=np.int64)
        ranks[np.argsort(values, kind="stable")] = np.arange(len(labelled))
        keys[labelled] = [f"\0bin{b}" for b in ranks * bins // len(labelled)]
    return keys


def chromosome_split(
    chroms: Sequence[str | None],
    labels: Sequence[object],
    *,
    test_chroms: Sequence[str],
    val_chroms: Sequence[str] = (),
    val_fraction: float = 0.1,
    seed: int = 0,
) -> np.ndarray:
    """Hold out whole chromosomes for test (and validation, if named; otherwise a stratified fraction
    of the remaining rows)."""
    if any(chrom is None for chrom in chroms):
        raise InputError(
            "--test-chroms needs genomic coordinates (BED input); these records have none"
        )
    overlap = set(test_chroms) & set(val_chroms)
    if overlap:
        raise InputError(f"chromosomes in both --test-chroms and --val-chroms: {sorted(overlap)}")
    chrom_array = np.array(chroms, dtype=object)
    present = set(chrom_array)
    unknown = [c for c in (*test_chroms, *val_chroms) if c not in present]
    if unknown:
        raise InputError(
            f"held-out chromosome(s) {', '.join(unknown)} have no records "
            f"(records are on {', '.join(sorted(present)[:10])})"
        )
    is_test = np.isin(chrom_array, list(test_chroms))
    is_val = np.isin(chrom_array, list(val_chroms))
    assignment = np.full(len(chrom_array), "train", dtype=object)
    assignment[is_test] = "test"
    assignment[is_val] = "val"
    if not val_chroms and val_fraction > 0:
        rest = np.flatnonzero(~is_test)
        inner = stratified_split(
            [labels[int(i)] for i in rest], val_fraction=val_fraction, test_fraction=0.0, seed=seed
        )
        assignment[rest] = inner
    return assignment.astype(str)


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, value in (("--val-fraction", val_fraction), ("--test-fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise InputError(f"{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise InputError(
            f"--val-fraction + --test-fraction must leave rows for training "
            f"(got {val_fraction} + {test_fraction})"
        )


def split_sizes(assignment: Sequence[str]) -> dict[str, int]:
    """Rows per split, every split named (0 when empty), in train/val/test order."""
    values = np.asarray(assignment, dtype=object)
    return {name: int((values == name).sum()) for name in SPLITS}


def describe_sizes(sizes: dict[str, int]) -> str:
    """'train 80, val 10, test 10': the counts error messages and warnings quote."""
    return ", ".join(f"{name} {sizes.get(name, 0)}" for name in SPLITS)


def shared_across_splits(keys: np.ndarray, assignment: Sequence[str]) -> dict[str, int]:
    """Windows of a later split whose key (a sequence hash) also occurs in an earlier split.

    Why: an identical window in train and test lets a model score the test copy from memory, so
    the held-out metrics overstate how it does on new sequences. Keys are ``'val/train'``,
    ``'test/train'`` and ``'test/val'``; the counts are rows of the first split named.
    """
    values = np.asarray(assignment, dtype=object)
    keys = np.asarray(keys)
    by_split = {name: keys[values == name] for name in SPLITS}
    shared: dict[str, int] = {}
    for later, earlier in (("val", "train"), ("test", "train"), ("test", "val")):
        shared[f"{later}/{earlier}"] = int(np.isin(by_split[later], by_split[earlier]).sum())
    return shared
