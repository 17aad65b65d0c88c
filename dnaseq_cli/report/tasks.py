"""A multi-task comparison: one row per backbone, the dev (validation) metrics of each task side by
side, next to the AUROCs published for pretrained foundation models on the same GUE tasks.

A cell comes only from what ``dnaseq train`` wrote: the metrics of the kept epoch in
``metrics_per_epoch.tsv`` (the epoch early stopping selected on the validation split, which for
GUE is the task's dev file given with ``--val-input``). A run's task is named after its training
input: the file's stem, or its folder's name when the file is called train/dev/test (GUE's layout:
``tf_0/train.csv.gz`` is task ``tf_0``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dnaseq_cli.errors import InputError
from dnaseq_cli.report.compare import Column, read_run

GENERIC_STEMS = {"train", "dev", "val", "valid", "validation", "test", "data", "sequences"}
DEV_METRICS = (("auroc", "AUROC"), ("mcc", "MCC"), ("accuracy", "acc"))

# Published AUROCs of frozen embeddings + a classifier (Nat. Commun. 2025, "Benchmarking DNA
# foundation models for genomic and genetic tasks", Tables 1-2, as listed in the SOURCE.txt of
# ../shared/data/gue_dnabert2; their splits may differ from GUE's, the task mapping is by name).
REFERENCE_MODELS = ("DNABERT-2", "NT-v2", "HyenaDNA", "Caduceus-Ph", "GROVER")
REFERENCE_AUROC: dict[str, dict[str, float]] = {
    "tf_0": {"DNABERT-2": 0.838, "NT-v2": 0.832, "Caduceus-Ph": 0.880},
    "tf_1": {"DNABERT-2": 0.821, "NT-v2": 0.809, "Caduceus-Ph": 0.869},
    "tf_2": {"DNABERT-2": 0.790, "NT-v2": 0.797, "Caduceus-Ph": 0.825},
    "tf_3": {"DNABERT-2": 0.726, "NT-v2": 0.710, "Caduceus-Ph": 0.773},
    "tf_4": {"DNABERT-2": 0.920, "NT-v2": 0.915, "Caduceus-Ph": 0.929},
    "prom_prom_core_all": dict(zip(REFERENCE_MODELS, (0.831, 0.853, 0.832, 0.875, 0.851),
                                   strict=True)),
    "prom_prom_core_notata": dict(zip(REFERENCE_MODELS, (0.853, 0.873, 0.852, 0.896, 0.870),
                                      strict=True)),
    "prom_prom_core_tata": dict(zip(REFERENCE_MODELS, (0.778, 0.795, 0.783, 0.810, 0.796),
                                    strict=True)),
    "prom_prom_300_tata": dict(zip(REFERENCE_MODELS, (0.765, 0.779, 0.808, 0.760, 0.780),
                                   strict=True)),
    "mouse_0": {"DNABERT-2": 0.711, "Caduceus-Ph": 0.684},
    "mouse_2": {"DNABERT-2": 0.931, "Caduceus-Ph": 0.935},
    "mouse_3": {"DNABERT-2": 0.762, "Caduceus-Ph": 0.705},
    "mouse_4": {"DNABERT-2": 0.678, "Caduceus-Ph": 0.715},
}  # fmt: skip


def _training_inputs(folder: Path) -> list[dict[str, Any]]:
    """The manifest's input entries of the dataset the run trained on."""
    config = json.loads((folder / "run_config.json").read_text())
    dataset = Path(config.get("dataset", ""))
    manifest_path = (dataset if dataset.is_absolute() else folder / dataset) / "manifest.json"
    if not manifest_path.is_file():
        return []
    return json.loads(manifest_path.read_text()).get("inputs", [])


def task_name(folder: Path) -> str:
    """The task a run was trained on (see the module docstring); its folder name as a last resort."""
    for item in _training_inputs(folder):
        if item.get("role") in ("table", "fasta", "bed"):
            path = Path(item["path"])
            stem = path.name.split(".")[0]
            return path.parent.name if stem.lower() in GENERIC_STEMS else stem
    return Path(folder).resolve().parent.name


def kept_epoch(folder: Path) -> dict[str, Any]:
    """The validation metrics of the epoch the run kept (the last row flagged best)."""
    path = Path(folder) / "metrics_per_epoch.tsv"
    if not path.is_file():
        raise InputError("not a finished dnaseq run folder: metrics_per_epoch.tsv is missing",
                         path=folder)  # fmt: skip
    epochs = pd.read_csv(path, sep="\t")
    best = epochs[epochs["best"].astype(str) == "True"] if "best" in epochs else epochs
    row = (best if len(best) else epochs).iloc[-1]
    return {name: _finite(row.get(f"val_{name}")) for name, _ in DEV_METRICS}


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def task_rows(folders: Sequence[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per backbone (measured), then one per reference model; and the task order."""
    cells: dict[str, dict[str, Any]] = {}
    tasks: list[str] = []
    for folder in folders:
        run = read_run(folder)
        task = task_name(Path(folder))
        if task not in tasks:
            tasks.append(task)
        label = str(run["backbone"]) + (f" ({run['size']})" if run.get("size") else "")
        row = cells.setdefault(label, {"model": label, "source": "dnaseq (dev)",
                                       "parameters": 0, "train_seconds": 0.0})  # fmt: skip
        if f"{task}_auroc" in row:
            raise InputError(f"two runs of {label} on task {task}", path=folder)
        for name, value in kept_epoch(Path(folder)).items():
            row[f"{task}_{name}"] = value
        row["parameters"] = max(row["parameters"], run["parameters"] or 0)
        row["train_seconds"] += run["train_seconds"] or 0.0
    rows = list(cells.values())
    for model in REFERENCE_MODELS:
        published = {task: REFERENCE_AUROC.get(task, {}).get(model) for task in tasks}
        if any(value is not None for value in published.values()):
            rows.append({"model": model, "source": "published (frozen embeddings)",
                         **{f"{task}_auroc": value for task, value in published.items()}})  # fmt: skip
    return rows, tasks


def task_columns(tasks: Sequence[str]) -> tuple[Column, ...]:
    per_task = [
        Column(f"{task}_{name}", f"{task} {header}", "fraction")
        for task in tasks
        for name, header in DEV_METRICS
    ]
    return (
        Column("model", "model"),
        Column("source", "source"),
        *per_task,
        Column("parameters", "parameters", "int"),
        Column("train_seconds", "training s (all tasks)", "seconds"),
    )


def best_by_task(rows: Sequence[dict[str, Any]], tasks: Sequence[str]) -> dict[str, str]:
    """The measured model with the highest dev AUROC on each task."""
    measured = [row for row in rows if row.get("source", "").startswith("dnaseq")]
    best = {}
    for task in tasks:
        scored = [row for row in measured if row.get(f"{task}_auroc") is not None]
        if scored:
            best[task] = max(scored, key=lambda row: row[f"{task}_auroc"])["model"]
    return best


def task_auroc_png(rows: Sequence[dict[str, Any]], tasks: Sequence[str], path: Path) -> Path:
    """Grouped bars of dev AUROC per task and backbone; the best published AUROC as a line."""
    from dnaseq_cli.report.plots import _figure, _save

    measured = [row for row in rows if row.get("source", "").startswith("dnaseq")]
    figure = _figure(width=max(6.0, 1.6 * len(tasks) + 2), height=4.5)
    axes = figure.add_subplot()
    width = 0.8 / max(len(measured), 1)
    for index, row in enumerate(measured):
        values = [row.get(f"{task}_auroc") or 0.0 for task in tasks]
        positions = [t + (index - (len(measured) - 1) / 2) * width for t in range(len(tasks))]
        axes.bar(positions, values, width=width, label=row["model"])
    for t, task in enumerate(tasks):
        published = [v for v in REFERENCE_AUROC.get(task, {}).values() if v is not None]
        if published:
            axes.hlines(max(published), t - 0.45, t + 0.45, colors="black", linestyles="--",
                        label="best published" if t == 0 else "_nolegend_")  # fmt: skip
    axes.set_xticks(range(len(tasks)), tasks, rotation=15)
    axes.set(ylabel="dev AUROC", ylim=(0.4, 1.0), title="dnaseq backbones on GUE (dev split)")
    axes.legend(fontsize=7, ncols=2, loc="lower right")
    return _save(figure, path)


def write_by_task(
    rows: Sequence[dict[str, Any]], tasks: Sequence[str], out_dir: Path
) -> list[Path]:
    """comparison_by_task.tsv, .md and .json (the by-task table) and comparison_by_task.png."""
    from dnaseq_cli.output import MARKER, atomic_path, mark_as_written
    from dnaseq_cli.report.compare import to_json, to_markdown, to_tsv

    columns = task_columns(tasks)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in (("tsv", to_tsv(rows, columns)), ("md", to_markdown(rows, columns)),
                         ("json", to_json({"by_task": rows}))):  # fmt: skip
        with atomic_path(out_dir / f"comparison_by_task.{suffix}") as tmp:
            tmp.write_text(text)
        written.append(out_dir / f"comparison_by_task.{suffix}")
    written.append(task_auroc_png(rows, tasks, out_dir / "comparison_by_task.png"))
    if (out_dir / MARKER).is_file():  # a folder dnaseq built (compare --run): these are its own
        mark_as_written(out_dir)
    return written
