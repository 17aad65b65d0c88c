"""The four paper backbones plus cnn and kmer on GUE tasks, one budget and seed (issue 19).

    python benchmarks/gue_compare.py [--tasks prom_prom_core_all,prom_prom_300_tata,tf_0,tf_3]
        [--backbones caduceus,bigbird,gnn,hybrid,cnn,kmer] [--max-time 2m] [--runs DIR]

Each (task, backbone) is one ``dnaseq train`` run, started one at a time: the task's train file as
inputs, its dev file as the given validation split (``--val-input``: exact train copies of dev rows
dropped), a tenth of train held out as test, the ``tiny`` preset, seed 0, at most ``--max-time``
of training and ``--max-steps`` optimiser steps per epoch, early stopping on validation AUROC.
A finished run folder is kept and not trained again, so the script can be stopped and restarted.
The table is ``dnaseq compare --by-task`` over the run folders (dev metrics of the kept epoch),
written to benchmarks/results/gue_compare.{md,tsv,json} and gue_compare/ (with the PNG).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GUE = REPO.parent / "shared" / "data" / "gue_dnabert2"
RESULTS = REPO / "benchmarks" / "results"
TASKS = "tf_0,tf_3,prom_prom_300_tata,prom_prom_core_all"
BACKBONES = "caduceus,bigbird,gnn,hybrid,cnn,kmer"


def train(task: str, backbone: str, run: Path, args: argparse.Namespace) -> float:
    """Train one run (skipped when already complete); return the wall time spent here."""
    if (run / "test_metrics.json").is_file():
        return 0.0
    folder = GUE / task
    command = [
        sys.executable, "-m", "dnaseq_cli", "train", str(folder / "train.csv.gz"),
        "--val-input", str(folder / "dev.csv.gz"), "-o", str(run), "--backbone", backbone,
        "--size", "tiny", "--seed", "0", "--epochs", "100", "--batch-size", str(args.batch_size),
        "--max-steps-per-epoch", str(args.max_steps), "--max-time", args.max_time, "--patience", "2",
        "--device", "cpu", "--quiet", "--force",
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    spent = time.monotonic() - started
    status = "ok" if result.returncode == 0 else f"exit {result.returncode}"
    print(
        f"{task} {backbone}: {status} in {spent:.0f} s {result.stderr.strip()[-300:]}", flush=True
    )
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=TASKS)
    parser.add_argument("--backbones", default=BACKBONES)
    parser.add_argument("--max-time", default="2m")
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--runs", type=Path, default=REPO.parent / "gue_runs")
    parser.add_argument("--table-only", action="store_true", help="Do not train; tabulate.")
    args = parser.parse_args()
    runs = []
    for task in args.tasks.split(","):
        for backbone in args.backbones.split(","):
            run = args.runs / task / backbone
            if not args.table_only:
                train(task, backbone, run, args)
            if (run / "test_metrics.json").is_file():
                runs.append(run)
    RESULTS.mkdir(exist_ok=True)
    base = [sys.executable, "-m", "dnaseq_cli", "compare", *map(str, runs), "--by-task"]
    for fmt, suffix in (("markdown", "md"), ("tsv", "tsv"), ("json", "json")):
        text = subprocess.run([*base, "--format", fmt], capture_output=True, text=True, check=True)
        (RESULTS / f"gue_compare.{suffix}").write_text(text.stdout)
    subprocess.run([*base, "--format", "tsv", "-o", str(RESULTS / "gue_compare")],
                   capture_output=True, check=True)  # fmt: skip
    print((RESULTS / "gue_compare.md").read_text())


if __name__ == "__main__":
    main()
