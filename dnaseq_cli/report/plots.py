"""PNG figures for run folders and comparisons: ROC and PR curves, training curves, metric bars.

matplotlib is imported inside the functions (never at module import) so that ``dnaseq --help`` and
``dnaseq --version`` stay fast. Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas
rather than pyplot: no global figure registry, no display backend, safe in headless jobs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dnaseq_cli.output import atomic_path
from dnaseq_cli.report.metrics import auprc, auroc, precision_recall_curve, roc_curve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ROC_FILE = "roc.png"
PR_FILE = "pr.png"
TRAINING_CURVE_FILE = "training_curve.png"

# Validation metrics worth a line in the training curve, in display order.
_CURVE_METRICS = ("val_accuracy", "val_f1", "val_f1_macro", "val_auroc", "val_mcc", "val_pearson")


def _figure(width: float = 5.0, height: float = 4.5) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


def roc_png(y_true: np.ndarray, score: np.ndarray, path: Path, title: str = "ROC") -> Path:
    """ROC curve of binary labels against the positive-class score, with the chance diagonal."""
    fpr, tpr, _ = roc_curve(y_true, score)
    figure = _figure()
    axes = figure.add_subplot()
    axes.plot(fpr, tpr, drawstyle="steps-post", label=f"AUROC {auroc(y_true, score):.3f}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    axes.set(xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="lower right")
    return _save(figure, path)


def pr_png(
    y_true: np.ndarray, score: np.ndarray, path: Path, title: str = "Precision-recall"
) -> Path:
    """Precision-recall curve; the dashed line is the positive rate (a random scorer's precision)."""
    precision, recall, _ = precision_recall_curve(y_true, score)
    positive_rate = float(np.mean(np.asarray(y_true).astype(bool)))
    figure = _figure()
    axes = figure.add_subplot()
    axes.plot(
        np.r_[0.0, recall],
        np.r_[precision[0], precision],
        drawstyle="steps-pre",
        label=f"AUPRC {auprc(y_true, score):.3f}",
    )
    axes.axhline(positive_rate, linestyle="--", color="grey", linewidth=0.8, label="chance")
    axes.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="lower left")
    return _save(figure, path)


def training_curve_png(history: pd.DataFrame, path: Path, title: str = "Training") -> Path:
    """Loss per epoch (train and validation) beside the validation metrics; best epoch marked."""
    figure = _figure(9.0, 4.0)
    loss_axes, metric_axes = figure.subplots(1, 2)
    epochs = history["epoch"]
    for column, label in (("train_loss", "train"), ("val_loss", "validation")):
        if column in history:
            loss_axes.plot(epochs, history[column], marker="o", label=label)
    loss_axes.set(xlabel="epoch", ylabel="loss", title=f"{title}: loss")
    loss_axes.legend()
    for column in _CURVE_METRICS:
        if column in history and history[column].notna().any():
            metric_axes.plot(epochs, history[column], marker="o", label=column.removeprefix("val_"))
    metric_axes.set(xlabel="epoch", ylabel="validation metric", title=f"{title}: validation")
    if metric_axes.lines:
        metric_axes.legend()
    if "best" in history:
        best = history.loc[history["best"].astype(str) == "True", "epoch"]
        if len(best):
            for axes in (loss_axes, metric_axes):
                axes.axvline(best.iloc[-1], color="grey", linestyle=":", linewidth=1)
    for axes in (loss_axes, metric_axes):
        axes.xaxis.get_major_locator().set_params(integer=True)
    return _save(figure, path)


def metrics_bar_png(
    rows: Sequence[dict[str, Any]],
    metrics: Sequence[str],
    path: Path,
    label_key: str = "run",
    title: str = "Test metrics",
) -> Path:
    """Grouped bars: one group per metric, one bar per row (run); missing values leave a gap."""
    figure = _figure(max(6.0, 1.2 * len(metrics) + 2), 4.5)
    axes = figure.add_subplot()
    width = 0.8 / max(len(rows), 1)
    positions = np.arange(len(metrics))
    for index, row in enumerate(rows):
        values = [_number(row.get(metric)) for metric in metrics]
        axes.bar(
            positions + (index - (len(rows) - 1) / 2) * width, values, width, label=row[label_key]
        )
    axes.set_xticks(positions, list(metrics))
    axes.axhline(0, color="black", linewidth=0.6)
    axes.set(ylabel="value on the test split", title=title)
    axes.legend(fontsize="small")
    return _save(figure, path)


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def run_plots(
    run_dir: Path,
    task: str,
    labels: np.ndarray,
    outputs: np.ndarray,
    history: list[dict[str, Any]],
) -> list[Path]:
    """The figures every run folder gets: training curve always, ROC and PR for binary tasks.

    ROC/PR need both classes in the test split; without them the curves are undefined and skipped.
    """
    written = []
    if history:
        written.append(training_curve_png(pd.DataFrame(history), run_dir / TRAINING_CURVE_FILE))
    labels = np.asarray(labels)
    if task == "binary" and len(labels) and 0 < int((labels == 1).sum()) < len(labels):
        score = np.asarray(outputs)[:, 1]
        written.append(roc_png(labels == 1, score, run_dir / ROC_FILE, title="ROC (test split)"))
        written.append(pr_png(labels == 1, score, run_dir / PR_FILE, title="PR (test split)"))
    return written
