"""``dnaseq train``: train a backbone on a dataset folder or directly on FASTA/table/BED inputs.

The same command runs data-parallel under ``torchrun --nproc-per-node N -m dnaseq_cli train ...``:
every rank trains on its shard, rank 0 alone preprocesses, prints and writes the run folder.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from dnaseq_cli.cli.checks import THREADS_HELP, at_least_one, at_most, fraction, non_negative
from dnaseq_cli.cli.console import say, stderr_console
from dnaseq_cli.cli.options import (
    batch_size_option,
    device_option,
    force_option,
    label_column_option,
    max_steps_option,
    quiet_option,
    reference_option,
    seed_option,
    stride_option,
    test_chroms_option,
    test_fraction_option,
    test_inputs_option,
    threads_option,
    val_fraction_option,
    val_inputs_option,
    window_option,
)
from dnaseq_cli.engine.mlm import lm_backbones
from dnaseq_cli.errors import DnaseqError, InputError, Terminated
from dnaseq_cli.models import registry
from dnaseq_cli.threads import use_threads

if TYPE_CHECKING:
    from dnaseq_cli.engine.run import RunResult


class TrainingInterrupted(DnaseqError):
    exit_code = 130


TASKS = ("supervised", "mlm")


def _one_of(names: list[str] | tuple[str, ...]) -> str:
    """``a, b or c``."""
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


# The CLI's lists of backbones and sizes come from the registry (each backbone's @register).
BACKBONES_HELP = _one_of(registry.registered())  # caduceus, bigbird, gnn, hybrid, cnn or kmer
LM_BACKBONES_HELP = ", ".join(lm_backbones())  # caduceus
SIZES_HELP = _one_of(registry.SIZES)


def _chroms(text: str | None) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()] if text else []


def train(
    inputs: list[Path] = typer.Argument(
        ..., help="A dataset folder from 'dnaseq preprocess', or FASTA/TSV/CSV/BED inputs."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Run folder to create."),
    backbone: str | None = typer.Option(
        None,
        "--backbone",
        "-b",
        help=f"{BACKBONES_HELP} (default: cnn, or the --init checkpoint's).",
    ),
    task: str = typer.Option(
        "supervised",
        "--task",
        help="supervised: learn the labels (classification or regression). mlm: masked-language-"
        "model pretraining on unlabelled sequences (e.g. a FASTA genome tiled with --window and "
        "--stride): 15% of bases masked (80% [MASK], 10% random, 10% kept); needs a backbone "
        f"with an LM head ({LM_BACKBONES_HELP}).",
    ),
    init: Path | None = typer.Option(
        None,
        "--init",
        help="Start from this checkpoint folder (an --task mlm run's checkpoint, or a classifier): "
        "its backbone config is used and its backbone weights loaded; the head is re-initialised "
        "unless the number of classes matches. Path and sha256 go into run_config.json.",
    ),
    size: str = typer.Option("tiny", "--size", help=f"Model size preset: {SIZES_HELP}."),
    model_config: str | None = typer.Option(
        None,
        "--model-config",
        help="JSON overrides of the backbone config, e.g. '{\"d_model\": 64}'.",
    ),
    epochs: int = typer.Option(
        10, "--epochs", callback=at_least_one, help="Maximum number of epochs."
    ),
    batch_size: int = batch_size_option(
        32,
        "Sequences per optimiser micro-batch, per process: under torchrun with N processes "
        "one optimiser step sees N x batch-size x grad-accum sequences.",
    ),
    lr: float = typer.Option(
        1e-3,
        "--lr",
        callback=at_most(10),
        help="Peak learning rate (AdamW), 0 <= lr <= 10.",
    ),
    weight_decay: float = typer.Option(
        0.01, "--weight-decay", callback=non_negative, help="AdamW weight decay."
    ),
    warmup: float = typer.Option(
        0.05,
        "--warmup",
        callback=fraction(below_one=True),
        help="Fraction of steps for linear warmup.",
    ),
    grad_clip: float = typer.Option(
        1.0, "--grad-clip", callback=non_negative, help="Gradient norm clip (0: off)."
    ),
    grad_accum: int = typer.Option(
        1, "--grad-accum", callback=at_least_one, help="Micro-batches per optimiser step."
    ),
    precision: str = typer.Option(
        "auto",
        "--precision",
        help="auto (bf16 autocast on a CUDA GPU that supports it, fp32 otherwise), fp32 or bf16 "
        "(bf16 also works on CPU, mostly slower there).",
    ),
    ema: float = typer.Option(
        0.0,
        "--ema",
        callback=fraction(below_one=True),
        help="Keep an exponential moving average of the weights with this decay per optimiser "
        "step (e.g. 0.995; 0: off) and validate, save and test the averaged weights.",
    ),
    max_time: str | None = typer.Option(
        None,
        "--max-time",
        help="Training time budget, e.g. 90s, 28m, 1.5h (a bare number is minutes): no epoch "
        "is started that would end past it at the pace so far; the best epoch is then tested "
        "as usual. Not part of the reproducible config (it depends on the machine).",
    ),
    patience: int = typer.Option(
        3, "--patience", callback=non_negative, help="Early stopping patience in epochs (0: off)."
    ),
    monitor: str = typer.Option(
        "auto", "--monitor", help="Validation metric for model selection (auto: AUROC/accuracy)."
    ),
    loss: str = typer.Option(
        "ce", "--loss", help="Loss: ce, weighted (class-weighted ce), focal, mse (regression)."
    ),
    balanced: bool = typer.Option(False, "--balanced-sampling", help="Sample classes equally."),
    rc_augment: bool = typer.Option(
        True, "--rc-augment/--no-rc-augment", help="Reverse-complement half of training batches."
    ),
    shift_augment: int = typer.Option(
        0,
        "--shift-augment",
        callback=non_negative,
        help="Shift each training window by up to +-N bp. Datasets keep one fixed window per record "
        "(--flank widens it, no separate flanks are stored), so the shift happens inside the "
        "window: bases pushed out are dropped and the N vacated positions become masked padding.",
    ),
    shuffled_negatives: float = typer.Option(
        0.0,
        "--shuffled-negatives",
        callback=non_negative,
        help="Add this fraction (of the train split size) of negatives (first class, e.g. 0): "
        "dinucleotide-preserving shuffles of training sequences of the other classes.",
    ),
    augment: str = typer.Option(
        "none",
        "--augment",
        help="none, or gan: a small WGAN-GP trained on the minority class of the train split adds "
        "samples of that class (enough to balance the classes, or --gan-samples).",
    ),
    gan_steps: int = typer.Option(
        300, "--gan-steps", callback=at_least_one, help="Generator steps of the GAN augmenter."
    ),
    gan_samples: int | None = typer.Option(
        None,
        "--gan-samples",
        callback=at_least_one,
        help="Number of GAN sequences (default: balance the classes).",
    ),
    max_steps: int | None = max_steps_option("Cap optimiser steps per epoch (quick runs)."),
    seed: int = seed_option("Seed for splits, initialisation and data order."),
    device: str = device_option(
        "auto, cpu or cuda[:N]. Under torchrun each process uses cuda:LOCAL_RANK (NCCL) or "
        "the CPU (gloo)."
    ),
    threads: int | None = threads_option(
        THREADS_HELP + " Under torchrun: shared among the processes on a machine."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run."),
    force: bool = force_option("Replace an existing run folder."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Build the model, print its size, stop."),
    reference: Path | None = reference_option(
        "Reference FASTA for BED input (indexed, or indexable)."
    ),
    label_column: str | None = label_column_option(),
    window: int | None = window_option("Window length (direct inputs)."),
    stride: int | None = stride_option(
        "Tile records longer than --window, tiles evenly spread at most this far apart "
        "(direct inputs; default: window)."
    ),
    val_fraction: float = val_fraction_option(),
    test_fraction: float = test_fraction_option(),
    test_chroms: str | None = test_chroms_option(),
    val_inputs: list[Path] | None = val_inputs_option(),
    test_inputs: list[Path] | None = test_inputs_option(),
    quiet: bool = quiet_option("No progress output."),
) -> None:
    """Train a backbone and write a run folder with the best checkpoint and test metrics.

    Direct inputs are first turned into a dataset folder inside the run folder (character tokens,
    which every backbone can read: k-mer tokens are derived on the fly).

    Several processes: torchrun --nproc-per-node N [--nnodes M ...] -m dnaseq_cli train ... trains
    with DistributedDataParallel; each process takes its shard of every epoch (the same seeded
    order, balanced sampling included), rank 0 evaluates on the full validation split and alone
    writes the run folder. --resume under torchrun needs the run folder on a shared filesystem.
    """
    from dnaseq_cli.engine.losses import LOSSES
    from dnaseq_cli.engine.trainer import MLM_TASK, check_precision

    if loss not in LOSSES:
        raise InputError(f"unknown --loss {loss!r}; choose from {', '.join(LOSSES)}")
    if task not in TASKS:
        raise InputError(f"unknown --task {task!r}; choose from {', '.join(TASKS)}")
    _check_augmentation(shift_augment, shuffled_negatives, augment, gan_steps, gan_samples)
    check_precision(precision)  # before any folder is written
    time_limit = parse_duration(max_time)
    from dnaseq_cli.models import factory

    overrides = _parse_overrides(model_config)
    if init is not None:
        from dnaseq_cli.engine.init_weights import spec_from_init

        spec = spec_from_init(init, backbone, overrides)
    else:
        spec = factory.model_spec(backbone or "cnn", size, overrides)
    objective = MLM_TASK if task == "mlm" else None
    if objective:
        from dnaseq_cli.engine.mlm import check_lm_backbone

        check_lm_backbone(spec["backbone"])
        if shuffled_negatives or augment != "none" or balanced:
            raise InputError(
                "--task mlm has no labels: --shuffled-negatives, --augment and "
                "--balanced-sampling do not apply"
            )
    if dry_run:
        model = factory.build_model(spec, 2, objective)
        parameters = sum(p.numel() for p in model.parameters())
        typer.echo(
            json.dumps(
                {
                    "backbone": spec["backbone"],
                    "size": spec["size"],
                    "task": objective or "supervised",
                    "parameters": parameters,
                    "encoding": factory.encoding_of(spec["backbone"], spec["config"]),
                    "config": spec["config"],
                },
                indent=2,
            )
        )
        return
    from dnaseq_cli.data.preprocess import PreprocessOptions
    from dnaseq_cli.engine import distributed, run
    from dnaseq_cli.engine.trainer import TrainConfig

    use_threads(threads)
    data = PreprocessOptions(
        inputs=list(inputs), reference=reference, label_column=label_column, window=window,
        stride=stride, val_fraction=val_fraction, test_fraction=test_fraction,
        test_chroms=_chroms(test_chroms), seed=seed, val_inputs=list(val_inputs or []),
        test_inputs=list(test_inputs or []),
    )  # fmt: skip
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        warmup_fraction=warmup, grad_clip=grad_clip, grad_accum=grad_accum, patience=patience,
        monitor=monitor, loss=loss, balanced_sampling=balanced, rc_augment=rc_augment, seed=seed,
        max_steps_per_epoch=max_steps, shift_augment=shift_augment,
        shuffled_negatives=shuffled_negatives, augment=augment, gan_steps=gan_steps,
        gan_samples=gan_samples, precision=precision, ema=ema,
    )  # fmt: skip
    with distributed.session(device) as (ctx, device):
        quiet = quiet or not ctx.is_main  # one voice: rank 0's
        console = stderr_console()
        shown = _Progress(console, quiet)
        with shown, _interruptible(output, shown):
            result = run.train(
                data, output, model_spec=spec, config=config, device=device, resume=resume,
                force=force, dist=ctx, objective=objective, init=init, time_limit=time_limit,
                on_start=shown.start, on_epoch=shown.epoch_done, progress=shown.advance,
            )  # fmt: skip
    if quiet:
        return
    _print_test_metrics(console, result, spec["backbone"])
    console.print(f"run folder: {output}", highlight=False, markup=False)


class _Progress:
    """The progress bar of an epoch (on a terminal) and one line per finished epoch."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console, self.quiet, self.started = console, quiet, False
        self.bar = Progress(
            TextColumn("epoch {task.fields[epoch]}"), BarColumn(),
            TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(), console=console,
            disable=quiet or not sys.stderr.isatty(),
        )  # fmt: skip
        self.task_id = TaskID(0)  # replaced by start()

    def start(self, windows: int) -> None:
        """Training starts: ``windows`` per epoch in this process."""
        self.task_id = self.bar.add_task("train", total=windows, epoch=1, loss=0.0)
        self.bar.start()
        self.started = True

    def advance(self, n: int, batch_loss: float) -> None:
        self.bar.update(self.task_id, advance=n, loss=batch_loss)

    def epoch_done(self, row: dict) -> None:
        self.bar.reset(self.task_id, epoch=row["epoch"] + 1)
        if not self.quiet:
            shown = {k: v for k, v in row.items() if k.startswith("val_") or k == "train_loss"}
            self.console.print(
                f"epoch {row['epoch']}: "
                + ", ".join(f"{k} {v:.4f}" for k, v in shown.items() if isinstance(v, float))
                + f", {row['train_seqs_per_s']:.0f} seq/s" + (" [best]" if row["best"] else ""),
                highlight=False, markup=False,
            )  # fmt: skip

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def _print_test_metrics(console: Console, result: RunResult, backbone: str) -> None:
    """The test metrics of the best epoch, why training stopped early, and the synthetic rows."""
    metrics = result.test_metrics
    table = Table(title=f"test metrics ({backbone}, best epoch {metrics['best_epoch']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("loss", "accuracy", "perplexity", "masked_tokens", "precision", "recall",
                "f1", "f1_macro", "mcc", "auroc", "auprc", "pearson", "spearman", "mse",
                "n"):  # fmt: skip
        if key in metrics:
            value = metrics[key]
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    if metrics.get("stop_reason") == "time_limit":
        say(console, f"stopped after epoch {metrics['epochs_run']}: --max-time reached")
    _print_synthetic(console, result.synthetic)


def parse_duration(text: str | None) -> float | None:
    """Seconds in '90s', '28m', '1.5h' or a bare number of minutes; None stays None."""
    if text is None:
        return None
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    value, unit = (text[:-1], text[-1].lower()) if text[-1:].lower() in units else (text, "m")
    try:
        seconds = float(value) * units[unit]
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise InputError(f"--max-time {text!r}: give a positive duration such as 90s, 28m or 1.5h")
    return seconds


@contextlib.contextmanager
def _interruptible(run_dir: Path, progress: _Progress) -> Iterator[None]:
    """Ctrl-C, SIGTERM, SIGHUP once training has started: the last finished epoch is already on
    disk; say how to continue."""
    how = (
        f"the last finished epoch is saved; continue with 'dnaseq train ... -o {run_dir} --resume'"
    )
    try:
        yield
    except KeyboardInterrupt:
        if not progress.started:
            raise
        raise TrainingInterrupted(f"interrupted: {how}") from None
    except Terminated as error:
        if progress.started:
            error.message = how
        raise


def _check_augmentation(
    shift: int, shuffled: float, augment: str, gan_steps: int, gan_samples: int | None
) -> None:
    from dnaseq_cli.engine.augment import AUGMENTERS

    if shift < 0:
        raise InputError(f"--shift-augment must be >= 0, got {shift}")
    if not 0 <= shuffled <= 10:
        raise InputError(f"--shuffled-negatives must lie in 0..10, got {shuffled}")
    if augment not in AUGMENTERS:
        raise InputError(f"unknown --augment {augment!r}; choose from {', '.join(AUGMENTERS)}")
    if gan_steps < 1 or (gan_samples is not None and gan_samples < 0):
        raise InputError("--gan-steps must be >= 1 and --gan-samples >= 0")


def _print_synthetic(console: Console, counts: dict) -> None:
    """One line on the synthetic training sequences (they never enter validation or test)."""
    if not counts.get("shuffled_negatives") and not counts.get("gan"):
        return
    parts = []
    if counts.get("shuffled_negatives"):
        parts.append(
            f"{counts['shuffled_negatives']} dinucleotide-shuffled (class {counts['shuffled_class']})"
        )
    if counts.get("gan"):
        parts.append(f"{counts['gan']} GAN (class {counts['gan_class']})")
    console.print(
        f"synthetic training sequences: {', '.join(parts)} added to {counts['train_rows']} train "
        "rows (validation and test untouched)",
        highlight=False, markup=False,
    )  # fmt: skip


def _parse_overrides(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"--model-config is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise InputError("--model-config must be a JSON object")
    return value
