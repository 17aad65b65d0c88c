"""Cross-validated accuracy of an ensemble of `scripts/crossval.py` runs (same folds).

    python scripts/crossval_ensemble.py CV_DIR [CV_DIR ...] -o OUT [--weights 1,1] [--no-calibrate]

Why: whether averaging (and calibrating) several backbones beats the best single one can only be
judged on records none of them saw. For every fold i the members CV_DIR/fold_i (all trained on the
same fold split, checked here) are combined with `dnaseq ensemble` logic, calibrated on fold i's
validation split (as the bundled model is), and scored on fold i's test split. Writes
OUT/crossval_ensemble.tsv (per fold, then mean and sd), OUT/crossval_ensemble.json and
OUT/test_predictions.tsv (every record once).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from dnaseq_cli.predict.ensemble import (
    MemberSource,
    build_ensemble,
    checkpoint_folder,
    fit_calibration,
)
from dnaseq_cli.predict.model import score_split
from dnaseq_cli.report.metrics import binary_metrics


def fold_count(cv_dir: Path) -> int:
    return len(sorted((cv_dir / "datasets").glob("fold_*")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cv_dirs", type=Path, nargs="+")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--no-calibrate", action="store_true")
    args = parser.parse_args()
    folds = fold_count(args.cv_dirs[0])
    weights = [float(w) for w in args.weights.split(",")] if args.weights else None
    args.output.mkdir(parents=True, exist_ok=True)
    rows, predictions = [], []
    for fold in range(folds):
        dataset = args.cv_dirs[0] / "datasets" / f"fold_{fold}"
        split = pd.read_csv(dataset / "records.tsv", sep="\t", usecols=["split"])["split"]
        for cv_dir in args.cv_dirs[1:]:
            other = pd.read_csv(cv_dir / "datasets" / f"fold_{fold}" / "records.tsv", sep="\t")
            if not other["split"].equals(split):
                raise SystemExit(f"{cv_dir}: fold {fold} is not the same split")
        sources = [
            MemberSource(f"{cv_dir.name}", checkpoint_folder(cv_dir / f"fold_{fold}"),
                         weights[i] if weights else 1.0)
            for i, cv_dir in enumerate(args.cv_dirs)
        ]  # fmt: skip
        calibration = None if args.no_calibrate else fit_calibration(sources, dataset)
        model = args.output / f"ensemble_fold_{fold}"
        build_ensemble(sources, model, overwrite=True, calibration=calibration)
        records, probability = score_split(model, dataset, "test")
        labels = records["label"].astype(int).to_numpy()
        metrics = binary_metrics(labels, probability)
        rows.append({"fold": fold, **metrics})
        predictions.append(pd.DataFrame({"name": records["name"], "label": labels,
                                         "prob_1": probability, "fold": fold}))  # fmt: skip
        print(f"fold {fold}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()), flush=True)
    table = pd.DataFrame(rows)
    summary = table.drop(columns="fold").agg(["mean", "std"])
    out = pd.concat([table.astype({"fold": str}),
                     summary.reset_index().rename(columns={"index": "fold"})])  # fmt: skip
    out.to_csv(args.output / "crossval_ensemble.tsv", sep="\t", index=False, float_format="%.4f")
    pd.concat(predictions).to_csv(args.output / "test_predictions.tsv", sep="\t", index=False)
    payload = {"members": [str(d) for d in args.cv_dirs], "weights": weights,
               "calibrated": not args.no_calibrate, "per_fold": rows,
               "mean": summary.loc["mean"].to_dict(), "sd": summary.loc["std"].to_dict()}  # fmt: skip
    (args.output / "crossval_ensemble.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(out.to_string(index=False))


if __name__ == "__main__":
    main()
