"""PNG figures: valid images with drawn content, from the curve functions of report.metrics."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from dnaseq_cli.report.plots import (
    PR_FILE,
    ROC_FILE,
    TRAINING_CURVE_FILE,
    metrics_bar_png,
    run_plots,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _image(path):
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return matplotlib.image.imread(path)


def _history(epochs=3):
    return [
        {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "val_accuracy": 0.5 + e / 10,
         "val_auroc": 0.6 + e / 20, "train_seqs_per_s": 10.0, "best": e == 2}
        for e in range(1, epochs + 1)
    ]  # fmt: skip


def test_binary_run_gets_roc_pr_and_training_curve(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    p = np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1)
    written = run_plots(tmp_path, "binary", labels, np.c_[1 - p, p], _history())
    assert {path.name for path in written} == {ROC_FILE, PR_FILE, TRAINING_CURVE_FILE}
    for path in written:
        image = _image(path)
        assert image.shape[0] > 300 and image.shape[1] > 400
        # Something besides the white background was drawn.
        assert (image[..., :3] < 0.9).mean() > 0.005
    assert _image(tmp_path / TRAINING_CURVE_FILE).shape[1] > _image(tmp_path / ROC_FILE).shape[1]
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("task", "labels"),
    [("multiclass", np.array([0, 1, 2, 1])), ("binary", np.array([1, 1, 1, 1])),
     ("regression", np.array([0.1, 0.5, 0.3, 0.2]))],
)  # fmt: skip
def test_curves_only_where_they_are_defined(tmp_path, task, labels):
    outputs = np.full((4, 3), 1 / 3) if task != "regression" else labels + 0.1
    if task == "regression":
        history = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val_pearson": 0.2,
                    "best": True}]  # fmt: skip
    else:
        history = _history(1)
    written = run_plots(tmp_path, task, labels, outputs, history)
    assert [path.name for path in written] == [TRAINING_CURVE_FILE]
    assert not (tmp_path / ROC_FILE).exists()


def test_training_curve_reads_the_per_epoch_table_written_by_train(tmp_path):
    # metrics_per_epoch.tsv round-trips "best" as a string column: the marker must still work.
    path = tmp_path / "metrics_per_epoch.tsv"
    pd.DataFrame(_history()).to_csv(path, sep="\t", index=False)
    history = pd.read_csv(path, sep="\t").to_dict("records")
    written = run_plots(tmp_path, "binary", np.array([]), np.empty((0, 2)), history)
    assert [p.name for p in written] == [TRAINING_CURVE_FILE]
    assert _image(written[0]).ndim == 3


def test_bar_chart_leaves_gaps_for_missing_metrics(tmp_path):
    rows = [
        {"run": "a", "accuracy": 0.7, "auroc": None},
        {"run": "b", "accuracy": 0.9, "auroc": 0.8},
    ]
    path = metrics_bar_png(rows, ["accuracy", "auroc"], tmp_path / "bars.png")
    assert _image(path).shape[2] in (3, 4)


def test_cli_start_does_not_import_matplotlib():
    code = ("import sys; import dnaseq_cli.cli.app; "
            "sys.exit(1 if 'matplotlib' in sys.modules else 0)")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
