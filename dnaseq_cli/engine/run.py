"""A training run: dataset in, run folder out (checkpoint, config, per-epoch and test metrics).

Run folder layout::

    command.txt            the exact command line
    run_config.json        resolved settings: backbone + model config, training config, dataset
    metrics_per_epoch.tsv  one row per epoch (loss, validation metrics, throughput)
    checkpoint/            best model: config.json + model.safetensors (dnaseq checkpoint folder)
    test_metrics.json/.tsv final metrics of the best checkpoint on the test split
    test_predictions.tsv   per-window probabilities on the test split
    last_state.pt          optimiser/scheduler/RNG state for --resume
    training_curve.png     loss and validation metrics per epoch; roc.png, pr.png (binary tasks)
"""

from __future__ import annotations

import json
import resource
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from dnaseq_cli.atomic import atomic_path
from dnaseq_cli.data.dataset import Dataset
from dnaseq_cli.engine.trainer import STATE_FILE, TrainConfig, Trainer, seed_everything
from dnaseq_cli.errors import InputError
from dnaseq_cli.report.plots import run_plots

CHECKPOINT_DIR = "checkpoint"


@dataclass
class RunResult:
    run_dir: Path
    test_metrics: dict[str, Any]
    history: list[dict[str, Any]]
    parameters: int


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; asking for CUDA without it is a usage error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda requested but no CUDA device is available")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise InputError(f"unknown --device {name!r}; use auto, cpu or cuda[:N]")
    return torch.device(name)


def check_trainable(dataset: Dataset) -> None:
    """Refuse datasets that cannot train a classifier: clear message instead of a crash later."""
    task = dataset.manifest["task"]
    where = dataset.path
    if task == "unlabelled":
        raise InputError("the dataset has no labels (give --label-column or --label)", path=where)
    if task in ("binary", "multiclass") and len(dataset.manifest["classes"]) < 2:
        raise InputError(
            f"only one class ({dataset.manifest['classes'][0]}) in the labels: nothing to learn",
            path=where,
        )
    for split in ("train", "val", "test"):
        if split == "train" and len(dataset.split(split)) == 0:
            raise InputError("the train split is empty", path=where)
    train_labels = dataset.records.loc[dataset.split("train"), "label"]
    if task in ("binary", "multiclass") and train_labels.nunique() < 2:
        raise InputError("the train split holds a single class", path=where)


def checkpoint_data_of(dataset: Dataset, encoding: str) -> dict[str, Any]:
    """What a checkpoint needs to score new sequences on its own: task, classes and window."""
    manifest = dataset.manifest
    return {
        "task": manifest["task"],
        "classes": manifest.get("classes") or [],
        "window_length": int(manifest["window_length"]),
        "stored_encoding": manifest["encoding"],
        "model_encoding": encoding,
    }


def _reset_peak_memory(device: torch.device) -> None:
    """Start the peak-memory counters afresh so a run reports its own peak, not an earlier run's
    in the same process (``dnaseq compare --run``). Linux resets VmHWM/ru_maxrss via clear_refs."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _write_tsv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


def _write_json(data: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=float) + "\n")


def train_run(
    dataset: Dataset,
    run_dir: Path,
    *,
    build_model: Callable[[int], torch.nn.Module],
    encoding: str,
    rc_fn,
    save_checkpoint: Callable[..., None],
    load_checkpoint: Callable[[Path], torch.nn.Module],
    model_spec: dict[str, Any],
    config: TrainConfig,
    device: torch.device,
    resume: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> RunResult:
    """Train, select the best epoch on validation, evaluate it on test, write the run folder."""
    check_trainable(dataset)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / STATE_FILE
    if resume and not state_path.exists():
        raise InputError("nothing to resume: no last_state.pt in the run folder", path=run_dir)
    if not resume and state_path.exists():
        raise InputError("run folder holds an earlier run: pass --resume or --force", path=run_dir)
    if resume:
        # The interrupted run's settings win: a different schedule would not reproduce the run.
        saved = torch.load(state_path, map_location="cpu", weights_only=False)["config"]
        config = TrainConfig(**saved)
    _reset_peak_memory(device)
    seed_everything(config.seed)
    task = dataset.manifest["task"]
    n_out = 1 if task == "regression" else len(dataset.manifest["classes"])
    model = build_model(n_out)
    parameters = sum(p.numel() for p in model.parameters())
    trainer = Trainer(model, dataset, encoding=encoding, config=config, device=device, rc_fn=rc_fn)
    if resume:
        trainer.load_state(state_path)
    (run_dir / "command.txt").write_text(shlex.join(sys.argv) + "\n")
    _write_json(
        {
            "model": model_spec,
            "parameters": parameters,
            "train": asdict(config),
            "synthetic": trainer.synthetic_counts,  # augmentation rows added to train only
            "dataset": str(dataset.path),
            "dataset_manifest": {
                k: dataset.manifest[k]
                for k in ("encoding", "window_length", "task", "classes", "split")
            },
            "device": str(device),
            "torch": torch.__version__,
        },
        run_dir / "run_config.json",
    )
    checkpoint_dir = run_dir / CHECKPOINT_DIR

    checkpoint_data = checkpoint_data_of(dataset, encoding)

    def save_best(current: torch.nn.Module) -> None:
        save_checkpoint(current, checkpoint_dir, data=checkpoint_data)

    def epoch_done(row: dict[str, Any]) -> None:
        _write_tsv(pd.DataFrame(trainer.state.history), run_dir / "metrics_per_epoch.tsv")
        if on_epoch:
            on_epoch(row)

    started = time.perf_counter()
    state = trainer.fit(run_dir, save_best, on_epoch=epoch_done, progress=progress)
    train_seconds = time.perf_counter() - started

    best = load_checkpoint(checkpoint_dir).to(device)
    trainer.model = best
    started = time.perf_counter()
    outputs, labels, _ = trainer.predict(trainer.test_rows)
    infer_seconds = time.perf_counter() - started
    metrics = trainer.evaluate(trainer.test_rows)
    metrics.update(
        best_epoch=state.best_epoch + 1,
        epochs_run=state.epoch,
        parameters=parameters,
        train_seconds=train_seconds,
        inference_seqs_per_s=len(labels) / infer_seconds
        if infer_seconds > 0 and len(labels)
        else 0,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    if device.type == "cuda":
        metrics["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    _write_json(metrics, run_dir / "test_metrics.json")
    scalar = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    _write_tsv(
        pd.DataFrame({"metric": list(scalar), "value": list(scalar.values())}),
        run_dir / "test_metrics.tsv",
    )
    rows = trainer.test_rows.rows
    table = dataset.records.loc[rows, ["name", "label"]].reset_index(drop=True)
    if task == "regression":
        table["prediction"] = outputs
    elif len(outputs):
        for index, name in enumerate(dataset.manifest["classes"]):
            table[f"prob_{name}"] = outputs[:, index]
        table["predicted"] = np.array(dataset.manifest["classes"])[outputs.argmax(axis=1)]
    _write_tsv(table, run_dir / "test_predictions.tsv")
    run_plots(run_dir, task, labels, outputs, state.history)
    return RunResult(run_dir, metrics, state.history, parameters)
