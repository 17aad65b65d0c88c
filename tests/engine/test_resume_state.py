"""`--resume` reads last_state.pt without running code: tensors and plain values only
(``torch.load(weights_only=True)``), and a planted, truncated or foreign file is exit 2."""

from __future__ import annotations

import contextlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from dnaseq_runner import run_in_process as run_cli
from safetensors.torch import load_file

from dnaseq_cli.engine.trainer import STATE_FILE, TrainConfig, read_state
from dnaseq_cli.errors import InputError
from dnaseq_cli.models import factory

from .test_honest_results import cohn, run, scripted_trainer  # noqa: F401  (fixture)


class WritesMarker:
    """Unpickling this calls ``open(marker, "w")``: what a planted state file could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant(path: Path, marker: Path, *, zip_format: bool) -> Path:
    """A last_state.pt whose loading with weights_only=False would create ``marker``."""
    payload = {"format": 2, "model": {}, "state": WritesMarker(marker)}
    path.parent.mkdir(parents=True, exist_ok=True)
    if zip_format:
        torch.save(payload, path)
    else:  # the pre-1.6 torch layout: a bare pickle stream
        path.write_bytes(pickle.dumps(payload, protocol=2))
    return path


@pytest.mark.parametrize("zip_format", [True, False])
def test_a_planted_pickle_is_refused_and_runs_nothing(tmp_path, zip_format):
    marker = tmp_path / "pwned"
    state = plant(tmp_path / "run" / STATE_FILE, marker, zip_format=zip_format)
    with pytest.raises(InputError) as error:
        read_state(state)
    assert str(error.value).startswith(f"{state}: cannot resume from {STATE_FILE}: ")
    assert f"it asks to unpickle {open.__module__}.open," in str(error.value)
    assert "could run code" in str(error.value) and not marker.exists()
    # the payload is real: the unsafe load runs it (then finds no magic number, bare pickle)
    with contextlib.suppress(RuntimeError):
        torch.load(plant(tmp_path / "other.pt", tmp_path / "proof", zip_format=zip_format),
                   weights_only=False)  # fmt: skip
    assert (tmp_path / "proof").exists()


def test_train_resume_refuses_a_planted_state_with_exit_2(cohn, tmp_path):  # noqa: F811
    folder = tmp_path / "run"
    assert run(cohn, folder, TrainConfig(epochs=1, batch_size=16)).history
    marker = tmp_path / "pwned"
    plant(folder / STATE_FILE, marker, zip_format=True)
    with pytest.raises(InputError, match="could run code"):
        run(cohn, folder, TrainConfig(epochs=2), resume=True)
    assert not marker.exists()
    result = run_cli("train", cohn.path, "-o", folder, "--resume", "--backbone", "cnn", "--size",
                     "tiny", "--device", "cpu", "--quiet")  # fmt: skip
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("dnaseq: error: ") and "\n" not in line and STATE_FILE in line
    assert "could run code" in line and not marker.exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a readable training state (EOFError: the file ends early)"),
        (b"\x00\x01garbage", "not a readable training state (UnpicklingError: Unsupported"),
        (None, "not a readable training state (RuntimeError: PytorchStreamReader"),  # truncated
    ],
)
def test_unreadable_state_files_are_input_errors_naming_the_file(tmp_path, content, reason):
    state = tmp_path / STATE_FILE
    if content is None:
        torch.save({"model": {"w": torch.zeros(1000)}}, state)
        content = state.read_bytes()[:500]
    state.write_bytes(content)
    with pytest.raises(InputError, match="start the run again with --force") as error:
        read_state(state)
    assert str(state) in str(error.value) and reason in str(error.value)


def test_a_tensor_file_that_is_not_a_training_state_is_an_input_error(tmp_path):
    state = tmp_path / STATE_FILE
    torch.save({"model": {"w": torch.zeros(2)}}, state)
    with pytest.raises(InputError, match=f"{STATE_FILE} is not a dnaseq training state"):
        read_state(state)


def test_resume_after_an_interruption_gives_the_same_weights(cohn, tmp_path):  # noqa: F811
    config = TrainConfig(epochs=4, batch_size=16, patience=0, seed=3)
    run(cohn, tmp_path / "a", config)

    def stop_after_two(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cohn, tmp_path / "b", config, on_epoch=stop_after_two)
    state = tmp_path / "b" / STATE_FILE
    # plain weights_only=True, no allow-list: the state holds tensors and plain values only
    raw = torch.load(state, weights_only=True)
    assert raw["format"] == 2 and json.loads(raw["state"])["epoch"] == 2
    assert not list((tmp_path / "b").glob(".*.tmp"))  # saved atomically
    # the interrupted run's settings win over the ones given now
    resumed = run(cohn, tmp_path / "b", TrainConfig(epochs=99), resume=True)
    assert len(resumed.history) == 4
    a = load_file(tmp_path / "a" / "checkpoint" / "model.safetensors")
    b = load_file(tmp_path / "b" / "checkpoint" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    first = json.loads((tmp_path / "a" / "test_metrics.json").read_text())
    second = json.loads((tmp_path / "b" / "test_metrics.json").read_text())
    assert first["auroc"] == second["auroc"] and first["best_epoch"] == second["best_epoch"]


def test_a_state_from_before_format_2_still_resumes(cohn, tmp_path):  # noqa: F811
    """Older dnaseq pickled the numpy RNG state as an array and the settings as dicts; the array
    alone is allowed (rebuilt from bytes), so those runs continue."""
    folder = tmp_path / "run"
    run(cohn, folder, TrainConfig(epochs=2, batch_size=16, patience=0))
    saved = read_state(folder / STATE_FILE)
    state = saved["state"]
    del state["best_loss"]
    legacy = {
        "model": saved["model"], "optimizer": saved["optimizer"],
        "scheduler": saved["scheduler"], "ema": None, "state": state, "config": saved["config"],
        "rng": {"torch": saved["rng"]["torch"], "numpy": np.random.get_state(),
                "python": saved["rng"]["python"]},
    }  # fmt: skip
    torch.save(legacy, folder / STATE_FILE)
    assert isinstance(read_state(folder / STATE_FILE)["rng"]["numpy"][1], np.ndarray)
    trainer = scripted_trainer(cohn, TrainConfig(**saved["config"]), [])
    trainer.load_state(folder / STATE_FILE)
    best = [row for row in state["history"] if row["best"]][-1]
    assert trainer.state.best_loss == best["val_loss"]  # recovered from the history
    assert np.array_equal(np.random.get_state()[1], legacy["rng"]["numpy"][1])
    resumed = run(cohn, folder, TrainConfig(), resume=True)
    assert [row["epoch"] for row in resumed.history] == [1, 2]  # already complete: tested again


def test_a_state_of_another_model_is_an_input_error(cohn, tmp_path):  # noqa: F811
    folder = tmp_path / "run"
    run(cohn, folder, TrainConfig(epochs=1, batch_size=16))
    kmer = factory.model_spec("kmer", "tiny")
    with pytest.raises(InputError, match=f"{STATE_FILE} does not fit this run's model"):
        run(cohn, folder, TrainConfig(epochs=2), resume=True, model_spec=kmer)
