"""Backbone forward time and peak memory on CPU versus long-sequence references.

    python benchmarks/backbones.py [--lengths 1024,4096,16384,131072] [--repeats 3] [--json PATH]
        [--backbones bigbird,hf-bigbird,dense,caduceus,gnn,hybrid,cnn]

Batch 1, d_model 128, 4 layers, 4 heads, eval mode under ``torch.inference_mode``. Each
(backbone, length) runs in a fresh subprocess: time is the min over ``--repeats`` forwards (the
machine is shared, so the min is the least noisy), memory is that process's ``ru_maxrss`` (raw) and
the same minus an idle subprocess that only imported torch (delta). References: Hugging Face
``transformers`` BigBirdModel (block_sparse, block 64, 3 random blocks) and a dense
``torch.nn.TransformerEncoder``. The GNN runs with full global attention up to 4096 tokens and
with ``attention_window=512`` beyond (``LONG_INPUT_CONFIG``; the row's ``desc`` says so). Registry
backbones (``dnaseq_cli.models.registry.build``) are tried and skipped with a reason when the
registry or the name is missing. Add a backbone by adding an entry to ``BACKBONES``. Ratios are reference / row (>1 means the row is faster or smaller).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

D_MODEL, N_LAYERS, N_HEADS = 128, 4, 4
REFERENCES = ("hf-bigbird", "dense")
DEFAULT_BACKBONES = ("bigbird", "hf-bigbird", "dense", "caduceus", "gnn", "hybrid", "cnn")
WORKER_TIMEOUT_S = 1800
MIN_TIME_S, MAX_REPEATS = 10.0, 20


def _ram_gb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


# ----------------------------------------------------------------------------- backbones
# A builder takes the length and returns (forward thunk, description) or raises SkipBenchmark.


class SkipBenchmark(Exception):
    """This backbone cannot run this configuration; the message says why."""


def _kmer_input(length: int, k: int = 3):
    import torch

    gen = torch.Generator().manual_seed(0)
    return torch.randint(5, 5 + 4**k, (1, length), generator=gen)


def build_bigbird(length: int) -> tuple[Callable[[], Any], str]:
    from dnaseq_cli.models.bigbird import BigBirdBackbone

    model = BigBirdBackbone(d_model=D_MODEL, n_layers=N_LAYERS, n_heads=N_HEADS).eval()
    ids = _kmer_input(length)
    return lambda: model(ids), "dnaseq BigBirdBackbone (block 64, window 3, 2 global, 3 random)"


def build_hf_bigbird(length: int) -> tuple[Callable[[], Any], str]:
    try:
        from transformers import BigBirdConfig, BigBirdModel
    except ImportError as exc:
        raise SkipBenchmark("transformers not installed") from exc
    if length <= (5 + 2 * 3) * 64:
        raise SkipBenchmark("HF falls back to full attention at <= 704 tokens")
    config = BigBirdConfig(
        vocab_size=69,
        hidden_size=D_MODEL,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=N_HEADS,
        intermediate_size=4 * D_MODEL,
        attention_type="block_sparse",
        block_size=64,
        num_random_blocks=3,
        max_position_embeddings=length + 64,
    )
    model = BigBirdModel(config).eval()
    ids = _kmer_input(length)
    mask = ids.new_ones(ids.shape)
    return lambda: model(input_ids=ids, attention_mask=mask), "transformers BigBirdModel"


def build_dense(length: int) -> tuple[Callable[[], Any], str]:
    import torch
    from torch import nn

    layer = nn.TransformerEncoderLayer(
        D_MODEL, N_HEADS, 4 * D_MODEL, dropout=0.1, batch_first=True, norm_first=True
    )
    model = nn.Sequential(nn.Embedding(69, D_MODEL), nn.TransformerEncoder(layer, N_LAYERS)).eval()
    ids = _kmer_input(length)
    return lambda: model(ids), f"torch.nn.TransformerEncoder (torch {torch.__version__})"


# Config added beyond a length, for backbones whose default cannot scale: (from length, config).
LONG_INPUT_CONFIG: dict[str, tuple[int, dict[str, Any]]] = {
    # full global attention is O(L^2); block-local attention (own + neighbouring 512-node blocks)
    "gnn": (4096, {"attention_window": 512}),
}


def long_input_config(name: str, length: int) -> dict[str, Any]:
    threshold, extra = LONG_INPUT_CONFIG.get(name, (None, {}))
    return dict(extra) if threshold is not None and length > threshold else {}


def registry_builder(name: str) -> Callable[[int], tuple[Callable[[], Any], str]]:
    """A builder for a backbone the project registry knows, fed the input its encoding needs."""

    def build(length: int) -> tuple[Callable[[], Any], str]:
        try:
            from dnaseq_cli.models import registry
        except ImportError as exc:
            raise SkipBenchmark(f"no dnaseq_cli.models.registry ({exc})") from exc
        model = None
        extra = long_input_config(name, length)
        for kwargs in (dict(d_model=D_MODEL, n_layers=N_LAYERS, **extra), extra):
            try:
                model = registry.build(name, **kwargs)
                break
            except TypeError:
                continue
            except Exception as exc:  # unknown name, missing optional dependency...
                raise SkipBenchmark(f"registry.build({name!r}) failed: {exc}") from exc
        if model is None:
            raise SkipBenchmark(f"registry.build({name!r}) rejected every argument set")
        model = model.eval()
        encoding = str(getattr(model, "encoding", ""))
        if encoding.startswith("kmer") and encoding[4:].isdigit():
            ids = _kmer_input(length, int(encoding[4:]))
        elif encoding.startswith("char"):
            import torch

            ids = torch.randint(7, 11, (1, length), generator=torch.Generator().manual_seed(0))
        else:
            raise SkipBenchmark(f"encoding {encoding!r}: no input builder in this benchmark yet")
        shown = "".join(f", {k}={v}" for k, v in extra.items())
        return lambda: model(ids), f"registry {name} ({encoding}{shown})"

    return build


DENSE_MAX = 16384
# Known limits, checked before running: (longest length, why).
LIMITS: dict[str, tuple[int, str]] = {
    "dense": (DENSE_MAX, "O(L^2) memory (131k: 4 heads x 131k^2 fp32 scores = 275 GB)"),
}

BACKBONES: dict[str, Callable[[int], tuple[Callable[[], Any], str]]] = {
    "bigbird": build_bigbird,
    "hf-bigbird": build_hf_bigbird,
    "dense": build_dense,
    **{n: registry_builder(n) for n in ("caduceus", "gnn", "hybrid", "cnn")},
}


# ----------------------------------------------------------------------------- worker


def _maxrss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def worker(name: str, length: int, repeats: int, threads: int = 0) -> dict[str, Any]:
    """Runs in the subprocess: build, forward ``repeats`` times, report min time and peak RSS."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)

    if name == "idle":
        return {"status": "ok", "rss_gb": _maxrss_gb()}
    try:
        forward, desc = BACKBONES[name](length)
    except SkipBenchmark as exc:
        return {"status": "skipped", "reason": str(exc)}
    times = []
    with torch.inference_mode():
        # at least `repeats`; short runs repeat up to MIN_TIME_S, since the min of more samples
        # is less disturbed by other jobs on a shared machine
        while len(times) < repeats or (sum(times) < MIN_TIME_S and len(times) < MAX_REPEATS):
            start = time.perf_counter()
            forward()
            times.append(time.perf_counter() - start)
    return {
        "status": "ok",
        "desc": desc,
        "time_s": min(times),
        "times_s": times,
        "rss_gb": _maxrss_gb(),
        "threads": torch.get_num_threads(),
        "loadavg_1m": os.getloadavg()[0],  # the machine is shared: context for noisy timings
    }


def run_worker(name: str, length: int, repeats: int, threads: int = 0) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        name,
        "--lengths",
        str(length),
        "--repeats",
        str(repeats),
        "--threads",
        str(threads),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"status": "skipped", "reason": f"timed out after {WORKER_TIMEOUT_S} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        if proc.returncode in (-9, 137):
            tail = "killed (out of memory?)"
        return {"status": "failed", "reason": tail[:200]}
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------- driver


def _projection_skip(
    prev: dict[str, Any] | None, length: int, baseline: float, repeats: int
) -> str | None:
    """Skip a run that a linear extrapolation of the previous length says cannot fit (RAM, time)."""
    if not prev or prev.get("status") != "ok":
        return None
    scale = length / prev["length"]
    projected = (prev["rss_gb"] - baseline) * scale + baseline
    if projected > 0.8 * _ram_gb():
        return (
            f"projected {projected:.0f} GB (linear from {prev['rss_gb']:.1f} GB at "
            f"{prev['length']}) > 80% of {_ram_gb():.0f} GB RAM"
        )
    if prev["time_s"] * scale * repeats > WORKER_TIMEOUT_S:
        return (
            f"projected > {WORKER_TIMEOUT_S} s for {repeats} repeats (linear from {prev['length']})"
        )
    return None


def _ratio(ref: dict[str, Any] | None, row: dict[str, Any], key: str) -> float | None:
    if not ref or ref.get("status") != "ok" or row.get("status") != "ok":
        return None
    return ref[key] / max(row[key], 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1024,4096,16384,131072")
    parser.add_argument("--backbones", default=",".join(DEFAULT_BACKBONES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks/results/backbones.json")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads per run (0: torch default); 1 is steadier when other jobs share the CPUs",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    lengths = [int(x) for x in args.lengths.split(",") if x]
    if args.worker:
        print(json.dumps(worker(args.worker, lengths[0], args.repeats, args.threads)))
        return 0
    names = [x for x in args.backbones.split(",") if x]
    unknown = sorted(set(names) - set(BACKBONES))
    if unknown:
        parser.error(f"unknown backbones {unknown}; known: {sorted(BACKBONES)}")
    baseline = min(run_worker("idle", 0, 1)["rss_gb"] for _ in range(2))
    print(f"idle torch process RSS: {baseline:.3f} GB", flush=True)
    rows: list[dict[str, Any]] = []
    for name in names:
        prev = None
        for length in lengths:
            limit, why = LIMITS.get(name, (None, ""))
            reason = (
                why
                if limit is not None and length > limit
                else _projection_skip(prev, length, baseline, args.repeats)
            )
            res = (
                {"status": "skipped", "reason": reason}
                if reason
                else run_worker(name, length, args.repeats, args.threads)
            )
            res = {"backbone": name, "length": length, **res}
            if res["status"] == "ok":
                res["delta_gb"] = res["rss_gb"] - baseline
                prev = res
            rows.append(res)
            shown = (
                f"{res['time_s']:.3f} s, {res['rss_gb']:.2f} GB raw, {res['delta_gb']:.2f} GB delta"
                if res["status"] == "ok"
                else f"{res['status']}: {res['reason']}"
            )
            print(f"  {name:>10} L={length:>6}: {shown}", flush=True)
    index = {(r["backbone"], r["length"]): r for r in rows}
    for r in rows:
        for ref in REFERENCES:
            refrow = index.get((ref, r["length"]))
            r[f"speedup_vs_{ref}"] = _ratio(refrow, r, "time_s")
            r[f"mem_ratio_vs_{ref}"] = _ratio(refrow, r, "delta_gb")
    _print_table(rows)
    result = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "ram_gb": round(_ram_gb(), 1),
        },
        "config": {
            "d_model": D_MODEL,
            "n_layers": N_LAYERS,
            "n_heads": N_HEADS,
            "batch": 1,
            "repeats": args.repeats,
            "threads": args.threads,
            "idle_rss_gb": baseline,
        },
        "results": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.json.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(args.json)
    print(f"wrote {args.json}")
    return 0


def _print_table(rows: list[dict[str, Any]]) -> None:
    def fmt(x: float | None, spec: str) -> str:
        return "-" if x is None else format(x, spec)

    head = [
        "backbone",
        "length",
        "time s",
        "RSS GB",
        "delta GB",
        "x HF time",
        "x HF mem",
        "x dense time",
        "x dense mem",
        "note",
    ]
    body = [
        [
            r["backbone"],
            str(r["length"]),
            fmt(r.get("time_s"), ".3f"),
            fmt(r.get("rss_gb"), ".2f"),
            fmt(r.get("delta_gb"), ".2f"),
            fmt(r["speedup_vs_hf-bigbird"], ".2f"),
            fmt(r["mem_ratio_vs_hf-bigbird"], ".2f"),
            fmt(r["speedup_vs_dense"], ".2f"),
            fmt(r["mem_ratio_vs_dense"], ".2f"),
            "" if r["status"] == "ok" else f"{r['status']}: {r['reason']}",
        ]
        for r in rows
    ]
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="Backbone forward, CPU, batch 1 (x = reference / row)")
        for h in head:
            table.add_column(h, justify="left" if h in ("backbone", "note") else "right")
        for b in body:
            table.add_row(*b)
        Console(width=200).print(table)
    except ImportError:
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
        for line in [head, *body]:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))


if __name__ == "__main__":
    raise SystemExit(main())
