"""`dnaseq train` under torchrun: sharded sampling (unit) and a 2-process gloo run on CPU."""

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from dnaseq_runner import torchrun
from torch.utils.data import RandomSampler, WeightedRandomSampler

from dnaseq_cli.data.dataset import load_dataset
from dnaseq_cli.encode.vocab import PAD_ID
from dnaseq_cli.engine.distributed import (
    DEBUG_ENV,
    Dist,
    ShardSampler,
    epoch_order,
    from_env,
    shard,
)
from dnaseq_cli.errors import InputError
from dnaseq_cli.models import checkpoint

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


@pytest.mark.parametrize("n", [1, 7, 48, 61])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_shards_are_disjoint_cover_the_epoch_and_have_equal_length(n, world):
    order = epoch_order(n, seed=5, epoch=2)
    parts = [shard(order, rank, world).tolist() for rank in range(world)]
    assert len({len(p) for p in parts}) == 1 and len(parts[0]) == -(-n // world)
    flat = [i for p in parts for i in p]
    assert set(flat) == set(range(n))  # every item trained on
    padded = len(flat) - n  # only the padding (< world items) is seen twice
    assert 0 <= padded < world
    if n % world == 0:
        for a in range(world):
            for b in range(a + 1, world):
                assert not set(parts[a]) & set(parts[b])


def test_epoch_order_matches_the_single_process_samplers():
    """One rank of one process sees exactly what the single-process DataLoader drew."""
    n, seed, epoch = 37, 3, 4
    single = list(RandomSampler(range(n), generator=torch.Generator().manual_seed(seed + epoch)))
    assert epoch_order(n, seed, epoch).tolist() == single
    weights = np.linspace(0.1, 1.0, n)
    weighted = list(
        WeightedRandomSampler(
            torch.as_tensor(weights), n, generator=torch.Generator().manual_seed(seed + epoch)
        )
    )
    assert epoch_order(n, seed, epoch, weights).tolist() == weighted


def test_sampler_follows_set_epoch_and_keeps_balanced_weights():
    n, world = 400, 2
    labels = np.array([0] * 360 + [1] * 40)
    weights = 1.0 / np.bincount(labels)[labels]
    samplers = [ShardSampler(n, rank=r, world_size=world, seed=1, weights=weights) for r in (0, 1)]
    first = [list(s) for s in samplers]
    for s in samplers:
        s.set_epoch(1)
    second = [list(s) for s in samplers]
    assert first != second  # a new order every epoch
    for s in samplers:
        s.set_epoch(0)
    assert [list(s) for s in samplers] == first  # and the same order for the same epoch
    drawn = labels[np.concatenate(first)]
    assert 0.35 < drawn.mean() < 0.65  # the minority class is drawn about half the time
    assert all(len(s) == n // world for s in samplers)


def test_torchrun_environment_is_read_and_checked():
    assert from_env({}) == Dist()
    ctx = from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.enabled, ctx.is_main) == (
        3, 4, 1, True, False,
    )  # fmt: skip
    with pytest.raises(InputError):
        from_env({"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(InputError):
        from_env({"RANK": "x", "WORLD_SIZE": "2"})


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory):
    """60 Cohn sequences (30 per class) cut to 100 bp."""
    table = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t")
    table = pd.concat([table[table.label == 0].head(30), table[table.label == 1].head(30)])
    table["seq"] = table["seq"].str[:100]
    path = tmp_path_factory.mktemp("ddp") / "tiny.tsv"
    table.to_csv(path, sep="\t", index=False)
    return path


def test_two_processes_train_one_run_folder(tiny_table, tmp_path):
    run = tmp_path / "run"
    command = torchrun(
        2, "train", str(tiny_table), "-o", str(run), "--backbone", "cnn",
        "--size", "tiny", "--epochs", "2", "--batch-size", "8", "--grad-accum", "2",
        "--patience", "0", "--device", "cpu", "--quiet",
    )  # fmt: skip
    env = {**os.environ, DEBUG_ENV: "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("command.txt", "run_config.json", "metrics_per_epoch.tsv", "test_metrics.json",
                 "test_metrics.tsv", "test_predictions.tsv", "last_state.pt",
                 "checkpoint/config.json", "checkpoint/model.safetensors"):  # fmt: skip
        assert (run / name).is_file(), name
    assert not list(run.glob("**/*.tmp*"))  # no half-written files from a second writer
    epochs = pd.read_csv(run / "metrics_per_epoch.tsv", sep="\t")
    assert list(epochs["epoch"]) == [1, 2] and np.isfinite(epochs["train_loss"]).all()
    # 24 rows per rank in micro-batches of 8, accumulated in pairs (no_sync on the first of a
    # pair): a full pair and the shorter last group make 2 optimiser steps per epoch
    assert list(epochs["step"]) == [2, 4]
    assert json.loads((run / "run_config.json").read_text())["world_size"] == 2
    metrics = json.loads((run / "test_metrics.json").read_text())
    assert metrics["n"] == 6 and metrics["epochs_run"] == 2
    # rank 0 evaluated the whole test split: a single process scoring it gets the same numbers
    model = checkpoint.load_checkpoint(run / "checkpoint")
    dataset = load_dataset(run / "dataset")
    ids = torch.as_tensor(np.asarray(dataset.tokens[dataset.split("test")]), dtype=torch.long)
    with torch.inference_mode():
        probs = torch.softmax(model(ids, ids != PAD_ID), -1).numpy()
    predictions = pd.read_csv(run / "test_predictions.tsv", sep="\t")
    assert np.allclose(predictions[["prob_0", "prob_1"]].to_numpy(), probs, atol=1e-5)
    assert "test metrics" not in result.stderr  # --quiet holds on every rank
    # each rank reports the dataset rows it trained on: disjoint halves of the train split
    shards: dict[tuple[int, int], list[int]] = {}
    for rank, epoch, rows in re.findall(
        r"\[dnaseq rank (\d)/2\] epoch (\d) train rows: ([\d,]+)", result.stderr
    ):
        shards[int(rank), int(epoch)] = [int(r) for r in rows.split(",")]
    assert sorted(shards) == [(0, 1), (0, 2), (1, 1), (1, 2)], result.stderr
    records = pd.read_csv(run / "dataset" / "records.tsv", sep="\t")
    train = set(np.flatnonzero(records["split"] == "train"))
    for epoch in (1, 2):
        a, b = shards[0, epoch], shards[1, epoch]
        assert len(a) == len(b) == len(train) // 2
        assert not set(a) & set(b) and set(a) | set(b) == train
    assert shards[0, 1] != shards[0, 2]  # set_epoch: a new order each epoch
    # gradients were all-reduced: both replicas hold the same weights after every epoch
    weights = dict(
        ((int(r), int(e)), w)
        for r, e, w in re.findall(
            r"\[dnaseq rank (\d)/2\] epoch (\d) weights: (\S+)", result.stderr
        )
    )
    assert len(weights) == 4 and all(weights[0, e] == weights[1, e] for e in (1, 2)), weights
