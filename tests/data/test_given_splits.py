"""Benchmark files used as given splits (``--val-input``/``--test-input``), as GUE ships them:
gzipped ``sequence,label`` CSVs with a train and a dev file, and exact duplicates between them."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dnaseq_runner import run_in_process as run_cli

from dnaseq_cli.data.preprocess import PreprocessOptions, preprocess
from dnaseq_cli.encode.tokens import decode_chars


def gue_like(folder: Path, seed: int = 0) -> tuple[Path, Path, set[str]]:
    """train.csv.gz (80 rows) and dev.csv.gz (20 rows); 3 dev sequences also occur in train (one
    of them twice, and once in lower case)."""
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(97)]
    labels = [i % 2 for i in range(97)]
    dev = pd.DataFrame({"sequence": seqs[77:], "label": labels[77:]})
    copies = [seqs[77], seqs[78], seqs[79], seqs[77].lower()]
    train = pd.DataFrame(
        {"sequence": seqs[:76] + copies, "label": labels[:76] + [labels[77], labels[78], 1, 0]}
    )
    paths = []
    for name, table in (("train", train), ("dev", dev)):
        path = folder / f"{name}.csv.gz"
        with gzip.open(path, "wt") as handle:
            table.to_csv(handle, index=False)
        paths.append(path)
    return paths[0], paths[1], set(dev["sequence"])


def sequences(dataset, split: str) -> list[str]:
    rows = np.flatnonzero(dataset.records["split"].to_numpy() == split)
    return [decode_chars(np.asarray(dataset.tokens[row])) for row in rows]


def test_dev_file_is_the_validation_split_and_its_copies_leave_train(tmp_path, caplog):
    train, dev, dev_seqs = gue_like(tmp_path)
    options = PreprocessOptions(inputs=[train], val_inputs=[dev], test_fraction=0.25, seed=1)
    dataset = preprocess(options, tmp_path / "ds")
    assert sorted(sequences(dataset, "val")) == sorted(dev_seqs)
    held_in = sequences(dataset, "train") + sequences(dataset, "test")
    assert not set(held_in) & dev_seqs  # the 4 copies (one lower case) are gone
    assert len(held_in) == 76
    assert len(sequences(dataset, "test")) == 20  # round(38 x 0.25) in each of the 2 classes
    split = dataset.manifest["split"]
    assert split["dropped_train_duplicates"] == 4 and split["val_fraction"] is None
    assert "dropped 4 training windows identical" in caplog.text
    roles = [item["role"] for item in dataset.manifest["inputs"]]
    assert roles == ["table", "val table"]


def test_given_test_file_leaves_train_whole(tmp_path):
    train, dev, _ = gue_like(tmp_path)
    options = PreprocessOptions(inputs=[train], val_inputs=[dev], test_inputs=[dev], seed=1)
    dataset = preprocess(options, tmp_path / "ds")
    counts = dataset.records["split"].value_counts().to_dict()
    assert counts == {"train": 76, "val": 20, "test": 20}


def test_train_takes_the_files_directly_and_reports_on_the_dev_split(tmp_path):
    train, dev, _ = gue_like(tmp_path)
    result = run_cli(
        "train", train, "--val-input", dev, "-o", tmp_path / "run", "--backbone", "kmer",
        "--epochs", "1", "--test-fraction", "0.25", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = pd.read_csv(tmp_path / "run" / "dataset" / "records.tsv", sep="\t")
    assert (records["split"] == "val").sum() == 20


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--val-input", "nosuch.csv"), "nosuch.csv"),
        (("--val-input", "{dev}", "-o", "{dev}"), "dev.csv.gz"),
    ],
)
def test_bad_given_split_inputs_exit_2(tmp_path, extra, message):
    train, dev, _ = gue_like(tmp_path)
    args = [a.format(dev=dev) for a in extra]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "ds")]
    result = run_cli("preprocess", train, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert dev.exists() and not (tmp_path / "ds").exists()


def test_a_dataset_folder_cannot_take_given_splits(tmp_path):
    train, dev, _ = gue_like(tmp_path)
    preprocess(PreprocessOptions(inputs=[train]), tmp_path / "ds")
    result = run_cli("train", tmp_path / "ds", "--val-input", dev, "-o", tmp_path / "run")
    assert result.returncode == 2 and "dataset folder already has its splits" in result.stderr
    assert not (tmp_path / "run").exists()
