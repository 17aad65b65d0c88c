"""Speed of ``dnaseq explain``: ISM and integrated gradients of 500-bp windows.

    python benchmarks/explain.py [--model FOLDER] [--gradient-model FOLDER] [--threads N]
                                 [--repeats N] [--json PATH]

ISM: one 500-bp Cohn enhancer (data/examples/enhancers_cohn.fa), every position x 3 bases (1,500
mutated windows + the window), scored through the same WindowScorer as ``predict`` with the bundled
model by default. IG: attributions of the same window at the CLI defaults (``--ig-steps 32
--ig-baselines 8``: 256 points) with a gradient-capable model (default: the bundled ensemble's
hybrid member, the bundled ensemble itself holding a k-mer member that carries no gradient). Each
figure is the best of ``--repeats`` runs; CPU seconds are printed too, since wall time on a shared
machine also counts other processes. Targets on a 2-core CPU: ISM of one window in 1 s, IG of one
window in 1 s. The batch size is the CLI's default (256): on this CPU the bundled model's ISM takes
0.6-0.75 s at 64-256 windows per forward and 1.4 s at 512 or more (the hybrid member's activations
stop fitting the caches).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dnaseq_cli.explain.gradients import GradientExplainer  # noqa: E402
from dnaseq_cli.explain.ism import ism_windows  # noqa: E402
from dnaseq_cli.output import atomic_path  # noqa: E402
from dnaseq_cli.predict.model import WindowScorer, bundled_model_dir  # noqa: E402

TARGET_SECONDS = {"ism": 1.0, "integrated-gradients": 1.0}


def _first_record(length: int) -> str:
    text = (REPO / "data" / "examples" / "enhancers_cohn.fa").read_text().split(">")[1]
    return "".join(text.splitlines()[1:])[:length].upper()


def _best(fn, repeats: int) -> tuple[float, float]:
    wall = cpu = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - w0), min(cpu, time.process_time() - c0)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="ISM model (default: bundled)")
    parser.add_argument("--gradient-model", default=str(bundled_model_dir() / "members/hybrid"))
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--batch-size", type=int, default=256, help="as dnaseq explain (512: 2x slower here)"
    )
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks/results/explain.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []

    scorer = WindowScorer(args.model, device="cpu", batch_size=args.batch_size)
    seq = _first_record(scorer.info.window_length)
    ids = scorer.encode([seq])
    rows_all = [np.arange(len(seq))]
    ism_windows(scorer, ids[:, :], [np.arange(10)], 1)  # warm-up
    wall, cpu = _best(lambda: ism_windows(scorer, ids, rows_all, 1), args.repeats)
    rows.append(("ism", scorer.info.path.name, 3 * len(seq) + 1, wall, cpu))

    grad_scorer = WindowScorer(args.gradient_model, device="cpu")
    explainer = GradientExplainer(
        grad_scorer.classifier, grad_scorer.info.model_encoding, grad_scorer.info.task, 1
    )
    grad_ids = grad_scorer.encode([_first_record(grad_scorer.info.window_length)])[0]
    explainer.attribute(grad_ids, "integrated-gradients", 4)  # warm-up
    wall, cpu = _best(
        lambda: explainer.attribute(grad_ids, "integrated-gradients", 32), args.repeats
    )
    rows.append(("integrated-gradients", Path(args.gradient_model).name, 32 * 8, wall, cpu))

    print(
        f"dnaseq explain benchmark: {platform.processor() or platform.machine()}, "
        f"{args.threads} threads, torch {torch.__version__}, best of {args.repeats}"
    )
    print(f"{'job':22} {'model':18} {'windows':>8} {'seconds':>8} {'cpu s':>7} {'win/s':>8} "
          f"{'target s':>8} ok")  # fmt: skip
    payload = {"threads": args.threads, "torch": torch.__version__, "jobs": []}
    for job, model, windows, wall, cpu in rows:
        target = TARGET_SECONDS[job]
        print(f"{job:22} {model:18} {windows:8d} {wall:8.2f} {cpu:7.2f} {windows / wall:8.0f} "
              f"{target:8.1f} {'yes' if wall <= target else 'NO'}")  # fmt: skip
        payload["jobs"].append({
            "job": job, "model": model, "windows": windows, "seconds": wall, "cpu_seconds": cpu,
            "windows_per_second": windows / wall, "target_seconds": target,
            "meets_target": wall <= target,
        })  # fmt: skip
    with atomic_path(args.json) as out:
        out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
