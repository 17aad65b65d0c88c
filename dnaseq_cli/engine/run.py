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

``--task mlm`` runs write the same folder with a MaskedLM checkpoint and masked-token loss, accuracy
and perplexity as metrics (no test_predictions.tsv). Under torchrun only rank 0 writes.
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
from dnaseq_cli.engine.distributed import SINGLE, Dist
from dnaseq_cli.engine.trainer import MLM_TASK, STATE_FILE, TrainConfig, Trainer, seed_everything
from dnaseq_cli.errors import InputError
from dnaseq_cli.models.registry import RUN_CHECKPOINT_DIR
from dnaseq_cli.report.plots import run_plots

CHECKPOINT_DIR = RUN_CHECKPOINT_DIR


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


def check_trainable(dataset: Dataset, objective: str | None = None) -> None:
    """Refuse datasets that cannot train a classifier: clear message instead of a crash later.

    ``objective == "masked_lm"`` needs sequences only: labels, if any, are ignored."""
    task = dataset.manifest["task"]
    where = dataset.path
    if objective == MLM_TASK:
        if len(dataset.split("train")) == 0:
            raise InputError("the train split is empty", path=where)
        return
    if task == "unlabelled":
        raise InputError(
            "the dataset has no labels (give --label-column or --label; unlabelled sequences "
            "can pretrain with --task mlm)",
            path=where,
        )
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


def checkpoint_data_of(
    dataset: Dataset, encoding: str, objective: str | None = None
) -> dict[str, Any]:
    """What a checkpoint needs to score new sequences on its own: task, classes and window."""
    manifest = dataset.manifest
    mlm = objective == MLM_TASK
    return {
        "task": MLM_TASK if mlm else manifest["task"],
        "classes": [] if mlm else manifest.get("classes") or [],
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
    dist: Dist = SINGLE,
    objective: str | None = None,
    init: Path | None = None,
    time_limit: float | None = None,
) -> RunResult:
    """Train, select the best epoch on validation, evaluate it on test, write the run folder.

    ``objective="masked_lm"``: ``build_model`` returns a MaskedLM and labels are ignored.
    ``init``: a checkpoint folder whose backbone (and head, when it fits) weights start the run.
    ``time_limit``: seconds of training (this invocation) after which no new epoch is started.
    Under torchrun (``dist``) every rank trains; only rank 0 writes and returns test metrics.
    """
    check_trainable(dataset, objective)
    state_path = run_dir / STATE_FILE
    if resume and not state_path.exists():
        raise InputError("nothing to resume: no last_state.pt in the run folder", path=run_dir)
    if not resume and state_path.exists():
        raise InputError("run folder holds an earlier run: pass --resume or --force", path=run_dir)
    dist.barrier()  # every rank has checked the folder before rank 0 writes into it
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    if resume:
        # The interrupted run's settings win: a different schedule would not reproduce the run.
        saved = torch.load(state_path, map_location="cpu", weights_only=False)["config"]
        config = TrainConfig(**saved)
    _reset_peak_memory(device)
    seed_everything(config.seed)
    task = objective or dataset.manifest["task"]
    n_out = 1 if task == "regression" else len(dataset.manifest.get("classes") or [])
    model = build_model(n_out)
    init_record = None
    if init is not None:
        from dnaseq_cli.engine.init_weights import load_pretrained

        init_record = load_pretrained(model, init)
    parameters = sum(p.numel() for p in model.parameters())
    trainer = Trainer(
        model, dataset, encoding=encoding, config=config, device=device, rc_fn=rc_fn, dist=dist,
        task=objective,
    )  # fmt: skip
    if resume:
        trainer.load_state(state_path)
    if dist.is_main:
        _write_run_config(
            run_dir, dataset, model_spec=model_spec, parameters=parameters, config=config,
            trainer=trainer, device=device, task=task, init_record=init_record, dist=dist,
            time_limit=time_limit,
        )  # fmt: skip
    checkpoint_dir = run_dir / CHECKPOINT_DIR

    checkpoint_data = checkpoint_data_of(dataset, encoding, objective)

    def save_best(current: torch.nn.Module) -> None:
        save_checkpoint(current, checkpoint_dir, data=checkpoint_data)

    def epoch_done(row: dict[str, Any]) -> None:
        _write_tsv(pd.DataFrame(trainer.state.history), run_dir / "metrics_per_epoch.tsv")
        if on_epoch:
            on_epoch(row)

    started = time.perf_counter()
    state = trainer.fit(
        run_dir, save_best, on_epoch=epoch_done, progress=progress, time_limit=time_limit
    )
    train_seconds = time.perf_counter() - started
    if not dist.is_main:
        return RunResult(run_dir, {}, state.history, parameters)
    return _finish(
        trainer, dataset, run_dir, load_checkpoint=load_checkpoint, device=device, task=task,
        state=state, parameters=parameters, train_seconds=train_seconds,
    )  # fmt: skip


def _write_run_config(
    run_dir: Path,
    dataset: Dataset,
    *,
    model_spec: dict[str, Any],
    parameters: int,
    config: TrainConfig,
    trainer: Trainer,
    device: torch.device,
    task: str,
    init_record: dict[str, Any] | None,
    dist: Dist,
    time_limit: float | None = None,
) -> None:
    (run_dir / "command.txt").write_text(shlex.join(sys.argv) + "\n")
    _write_json(
        {
            "model": model_spec,
            "task": task,
            "init": init_record,  # the --init checkpoint: path, sha256, what was loaded
            "world_size": dist.world_size,  # processes; --batch-size is per process
            "parameters": parameters,
            "train": asdict(config),
            "time_limit_seconds": time_limit,  # --max-time: no epoch started past it
            "synthetic": trainer.synthetic_counts,  # augmentation rows added to train only
            "dataset": str(dataset.path),
            "dataset_manifest": {
                k: dataset.manifest[k]
                for k in ("encoding", "window_length", "task", "classes", "split")
            },
            "device": str(device),
            "precision": trainer.precision,  # what --precision resolved to on this device
            "torch": torch.__version__,
        },
        run_dir / "run_config.json",
    )


def _finish(
    trainer: Trainer,
    dataset: Dataset,
    run_dir: Path,
    *,
    load_checkpoint: Callable[[Path], torch.nn.Module],
    device: torch.device,
    task: str,
    state,
    parameters: int,
    train_seconds: float,
) -> RunResult:
    """Best checkpoint on the test split: metrics, predictions and plots (rank 0 only)."""
    best = load_checkpoint(run_dir / CHECKPOINT_DIR).to(device)
    trainer.model, trainer.ema = best, None  # the saved weights are the averaged ones under --ema
    started = time.perf_counter()
    if task == MLM_TASK:
        metrics = trainer.evaluate(trainer.test_rows)
        outputs, labels = np.empty((0,)), np.empty((0,))
    else:
        outputs, labels, _ = trainer.predict(trainer.test_rows)
        metrics = trainer.evaluate(trainer.test_rows)
    infer_seconds = time.perf_counter() - started
    metrics.update(
        best_epoch=state.best_epoch + 1,
        epochs_run=state.epoch,
        stop_reason=state.stop_reason,
        parameters=parameters,
        train_seconds=train_seconds,
        inference_seqs_per_s=len(trainer.test_rows) / infer_seconds
        if infer_seconds > 0 and len(trainer.test_rows)
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
    if task != MLM_TASK:
        _write_predictions(dataset, trainer, task, outputs, run_dir)
    run_plots(run_dir, task, labels, outputs, state.history)
    return RunResult(run_dir, metrics, state.history, parameters)


def _write_predictions(
    dataset: Dataset, trainer: Trainer, task: str, outputs: np.ndarray, run_dir: Path
) -> None:
    rows = trainer.test_rows.rows
    table = dataset.records.loc[rows, ["name", "label"]].reset_index(drop=True)
    if task == "regression":
        table["prediction"] = outputs
    elif len(outputs):
        for index, name in enumerate(dataset.manifest["classes"]):
            table[f"prob_{name}"] = outputs[:, index]
        table["predicted"] = np.array(dataset.manifest["classes"])[outputs.argmax(axis=1)]
    _write_tsv(table, run_dir / "test_predictions.tsv")
