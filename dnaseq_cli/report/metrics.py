"""Classification and regression metrics in plain numpy (no scikit-learn dependency).

Definitions follow the usual conventions: AUROC is the Mann-Whitney probability with ties counted half,
AUPRC is average precision (step-wise area, as scikit-learn's ``average_precision_score``), MCC is the
multi-class generalisation (Gorodkin 2004) which reduces to the binary formula for two classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``matrix[i, j]`` counts rows whose true class is ``i`` and predicted class is ``j``."""
    index = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve for binary labels; NaN when only one class is present."""
    y_true = np.asarray(y_true).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    ranks = np.empty(len(score), dtype=np.float64)
    # Average ranks over ties (1-based).
    unique, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    del unique
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rate, true-positive rate and thresholds, one point per distinct score."""
    y_true = np.asarray(y_true).astype(bool)
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
    sorted_scores = np.asarray(score, dtype=np.float64)[order]
    hits = y_true[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(hits) - 1]
    tps = np.cumsum(hits)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    n_pos, n_neg = max(int(hits.sum()), 1), max(int((~hits).sum()), 1)
    fpr = np.r_[0.0, fps / n_neg]
    tpr = np.r_[0.0, tps / n_pos]
    return fpr, tpr, np.r_[np.inf, sorted_scores[last_of_tie]]


def precision_recall_curve(
    y_true: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at each distinct score threshold, highest threshold first."""
    y_true = np.asarray(y_true).astype(bool)
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
    sorted_scores = np.asarray(score, dtype=np.float64)[order]
    hits = y_true[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(hits) - 1]
    tps = np.cumsum(hits)[last_of_tie]
    predicted = last_of_tie + 1
    precision = tps / predicted
    recall = tps / max(int(hits.sum()), 1)
    return precision, recall, sorted_scores[last_of_tie]


def auprc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Average precision: sum over thresholds of precision times the recall increment."""
    y_true = np.asarray(y_true).astype(bool)
    if not y_true.any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(y_true, score)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def matthews_corrcoef(matrix: np.ndarray) -> float:
    """MCC from a confusion matrix (multi-class form; 0 when undefined)."""
    matrix = matrix.astype(np.float64)
    total = matrix.sum()
    correct = np.trace(matrix)
    true_sums = matrix.sum(axis=1)
    pred_sums = matrix.sum(axis=0)
    numerator = correct * total - true_sums @ pred_sums
    denominator = np.sqrt((total**2 - pred_sums @ pred_sums) * (total**2 - true_sums @ true_sums))
    return float(numerator / denominator) if denominator > 0 else 0.0


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(
        numerator,
        denominator,
        out=np.zeros_like(numerator, dtype=np.float64),
        where=denominator > 0,
    )


def classification_metrics(
    y_true: np.ndarray, probabilities: np.ndarray, class_names: list[str] | None = None
) -> dict[str, Any]:
    """All the metrics a report needs from true class indices and predicted probabilities [N, C].

    For two classes, precision/recall/F1 are those of class 1 (the positive class), AUROC/AUPRC use
    the class-1 probability; macro averages are reported for every task.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n_classes = probabilities.shape[1]
    names = class_names or [str(i) for i in range(n_classes)]
    y_pred = probabilities.argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    true_positive = np.diag(matrix).astype(np.float64)
    precision = _safe_divide(true_positive, matrix.sum(axis=0))
    recall = _safe_divide(true_positive, matrix.sum(axis=1))
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    result: dict[str, Any] = {
        "n": int(len(y_true)),
        "accuracy": float(true_positive.sum() / max(len(y_true), 1)),
        "precision_macro": float(precision.mean()),
        "recall_macro": float(recall.mean()),
        "f1_macro": float(f1.mean()),
        "mcc": matthews_corrcoef(matrix),
        "classes": names,
        "support": {name: int(c) for name, c in zip(names, matrix.sum(axis=1), strict=True)},
        "confusion_matrix": matrix.tolist(),
    }
    if n_classes == 2:
        positive = probabilities[:, 1]
        result.update(
            precision=float(precision[1]),
            recall=float(recall[1]),
            f1=float(f1[1]),
            auroc=auroc(y_true == 1, positive),
            auprc=auprc(y_true == 1, positive),
        )
    else:
        per_class_auroc = [auroc(y_true == c, probabilities[:, c]) for c in range(n_classes)]
        per_class_auprc = [auprc(y_true == c, probabilities[:, c]) for c in range(n_classes)]
        result.update(
            auroc=float(np.nanmean(per_class_auroc))
            if not np.all(np.isnan(per_class_auroc))
            else float("nan"),
            auprc=float(np.nanmean(per_class_auprc))
            if not np.all(np.isnan(per_class_auprc))
            else float("nan"),
        )
    return result


#: what :func:`binary_metrics` keeps of :func:`classification_metrics`
BINARY_KEPT = ("accuracy", "precision", "recall", "f1", "f1_macro", "mcc", "auroc", "auprc")


def binary_metrics(labels: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """The scalar metrics of binary labels (0/1) and positive-class probabilities, as
    :func:`classification_metrics` computes them for ``dnaseq train``."""
    found = classification_metrics(labels, np.stack([1 - probability, probability], axis=1))
    return {k: float(found[k]) for k in BINARY_KEPT if k in found}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, MAE, Pearson and Spearman correlations and R^2."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    residual = y_true - y_pred
    variance = float(((y_true - y_true.mean()) ** 2).sum())

    def pearson(a: np.ndarray, b: np.ndarray) -> float:
        if a.std() == 0 or b.std() == 0:
            return float("nan")
        return float(np.corrcoef(a, b)[0, 1])

    def ranks(a: np.ndarray) -> np.ndarray:
        order = np.argsort(a, kind="mergesort")
        _, first, counts = np.unique(a[order], return_index=True, return_counts=True)
        out = np.empty(len(a))
        out[order] = np.repeat(first + (counts - 1) / 2.0, counts)
        return out

    return {
        "n": int(len(y_true)),
        "mse": float((residual**2).mean()),
        "mae": float(np.abs(residual).mean()),
        "pearson": pearson(y_true, y_pred),
        "spearman": pearson(ranks(y_true), ranks(y_pred)),
        "r2": float(1 - (residual**2).sum() / variance) if variance > 0 else float("nan"),
    }


def not_finite(metrics: dict[str, Any]) -> dict[str, float]:
    """The scalar metrics that are NaN or infinite (no report may hold them)."""
    return {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, (float, np.floating)) and not np.isfinite(value)
    }


def describe_not_finite(bad: dict[str, float], metrics: dict[str, Any], task: str) -> str:
    """'auroc nan, auprc nan (the split holds a single class (1 12))': what was not finite, and
    the usual reason, for an error message (keys may carry a ``val_`` prefix)."""
    names = {key.removeprefix("val_") for key in bad}
    listed = ", ".join(
        f"{key} {value}"
        for key, value in bad.items()
        if not (key.endswith("neg_loss") and key.replace("neg_", "") in bad)  # the same number
    )
    reasons = []
    if {"loss", "train_loss", "neg_loss"} & names:
        if metrics.get("masked_tokens") == 0:
            reasons.append("no position of these windows could be masked")
        else:
            reasons.append("the loss diverged: try a lower --lr or --precision fp32")
    if {"auroc", "auprc"} & names:
        support = metrics.get("support") or {}
        present = {name: count for name, count in support.items() if count}
        counts = ", ".join(f"{name} {count}" for name, count in present.items())
        reasons.append(f"the split holds a single class ({counts})" if counts else "one class")
    if {"pearson", "spearman", "r2"} & names and task == "regression":
        reasons.append("the labels or the predictions are constant")
    return listed + (f" ({'; '.join(reasons)})" if reasons else "")
