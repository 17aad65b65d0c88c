"""Write MODEL_CARD.md for the bundled ensemble from its run folders (metrics are read, not typed).

    python scripts/write_model_card.py ENSEMBLE_DIR TEST_METRICS.json OUT.md --runs RUN... \
        [--crossval CROSSVAL_ENSEMBLE.json] [--ensemble-command "dnaseq ensemble ..."]

ENSEMBLE_DIR is the `dnaseq ensemble` folder, TEST_METRICS.json what `scripts/split_metrics.py`
wrote for it on the held-out test split, RUN the member run folders (in member order).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pandas as pd

METRICS = ["accuracy", "precision", "recall", "f1", "f1_macro", "mcc", "auroc", "auprc"]
NAMES = {"hybrid": "Hybrid CNN Transformer", "kmer": "k-mer spectrum MLP", "cnn": "CNN",
         "caduceus": "Caduceus", "bigbird": "BigBird RC", "gnn": "GNN+Attention"}  # fmt: skip


def member_row(run: Path) -> dict:
    config = json.loads((run / "run_config.json").read_text())
    test = json.loads((run / "test_metrics.json").read_text())
    history = pd.read_csv(run / "metrics_per_epoch.tsv", sep="\t")
    best = history.iloc[int(test["best_epoch"]) - 1]
    return {
        "backbone": config["model"]["backbone"],
        "config": config["model"]["config"],
        "parameters": config["parameters"],
        "train": config["train"],
        "test": test,
        "val_accuracy": float(best["val_accuracy"]),
        "val_auroc": float(best["val_auroc"]),
        "command": (run / "command.txt").read_text().strip(),
        "manifest": json.loads((Path(config["dataset"]) / "manifest.json").read_text()),
        "split": config["dataset_manifest"]["split"],
    }


def training_text(row: dict) -> str:
    train = row["train"]
    extras = [f"lr {train['lr']}", f"weight decay {train['weight_decay']}",
              f"batch {train['batch_size']}"]  # fmt: skip
    if train.get("rc_augment"):
        extras.append("reverse-complement augmentation")
    if train.get("shift_augment"):
        extras.append(f"shifts up to {train['shift_augment']} bp")
    if train.get("ema"):
        extras.append(f"weight EMA {train['ema']}")
    test = row["test"]
    return (
        f"AdamW ({', '.join(extras)}), warmup + cosine, early stopping on validation AUROC "
        f"(patience {train['patience']}): best epoch {test['best_epoch']} of {test['epochs_run']}, "
        f"{test['train_seconds']:.0f} s on a 2-core CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ensemble", type=Path)
    parser.add_argument("test_metrics", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--runs", type=Path, nargs="+", required=True)
    parser.add_argument("--crossval", type=Path)
    parser.add_argument("--ensemble-command", default="")
    args = parser.parse_args()
    ensemble = json.loads((args.ensemble / "config.json").read_text())
    test = json.loads(args.test_metrics.read_text())
    rows = [member_row(run) for run in args.runs]
    counts = rows[0]["manifest"]["split_counts"]
    split = rows[0]["split"]
    total_parameters = sum(r["parameters"] for r in rows)

    members = "\n".join(
        f"| {m['name']} | {NAMES.get(r['backbone'], r['backbone'])} | {r['parameters']:,} | "
        f"{m.get('calibration', {}).get('scale', float('nan')):.3f} / "
        f"{m.get('calibration', {}).get('bias', float('nan')):+.3f} | "
        f"{r['test']['accuracy']:.4f} | {r['test']['auroc']:.4f} | "
        f"{r['val_accuracy']:.4f} | {r['val_auroc']:.4f} |"
        for m, r in zip(ensemble["members"], rows, strict=True)
    )
    configs = "\n".join(
        f"- `{m['name']}`: `{json.dumps(r['config'])}`; {training_text(r)}."
        for m, r in zip(ensemble["members"], rows, strict=True)
    )
    metric_rows = "\n".join(f"| {k} | {test[k]:.4f} |" for k in METRICS if k in test)
    crossval = ""
    if args.crossval:
        cv = json.loads(args.crossval.read_text())
        folds = len(cv["per_fold"])
        train_share = (folds - 2) / folds
        share_note = (", as in the bundled model" if round(train_share, 2) == 0.8
                      else " (80% in the bundled model)")  # fmt: skip
        cells = " | ".join(f"{cv['mean'][k]:.4f} ± {cv['sd'][k]:.4f}"
                           for k in ("accuracy", "f1", "mcc", "auroc", "auprc"))  # fmt: skip
        crossval = f"""
### Cross-validation of the same recipe
{folds}-fold cross-validation over all 4,948 sequences (`scripts/crossval.py` for each member, then
`scripts/crossval_ensemble.py`): in each fold the members are trained on {folds - 2} folds, the next
fold serves for early stopping and the calibration, and the calibrated ensemble is scored on the
fold none of them saw. The members thus train on {train_share:.0%} of the data here{share_note}.
Mean ± sd over folds:

| accuracy | F1 | MCC | AUROC | AUPRC |
|---|---|---|---|---|
| {cells} |

Every sequence is tested exactly once, so this estimate rests on 4,948 held-out sequences, not 494.
"""
    # the dnaseq executable as a user would type it, not this machine's venv path
    commands = "\n".join(re.sub(r"^\S*/dnaseq ", "dnaseq ", r["command"]) for r in rows)
    text = f"""# dnaseq default enhancer model (`enhancer_default`)

Binary classifier: P(enhancer) for a 500-bp human DNA sequence, both strands averaged. It is a
calibrated ensemble (`dnaseq ensemble`) of {len(rows)} members, {total_parameters:,} parameters in
all: each member's log-odds are Platt-scaled on the validation split, and the probabilities are
averaged. Window {rows[0]["manifest"]["window_length"]} bp; longer sequences are tiled by
`dnaseq predict`, shorter ones padded and flagged.

| member | backbone | parameters | Platt scale / bias | test accuracy | test AUROC | val accuracy | val AUROC |
|---|---|---:|---:|---:|---:|---:|---:|
{members}

{configs}

## Data
Genomic Benchmarks `human_enhancers_cohn` (Gresova et al. 2023, Apache-2.0; enhancers from Cohn et
al. 2018, H3K27ac-defined, and their negative-control regions, GRCh38): the 4,948 sequences
(2,474 enhancers, 2,474 negatives) of `shared/data/gb_cohn_test_sequences/cohn_dev.tsv.gz`.
Split {split["method"]} 80/10/10 with seed {split["seed"]}: train {counts["train"]["total"]},
validation {counts["val"]["total"]}, test {counts["test"]["total"]}. The test sequences were never
used for training, model selection or calibration. (2,000 further sequences of the same benchmark
split are kept outside this project as an independent evaluation set.)

## Metrics (threshold 0.5)
### Held-out test split ({test["n"]} sequences)
| metric | ensemble |
|---|---|
{metric_rows}

Confusion matrix (rows true 0/1, columns predicted 0/1): `{test.get("confusion_matrix")}`.
This test split is harder than a random one: a logistic regression on 1-4-mer counts scores 0.71
accuracy on it and 0.72-0.75 on other splits.
{crossval}
## Reproduce
`bash scripts/build_default_model.sh ../shared/data` runs:

```
{commands}
{args.ensemble_command}
```

## Limits
Trained on one cell-type-agnostic enhancer set of 500-bp windows; scores are calibrated on that set
only, not for other lengths, species or enhancer definitions. Not for clinical use.
"""
    args.output.write_text(text)


if __name__ == "__main__":
    main()
