"""Throughput of ``dnaseq predict`` (windows/s) and ``dnaseq vep`` (variants/s) with a model.

    python benchmarks/predict_vep.py [--model FOLDER] [--device cpu|cuda] [--threads N]
                                     [--shared-dir ../shared/data] [--json PATH]

predict: the real 500-bp Cohn enhancer/negative sequences (../shared; the example FASTA when that is
missing), end to end through the library (read FASTA, encode, both strands, write TSV). vep: the
BRCA1 ClinVar VCF (1,041 records) against its GRCh37 locus FASTA, end to end (read VCF, ref/alt
windows, score, write TSV). Each figure is the best of ``--repeats`` runs; CPU seconds are printed
too because wall time on a shared machine also counts other processes. Targets on a 2-core CPU:
500 windows/s and 300 variants/s with the default model (issue 15).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dnaseq_cli.output import atomic_path  # noqa: E402
from dnaseq_cli.predict.model import WindowScorer  # noqa: E402
from dnaseq_cli.predict.sequences import PredictOptions, predict  # noqa: E402
from dnaseq_cli.vep.output import run_vep  # noqa: E402
from dnaseq_cli.vep.scoring import VariantEffectScorer  # noqa: E402

TARGETS = {"predict": 500.0, "vep": 300.0}


def _cohn_fasta(shared: Path, folder: Path) -> Path:
    table = shared / "gb_cohn_test_sequences" / "cohn_dev.tsv.gz"
    if not table.exists():
        return REPO / "data" / "examples" / "enhancers_cohn.fa"
    out = folder / "cohn.fa"
    with gzip.open(table, "rt") as fh, open(out, "w") as fa:
        next(fh)
        for i, line in enumerate(fh):
            fa.write(f">cohn_{i}\n{line.split(chr(9))[0]}\n")
    return out


def _timed(fn, repeats: int) -> tuple[float, float, Any]:
    wall = cpu = float("inf")
    result = None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = min(wall, time.perf_counter() - w0), min(cpu, time.process_time() - c0)
    return wall, cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint folder (default: bundled)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shared-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--json", type=Path, default=REPO / "benchmarks" / "results" / "predict_vep.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scorer = WindowScorer(args.model, device=args.device, batch_size=args.batch_size)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fasta = _cohn_fasta(args.shared_dir, folder)
        options = PredictOptions(inputs=[fasta], output=str(folder / "p.tsv"))
        predict(scorer, options)  # warm-up
        wall, cpu, summary = _timed(lambda: predict(scorer, options), args.repeats)
        rows.append(("predict", fasta.name, summary.windows, wall, cpu))
        brca = args.shared_dir / "brca1_grch37_variants"
        vcf = brca / "clinvar_20180701_brca1.refcoords.vcf.gz"
        reference = brca / "ref_brca1.fa"
        if not vcf.exists():
            vcf = REPO / "data" / "examples" / "clinvar_brca1.refcoords.vcf.gz"
            reference = REPO / "data" / "examples" / "ref_brca1.fa"
        effect = VariantEffectScorer(scorer, reference)
        wall, cpu, summary = _timed(
            lambda: run_vep(effect, vcf, str(folder / "v.tsv")), args.repeats
        )
        rows.append(("vep", vcf.name, summary.variants, wall, cpu))
    info = scorer.info
    print(
        f"model {info.path.name} [{info.backbone}], window {info.window_length}, "
        f"device {args.device}, {args.threads} threads"
    )
    print(f"{'job':8} {'input':42} {'items':>6} {'seconds':>8} {'per s':>8} {'target':>7} ratio")
    results = []
    for job, name, items, wall, cpu in rows:
        rate = items / wall
        print(
            f"{job:8} {name:42} {items:6d} {wall:8.2f} {rate:8.0f} {TARGETS[job]:7.0f} "
            f"{rate / TARGETS[job]:.2f}x  (cpu {cpu:.2f} s)"
        )
        results.append(
            {"job": job, "input": name, "items": items, "seconds": wall, "cpu_seconds": cpu,
             "per_second": rate, "target_per_second": TARGETS[job]}
        )  # fmt: skip
    payload = {
        "model": str(info.path),
        "backbone": info.backbone,
        "window": info.window_length,
        "device": args.device,
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": platform.platform(),
        "results": results,
    }
    with atomic_path(args.json) as out:
        out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
