"""Metrics agree with scikit-learn (used here only as an independent oracle)."""

import numpy as np
import pytest
from sklearn import metrics as skm

from dnaseq_cli.report.metrics import (
    auprc,
    auroc,
    classification_metrics,
    confusion_matrix,
    regression_metrics,
    roc_curve,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    score = np.round(np.clip(y * 0.3 + rng.normal(0.4, 0.25, 300), 0, 1), 2)  # ties on purpose
    probabilities = np.stack([1 - score, score], axis=1)
    got = classification_metrics(y, probabilities)
    pred = (score > 0.5).astype(int)
    pred[score == 0.5] = 0  # argmax picks the first class on a tie
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert got["auroc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert got["auprc"] == pytest.approx(skm.average_precision_score(y, score))
    assert got["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    fpr, tpr, _ = roc_curve(y, score)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)


def test_multiclass_metrics_match_sklearn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 200)
    logits = rng.normal(size=(200, 3)) + np.eye(3)[y] * 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    got = classification_metrics(y, probabilities, ["a", "b", "c"])
    pred = probabilities.argmax(axis=1)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert got["auroc"] == pytest.approx(skm.roc_auc_score(y, probabilities, multi_class="ovr"))
    assert got["support"] == {
        "a": int((y == 0).sum()),
        "b": int((y == 1).sum()),
        "c": int((y == 2).sum()),
    }


def test_degenerate_inputs():
    assert np.isnan(auroc(np.ones(4), np.arange(4)))
    assert np.isnan(auprc(np.zeros(4), np.arange(4)))
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert confusion_matrix(np.array([0, 1]), np.array([1, 1]), 2).tolist() == [[0, 1], [0, 1]]
    got = classification_metrics(np.zeros(3, dtype=int), np.array([[0.9, 0.1]] * 3))
    assert got["mcc"] == 0.0 and got["accuracy"] == 1.0


def test_regression_metrics_match_numpy():
    rng = np.random.default_rng(1)
    y = rng.normal(size=100)
    pred = y + rng.normal(scale=0.5, size=100)
    got = regression_metrics(y, pred)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert got["pearson"] == pytest.approx(np.corrcoef(y, pred)[0, 1])
