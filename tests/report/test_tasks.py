"""``dnaseq compare --by-task``: dev metrics per task side by side with the published AUROCs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dnaseq_runner import run_in_process as run_cli

from dnaseq_cli.report.tasks import REFERENCE_AUROC, task_name


def task_files(folder: Path, seed: int) -> Path:
    """A GUE-like task folder: train.csv.gz (60 rows) and dev.csv.gz (20 rows), a planted motif."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for name, n in (("train", 60), ("dev", 20)):
        labels = np.arange(n) % 2
        seqs = []
        for label in labels:
            seq = "".join(rng.choice(list("ACGT"), 50))
            seqs.append(seq[:20] + "TATAAA" + seq[26:] if label else seq)
        with gzip.open(folder / f"{name}.csv.gz", "wt") as handle:
            pd.DataFrame({"sequence": seqs, "label": labels}).to_csv(handle, index=False)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("gue")
    folders = []
    for task, seed in (("tf_0", 0), ("prom_prom_300_tata", 1)):
        files = task_files(root / task, seed)
        for backbone in ("kmer", "cnn"):
            run = root / "runs" / task / backbone
            result = run_cli(
                "train", files / "train.csv.gz", "--val-input", files / "dev.csv.gz", "-o", run,
                "--backbone", backbone, "--epochs", "2", "--patience", "0", "--device", "cpu",
                "--quiet", "--test-fraction", "0.2",
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            folders.append(run)
    return folders


def test_task_is_named_after_the_folder_of_a_generic_file_name(runs):
    assert [task_name(run) for run in runs] == ["tf_0"] * 2 + ["prom_prom_300_tata"] * 2


def test_by_task_table_holds_the_kept_epochs_dev_metrics_and_the_references(runs, tmp_path):
    result = run_cli("compare", *runs, "--by-task", "--format", "json", "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["by_task"]
    by_model = {row["model"]: row for row in rows}
    assert {"kmer (tiny)", "cnn (tiny)", "DNABERT-2", "Caduceus-Ph"} <= set(by_model)
    epochs = pd.read_csv(runs[0] / "metrics_per_epoch.tsv", sep="\t")
    kept = epochs[epochs["best"]].iloc[-1]
    assert by_model["kmer (tiny)"]["tf_0_auroc"] == pytest.approx(kept["val_auroc"])
    assert by_model["kmer (tiny)"]["tf_0_mcc"] == pytest.approx(kept["val_mcc"])
    assert by_model["DNABERT-2"]["tf_0_auroc"] == REFERENCE_AUROC["tf_0"]["DNABERT-2"]
    assert by_model["HyenaDNA"]["prom_prom_300_tata_auroc"] == 0.808
    assert "best dev AUROC: tf_0 " in result.stderr
    for suffix in ("tsv", "md", "json", "png"):
        assert (tmp_path / "out" / f"comparison_by_task.{suffix}").stat().st_size > 0
    markdown = (tmp_path / "out" / "comparison_by_task.md").read_text()
    assert "tf_0 AUROC" in markdown.splitlines()[0]


def test_by_task_needs_runs_and_refuses_two_runs_of_one_backbone_on_one_task(runs):
    assert run_cli("compare", "--by-task").returncode == 2
    result = run_cli("compare", runs[0], runs[0], "--by-task", "--format", "tsv")
    assert result.returncode == 2 and "two runs of kmer (tiny) on task tf_0" in result.stderr
