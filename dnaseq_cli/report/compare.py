"""Model comparison tables: the paper's as published and dnaseq's measured from run folders.

A measured row comes only from what ``dnaseq train`` wrote (run_config.json, test_metrics.json,
metrics_per_epoch.tsv, checkpoint/config.json): nothing is estimated here. Tables render as TSV,
Markdown, JSON or a rich table from one column description, so every format shows the same cells.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnaseq_cli.errors import InputError
from dnaseq_cli.report.paper_table import PAPER_COLUMNS
from dnaseq_cli.report.run_description import DescribeBackbone, describe_run

FORMATS = ("table", "tsv", "markdown", "json")
MISSING = "n/r"  # not reported / not recorded

# Test-split metrics drawn as bars in comparison.png.
BAR_METRICS = ("accuracy", "precision", "recall", "f1", "mcc", "auroc", "auprc")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"  # text | int | fraction | percent | rate | mb | seconds


PAPER = tuple(
    Column(key, header, "percent" if key in ("accuracy", "precision", "recall", "f1") else "text")
    for key, header in PAPER_COLUMNS
)

MEASURED = (
    Column("run", "run"),
    Column("backbone", "backbone"),
    Column("size", "size"),
    Column("representation", "representation"),
    Column("attention", "attention mechanism"),
    Column("embeddings", "embeddings"),
    Column("window_length", "longest sequence (bp)", "int"),
    Column("class_imbalance", "class-imbalance method"),
    Column("synthetic_data", "synthetic data"),
    Column("training_optimisation", "training optimisation"),
    Column("parameters", "parameters", "int"),
    Column("accuracy", "accuracy", "fraction"),
    Column("precision", "precision", "fraction"),
    Column("recall", "recall", "fraction"),
    Column("f1", "F1", "fraction"),
    Column("mcc", "MCC", "fraction"),
    Column("auroc", "AUROC", "fraction"),
    Column("auprc", "AUPRC", "fraction"),
    Column("train_seqs_per_s", "train seq/s", "rate"),
    Column("inference_seqs_per_s", "inference seq/s", "rate"),
    Column("peak_rss_mb", "peak RSS MB", "mb"),
    Column("peak_gpu_mb", "peak GPU MB", "mb"),
    Column("train_seconds", "training s", "seconds"),
    Column("epochs_run", "epochs", "int"),
)

_REQUIRED = ("run_config.json", "test_metrics.json")
_CHECKPOINT = "checkpoint"  # the run folder's best checkpoint (config.json + weights)

#: A checkpoint folder -> its config.json as a JSON object. The caller passes
#: ``lambda folder: dnaseq_cli.models.checkpoint.read_spec(folder, check=False).raw``: checkpoint
#: folders have one reader, in models, which report sits below.
ReadCheckpoint = Callable[[Path], dict[str, Any]]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error}", path=path) from None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object", path=path)
    return value


def _number(value: Any) -> float | None:
    """A finite float, or None for absent, non-numeric or NaN values (NaN is 'not measured')."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def read_run(
    folder: Path,
    describe_backbone: DescribeBackbone | None = None,
    read_checkpoint: ReadCheckpoint | None = None,
) -> dict[str, Any]:
    """One measured row from a ``dnaseq train`` run folder.

    Multi-class runs report macro precision/recall/F1 (binary runs: those of the positive class).
    Throughput in training is the mean of the epochs' seq/s; the longest sequence is the window
    length the run trained and tested on. The attention and embeddings cells are worded by
    ``describe_backbone`` (``dnaseq_cli.models.registry.describe``), 'n/r' without it. The
    checkpoint's config (representation, full backbone config) is read with ``read_checkpoint``;
    without it the row has what run_config.json records.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("run folder not found", path=folder)
    for name in _REQUIRED:
        if not (folder / name).is_file():
            raise InputError(f"not a finished dnaseq run folder: {name} is missing", path=folder)
    run_config = _read_json(folder / "run_config.json")
    metrics = _read_json(folder / "test_metrics.json")
    model = run_config.get("model") or {}
    checkpoint_folder = folder / _CHECKPOINT
    checkpoint = (
        read_checkpoint(checkpoint_folder)
        if read_checkpoint is not None and (checkpoint_folder / "config.json").is_file()
        else {}
    )
    data = checkpoint.get("data") or {}
    manifest = run_config.get("dataset_manifest") or {}
    train_rate = None
    epochs_file = folder / "metrics_per_epoch.tsv"
    if epochs_file.is_file():
        import pandas as pd

        epochs = pd.read_csv(epochs_file, sep="\t")
        if "train_seqs_per_s" in epochs and len(epochs):
            train_rate = _number(epochs["train_seqs_per_s"].mean())

    def metric(name: str) -> float | None:
        value = _number(metrics.get(name))
        return _number(metrics.get(f"{name}_macro")) if value is None else value

    return {
        "run": folder.resolve().name or str(folder),
        "backbone": model.get("backbone") or checkpoint.get("backbone"),
        "size": model.get("size"),
        "representation": data.get("model_encoding"),
        "parameters": _integer(metrics.get("parameters", run_config.get("parameters"))),
        "accuracy": metric("accuracy"),
        "precision": metric("precision"),
        "recall": metric("recall"),
        "f1": metric("f1"),
        "mcc": metric("mcc"),
        "auroc": metric("auroc"),
        "auprc": metric("auprc"),
        "train_seqs_per_s": train_rate,
        "inference_seqs_per_s": _number(metrics.get("inference_seqs_per_s")),
        "peak_rss_mb": _number(metrics.get("peak_rss_mb")),
        "peak_gpu_mb": _number(metrics.get("peak_gpu_mb")),
        "train_seconds": _number(metrics.get("train_seconds")),
        "epochs_run": _integer(metrics.get("epochs_run")),
        "window_length": _integer(data.get("window_length", manifest.get("window_length"))),
        **describe_run(run_config, checkpoint, describe_backbone),
    }


def measured_rows(
    folders: Sequence[Path],
    describe_backbone: DescribeBackbone | None = None,
    read_checkpoint: ReadCheckpoint | None = None,
) -> list[dict[str, Any]]:
    rows = [read_run(folder, describe_backbone, read_checkpoint) for folder in folders]
    names = [row["run"] for row in rows]
    if len(set(names)) < len(names):  # same folder name under different parents: keep them apart
        for row, folder in zip(rows, folders, strict=True):
            row["run"] = str(folder)
    return rows


def _display(value: Any, kind: str, missing: str = MISSING) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    if kind == "int":
        return f"{int(value):,}"
    if kind == "fraction":
        return f"{value:.4f}"
    if kind == "percent":
        return f"{value:.1f}"
    if kind in ("rate", "seconds"):
        return f"{value:,.1f}"
    if kind == "mb":
        return f"{value:,.0f}"
    return str(value)


def _tsv_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("\t", " ").replace("\n", " ")


def to_tsv(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    """Header of column keys, one line per row; missing values are empty cells."""
    lines = ["\t".join(column.key for column in columns)]
    lines += ["\t".join(_tsv_cell(row.get(column.key)) for column in columns) for row in rows]
    return "\n".join(lines) + "\n"


def to_markdown(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    numeric = [column.kind != "text" for column in columns]
    lines = [
        "| " + " | ".join(cell(column.header) for column in columns) + " |",
        "|" + "|".join("---:" if right else "---" for right in numeric) + "|",
    ]
    for row in rows:
        cells = [cell(_display(row.get(column.key), column.kind)) for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _json_value(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def to_json(parts: dict[str, Sequence[dict[str, Any]]]) -> str:
    """``{"paper": [...], "measured": [...]}`` with the parts shown; missing values are null."""
    return (
        json.dumps(
            {
                name: [{k: _json_value(v) for k, v in row.items()} for row in rows]
                for name, rows in parts.items()
            },
            indent=2,
        )
        + "\n"
    )


def rich_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], title: str):
    """Transposed for the terminal: one column per model or run, one line per aspect, so a
    dozen aspects stay readable in 80 columns."""
    from rich.table import Table

    label, *aspects = columns
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("", no_wrap=True)
    for row in rows:
        table.add_column(_display(row.get(label.key), label.kind))
    for column in aspects:
        table.add_row(column.header, *(_display(row.get(column.key), column.kind) for row in rows))
    return table


COMPARISON_TSV = "comparison.tsv"
COMPARISON_JSON = "comparison.json"
COMPARISON_PNG = "comparison.png"


def write_comparison(rows: Sequence[dict[str, Any]], out_dir: Path) -> list[Path]:
    """comparison.tsv and .json (the measured table) and comparison.png (bars of the test metrics)."""
    from dnaseq_cli.output import MARKER, atomic_path, mark_as_written
    from dnaseq_cli.report.plots import metrics_bar_png

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        (COMPARISON_TSV, to_tsv(rows, MEASURED)),
        (COMPARISON_JSON, to_json({"measured": rows})),
    ):
        with atomic_path(out_dir / name) as tmp:
            tmp.write_text(text)
        written.append(out_dir / name)
    written.append(
        metrics_bar_png(rows, BAR_METRICS, out_dir / COMPARISON_PNG, title="Test metrics by run")
    )
    if (out_dir / MARKER).is_file():  # a folder dnaseq built (compare --run): these are its own
        mark_as_written(out_dir)
    return written
