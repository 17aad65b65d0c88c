"""`dnaseq train` end to end on the bundled example data."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from dnaseq_runner import run_in_process as run_cli
from safetensors.torch import load_file

from dnaseq_cli.data.preprocess import PreprocessOptions, preprocess
from dnaseq_cli.encode.convert import char_to_kmer_ids
from dnaseq_cli.encode.tokens import encode_chars, encode_kmers

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    """120 real Cohn sequences cut to 200 bp, to keep every backbone fast on CPU."""
    folder = tmp_path_factory.mktemp("data")
    table = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t")
    table = pd.concat([table[table.label == 0].head(60), table[table.label == 1].head(60)])
    table["seq"] = table["seq"].str[150:350]
    path = folder / "small.tsv"
    table.to_csv(path, sep="\t", index=False)
    return preprocess(PreprocessOptions(inputs=[path], seed=1), folder / "dataset")


def test_char_to_kmer_conversion_matches_direct_encoding():
    seq = "ACGTNACGGTTAC"
    ids = torch.tensor(encode_chars(seq))[None]
    for k in (1, 3, 6):
        assert np.array_equal(char_to_kmer_ids(ids, k)[0].numpy(), encode_kmers(seq, k))


@pytest.mark.parametrize("backbone", ["cnn", "hybrid", "gnn", "bigbird", "caduceus", "kmer"])
def test_each_backbone_trains_through_the_cli(small_dataset, tmp_path, backbone):
    run = tmp_path / backbone
    result = run_cli(
        "train", small_dataset.path, "-o", run, "--backbone", backbone, "--size", "tiny",
        "--epochs", "2", "--batch-size", "16", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("command.txt", "run_config.json", "metrics_per_epoch.tsv", "test_metrics.json",
                 "test_metrics.tsv", "test_predictions.tsv", "checkpoint/config.json",
                 "checkpoint/model.safetensors"):  # fmt: skip
        assert (run / name).is_file(), name
    metrics = json.loads((run / "test_metrics.json").read_text())
    assert metrics["n"] == 12
    assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["auroc"] <= 1.0
    assert sum(map(sum, metrics["confusion_matrix"])) == 12
    epochs = pd.read_csv(run / "metrics_per_epoch.tsv", sep="\t")
    assert len(epochs) == 2 and np.isfinite(epochs["train_loss"]).all()
    predictions = pd.read_csv(run / "test_predictions.tsv", sep="\t")
    assert np.allclose(predictions[["prob_0", "prob_1"]].sum(axis=1), 1.0, atol=1e-5)


def test_resume_after_ctrl_c_gives_the_same_weights_as_an_uninterrupted_run(
    small_dataset, tmp_path
):
    common = ["--backbone", "cnn", "--batch-size", "16", "--device", "cpu", "--quiet",
              "--patience", "0", "--seed", "3", "--epochs", "12"]  # fmt: skip
    straight = run_cli("train", small_dataset.path, "-o", tmp_path / "a", *common)
    assert straight.returncode == 0, straight.stderr
    command = [sys.executable, "-m", "dnaseq_cli", "train", str(small_dataset.path), "-o",
               str(tmp_path / "b"), *common]  # fmt: skip
    # a shell's background job inherits SIGINT ignored, and Python then installs no Ctrl-C handler:
    # give the child the default disposition, as a terminal's Ctrl-C finds it
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    epochs_file = tmp_path / ".b.partial" / "metrics_per_epoch.tsv"  # unfinished runs live here
    deadline = time.monotonic() + 120
    while not epochs_file.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 130, stderr
    assert "--resume" in stderr
    done = len(pd.read_csv(epochs_file, sep="\t"))
    assert 1 <= done < 12
    resumed = run_cli("train", small_dataset.path, "-o", tmp_path / "b", "--resume", *common)
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(tmp_path / "a" / "checkpoint" / "model.safetensors")
    b = load_file(tmp_path / "b" / "checkpoint" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert not (tmp_path / ".b.partial").exists()  # moved into place when complete
    assert len(pd.read_csv(tmp_path / "b" / "metrics_per_epoch.tsv", sep="\t")) == 12
    straight_metrics = json.loads((tmp_path / "a" / "test_metrics.json").read_text())
    resumed_metrics = json.loads((tmp_path / "b" / "test_metrics.json").read_text())
    assert straight_metrics["auroc"] == resumed_metrics["auroc"]


def test_train_directly_from_a_table(tmp_path):
    result = run_cli(
        "train", EXAMPLES / "enhancers_cohn.tsv", "-o", tmp_path / "run", "--epochs", "1",
        "--max-steps-per-epoch", "3", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "dataset" / "manifest.json").is_file()
    assert json.loads((tmp_path / "run" / "test_metrics.json").read_text())["n"] == 30


def test_dry_run_prints_parameter_count():
    result = run_cli("train", EXAMPLES / "enhancers_cohn.tsv", "-o", "unused", "--backbone",
                     "hybrid", "--dry-run")  # fmt: skip
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["parameters"] > 1000 and info["encoding"] == "char"


@pytest.mark.parametrize(
    ("table", "extra", "message"),
    [
        ("seq\tclass\nACGTACGT\t1\n", [], "label"),
        ("seq\tlabel\n" + "ACGTACGTAA\t1\n" * 20, [], "one class"),
        (
            "seq\tlabel\nACGTACGTAA\t1\nACGTACGTTT\t0\n",
            ["--val-fraction", "0.5", "--test-fraction", "0.5"],
            "training",
        ),
    ],
)
def test_bad_training_inputs_exit_2(tmp_path, table, extra, message):
    path = tmp_path / "t.tsv"
    path.write_text(table)
    result = run_cli("train", path, "-o", tmp_path / "run", "--device", "cpu", "--quiet", *extra)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_max_time_stops_before_an_epoch_that_would_overrun(small_dataset, tmp_path):
    """A budget shorter than one epoch: the first epoch finishes, no second one starts, and the
    run is still tested and records why it stopped."""
    run = tmp_path / "timed"
    result = run_cli(
        "train", small_dataset.path, "-o", run, "--backbone", "cnn", "--epochs", "5",
        "--patience", "0", "--max-time", "0.001s", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "test_metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and metrics["stop_reason"] == "time_limit"
    assert json.loads((run / "run_config.json").read_text())["time_limit_seconds"] == 0.001
    untimed = tmp_path / "untimed"
    result = run_cli("train", small_dataset.path, "-o", untimed, "--backbone", "cnn", "--epochs",
                     "2", "--patience", "0", "--max-time", "2h", "--device", "cpu", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads((untimed / "test_metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and metrics["stop_reason"] == "epochs"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90.0), ("28m", 1680.0), ("1.5h", 5400.0), ("2", 120.0)]
)
def test_parse_duration(text, seconds):
    from dnaseq_cli.cli.train import parse_duration

    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "-5m", "0", "inf", "5d"])
def test_bad_max_time_is_an_input_error(text):
    from dnaseq_cli.cli.train import parse_duration
    from dnaseq_cli.errors import InputError

    with pytest.raises(InputError, match="--max-time"):
        parse_duration(text)


def test_bad_max_time_exits_2_before_anything_is_written(tmp_path):
    result = run_cli("train", EXAMPLES / "enhancers_cohn.tsv", "-o", tmp_path / "r", "--max-time",
                     "soon", "--quiet")  # fmt: skip
    assert result.returncode == 2 and "--max-time" in result.stderr, result.stderr
    assert not (tmp_path / "r").exists()


def test_bf16_autocast_trains_and_is_recorded(small_dataset, tmp_path):
    """--precision bf16 (on CPU here; auto picks it on CUDA GPUs that have it) trains end to end
    with finite losses; the resolved precision is in run_config.json and the comparison row."""
    run = tmp_path / "bf16"
    result = run_cli(
        "train", small_dataset.path, "-o", run, "--backbone", "hybrid", "--epochs", "1",
        "--batch-size", "16", "--precision", "bf16", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "run_config.json").read_text())["precision"] == "bf16"
    assert np.isfinite(pd.read_csv(run / "metrics_per_epoch.tsv", sep="\t")["train_loss"]).all()
    from dnaseq_cli.report.compare import read_run

    assert "bf16 autocast" in read_run(run)["training_optimisation"]
    bad = run_cli("train", small_dataset.path, "-o", tmp_path / "x", "--precision", "fp8")
    assert bad.returncode == 2 and "--precision" in bad.stderr and not (tmp_path / "x").exists()


def test_precision_auto_is_fp32_on_cpu():
    from dnaseq_cli.engine.trainer import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
