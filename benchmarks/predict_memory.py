"""Peak memory of ``dnaseq predict`` on one long record: it should not grow with the record's length.

    python benchmarks/predict_memory.py [--sizes 5 50 250] [--model FOLDER | --default-model]
                                        [--baseline CHECKOUT] [--json PATH]

Each run is a fresh ``python -m dnaseq_cli predict`` subprocess, and its peak RSS is the kernel's
``ru_maxrss`` for that child (``os.wait4``), so imports, the model and everything predict allocates
count. Inputs are generated single-record FASTAs of random ACGT (60-base lines, written to a temp
folder), read two ways: as a file with its ``.fai`` (predict reads the record window span by window
span from the index) and piped through stdin (no index: the record is held once, 1 byte per base).

The model: the bundled default (window 500) is too slow for 250 Mb on a shared 2-core CPU, so by
default a tiny CNN built as the tests build theirs (``tests/predict/conftest.py:save_model``) with a
1,000-bp window is scored with ``--stride`` = window, which cuts the window count without changing
what is measured (memory per base of record). ``--default-model`` runs the bundled model instead.

``--baseline CHECKOUT`` also runs the code of another checkout (e.g. the commit before streaming,
``git worktree add --detach /tmp/predict_old <rev>``) on the file inputs, in the same run, and
reports the ratio of peak RSS; the two outputs are compared byte for byte. Timings are not reported:
on a shared machine they measure the neighbours as much as predict.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LINE = 60
MIB = 1 << 20


def write_record(path: Path, megabases: float, seed: int = 0) -> int:
    """A one-record FASTA of random ACGT, written in 1-Mb slices so the writer stays small."""
    length = int(megabases * 1_000_000)
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"ACGT", np.uint8)
    slice_bases = LINE * 16_000  # whole lines per slice
    with path.open("wb") as handle:
        handle.write(b">record\n")
        for begin in range(0, length, slice_bases):
            n = min(slice_bases, length - begin)
            bases = alphabet[rng.integers(0, 4, n)]
            rows = n // LINE
            block = np.empty((rows, LINE + 1), np.uint8)
            block[:, :LINE] = bases[: rows * LINE].reshape(rows, LINE)
            block[:, LINE] = 10
            handle.write(block.tobytes())
            if n % LINE:
                handle.write(bases[rows * LINE :].tobytes() + b"\n")
    return length


def tiny_model(folder: Path, window: int) -> Path:
    """The tests' tiny CNN (seeded, untrained): plumbing cost without a big network."""
    sys.path.insert(0, str(REPO))
    from tests.predict.conftest import save_model

    return save_model(folder, window=window)


def peak_rss(code: Path, args: list[str], stdin: Path | None, out: Path) -> dict[str, Any]:
    """Run predict from checkout ``code`` in a fresh process; its peak RSS (MiB) and exit code."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, "-m", "dnaseq_cli", "predict", *args, "-o", str(out), "--quiet"]
    source = stdin.open("rb") if stdin is not None else subprocess.DEVNULL
    started = time.perf_counter()
    try:
        # cwd outside both checkouts, so ``-m`` imports the one on PYTHONPATH
        proc = subprocess.Popen(command, stdin=source, env=env, cwd=tempfile.gettempdir())
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdin is not None:
            source.close()  # type: ignore[union-attr]
    return {
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
        "rc": proc.returncode,
        "seconds_not_a_result": round(time.perf_counter() - started, 1),
    }


def windows_scored(out: Path) -> int | None:
    lines = out.read_text().splitlines() if out.exists() else []
    if len(lines) != 2:
        return None
    row = dict(zip(lines[0].split("\t"), lines[1].split("\t"), strict=True))
    return int(row["windows"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[5, 50, 250], help="Mb")
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: tiny CNN)")
    parser.add_argument("--default-model", action="store_true", help="the bundled model")
    parser.add_argument("--window", type=int, default=1000, help="tiny CNN window")
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--baseline-sizes", type=float, nargs="*", help="default: all --sizes")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dnaseq_pm")
    parser.add_argument(
        "--json", type=Path, default=REPO / "benchmarks" / "results" / "predict_memory.json"
    )
    args = parser.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    if args.default_model:
        model_args: list[str] = []
        model_name, stride = "bundled default (window 500)", 500
    else:
        model = args.model or tiny_model(work / f"tiny_cnn_{args.window}", args.window)
        model_args = ["--model", str(model)]
        config = json.loads((model / "config.json").read_text())
        window = int(config["data"]["window_length"])
        model_name, stride = f"tiny CNN {model.name} (window {window})", window
    common = [*model_args, "--stride", str(stride), "--threads", "2"]
    import pysam

    rows: list[dict[str, Any]] = []
    for size in args.sizes:
        fasta = work / f"record_{size:g}mb.fa"
        if not fasta.exists():
            write_record(fasta, size)
        if not Path(f"{fasta}.fai").exists():
            pysam.faidx(str(fasta))
        runs = [("new", REPO, "file+fai", [str(fasta)], None), ("new", REPO, "stdin", ["-"], fasta)]
        if args.baseline is not None and (
            args.baseline_sizes is None or size in args.baseline_sizes
        ):
            runs.append(("baseline", args.baseline, "file+fai", [str(fasta)], None))
        outputs: dict[tuple[str, str], Path] = {}
        for code_name, code, mode, inputs, stdin in runs:
            out = work / f"out_{size:g}_{code_name}_{mode}.tsv"
            result = peak_rss(code, [*inputs, *common], stdin, out)
            outputs[(code_name, mode)] = out
            row = {"megabases": size, "code": code_name, "input": mode, **result}
            row["windows"] = windows_scored(out)
            rows.append(row)
            print(json.dumps(row), flush=True)
        base = outputs.get(("baseline", "file+fai"))
        if base is not None:
            same = base.read_bytes() == outputs[("new", "file+fai")].read_bytes()
            for row in rows:
                if row["megabases"] == size:
                    row["same_output_as_baseline"] = same
    by_key = {(r["megabases"], r["code"], r["input"]): r for r in rows}
    for row in rows:
        old = by_key.get((row["megabases"], "baseline", "file+fai"))
        if row["code"] == "new" and old is not None:
            row["ratio_to_baseline"] = round(row["peak_rss_mib"] / old["peak_rss_mib"], 3)
    lines = [
        f"Peak RSS of dnaseq predict on one random-ACGT record; model: {model_name}, "
        f"--stride {stride}",
        "",
        "| record | code | input | windows | peak RSS (MiB) | vs baseline |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r.get("ratio_to_baseline")
        lines.append(
            f"| {r['megabases']:g} Mb | {r['code']} | {r['input']} | {r['windows'] or 'failed'} "
            f"| {r['peak_rss_mib']:,.0f} | {'' if ratio is None else f'{ratio:.2f}x'} |"
        )
    print("\n".join(lines))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    baseline_commit = None
    if args.baseline is not None:
        baseline_commit = subprocess.run(
            ["git", "-C", str(args.baseline), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    report = {
        "measure": "peak RSS (ru_maxrss of the predict subprocess, MiB)",
        "model": model_name,
        "stride": stride,
        "input": "one record of random ACGT, 60-base lines; file with .fai, or piped to stdin",
        "commit": commit,
        "baseline_commit": baseline_commit,
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
        "table": lines,
    }
    # one section per model, so a tiny-CNN sweep and a default-model check share the file
    merged = json.loads(args.json.read_text()) if args.json.exists() else {}
    merged.setdefault("benchmark", "predict_memory")
    merged.setdefault("runs", {})[model_name] = report
    args.json.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
