"""Peak memory of ``dnaseq vep --output-vcf`` as the VCF grows: the annotated VCF is streamed.

    python benchmarks/vep_vcf_memory.py [--records 100000 1000000] [--baseline CHECKOUT]
                                        [--json PATH]

Each run is a fresh ``python -m dnaseq_cli vep`` subprocess; its peak RSS is the kernel's
``ru_maxrss`` for that child (``os.wait4``). Inputs are generated: one random-ACGT contig of 20 Mb
and a sorted VCF of N SNVs on it with a few INFO fields (ClinVar-like: a string, a float, an
integer), so the annotated VCF carries the input's INFO. The model is the tests' tiny CNN
(``tests/predict/conftest.py:save_model``, window 100): what is measured is the plumbing per
record, not a network. ``--baseline CHECKOUT`` runs another checkout (the commit before streaming)
on the same inputs in the same run and reports the ratio; the TSV outputs are compared byte for
byte (the VCFs differ by design: the baseline dropped the input's INFO, QUAL and FILTER).
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

REPO = Path(__file__).resolve().parents[1]
CONTIG = 20_000_000
LINE = 50


def write_reference(path: Path, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    bases = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, CONTIG)]
    rows = bases.reshape(-1, LINE)
    block = np.concatenate([rows, np.full((len(rows), 1), 10, np.uint8)], axis=1)
    path.write_bytes(b">chrB\n" + block.tobytes())


def write_vcf(path: Path, reference: Path, records: int, seed: int = 1) -> None:
    """A sorted VCF of ``records`` SNVs on distinct positions, REF from the reference."""
    import numpy as np

    sequence = b"".join(reference.read_bytes().split(b"\n")[1:])
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(np.arange(200, CONTIG - 200), records, replace=False))
    other = {ord(b): c for b, c in zip("ACGT", "CGTA", strict=True)}
    with path.open("w") as handle:
        handle.write(
            "##fileformat=VCFv4.2\n"
            f"##contig=<ID=chrB,length={CONTIG}>\n"
            '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="significance">\n'
            '##INFO=<ID=AF,Number=A,Type=Float,Description="frequency">\n'
            '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">\n'
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        )
        for n, pos in enumerate(positions):
            ref = sequence[pos - 1]
            handle.write(
                f"chrB\t{pos}\tv{n}\t{chr(ref)}\t{other[ref]}\t50\tPASS\t"
                f"CLNSIG=Benign;AF={(n % 97) / 1000:g};DP={n % 500}\n"
            )


def prepare(work: Path, sizes: list[int]) -> None:
    """The tiny CNN, the reference and one VCF per size (kept in ``work`` between runs)."""
    sys.path.insert(0, str(REPO))
    from tests.predict.conftest import save_model

    save_model(work / "tiny_cnn_100", window=100)
    reference = work / "ref.fa"
    if not reference.exists():
        write_reference(reference)
    for records in sizes:
        vcf = work / f"snvs_{records}.vcf"
        if not vcf.exists():
            write_vcf(vcf, reference, records)


def run(code: Path, args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, "-m", "dnaseq_cli", "vep", *args, "--quiet"]
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=tempfile.gettempdir())
    _, status, usage = os.wait4(proc.pid, 0)
    return {
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "rc": os.waitstatus_to_exitcode(status),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dnaseq_vm")
    parser.add_argument(
        "--json", type=Path, default=REPO / "benchmarks" / "results" / "vep_vcf_memory.json"
    )
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    model, reference = work / "tiny_cnn_100", work / "ref.fa"
    if args.prepare:
        prepare(work, args.records)
        return
    # Inputs are made by a child process: a child started from this one briefly shares its memory
    # (vfork) and ru_maxrss counts it, so this process stays small (no torch, no large arrays).
    subprocess.run(
        [sys.executable, __file__, "--prepare", "--workdir", str(work), "--records",
         *map(str, args.records)],
        check=True,
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    codes = [("new", REPO)] + ([("baseline", args.baseline)] if args.baseline else [])
    for records in args.records:
        vcf = work / f"snvs_{records}.vcf"
        for name, code in codes:
            out, out_vcf = work / f"{name}_{records}.tsv", work / f"{name}_{records}.vcf.gz"
            for stale in (out, out_vcf, Path(f"{out_vcf}.tbi")):
                stale.unlink(missing_ok=True)
            common = [str(vcf), "-r", str(reference), "--model", str(model), "-o", str(out)]
            result = run(code, [*common, "--output-vcf", str(out_vcf)])
            row = {"records": records, "code": name, **result}
            row["vcf_records"] = int(
                subprocess.run(
                    f"zcat {out_vcf} | grep -vc '^#'", shell=True, capture_output=True, text=True
                ).stdout.strip()
                or 0
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
        if args.baseline:
            same = (work / f"new_{records}.tsv").read_bytes() == (
                work / f"baseline_{records}.tsv"
            ).read_bytes()
            for row in rows:
                if row["records"] == records:
                    row["same_tsv_as_baseline"] = same
    by_key = {(r["records"], r["code"]): r for r in rows}
    for row in rows:
        old = by_key.get((row["records"], "baseline"))
        if row["code"] == "new" and old is not None:
            row["ratio_to_baseline"] = round(row["peak_rss_mib"] / old["peak_rss_mib"], 3)
    lines = [
        "Peak RSS of dnaseq vep --output-vcf (tiny CNN, window 100) on sorted SNV VCFs",
        "",
        "| records | code | peak RSS (MiB) | vs baseline | VCF records | seconds |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r.get("ratio_to_baseline")
        lines.append(
            f"| {r['records']:,} | {r['code']} | {r['peak_rss_mib']:,.0f} | "
            f"{'' if ratio is None else f'{ratio:.2f}x'} | {r['vcf_records']:,} | {r['seconds']} |"
        )
    print("\n".join(lines))

    def commit(path: Path) -> str:
        return subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()

    report = {
        "benchmark": "vep_vcf_memory",
        "measure": "peak RSS (ru_maxrss of the vep subprocess, MiB)",
        "commit": commit(REPO),
        "baseline_commit": commit(args.baseline) if args.baseline else None,
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
        "table": lines,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
