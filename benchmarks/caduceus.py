"""CPU forward benchmark of the Caduceus backbone: chunked selective scan vs the step-by-step reference.

Every (variant, length, scan) runs in a fresh subprocess so that `ru_maxrss` is that run's peak RSS.
Usage: python benchmarks/caduceus.py [--lengths 1024 4096 16384 131072] [--ref-max-length 16384]
Writes benchmarks/results/caduceus.json and prints a table; "speedup" is wall-clock, "cpu-x" the
ratio of process CPU times (robust when other jobs share the cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results" / "caduceus.json"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker(args: argparse.Namespace) -> None:
    from dnaseq_cli.models import build

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build(
        "caduceus", d_model=args.d_model, n_layer=args.n_layer, rcps=args.variant == "ps"
    ).eval()
    model.set_scan(args.scan)
    ids = torch.randint(7, 11, (1, args.length), generator=torch.Generator().manual_seed(1))
    base = _rss_mb()
    with torch.inference_mode():
        if args.length <= 4096:  # warm-up for short runs (allocator, threads)
            model(ids[:, :256])
        t0, c0 = time.perf_counter(), time.process_time()
        out = model(ids)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if args.save:
        torch.save(out.clone(), args.save)
    json.dump(
        {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": _rss_mb(), "base_rss_mb": base},
        sys.stdout,
    )


def run_one(variant: str, length: int, scan: str, args: argparse.Namespace, save: str) -> dict:
    cmd = [
        sys.executable, __file__, "--worker", "--variant", variant, "--length", str(length),
        "--scan", scan, "--d-model", str(args.d_model), "--n-layer", str(args.n_layer),
        "--threads", str(args.threads), "--save", save,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384, 131072])
    p.add_argument("--variants", nargs="+", default=["ps", "ph"], choices=["ps", "ph"])
    p.add_argument("--ref-max-length", type=int, default=16384)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads per run (1: stable on shared CPUs)"
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--variant", default="ps", help=argparse.SUPPRESS)
    p.add_argument("--length", type=int, default=1024, help=argparse.SUPPRESS)
    p.add_argument("--scan", default="auto", help=argparse.SUPPRESS)
    p.add_argument("--save", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    rows, load_start = [], os.getloadavg()
    print(f"load average at start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            for length in args.lengths:
                fast_path, ref_path = f"{tmp}/fast.pt", f"{tmp}/ref.pt"
                fast = run_one(variant, length, "auto", args, fast_path)
                row = {"variant": variant, "length": length, "chunked": fast}
                if length <= args.ref_max_length:
                    ref = run_one(variant, length, "reference", args, ref_path)
                    row["reference"] = ref
                    if "error" not in fast and "error" not in ref:
                        a, b = (torch.load(p, weights_only=True) for p in (fast_path, ref_path))
                        row["max_abs_diff"] = (a - b).abs().max().item()
                        row["speedup"] = ref["seconds"] / fast["seconds"]
                        row["cpu_speedup"] = ref["cpu_seconds"] / fast["cpu_seconds"]
                rows.append(row)
                print(_fmt(row), flush=True)
    meta = {
        "d_model": args.d_model, "n_layer": args.n_layer, "batch": 1, "device": "cpu",
        "torch": torch.__version__, "threads": args.threads,
        "machine": platform.processor() or platform.machine(),
        "note": f"reference (step-by-step) scan only up to {args.ref_max_length} tokens",
        "cpus": os.cpu_count(), "load_avg_start": load_start, "load_avg_end": os.getloadavg(),
    }  # fmt: skip
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in meta['load_avg_end'])}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


HEADER = (
    f"{'var':<4}{'length':>8}{'chunked s':>11}{'RSS MB':>9}{'ref s':>10}{'ref RSS':>9}"
    f"{'speedup':>9}{'cpu-x':>7}{'max|diff|':>11}"
)


def _fmt(row: dict) -> str:
    if not getattr(_fmt, "done", False):
        print(HEADER)
        _fmt.done = True  # type: ignore[attr-defined]
    f, r = row["chunked"], row.get("reference", {})

    def num(d: dict, k: str, spec: str) -> str:
        return format(d[k], spec) if k in d else "-"

    return (
        f"{row['variant']:<4}{row['length']:>8}{num(f, 'seconds', '.2f'):>11}"
        f"{num(f, 'peak_rss_mb', '.0f'):>9}{num(r, 'seconds', '.2f'):>10}"
        f"{num(r, 'peak_rss_mb', '.0f'):>9}{num(row, 'speedup', '.1f'):>9}"
        f"{num(row, 'cpu_speedup', '.1f'):>7}"
        f"{num(row, 'max_abs_diff', '.1e'):>11}"
    )


if __name__ == "__main__":
    main()
