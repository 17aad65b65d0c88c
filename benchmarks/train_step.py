"""CPU training-step benchmark: every backbone on a batch of 500-bp windows (the Cohn setting).

    python benchmarks/train_step.py [--batch-size 32] [--length 500] [--threads 2] [--steps 3]

One optimiser step = forward, cross-entropy, backward, AdamW, in training mode (dropout on). Each
row runs in a fresh subprocess so that peak RSS is that model's. (Autograd through the step-by-step
reference scan did not finish one Caduceus step in 9 minutes at this size, so it is not a row; the
Caduceus rows compare the fused numba scan with the pure-PyTorch chunked scan in the same run.)
``--baseline DIR`` adds the Caduceus rows again with the package imported from DIR, a checkout of
an earlier commit (e.g. ``git worktree add /tmp/base b1a6be2``, the code when issue 18 was filed):
"than today" measured in the same run. Prints a table, writes benchmarks/results/train_step.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results" / "train_step.json"
REPO = Path(__file__).resolve().parents[1]
ROWS = [  # (label, backbone, size, overrides, caduceus scan)
    ("caduceus tiny (d64), fused scan", "caduceus", "tiny", {}, "fused"),
    ("caduceus tiny (d64), chunked scan", "caduceus", "tiny", {}, "chunked"),
    ("caduceus d32, d_state 8 (Cohn run), fused", "caduceus", "tiny",
     {"d_model": 32, "ssm_cfg": {"d_state": 8}}, "fused"),
    ("caduceus d32, d_state 8 (Cohn run), chunked", "caduceus", "tiny",
     {"d_model": 32, "ssm_cfg": {"d_state": 8}}, "chunked"),
    ("bigbird tiny", "bigbird", "tiny", {}, "auto"),
    ("gnn tiny", "gnn", "tiny", {}, "auto"),
    ("hybrid d64 (Cohn run)", "hybrid", "tiny",
     {"d_model": 64, "n_layers": 1, "kmer_sizes": [1, 2, 3, 4, 5, 6], "stem_kernels": [9],
      "pool_sizes": [10, 5], "dropout": 0.2}, "auto"),
    ("cnn small", "cnn", "small", {}, "auto"),
]  # fmt: skip


def worker(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(args.repo or REPO))
    from dnaseq_cli.models import factory

    try:  # as the dnaseq command does at start (an earlier checkout may not have it)
        from dnaseq_cli.allocator import keep_freed_memory

        keep_freed_memory()
    except ImportError:
        pass

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    spec = factory.model_spec(args.backbone, args.size, json.loads(args.overrides))
    model = factory.build_classifier(spec, 2).train()
    if args.scan != "auto":
        for module in model.modules():
            if hasattr(module, "scan_impl"):
                module.scan_impl = args.scan
    encoding = factory.encoding_of(args.backbone, spec["config"])
    g = torch.Generator().manual_seed(1)
    chars = torch.randint(7, 11, (args.batch_size, args.length), generator=g)
    if encoding == "char":
        ids = chars
    else:
        from dnaseq_cli.encode.convert import convert_tokens

        ids = convert_tokens(chars, "char", encoding)
    labels = torch.randint(0, 2, (args.batch_size,), generator=g)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(ids), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    step()  # warm-up (allocator, lazily built patterns)
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    seconds = min(times)
    json.dump(
        {"seconds": seconds, "seqs_per_s": args.batch_size / seconds,
         "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
         "parameters": sum(p.numel() for p in model.parameters())},
        sys.stdout,
    )  # fmt: skip


def _caduceus_ratios(results: list[dict]) -> list[str]:
    """How many times faster each fused Caduceus row is than its chunked and baseline rows."""
    fused = {r["model"].rsplit(",", 1)[0]: r for r in results if r["scan"] == "fused"}
    lines = []
    for row in results:
        if row["backbone"] != "caduceus" or row["scan"] == "fused":
            continue
        base = fused.get(row["model"].rsplit(",", 1)[0])
        if base:
            lines.append(f"{base['model']}: {row['seconds'] / base['seconds']:.2f}x faster than "
                         f"{row['model']}")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=500)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--only", default="", help="Rows whose label contains this text.")
    parser.add_argument(
        "--baseline", type=Path, help="Also run the Caduceus rows from this earlier checkout."
    )
    parser.add_argument("--repo", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("--backbone", "--size", "--overrides", "--scan"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    results = []
    print(
        f"batch {args.batch_size} x {args.length} bp, {args.threads} threads, best of {args.steps}"
    )
    print(f"{'model':46} {'params':>9} {'s/step':>8} {'seq/s':>8} {'peak RSS MB':>12}")
    rows = [
        (label, backbone, size, overrides, scan, None)
        for label, backbone, size, overrides, scan in ROWS
    ]
    if args.baseline:
        commit = subprocess.run(
            ["git", "-C", str(args.baseline), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True,
        ).stdout.strip() or str(args.baseline)  # fmt: skip
        rows += [
            (
                f"{label.rsplit(',', 1)[0]}, at {commit}",
                backbone,
                size,
                overrides,
                "auto",
                args.baseline,
            )
            for label, backbone, size, overrides, scan, _ in rows
            if backbone == "caduceus" and scan == "chunked"
        ]
    for label, backbone, size, overrides, scan, repo in rows:
        if args.only not in label:
            continue
        command = [
            sys.executable, __file__, "--worker", "--backbone", backbone, "--size", size,
            "--overrides", json.dumps(overrides), "--scan", scan, "--batch-size",
            str(args.batch_size), "--length", str(args.length), "--threads", str(args.threads),
            "--steps", str(args.steps), *(["--repo", str(repo)] if repo else []),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{label:46} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        row = {"model": label, "backbone": backbone, "scan": scan, "code": str(repo or "this checkout"),
               **json.loads(done.stdout)}  # fmt: skip
        results.append(row)
        print(f"{label:46} {row['parameters']:9,} {row['seconds']:8.3f} {row['seqs_per_s']:8.1f} "
              f"{row['peak_rss_mb']:12,.0f}")  # fmt: skip
    ratios = _caduceus_ratios(results)
    for line in ratios:
        print(line)
    payload = {"batch_size": args.batch_size, "length": args.length, "threads": args.threads,
               "torch": torch.__version__, "machine": platform.platform(),
               "load_average": os.getloadavg(), "results": results, "ratios": ratios}  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
