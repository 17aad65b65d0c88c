"""Does masked-LM pretraining help? Caduceus pretrained on the real DNA we have, then fine-tuned (issue 19).

    python benchmarks/pretrain_lever.py [--runs DIR] [--pretrain-time 35m] [--table-only]
        [--tasks tf_0,tf_3,cohn] [--epochs 6] [--steps 40] [--budget cohn=4x20]

1. Corpus (``DIR/corpus.fa``): every real sequence in ../shared/data that no evaluation below
   looks at: the hg38 chr2 piece, the GRCh37 BRCA1 locus, the train files of all 13 GUE tasks
   (their dev files are the validation splits below and stay out), the iEnhancer-2L train records
   and the train part of our Cohn split (its validation and test parts stay out). Short sequences
   of one source are packed into one record, separated by a single N, so 256-bp windows are full.
2. Pretraining: ``dnaseq train --task mlm`` of Caduceus ``tiny`` on 256-bp tiles of the corpus for
   at most 11 x 400 steps of 32 windows (lr 2e-3, the schedule planned for those steps) and
   ``--pretrain-time``, whichever comes first.
3. Fine-tuning, per task, twice under one step budget (``--epochs`` x ``--steps`` optimiser steps
   of 64, or the task's ``--budget``; early stopping on validation AUROC, patience 3, seed 0): from scratch and ``--init`` the
   pretrained checkpoint. A step budget, not a time budget, keeps the pair fair on a shared CPU; the
   times are reported beside it. Cohn: our stratified 80/10/10 split of the 4,948 shared sequences
   (seed 0), metrics on its test tenth. GUE: train file, dev file as validation (``--val-input``), a
   tenth of train held out as test; the figure is dev AUROC (the kept epoch's) as in the zoo table.

Finished runs are kept and not repeated, so the script can be stopped and restarted. The table goes
to benchmarks/results/pretrain_lever.{md,json}.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
GUE = SHARED / "gue_dnabert2"
RESULTS = REPO / "benchmarks" / "results"
PRETRAIN_WINDOW = 256
SEED = 0
OVERLAP_K = 50  # a corpus stretch sharing an exact 50-mer (either strand) with an evaluation
# sequence is left out: the 70-bp core promoters are pieces of the 300-bp ones, and the chr2
# piece holds Genomic Benchmarks rows
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def _fasta_sequences(path: Path) -> list[tuple[str, str]]:
    """(name, sequence) of every record of a plain or gzipped FASTA."""
    opener = gzip.open if path.suffix == ".gz" else open
    records: list[tuple[str, str]] = []
    name, parts = None, []
    with opener(path, "rt") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    records.append((name, "".join(parts)))
                name, parts = line[1:].split()[0], []
            elif line:
                parts.append(line.upper())
    if name is not None:
        records.append((name, "".join(parts)))
    return records


def _table_sequences(path: Path, column: str) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return [row[column].upper() for row in csv.DictReader(handle)]


def cohn_split(runs: Path) -> dict[str, Path]:
    """Our 80/10/10 split (stratified, seed 0) of the shared Cohn sequences, as three TSVs."""
    paths = {part: runs / "cohn" / f"{part}.tsv" for part in ("train", "val", "test")}
    if all(p.is_file() for p in paths.values()):
        return paths
    with gzip.open(SHARED / "gb_cohn_test_sequences" / "cohn_dev.tsv.gz", "rt") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    parts: dict[str, list[tuple[int, dict]]] = {"train": [], "val": [], "test": []}
    rng = random.Random(SEED)
    for label in sorted({r["label"] for r in rows}):
        members = [(i, r) for i, r in enumerate(rows) if r["label"] == label]
        rng.shuffle(members)
        n_val = n_test = round(len(members) * 0.1)
        parts["val"] += members[:n_val]
        parts["test"] += members[n_val : n_val + n_test]
        parts["train"] += members[n_val + n_test :]
    paths["train"].parent.mkdir(parents=True, exist_ok=True)
    for part, members in parts.items():
        with open(paths[part], "w") as out:
            out.write("name\tseq\tlabel\n")
            for i, row in sorted(members, key=lambda m: m[0]):
                out.write(f"cohn_{i:04d}\t{row['seq']}\t{row['label']}\n")
    return paths


def _evaluation_kmers(tasks: list[str], split: dict[str, Path]) -> set[str]:
    """Every OVERLAP_K-mer, both strands, of the sequences the fine-tuning runs are judged on."""
    sequences: list[str] = []
    for task in tasks:
        if task == "cohn":
            for part in ("val", "test"):
                with open(split[part]) as handle:
                    sequences += [r["seq"].upper() for r in csv.DictReader(handle, delimiter="\t")]
        else:
            sequences += _table_sequences(GUE / task / "dev.csv.gz", "sequence")
            # the tenth of train held out as test is also judged on; it is not separable
            # here (the split is dnaseq's), so only dev and Cohn val/test are kept clean
    kmers: set[str] = set()
    for sequence in sequences:
        for strand in (sequence, sequence.translate(_COMPLEMENT)[::-1]):
            kmers.update(strand[i : i + OVERLAP_K] for i in range(len(strand) - OVERLAP_K + 1))
    return kmers


def _overlapping(sequence: str, kmers: set[str]) -> list[int]:
    return [i for i in range(len(sequence) - OVERLAP_K + 1) if sequence[i : i + OVERLAP_K] in kmers]


def _masked(sequence: str, kmers: set[str]) -> tuple[str, int]:
    """``sequence`` with every stretch covered by an evaluation k-mer set to N; bases masked."""
    hits = _overlapping(sequence, kmers)
    if not hits:
        return sequence, 0
    chars = list(sequence)
    for i in hits:
        chars[i : i + OVERLAP_K] = "N" * OVERLAP_K
    masked = "".join(chars)
    return masked, masked.count("N") - sequence.count("N")


def _packed(name: str, sequences: list[str], width: int = 60) -> str:
    text = "N".join(sequences)
    lines = [text[i : i + width] for i in range(0, len(text), width)]
    return f">{name}\n" + "\n".join(lines) + "\n"


def build_corpus(runs: Path, split: dict[str, Path], tasks: list[str]) -> tuple[Path, dict]:
    """Write the pretraining FASTA; return it with the bases kept and left out per source."""
    corpus = runs / "corpus.fa"
    counts_path = runs / "corpus_counts.json"
    if corpus.is_file() and counts_path.is_file():
        return corpus, json.loads(counts_path.read_text())
    kmers = _evaluation_kmers(tasks, split)
    out = io.StringIO()
    counts: dict[str, dict[str, int]] = {}
    for label, path in (
        ("hg38_chr2_piece", SHARED / "hg38_chr2_0_2333275" / "chr2_1-2333275.fa.gz"),
        ("brca1_locus", SHARED / "brca1_grch37_variants" / "ref_brca1.fa"),
    ):
        for name, sequence in _fasta_sequences(path):
            kept, masked = _masked(sequence, kmers)  # long records: mask the shared stretches
            out.write(_packed(f"{label}_{name}", [kept]))
            counts[label] = {"bases": len(sequence) - masked, "left_out_bases": masked}
    sources: dict[str, list[str]] = {}
    for task in sorted(p.name for p in GUE.iterdir() if p.is_dir()):
        sources[f"gue_{task}_train"] = _table_sequences(GUE / task / "train.csv.gz", "sequence")
    sources["ienhancer2l_train"] = [
        sequence
        for kind in ("strong", "weak", "non")
        for _, sequence in _fasta_sequences(
            SHARED / "ienhancer2l" / f"train_{kind}_enhancers.fa.gz"
        )
    ]
    with open(split["train"]) as handle:
        sources["cohn_train_split"] = [
            row["seq"].upper() for row in csv.DictReader(handle, delimiter="\t")
        ]
    for label, sequences in sources.items():  # short records: leave out those that overlap
        kept = [s for s in sequences if not _overlapping(s, kmers)]
        out.write(_packed(label, kept))
        counts[label] = {
            "bases": sum(map(len, kept)),
            "sequences": len(kept),
            "left_out_sequences": len(sequences) - len(kept),
        }
    corpus.write_text(out.getvalue())
    counts_path.write_text(json.dumps(counts, indent=1))
    return corpus, counts


def _run(command: list[str], run: Path) -> float:
    """Run one ``dnaseq train`` (skipped when its run folder is complete); wall seconds spent."""
    if (run / "test_metrics.json").is_file():
        return 0.0
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    spent = time.monotonic() - started
    status = "ok" if result.returncode == 0 else f"exit {result.returncode}"
    print(f"{run.name}: {status} in {spent:.0f} s {result.stderr.strip()[-400:]}", flush=True)
    if result.returncode != 0:
        sys.exit(f"{run}: dnaseq train failed")
    return spent


def _dnaseq_train(*args: str) -> list[str]:
    return [sys.executable, "-m", "dnaseq_cli", "train", *args, "--device", "cpu", "--quiet"]


def pretrain(corpus: Path, runs: Path, budget: str) -> Path:
    run = runs / "pretrained"
    _run(
        _dnaseq_train(
            str(corpus), "-o", str(run), "--task", "mlm", "--backbone", "caduceus",
            "--size", "tiny", "--window", str(PRETRAIN_WINDOW), "--stride", str(PRETRAIN_WINDOW),
            "--epochs", "11", "--max-steps-per-epoch", "400", "--batch-size", "32",
            "--val-fraction", "0.02", "--test-fraction", "0.02",
            "--max-time", budget, "--patience", "0", "--lr", "2e-3", "--warmup", "0.02",
            "--seed", str(SEED), "--force",
        ),
        run,
    )  # fmt: skip
    return run


def _task_inputs(task: str, split: dict[str, Path]) -> list[str]:
    if task == "cohn":
        return [str(split["train"]), "--val-input", str(split["val"]), "--test-input",
                str(split["test"])]  # fmt: skip
    folder = GUE / task
    return [str(folder / "train.csv.gz"), "--val-input", str(folder / "dev.csv.gz")]


def _budget(task: str, args: argparse.Namespace) -> tuple[int, int]:
    """(epochs, optimiser steps per epoch) of a task's two fine-tuning runs."""
    for item in reversed(args.budget):  # the last given wins over the defaults
        name, _, value = item.partition("=")
        if name == task:
            epochs, _, steps = value.partition("x")
            return int(epochs), int(steps)
    return args.epochs, args.steps


def fine_tune(task: str, init: Path | None, runs: Path, split: dict, args) -> Path:
    run = runs / task / ("pretrained" if init else "scratch")
    start = ["--init", str(init / "checkpoint")] if init else ["--backbone", "caduceus"]
    epochs, steps = _budget(task, args)
    _run(
        _dnaseq_train(
            *_task_inputs(task, split), "-o", str(run), *start, "--size", "tiny",
            "--epochs", str(epochs), "--max-steps-per-epoch", str(steps),
            "--batch-size", "64", "--patience", "3", "--seed", str(SEED), "--force",
        ),
        run,
    )  # fmt: skip
    return run


def _kept_epoch(run: Path) -> dict[str, str]:
    """The last row of metrics_per_epoch.tsv marked best (each improvement is marked; the last
    one is the epoch whose weights were kept)."""
    with open(run / "metrics_per_epoch.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [r for r in rows if r["best"] == "True"][-1]


def _last_step(run: Path) -> int:
    with open(run / "metrics_per_epoch.tsv") as handle:
        return max(int(r["step"]) for r in csv.DictReader(handle, delimiter="\t"))


def _summary(run: Path) -> dict:
    """Validation (kept epoch) and test figures of one fine-tuning run, with its cost."""
    kept = _kept_epoch(run)
    test = json.loads((run / "test_metrics.json").read_text())
    steps = _last_step(run)
    return {
        "val_auroc": float(kept["val_auroc"]),
        "val_accuracy": float(kept["val_accuracy"]),
        "kept_epoch": int(kept["epoch"]),
        "test_auroc": test["auroc"],
        "test_accuracy": test["accuracy"],
        "steps": steps,
        "train_seconds": round(test["train_seconds"], 1),
    }


def table(runs: Path, tasks: list[str], counts: dict) -> None:
    """benchmarks/results/pretrain_lever.{json,md}: pretrained vs from scratch, per task."""
    pretrained = runs / "pretrained"
    pre = json.loads((pretrained / "test_metrics.json").read_text())
    result: dict = {
        "corpus": {"bases": sum(c["bases"] for c in counts.values()), "sources": counts},
        "pretraining": {
            "backbone": "caduceus tiny",
            "window": PRETRAIN_WINDOW,
            "steps": _last_step(pretrained),
            "train_seconds": round(pre["train_seconds"], 1),
            "held_out_masked_accuracy": pre["accuracy"],
            "held_out_perplexity": pre["perplexity"],
            "stop_reason": pre["stop_reason"],
        },
        "tasks": {},
    }
    lines = [
        "| task | start | validation AUROC (kept epoch) | test AUROC | test accuracy | steps | "
        "training s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for task in tasks:
        rows = {}
        for start in ("scratch", "pretrained"):
            run = runs / task / start
            if (run / "test_metrics.json").is_file():
                rows[start] = _summary(run)
                r = rows[start]
                lines.append(
                    f"| {task} | {start} | {r['val_auroc']:.3f} | {r['test_auroc']:.3f} | "
                    f"{r['test_accuracy']:.3f} | {r['steps']} | {r['train_seconds']:.0f} |"
                )
        if len(rows) == 2:
            rows["val_auroc_gain"] = round(
                rows["pretrained"]["val_auroc"] - rows["scratch"]["val_auroc"], 4
            )
            rows["test_auroc_gain"] = round(
                rows["pretrained"]["test_auroc"] - rows["scratch"]["test_auroc"], 4
            )
        result["tasks"][task] = rows
    p = result["pretraining"]
    head = (
        f"Caduceus tiny, masked-LM pretraining on {result['corpus']['bases']:,} bases "
        f"({p['steps']} steps of 32 x {PRETRAIN_WINDOW} bp, {p['train_seconds']:.0f} s): held-out "
        f"masked-base accuracy {p['held_out_masked_accuracy']:.3f}, perplexity "
        f"{p['held_out_perplexity']:.2f}.\n\n"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pretrain_lever.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "pretrain_lever.md").write_text(head + "\n".join(lines) + "\n")
    print(head + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=REPO.parent / "pretrain_runs")
    parser.add_argument("--pretrain-time", default="35m")
    parser.add_argument("--tasks", default="tf_0,tf_3,cohn")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument(
        "--budget",
        action="append",
        default=["tf_3=4x40", "cohn=4x20"],
        help="TASK=EPOCHSxSTEPS: another step budget for one task (both of its runs; the "
        "defaults keep the 500-bp Cohn runs to minutes on this CPU).",
    )
    parser.add_argument("--corpus-only", action="store_true")
    parser.add_argument("--table-only", action="store_true", help="Do not train; tabulate.")
    args = parser.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    split = cohn_split(args.runs)
    tasks = args.tasks.split(",")
    corpus, counts = build_corpus(args.runs, split, tasks)
    total = sum(c["bases"] for c in counts.values())
    print(f"corpus: {total:,} bases from {len(counts)} sources", flush=True)
    if args.corpus_only:
        return
    if not args.table_only:
        pretrained = pretrain(corpus, args.runs, args.pretrain_time)
        for task in tasks:
            for init in (None, pretrained):
                fine_tune(task, init, args.runs, split, args)
    table(args.runs, tasks, counts)


if __name__ == "__main__":
    main()
