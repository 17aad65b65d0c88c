"""Score one split of a `dnaseq preprocess` dataset with a model folder and compute its metrics.

    python scripts/split_metrics.py MODEL DATASET [--split test] [-o metrics.json]

Why: the bundled model card and the ensemble cross-validation need the metrics of a model folder
(a checkpoint or an ensemble) on records it never saw, computed the same way as `dnaseq train`'s.
The scoring is `dnaseq_cli.predict.model.score_split`, the metrics `report.metrics.binary_metrics`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dnaseq_cli.predict.model import score_split
from dnaseq_cli.report.metrics import binary_metrics, classification_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    records, probability = score_split(args.model, args.dataset, args.split)
    labels = records["label"].astype(int).to_numpy()
    found = classification_metrics(labels, np.stack([1 - probability, probability], axis=1))
    metrics = binary_metrics(labels, probability) | {"n": int(len(labels)), "split": args.split}
    metrics["confusion_matrix"] = found["confusion_matrix"]
    text = json.dumps(metrics, indent=2)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
