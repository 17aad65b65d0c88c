"""K-fold cross-validation of one `dnaseq train` configuration on a dataset folder.

    python scripts/crossval.py DATASET -o OUT [--folds 5] [--seed 0] -- TRAIN-ARGS...

Why: one 10% test split of a few thousand sequences gives accuracy +-0.02 at best, and the Cohn
split used for the bundled model turned out harder than its validation split. Every record is
tested exactly once here: fold i is the test split, fold i+1 the validation split (early stopping
and checkpoint choice) and the rest is trained on; with --val-fraction F the validation split is
instead a stratified fraction F of all records drawn outside fold i (5 folds, F 0.1: train 70%). Folds are stratified by label with a fixed seed.
Each fold is a dataset folder sharing the tokens of DATASET (symlink) with its own split column.
Writes OUT/fold_<i>/ (run folders), OUT/crossval.tsv (one row per fold, then mean and sd) and
OUT/crossval.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

METRICS = ("accuracy", "f1", "f1_macro", "mcc", "auroc", "auprc", "train_seconds", "best_epoch")


def fold_of_records(labels: pd.Series, folds: int, seed: int) -> np.ndarray:
    """Stratified fold index per record: each label's records shuffled, then dealt round-robin."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=int)
    for label in sorted(labels.unique()):
        rows = np.flatnonzero(labels.to_numpy() == label)
        rng.shuffle(rows)
        fold[rows] = np.arange(len(rows)) % folds
    return fold


def validation_rows(
    labels: pd.Series, fold: np.ndarray, test: int, fraction: float, seed: int
) -> np.ndarray:
    """A stratified ``fraction`` of all records, drawn from outside the test fold."""
    rng = np.random.default_rng(seed + 1000 + test)
    chosen = np.zeros(len(labels), dtype=bool)
    for label in sorted(labels.unique()):
        rows = np.flatnonzero((labels.to_numpy() == label) & (fold != test))
        want = round(fraction * int((labels == label).sum()))
        chosen[rng.permutation(rows)[:want]] = True
    return chosen


def write_fold_dataset(
    source: Path, target: Path, fold: np.ndarray, test: int, folds: int,
    val_fraction: float | None = None, seed: int = 0,
) -> None:  # fmt: skip
    records = pd.read_csv(source / "records.tsv", sep="\t", dtype=str, keep_default_na=False)
    if val_fraction is None:
        val = (test + 1) % folds
        in_val = fold == val
    else:
        val = f"{val_fraction:g} of the rest"
        in_val = validation_rows(records["label"], fold, test, val_fraction, seed)
    records["split"] = np.where(fold == test, "test", np.where(in_val, "val", "train"))
    target.mkdir(parents=True, exist_ok=True)
    records.to_csv(target / "records.tsv", sep="\t", index=False)
    tokens = target / "tokens.npy"
    if not tokens.exists():
        os.symlink((source / "tokens.npy").resolve(), tokens)
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["split"] = {"method": "kfold", "folds": folds, "test_fold": test, "val_fold": val,
                         "derived_from": str(source.resolve())}  # fmt: skip
    manifest["split_counts"] = {
        name: {"total": int((records.split == name).sum()),
               **records[records.split == name].label.value_counts().sort_index().to_dict()}
        for name in ("train", "val", "test")
    }  # fmt: skip
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def main() -> None:
    argv = sys.argv[1:]
    train_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--val-fraction", type=float, default=None,
        help="validation = this stratified fraction of all records, drawn outside the test fold "
        "(default: the next fold), so more records are trained on",
    )  # fmt: skip
    args = parser.parse_args(own)
    records = pd.read_csv(args.dataset / "records.tsv", sep="\t", dtype=str, keep_default_na=False)
    fold = fold_of_records(records["label"], args.folds, args.seed)
    rows = []
    for test in range(args.folds):
        data = args.output / "datasets" / f"fold_{test}"
        run = args.output / f"fold_{test}"
        write_fold_dataset(args.dataset, data, fold, test, args.folds, args.val_fraction, args.seed)
        if run.exists():
            shutil.rmtree(run)
        command = ["dnaseq", "train", str(data), "-o", str(run), "--quiet", *train_args]
        print(f"fold {test + 1}/{args.folds}: {' '.join(command)}", flush=True)
        subprocess.run(command, check=True)
        metrics = json.loads((run / "test_metrics.json").read_text())
        rows.append({"fold": test, **{m: metrics.get(m) for m in METRICS}})
        print("  " + ", ".join(f"{m} {rows[-1][m]:.4f}" for m in METRICS[:6]), flush=True)
    table = pd.DataFrame(rows)
    summary = table[list(METRICS)].agg(["mean", "std"])
    out = pd.concat([table.astype({"fold": str}),
                     summary.reset_index().rename(columns={"index": "fold"})])  # fmt: skip
    out.to_csv(args.output / "crossval.tsv", sep="\t", index=False, float_format="%.4f")
    payload = {"dataset": str(args.dataset), "folds": args.folds, "seed": args.seed,
               "train_args": train_args, "per_fold": rows,
               "mean": summary.loc["mean"].to_dict(), "sd": summary.loc["std"].to_dict()}  # fmt: skip
    (args.output / "crossval.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(out.to_string(index=False))


if __name__ == "__main__":
    main()
