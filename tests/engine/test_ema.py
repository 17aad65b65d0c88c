"""`train --ema`: the moving average of the weights is what is validated, saved and resumed."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from dnaseq_cli.engine.trainer import averaged_copy, read_state

from .test_train import run_cli, small_dataset  # noqa: F401  (fixture)


def test_average_follows_the_warmed_up_decay():
    model = nn.Linear(1, 1, bias=False)
    ema = averaged_copy(model, decay=0.9)
    expected = None
    for step, value in enumerate([1.0, 3.0, -2.0, 5.0] + [0.5] * 40):
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update_parameters(model)
        if step == 0:
            expected = value  # the first update copies the weights
        else:
            decay = min(0.9, (1 + step) / (10 + step))
            expected = decay * expected + (1 - decay) * value
        assert ema.module.weight.item() == pytest.approx(expected, rel=1e-6)
    assert ema.module.weight.item() == pytest.approx(0.5, abs=0.02)  # the old values fade


def test_integer_buffers_are_copied_not_averaged():
    model = nn.BatchNorm1d(3)
    ema = averaged_copy(model, decay=0.99)
    for _ in range(5):
        model(torch.randn(8, 3))
        ema.update_parameters(model)
    assert ema.module.num_batches_tracked.item() == 5
    assert not torch.equal(ema.module.running_mean, model.running_mean)  # averaged, so it lags


def test_train_with_ema_saves_and_tests_the_averaged_weights(small_dataset, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    result = run_cli(
        "train", small_dataset.path, "-o", run, "--backbone", "kmer", "--epochs", "1",
        "--batch-size", "8", "--ema", "0.9", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    state = read_state(run / "last_state.pt")
    saved = load_file(run / "checkpoint" / "model.safetensors")
    live, averaged = state["model"], {k.removeprefix("module."): v for k, v in state["ema"].items()}
    weight = "head.score.weight"
    assert torch.equal(saved[weight], averaged[weight])
    assert not torch.equal(saved[weight], live[weight])


def test_ema_outside_zero_to_one_is_an_input_error(small_dataset, tmp_path):  # noqa: F811
    result = run_cli(
        "train", small_dataset.path, "-o", tmp_path / "run", "--backbone", "kmer", "--ema", "1",
        "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.returncode == 2 and "--ema" in result.stderr
    assert "Traceback" not in result.stderr
