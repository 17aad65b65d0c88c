"""A training run: inputs or a dataset in, run folder out (checkpoint, config, per-epoch and test
metrics); and the comparison runs, one per backbone on one dataset.

:func:`train` is ``dnaseq train``: the run folder is built aside and moved into place when
complete (kept for ``--resume`` when interrupted), FASTA/table/BED inputs are preprocessed into it
first, then :func:`train_run` trains. :func:`train_backbones` is ``dnaseq compare --run``: every
backbone goes through :func:`train_run`, exactly what ``dnaseq train`` runs, into
``output/<backbone>/``; only the model differs between the runs.

Run folder layout::

    command.txt            the exact command line
    run_config.json        resolved settings: backbone + model config, training config, dataset
    metrics_per_epoch.tsv  one row per epoch (loss, validation metrics, throughput)
    checkpoint/            best model: config.json + model.safetensors (dnaseq checkpoint folder)
    test_metrics.json/.tsv final metrics of the best checkpoint on the test split
    test_predictions.tsv   per-window probabilities on the test split
    last_state.pt          optimiser/scheduler/RNG state for --resume (tensors and plain values:
                           read with torch.load(weights_only=True), so loading runs no code)
    training_curve.png     loss and validation metrics per epoch; roc.png, pr.png (binary tasks)
    dataset/               the dataset built from FASTA/table/BED inputs (none for a dataset folder)

``--task mlm`` runs write the same folder with a MaskedLM checkpoint and masked-token loss, accuracy
and perplexity as metrics (no test_predictions.tsv). Under torchrun only rank 0 writes.
"""

from __future__ import annotations

import json
import logging
import resource
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from dnaseq_cli.data.dataset import Dataset, window_keys
from dnaseq_cli.data.preprocess import PreprocessOptions, errors_named_after, open_or_build
from dnaseq_cli.data.splits import describe_sizes, shared_across_splits, split_sizes
from dnaseq_cli.engine.distributed import SINGLE, Dist
from dnaseq_cli.engine.trainer import (
    MLM_TASK,
    STATE_FILE,
    TrainConfig,
    Trainer,
    monitor_key,
    read_state,
    seed_everything,
)
from dnaseq_cli.errors import InputError
from dnaseq_cli.models import factory
from dnaseq_cli.models.checkpoint import RUN_CHECKPOINT_DIR, load_checkpoint, save_checkpoint
from dnaseq_cli.output import (
    atomic_path,
    check_folder_output,
    output_directory,
    resumable_directory,
)
from dnaseq_cli.report.metrics import describe_not_finite, not_finite
from dnaseq_cli.report.plots import run_plots

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = RUN_CHECKPOINT_DIR
#: fewer test windows than this: the test metrics are too noisy to compare runs (warning)
MIN_TEST_RECORDS = 30
_SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}


@dataclass
class RunResult:
    run_dir: Path
    test_metrics: dict[str, Any]
    history: list[dict[str, Any]]
    parameters: int
    #: synthetic training rows added (``--shuffled-negatives``, ``--augment gan``): train_rows,
    #: shuffled_negatives, shuffled_class, gan, gan_class; as run_config.json records them
    synthetic: dict[str, Any] = field(default_factory=dict)


def _check_split_sizes(dataset: Dataset) -> None:
    """Every split holds windows: an empty validation split selects no epoch, an empty test split
    reports ``n 0`` and NaN metrics."""
    sizes = split_sizes(dataset.records["split"].to_numpy())
    empty = [_SPLIT_NAMES[name] for name, count in sizes.items() if count == 0]
    if empty:
        raise InputError(
            f"the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty "
            f"({describe_sizes(sizes)} windows): give more records or larger --val-fraction / "
            "--test-fraction (or --test-chroms with records on them)",
            path=dataset.path,
        )


def _label_counts(dataset: Dataset, rows: np.ndarray | None = None) -> pd.Series:
    """Windows per class name (labelled rows only), largest first."""
    records = dataset.records if rows is None else dataset.records.iloc[rows]
    index = records["label_index"].to_numpy()
    names = np.asarray(dataset.manifest["classes"], dtype=object)
    counts = pd.Series(names[index[index >= 0]]).value_counts()
    return counts.sort_values(ascending=False, kind="stable")


def _describe_counts(counts: pd.Series, limit: int = 8) -> str:
    shown = ", ".join(f"{name} {count}" for name, count in counts.head(limit).items())
    return shown + (f", ... ({len(counts) - limit} more)" if len(counts) > limit else "")


def _check_singleton_classes(dataset: Dataset) -> None:
    """Most classes with a single window means an ID or measurement column, not classes: such a
    class can be in train or in test, never in both (checked before the split sizes, which it
    empties)."""
    counts = _label_counts(dataset)
    singles = int((counts == 1).sum())
    if 2 * singles > len(counts):
        raise InputError(
            f"{singles} of {len(counts)} label classes have a single record "
            f"({_describe_counts(counts)}): a class needs records to learn from and to test on; "
            "is the label column a name or a measurement rather than a class?",
            path=dataset.path,
        )


def _check_held_out_classes(dataset: Dataset) -> None:
    """A validation or test split of one class has no AUROC (NaN): say so before training."""
    counts = _label_counts(dataset)
    for split in ("val", "test"):
        held_out = _label_counts(dataset, dataset.split(split))
        if len(held_out) < 2:
            raise InputError(
                f"the {_SPLIT_NAMES[split]} split holds a single class "
                f"({_describe_counts(held_out)}; all windows: {_describe_counts(counts)}): its "
                "AUROC would be NaN; use a random split or hold out other chromosomes",
                path=dataset.path,
            )


def _check_regression_labels(dataset: Dataset) -> None:
    """A held-out split whose values are all equal has no correlation or R^2 (NaN)."""
    for split in ("val", "test"):
        values = pd.to_numeric(dataset.records.iloc[dataset.split(split)]["label"], errors="coerce")
        values = values.dropna()
        if len(values) and values.nunique() < 2:
            raise InputError(
                f"every label of the {_SPLIT_NAMES[split]} split is {values.iloc[0]:g} "
                f"({len(values)} windows): its Pearson, Spearman and R^2 would be NaN",
                path=dataset.path,
            )


def warn_about_splits(dataset: Dataset) -> None:
    """One warning each for a test split too small to measure and for windows shared by splits.

    Why: both make the reported test metrics look better or surer than they are, without
    stopping a run that may still be useful (a quick experiment, a deliberate duplicate)."""
    split = dataset.records["split"].to_numpy()
    sizes = split_sizes(split)
    if sizes["test"] < MIN_TEST_RECORDS:
        logger.warning(
            "the test split holds %d windows (under %d; %s): its metrics are too noisy to "
            "compare runs",
            sizes["test"], MIN_TEST_RECORDS, describe_sizes(sizes),
        )  # fmt: skip
    shared = shared_across_splits(window_keys(dataset.tokens), split)
    if any(shared.values()):
        logger.warning(
            "identical windows in more than one split: %s (%s): held-out metrics overstate how "
            "the model does on new sequences; deduplicate the input or split by chromosome",
            ", ".join(
                f"{count} {later} window{'s' if count != 1 else ''} also in {earlier}"
                for pair, count in shared.items()
                if count
                for later, earlier in [pair.split("/")]
            ),
            describe_sizes(sizes),
        )


def check_trainable(dataset: Dataset, objective: str | None = None) -> None:
    """Refuse datasets that cannot train a classifier: clear message instead of a crash later.

    ``objective == "masked_lm"`` needs sequences only: labels, if any, are ignored. Every check
    runs before the model is built, so a run that could only end in NaN metrics never starts."""
    task = dataset.manifest["task"]
    where = dataset.path
    if objective == MLM_TASK:
        _check_split_sizes(dataset)
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
    classification = task in ("binary", "multiclass")
    if classification:
        _check_singleton_classes(dataset)
    _check_split_sizes(dataset)
    train_labels = dataset.records.loc[dataset.split("train"), "label"]
    if classification and train_labels.nunique() < 2:
        raise InputError("the train split holds a single class", path=where)
    if classification:
        _check_held_out_classes(dataset)
    if task == "regression":
        _check_regression_labels(dataset)


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


def _path_from(path: Path, run_dir: Path) -> str:
    """``path`` relative to ``run_dir`` when inside it (the dataset train built), else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path(run_dir).resolve()))
    except ValueError:
        return str(path)


def train_run(
    dataset: Dataset,
    run_dir: Path,
    *,
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

    ``model_spec`` (from :func:`~dnaseq_cli.models.factory.model_spec`) says what to build.
    ``objective="masked_lm"``: the model is a MaskedLM and labels are ignored.
    ``init``: a checkpoint folder whose backbone (and head, when it fits) weights start the run.
    ``time_limit``: seconds of training (this invocation) after which no new epoch is started.
    Under torchrun (``dist``) every rank trains; only rank 0 writes and returns test metrics.
    """
    check_trainable(dataset, objective)
    encoding = factory.encoding_of(model_spec["backbone"], model_spec["config"])
    rc_fn = factory.rc_function(encoding)
    state_path = run_dir / STATE_FILE
    if resume and not state_path.exists():
        raise InputError("nothing to resume: no last_state.pt in the run folder", path=run_dir)
    if not resume and state_path.exists():
        raise InputError("run folder holds an earlier run: pass --resume or --force", path=run_dir)
    dist.barrier()  # every rank has checked the folder before rank 0 writes into it
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    saved = None
    if resume:
        # The interrupted run's settings win: a different schedule would not reproduce the run.
        saved = read_state(state_path)  # tensors and plain values only: loading runs no code
        try:
            config = TrainConfig(**saved["config"])
        except TypeError as error:
            raise InputError(
                f"{STATE_FILE} holds settings this dnaseq does not know ({error})", path=state_path
            ) from None
    task = objective or dataset.manifest["task"]
    monitor_key(config, task)  # an unknown --monitor stops the run here
    if dist.is_main:  # after the checks that stop the run: warnings only for runs that start
        warn_about_splits(dataset)
    _reset_peak_memory(device)
    seed_everything(config.seed)
    n_out = 1 if task == "regression" else len(dataset.manifest.get("classes") or [])
    model = factory.build_model(model_spec, n_out, objective)
    init_record = None
    if init is not None:
        from dnaseq_cli.engine.init_weights import load_pretrained

        init_record = load_pretrained(model, init)
    parameters = sum(p.numel() for p in model.parameters())
    trainer = Trainer(
        model, dataset, encoding=encoding, config=config, device=device, rc_fn=rc_fn, dist=dist,
        task=objective,
    )  # fmt: skip
    if saved is not None:
        trainer.restore(saved, state_path)
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
        return RunResult(run_dir, {}, state.history, parameters, trainer.synthetic_counts)
    return _finish(
        trainer, dataset, run_dir, device=device, task=task,
        state=state, parameters=parameters, train_seconds=train_seconds,
    )  # fmt: skip


def train(
    data: PreprocessOptions,
    output: Path,
    *,
    model_spec: dict[str, Any],
    config: TrainConfig,
    device: str = "auto",
    resume: bool = False,
    force: bool = False,
    dist: Dist = SINGLE,
    objective: str | None = None,
    init: Path | None = None,
    time_limit: float | None = None,
    on_start: Callable[[int], None] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> RunResult:
    """``dnaseq train``: ``data.inputs`` (one dataset folder, or FASTA/table/BED inputs to
    preprocess with ``data``) in, the finished run folder ``output`` out.

    The folder is built aside and moved onto ``output`` when complete; an interrupted run leaves
    it for ``resume`` (which continues it, or ``output`` itself). ``force`` replaces an earlier
    dnaseq folder. Under torchrun (``dist``) every rank calls this; rank 0 alone preprocesses and
    writes. ``on_start(windows)`` is called once the dataset is open, with the training windows
    per epoch this process sees, just before training starts; the other arguments are
    :func:`train_run`'s. An input error about the dataset built from the inputs names the inputs.
    Returns the run with ``run_dir`` = ``output``.
    """
    from dnaseq_cli.device import resolve_device

    device_obj = resolve_device(device)
    folder = resumable_directory(
        output, force=force, resume=resume,
        inputs=[*data.inputs, *data.val_inputs, *data.test_inputs, data.reference, init],
        keep=lambda work: (work / STATE_FILE).is_file(), is_main=dist.is_main,
        barrier=dist.barrier,  # every rank has looked at the folder before rank 0 changes it
    )  # fmt: skip
    with folder as run_dir, errors_named_after(data.inputs, run_dir):
        dist.barrier()  # rank 0 has made the folder
        dataset = open_or_build(
            data, run_dir, resume=resume, is_main=dist.is_main, barrier=dist.barrier
        )
        if on_start is not None:
            on_start(-(-len(dataset.split("train")) // dist.world_size))
        result = train_run(
            dataset, run_dir, model_spec=model_spec, config=config, device=device_obj,
            resume=resume, on_epoch=on_epoch, progress=progress, dist=dist, objective=objective,
            init=init, time_limit=time_limit,
        )  # fmt: skip
    return replace(result, run_dir=Path(output))


def train_backbones(
    data: PreprocessOptions,
    output: Path,
    backbones: Sequence[str],
    *,
    size: str,
    config: TrainConfig,
    device: str = "auto",
    force: bool = False,
    on_start: Callable[[str, int], None] | None = None,
) -> list[RunResult]:
    """``dnaseq compare --run``: one run folder per backbone, ``output/<backbone>/``, on the same
    dataset (``data.inputs``: a dataset folder, or inputs preprocessed once into
    ``output/dataset``) under one training ``config`` (budget and seed).

    Every backbone's spec and the inputs are checked before any work; ``output`` is built aside
    and moved into place when every run is done. ``on_start(backbone, index)`` is called as each
    run begins. Returns the runs with ``run_dir`` = ``output/<backbone>``.
    """
    from dnaseq_cli.device import resolve_device

    specs = {backbone: factory.model_spec(backbone, size) for backbone in backbones}
    for path in data.inputs:
        if not Path(path).exists():
            raise InputError("dataset not found", path=path)
    device_obj = resolve_device(device)
    check_folder_output(output, force=force, inputs=data.inputs)
    results = []
    with output_directory(output, force=force, inputs=data.inputs) as building:
        dataset = open_or_build(data, building)
        for index, (backbone, spec) in enumerate(specs.items()):
            if on_start is not None:
                on_start(backbone, index)
            result = train_run(
                dataset, building / backbone, model_spec=spec, config=config, device=device_obj
            )
            results.append(replace(result, run_dir=Path(output) / backbone))
    return results


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
            # a dataset built inside the run folder is recorded relative to it: the folder is
            # built under a temporary name and moved, so its own path would name nothing
            "dataset": _path_from(dataset.path, run_dir),
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
        outputs, labels, loss = trainer.predict(trainer.test_rows)
        metrics = trainer.metrics_of(outputs, labels, loss)
    infer_seconds = time.perf_counter() - started
    bad = not_finite(metrics)
    if bad:  # a report with NaN in it reads as a result; there is none
        raise InputError(
            f"test metrics of the best epoch ({state.best_epoch + 1}) are not finite: "
            f"{describe_not_finite(bad, metrics, task)} ({len(trainer.test_rows)} test windows); "
            "no test_metrics.json written",
            path=run_dir,
        )
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
    return RunResult(run_dir, metrics, state.history, parameters, trainer.synthetic_counts)


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
