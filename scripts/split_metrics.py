"""Score one split of a `dnaseq preprocess` dataset with a model folder and compute its metrics.

    python scripts/split_metrics.py MODEL DATASET [--split test] [-o metrics.json]

Why: the bundled model card and the ensemble cross-validation need the metrics of a model folder
(a checkpoint or an ensemble) on records it never saw, computed the same way as `dnaseq train`'s.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dnaseq_cli.data.dataset import load_dataset
from dnaseq_cli.predict.model import WindowScorer
from dnaseq_cli.report.metrics import classification_metrics

KEPT = ("accuracy", "precision", "recall", "f1", "f1_macro", "mcc", "auroc", "auprc")


def split_probabilities(model: Path, dataset: Path, split: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Records of one split and their positive-class probabilities (both strands averaged)."""
    data = load_dataset(dataset)
    rows = data.split(split)
    scorer = WindowScorer(model, device="cpu", batch_size=256)
    tokens = torch.from_numpy(np.asarray(data.tokens[rows], dtype=np.int64))
    return data.records.iloc[rows], scorer.score_ids(tokens)[:, 1]


def metrics_of(labels: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    found = classification_metrics(labels, np.stack([1 - probability, probability], axis=1))
    return {k: float(found[k]) for k in KEPT if k in found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    records, probability = split_probabilities(args.model, args.dataset, args.split)
    labels = records["label"].astype(int).to_numpy()
    found = classification_metrics(labels, np.stack([1 - probability, probability], axis=1))
    metrics = metrics_of(labels, probability) | {"n": int(len(labels)), "split": args.split}
    metrics["confusion_matrix"] = found["confusion_matrix"]
    text = json.dumps(metrics, indent=2)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
