"""CPU forward benchmark of the Caduceus backbone: fused (numba) and chunked (PyTorch) selective scans
against the step-by-step reference, all in the same run (issue 18 item 5).

Every (variant, length, scan) runs in a fresh subprocess so that `ru_maxrss` is that run's peak RSS.
Usage: python benchmarks/caduceus.py [--lengths 1024 4096 16384 131072] [--ref-max-length 16384]
       [--threads 2]
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
    from dnaseq_cli.allocator import keep_freed_memory
    from dnaseq_cli.models import build

    keep_freed_memory()  # as the dnaseq command does at start

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build(
        "caduceus", d_model=args.d_model, n_layer=args.n_layer, rcps=args.variant == "ps"
    ).eval()
    model.set_scan(args.scan)
    ids = torch.randint(7, 11, (1, args.length), generator=torch.Generator().manual_seed(1))
    base = _rss_mb()
    with torch.inference_mode():
        w0 = time.perf_counter()
        model(ids[:, :256])  # warm-up: allocator, threads, loading the compiled numba kernels
        warmup = time.perf_counter() - w0
        times = []
        for _ in range(1 if args.scan == "reference" else args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            out = model(ids)
            times.append((time.perf_counter() - t0, time.process_time() - c0))
        seconds, cpu = sorted(times)[len(times) // 2]  # the median run
    if args.save:
        torch.save(out.clone(), args.save)
    json.dump(
        {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "peak_rss_mb": _rss_mb(),
            "base_rss_mb": base,
            "warmup_seconds": warmup,
        },
        sys.stdout,
    )


def run_one(variant: str, length: int, scan: str, args: argparse.Namespace, save: str) -> dict:
    cmd = [
        sys.executable, __file__, "--worker", "--variant", variant, "--length", str(length),
        "--scan", scan, "--d-model", str(args.d_model), "--n-layer", str(args.n_layer),
        "--threads", str(args.threads), "--save", save, "--repeats", str(args.repeats),
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
    p.add_argument("--threads", type=int, default=2, help="torch (and numba) threads per run")
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed forwards per fast scan (median reported; "
        "the reference runs once: at 10+ s a run, the first call's page faults do not matter)",
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
                row: dict = {"variant": variant, "length": length}
                scans = [*SCANS] + (["reference"] if length <= args.ref_max_length else [])
                for scan in scans:
                    row[scan] = run_one(variant, length, scan, args, f"{tmp}/{scan}.pt")
                ref = row.get("reference", {})
                for scan in SCANS:
                    got = row[scan]
                    if "error" in got or not ref or "error" in ref:
                        continue
                    a, b = (
                        torch.load(f"{tmp}/{s}.pt", weights_only=True) for s in (scan, "reference")
                    )
                    got["max_abs_diff"] = (a - b).abs().max().item()
                    got["speedup"] = ref["seconds"] / got["seconds"]
                    got["cpu_speedup"] = ref["cpu_seconds"] / got["cpu_seconds"]
                rows.append(row)
                print(_fmt(row), flush=True)
    meta = {
        "d_model": args.d_model, "n_layer": args.n_layer, "batch": 1, "device": "cpu",
        "torch": torch.__version__, "threads": args.threads,
        "machine": platform.processor() or platform.machine(),
        "note": f"reference (step-by-step) scan only up to {args.ref_max_length} tokens; fused = "
        "numba kernel (dnaseq_cli/models/caduceus/fused_scan.py), chunked = pure-PyTorch scan",
        "cpus": os.cpu_count(), "load_avg_start": load_start, "load_avg_end": os.getloadavg(),
    }  # fmt: skip
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in meta['load_avg_end'])}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


SCANS = ("fused", "chunked")
HEADER = (
    f"{'var':<4}{'length':>8}{'fused s':>9}{'RSS MB':>8}{'chunked s':>10}{'RSS MB':>8}"
    f"{'ref s':>8}{'ref RSS':>8}{'fused x':>8}{'chunk x':>8}{'fused |diff|':>13}"
)


def _fmt(row: dict) -> str:
    if not getattr(_fmt, "done", False):
        print(HEADER)
        _fmt.done = True  # type: ignore[attr-defined]
    f, c, r = row["fused"], row["chunked"], row.get("reference", {})

    def num(d: dict, k: str, spec: str) -> str:
        return format(d[k], spec) if k in d else "-"

    return (
        f"{row['variant']:<4}{row['length']:>8}{num(f, 'seconds', '.2f'):>9}"
        f"{num(f, 'peak_rss_mb', '.0f'):>8}{num(c, 'seconds', '.2f'):>10}"
        f"{num(c, 'peak_rss_mb', '.0f'):>8}{num(r, 'seconds', '.2f'):>8}"
        f"{num(r, 'peak_rss_mb', '.0f'):>8}{num(f, 'speedup', '.1f'):>8}"
        f"{num(c, 'speedup', '.1f'):>8}{num(f, 'max_abs_diff', '.1e'):>13}"
    )


if __name__ == "__main__":
    main()
