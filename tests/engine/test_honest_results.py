"""`dnaseq train` reports only results it can stand behind: no empty or one-class held-out
splits, no NaN metrics, warnings for small or leaky test splits, and ties between epochs broken
by the validation loss."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import torch
from dnaseq_runner import run_in_process as run_cli
from torch import nn

from dnaseq_cli.data.preprocess import PreprocessOptions, preprocess
from dnaseq_cli.engine import run as engine_run
from dnaseq_cli.engine.run import check_trainable, train_run
from dnaseq_cli.engine.trainer import STATE_FILE, TrainConfig, Trainer
from dnaseq_cli.errors import InputError
from dnaseq_cli.models import factory
from dnaseq_cli.report.metrics import describe_not_finite, not_finite

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
SPEC = factory.model_spec("cnn", "tiny")
ENCODING = factory.encoding_of("cnn")


def random_table(path: Path, labels: list[object], length: int = 40, seed: int = 0) -> Path:
    """Distinct random sequences, one per label, as a seq/label table."""
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), length)) for _ in labels]
    pd.DataFrame({"seq": seqs, "label": labels}).to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture(scope="module")
def cohn(tmp_path_factory):
    """60 real Cohn enhancers (30 per class) cut to 100 bp: test and validation 6 windows each."""
    folder = tmp_path_factory.mktemp("cohn")
    table = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t")
    table = pd.concat([table[table.label == 0].head(30), table[table.label == 1].head(30)])
    table["seq"] = table["seq"].str[100:200]
    table.to_csv(folder / "cohn.tsv", sep="\t", index=False)
    return preprocess(PreprocessOptions(inputs=[folder / "cohn.tsv"], seed=2), folder / "dataset")


def run(dataset, run_dir: Path, config: TrainConfig, **options):
    """train_run with a tiny CNN on the CPU; ``options`` go to train_run, except ``build_model``
    (``n_out -> model``), ``save_checkpoint`` and ``load_checkpoint``, which replace what it
    builds, saves and loads."""
    hooks = {
        "save_checkpoint": (engine_run, "save_checkpoint"),
        "load_checkpoint": (engine_run, "load_checkpoint"),
        "build_model": (factory, "build_model"),
    }
    with contextlib.ExitStack() as stack:
        for name in set(options) & set(hooks):
            owner, attribute = hooks[name]
            value = options.pop(name)
            if name == "build_model":
                value = (lambda build: lambda spec, n_out, objective=None: build(n_out))(value)
            stack.enter_context(mock.patch.object(owner, attribute, value))
        return train_run(
            dataset,
            run_dir,
            config=config,
            device=torch.device("cpu"),
            **{"model_spec": SPEC, **options},
        )


class NaNModel(nn.Module):
    """Outputs NaN logits (what a diverged model does), with a weight for the optimiser."""

    def __init__(self, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_out))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.weight.expand(len(ids), -1) * float("nan")


def trained_files(folder: Path) -> list[str]:
    names = (STATE_FILE, "metrics_per_epoch.tsv", "test_metrics.json", "test_metrics.tsv")
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name in names)


# --- empty and one-class splits: exit 2 before training --------------------------------------


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        (
            ["--val-fraction", "0"],
            "the validation split is empty (train 18, val 0, test 2 windows)",
        ),
        (
            ["--val-fraction", "0", "--test-fraction", "0"],
            "the validation and test splits are empty (train 20, val 0, test 0 windows)",
        ),
        (["--test-fraction", "0"], "the test split is empty (train 18, val 2, test 0 windows)"),
    ],
)
def test_an_empty_held_out_split_exits_2_before_training(tmp_path, fractions, message):
    table = random_table(tmp_path / "t.tsv", [0, 1] * 10)
    result = run_cli("train", table, "-o", tmp_path / "run", "--backbone", "cnn", "--size", "tiny",
                     "--epochs", "1", "--device", "cpu", "--quiet", *fractions)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert trained_files(tmp_path) == []  # not one epoch was trained


def test_most_classes_with_a_single_record_exits_2_with_the_counts(tmp_path):
    labels = ["a"] * 10 + ["b"] * 10 + [f"id{i}" for i in range(10)]
    table = random_table(tmp_path / "t.tsv", labels)
    result = run_cli("train", table, "-o", tmp_path / "run", "--epochs", "1", "--device", "cpu",
                     "--quiet")  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "10 of 12 label classes have a single record (a 10, b 10, id0 1," in result.stderr
    assert "Traceback" not in result.stderr and trained_files(tmp_path) == []


def test_a_few_single_record_classes_still_train(cohn, tmp_path):
    """Not 'most': two rare classes among 30 rows of three classes is a (hard) dataset."""
    labels = ["a"] * 14 + ["b"] * 14 + ["c", "d"]
    dataset = preprocess(
        PreprocessOptions(inputs=[random_table(tmp_path / "t.tsv", labels)], seed=0),
        tmp_path / "d",
    )
    check_trainable(dataset)


def _with_split(dataset, rows, split: str, folder: Path):
    """A copy of ``dataset`` with ``rows`` moved into ``split``."""
    records = dataset.records.copy()
    records.loc[rows, "split"] = split
    return type(dataset)(folder, records, dataset.tokens, dataset.manifest)


def test_a_validation_or_test_split_of_one_class_exits_2_before_training(cohn, tmp_path):
    records = cohn.records
    for split, name in (("val", "validation"), ("test", "test")):
        negatives = records.index[(records.split == split) & (records.label == "0")]
        one_class = _with_split(cohn, negatives, "train", tmp_path)
        with pytest.raises(InputError, match=f"the {name} split holds a single class") as error:
            check_trainable(one_class)
        assert "(1 3; all windows: 0 30, 1 30)" in str(error.value)


def test_constant_regression_labels_in_a_held_out_split_exit_2(tmp_path):
    labels = [f"{v:.2f}" for v in np.linspace(0.1, 3.0, 30)]
    dataset = preprocess(
        PreprocessOptions(inputs=[random_table(tmp_path / "t.tsv", labels)], seed=0),
        tmp_path / "d",
    )
    assert dataset.manifest["task"] == "regression"
    check_trainable(dataset)
    records = dataset.records.copy()
    records.loc[records.split == "test", "label"] = "1.5"
    constant = type(dataset)(dataset.path, records, dataset.tokens, dataset.manifest)
    with pytest.raises(InputError, match=r"every label of the test split is 1\.5 \(3 windows\)"):
        check_trainable(constant)


# --- NaN metrics: exit 2, no report ----------------------------------------------------------


def test_nan_validation_metrics_stop_the_run_before_anything_is_selected(cohn, tmp_path):
    saved = []
    with pytest.raises(InputError) as error:
        run(cohn, tmp_path / "run", TrainConfig(epochs=2, batch_size=16, seed=0),
            build_model=NaNModel, save_checkpoint=lambda *a, **k: saved.append(a))  # fmt: skip
    message = str(error.value)
    assert message.startswith("epoch 1: metrics are not finite: train_loss nan, val_loss nan")
    assert "the loss diverged: try a lower --lr" in message and "neg_loss" not in message
    assert saved == [] and not (tmp_path / "run" / STATE_FILE).exists()
    assert not (tmp_path / "run" / "test_metrics.json").exists()


def test_nan_test_metrics_write_no_report(cohn, tmp_path):
    """The best checkpoint scores NaN on the test split: no test_metrics.json/tsv is written."""
    folder = tmp_path / "run"
    with pytest.raises(InputError, match="test metrics of the best epoch") as error:
        run(cohn, folder, TrainConfig(epochs=1, batch_size=16),
            load_checkpoint=lambda path: NaNModel(2))  # fmt: skip
    assert "loss nan" in str(error.value) and str(folder) in str(error.value)
    assert (folder / STATE_FILE).exists()  # training itself went through
    assert not (folder / "test_metrics.json").exists()
    assert not (folder / "test_metrics.tsv").exists()


def test_reports_hold_no_nan(cohn, tmp_path):
    result = run(cohn, tmp_path / "run", TrainConfig(epochs=2, batch_size=16))
    text = (tmp_path / "run" / "test_metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert all(math.isfinite(v) for v in result.test_metrics.values() if isinstance(v, float))
    table = pd.read_csv(tmp_path / "run" / "test_metrics.tsv", sep="\t")
    assert np.isfinite(table["value"].astype(float)).all()
    epochs = pd.read_csv(tmp_path / "run" / "metrics_per_epoch.tsv", sep="\t")
    assert np.isfinite(epochs["val_loss"]).all() and np.isfinite(epochs["val_auroc"]).all()


# --- warnings: small test split, windows shared by splits ------------------------------------


def test_small_test_split_and_shared_windows_each_warn_once(tmp_path):
    rng = np.random.default_rng(3)
    unique = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(30)]
    seqs = unique + unique[:10]  # 10 sequences twice
    labels = [0, 1] * 20
    pd.DataFrame({"seq": seqs, "label": labels}).to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    result = run_cli("train", tmp_path / "t.tsv", "-o", tmp_path / "run", "--backbone", "cnn",
                     "--size", "tiny", "--epochs", "1", "--device", "cpu", "--quiet",
                     "--seed", "4")  # fmt: skip
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 2, result.stderr
    small, shared = warnings
    assert "the test split holds 4 windows (under 30; train 32, val 4, test 4)" in small
    assert shared.startswith("dnaseq: WARNING: identical windows in more than one split: ")
    assert "also in train" in shared and "(train 32, val 4, test 4)" in shared


def test_no_warning_for_a_large_distinct_test_split(tmp_path):
    table = random_table(tmp_path / "t.tsv", [0, 1] * 75, length=30)
    result = run_cli("train", table, "-o", tmp_path / "run", "--backbone", "cnn", "--size", "tiny",
                     "--epochs", "1", "--max-steps-per-epoch", "1", "--device", "cpu",
                     "--quiet", "--test-fraction", "0.2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr


# --- choosing the best epoch -----------------------------------------------------------------


def scripted_trainer(dataset, config: TrainConfig, metrics: list[dict]) -> Trainer:
    """A Trainer whose epochs train nothing and whose validation returns ``metrics`` in turn."""
    torch.manual_seed(0)
    model = factory.build_classifier(SPEC, n_out=2)
    trainer = Trainer(model, dataset, encoding=ENCODING, config=config,
                      device=torch.device("cpu"), rc_fn=None)  # fmt: skip
    script = iter(metrics)
    trainer.train_epoch = lambda epoch, progress=None: 0.5
    trainer.epoch_sequences = 0
    trainer.evaluate = lambda rows: next(script)
    return trainer


def test_a_tie_of_the_monitored_metric_goes_to_the_lower_validation_loss(cohn, tmp_path):
    config = TrainConfig(epochs=3, patience=0)
    trainer = scripted_trainer(cohn, config, [
        {"auroc": 0.8, "loss": 0.69},  # calls everything positive
        {"auroc": 0.8, "loss": 0.41},  # same AUROC, better calibrated: the one to keep
        {"auroc": 0.8, "loss": 0.55},
    ])  # fmt: skip
    saved: list[int] = []
    state = trainer.fit(tmp_path, lambda model: saved.append(trainer.state.epoch))
    assert state.best_epoch == 1 and saved == [0, 1]
    assert [row["best"] for row in state.history] == [True, True, False]
    assert state.best_loss == 0.41 and state.best_score == 0.8

    # resumed: the tie-break remembers the best epoch's loss
    more = TrainConfig(epochs=5, patience=0)
    resumed = scripted_trainer(cohn, more, [
        {"auroc": 0.8, "loss": 0.45},
        {"auroc": 0.8, "loss": 0.30},
    ])  # fmt: skip
    resumed.load_state(tmp_path / STATE_FILE)
    assert resumed.state.best_loss == 0.41 and resumed.state.best_epoch == 1
    state = resumed.fit(tmp_path, lambda model: saved.append(resumed.state.epoch))
    assert state.best_epoch == 4 and saved == [0, 1, 4]


def test_a_lower_is_better_monitor_picks_the_lowest_value(cohn, tmp_path):
    trainer = scripted_trainer(cohn, TrainConfig(epochs=3, patience=0, monitor="loss"), [
        {"loss": 0.6}, {"loss": 0.4}, {"loss": 0.5},
    ])  # fmt: skip
    assert trainer.fit(tmp_path, lambda model: None).best_epoch == 1


def test_an_unknown_monitor_is_an_input_error_before_training(cohn):
    model = factory.build_classifier(SPEC, n_out=2)
    with pytest.raises(InputError, match="--monitor 'pearson' is not a validation metric of a "
                                         "binary task; choose auto or one of accuracy"):  # fmt: skip
        Trainer(model, cohn, encoding=ENCODING, config=TrainConfig(monitor="pearson"),
                device=torch.device("cpu"), rc_fn=None)  # fmt: skip
    trainer = scripted_trainer(cohn, TrainConfig(monitor="val_auroc"), [])
    assert trainer.monitor == "auroc"


def test_not_finite_metrics_are_named_with_their_usual_reason():
    nan = float("nan")
    metrics = {"n": 6, "accuracy": 1.0, "auroc": nan, "auprc": nan, "loss": 0.3,
               "support": {"0": 0, "1": 6}, "classes": ["0", "1"]}  # fmt: skip
    bad = not_finite(metrics)
    assert list(bad) == ["auroc", "auprc"]
    assert describe_not_finite(bad, metrics, "binary") == (
        "auroc nan, auprc nan (the split holds a single class (1 6))"
    )
    assert not_finite({"loss": 0.1, "n": 0, "confusion_matrix": [[1]]}) == {}
    regression = {"pearson": nan, "r2": float("inf")}
    assert describe_not_finite(not_finite(regression), regression, "regression") == (
        "pearson nan, r2 inf (the labels or the predictions are constant)"
    )
