"""Write MODEL_CARD.md for the bundled ensemble from its run folders (metrics are read, not typed).

    python scripts/write_model_card.py ENSEMBLE_DIR TEST_METRICS.json OUT.md --runs RUN... \
        [--crossval CROSSVAL_ENSEMBLE.json] [--ensemble-command "dnaseq ensemble ..."] \
        [--zoo-json ZOO.json]

ENSEMBLE_DIR is the `dnaseq ensemble` folder, TEST_METRICS.json what `scripts/split_metrics.py`
wrote for it on the held-out test split, RUN the member run folders (in member order).
``--zoo-json`` also writes the same figures as the model zoo's ``zoo.json`` (what ``dnaseq models``
lists; schema in ``dnaseq_cli/predict/zoo.py``).
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
        "size": config["model"].get("size"),
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


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def zoo_facts(
    ensemble: dict,
    test: dict,
    rows: list[dict],
    crossval: dict | None,
    ensemble_command: str,
    commands: list[str],
) -> dict:
    """``zoo.json`` for the ensemble: the card's figures, machine-readable (see predict/zoo.py)."""
    import torch

    from dnaseq_cli import __version__

    counts = rows[0]["manifest"]["split_counts"]
    split = rows[0]["split"]
    members = [
        {"name": m["name"], "backbone": r["backbone"], "parameters": r["parameters"],
         "dev_auroc": _rounded(r["val_auroc"]), "dev_accuracy": _rounded(r["val_accuracy"]),
         "test_auroc": _rounded(r["test"]["auroc"]),
         "test_accuracy": _rounded(r["test"]["accuracy"]),
         "training_seconds": round(r["test"]["train_seconds"])}
        for m, r in zip(ensemble["members"], rows, strict=True)
    ]  # fmt: skip
    kmer = [(m, r) for m, r in zip(members, rows, strict=True) if r["backbone"] == "kmer"]
    facts = {
        "schema": 1,
        "name": "enhancer_default",
        "task": "enhancer (Cohn): human enhancers",
        "task_id": "human_enhancers_cohn",
        "dataset": {
            "name": "Genomic Benchmarks human_enhancers_cohn",
            "source": "shared/data/gb_cohn_test_sequences/cohn_dev.tsv.gz",
            "citation": "Gresova et al. 2023 (Genomic Benchmarks); enhancers from Cohn et al. 2018",
            "license": "Apache-2.0",
            "records": sum(counts[part]["total"] for part in ("train", "val", "test")),
        },
        "split": {
            "method": f"{split['method']} 80/10/10, seed {split['seed']}",
            "train": counts["train"]["total"],
            "dev": counts["val"]["total"],
            "test": counts["test"]["total"],
        },
        "dev": {
            "records": counts["val"]["total"],
            "auroc": None,
            "accuracy": None,
            "mcc": None,
            "note": "not recorded for the ensemble (the split served for early stopping and "
            "calibration); see members",
        },
        "test": {"records": test["n"], **{k: _rounded(test.get(k)) for k in METRICS}},
        "members": members,
        "crossval": None,
        "kmer_baseline": None,
        "best_published": None,
        "parameters": sum(r["parameters"] for r in rows),
        "training_seconds": sum(m["training_seconds"] for m in members),
        "device": "cpu (2 cores)",
        "train_commands": [*commands, ensemble_command],
        "rebuild_command": "bash scripts/build_default_model.sh ../shared/data",
        "built_with": {"dnaseq": __version__, "torch": torch.__version__},
    }
    if kmer:
        member, row = kmer[0]
        facts["kmer_baseline"] = {"backbone": "kmer", "size": row["size"],
                                  "dev_auroc": member["dev_auroc"],
                                  "note": "the ensemble's k-mer member"}  # fmt: skip
    if crossval:
        facts["crossval"] = {"folds": len(crossval["per_fold"]),
                             **{f"{k}_{stat}": _rounded(crossval[stat][k])
                                for k in ("accuracy", "mcc", "auroc") for stat in ("mean", "sd")}}  # fmt: skip
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ensemble", type=Path)
    parser.add_argument("test_metrics", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--runs", type=Path, nargs="+", required=True)
    parser.add_argument("--crossval", type=Path)
    parser.add_argument("--ensemble-command", default="")
    parser.add_argument("--zoo-json", type=Path, help="Also write the zoo.json of the model here.")
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
    if args.zoo_json:
        from dnaseq_cli.predict.zoo import write_facts

        cv = json.loads(args.crossval.read_text()) if args.crossval else None
        facts = zoo_facts(ensemble, test, rows, cv, args.ensemble_command, commands.splitlines())
        write_facts(args.zoo_json, facts)


if __name__ == "__main__":
    main()
