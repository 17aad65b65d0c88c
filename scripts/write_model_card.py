"""Write MODEL_CARD.md for a checkpoint from its training run folder (metrics are read, not typed).

python scripts/write_model_card.py RUN_FOLDER OUT.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def main(run: Path, out: Path) -> None:
    config = json.loads((run / "run_config.json").read_text())
    test = json.loads((run / "test_metrics.json").read_text())
    history = pd.read_csv(run / "metrics_per_epoch.tsv", sep="\t")
    best = history.iloc[int(test["best_epoch"]) - 1]
    command = (run / "command.txt").read_text().strip()
    split = config["dataset_manifest"]["split"]
    manifest = json.loads((Path(config["dataset"]) / "manifest.json").read_text())
    counts = manifest["split_counts"]
    model = config["model"]
    metric_names = ["accuracy", "precision", "recall", "f1", "f1_macro", "mcc", "auroc", "auprc"]

    def val(name: str) -> str:
        value = best.get("val_" + name)
        return "-" if value is None or pd.isna(value) else f"{value:.4f}"

    rows = "\n".join(
        f"| {name} | {test[name]:.4f} | {val(name)} |" for name in metric_names if name in test
    )
    train = config["train"]
    augmentation = (
        ", ".join(
            part
            for part, on in (
                ("reverse-complement augmentation", train.get("rc_augment")),
                (
                    f"random shifts of up to {train.get('shift_augment')} bp",
                    train.get("shift_augment"),
                ),
            )
            if on
        )
        or "no augmentation"
    )
    text = f"""# dnaseq default enhancer model (`enhancer_default`)

Binary classifier: P(enhancer) for a 500-bp human DNA sequence, both strands averaged.
Backbone `{model["backbone"]}` (Hybrid CNN Transformer), {config["parameters"]:,} parameters, config:
`{json.dumps(model["config"])}`. Window {config["dataset_manifest"]["window_length"]} bp; longer
sequences are tiled by `dnaseq predict`, shorter ones padded and flagged.

## Data
Genomic Benchmarks `human_enhancers_cohn` (Gresova et al. 2023, Apache-2.0; enhancers from Cohn et
al. 2018, H3K27ac-defined, and their negative-control regions, GRCh38): the 4,948 sequences
(2,474 enhancers, 2,474 negatives) of `shared/data/gb_cohn_test_sequences/cohn_dev.tsv.gz`.
Split {split["method"]} 80/10/10 with seed {split["seed"]}: train {counts["train"]["total"]},
validation {counts["val"]["total"]}, test {counts["test"]["total"]}. The test sequences were never
used for training or model selection. (2,000 further sequences of the same benchmark split are kept
outside this project as an independent evaluation set.)

## Training
AdamW (lr {config["train"]["lr"]}, weight decay {config["train"]["weight_decay"]}), warmup + cosine,
batch {config["train"]["batch_size"]}, {augmentation}, early
stopping on validation AUROC (patience {config["train"]["patience"]}); best epoch
{test["best_epoch"]} of {test["epochs_run"]}, {test["train_seconds"]:.0f} s on CPU.

## Metrics (threshold 0.5)
| metric | test (held out) | validation (best epoch) |
|---|---|---|
{rows}

Confusion matrix on test (rows true 0/1, columns predicted 0/1): `{test.get("confusion_matrix")}`.

## Reproduce
`bash scripts/build_default_model.sh ../shared/data` runs:

```
{command}
```

## Limits
Trained on one cell-type-agnostic enhancer set of 500-bp windows; scores are not calibrated
probabilities for other lengths, species or enhancer definitions. Not for clinical use.
"""
    out.write_text(text)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
