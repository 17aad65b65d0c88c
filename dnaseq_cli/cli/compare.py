"""``dnaseq compare``: the paper's model comparison, dnaseq's measured one, or both.

Without arguments it prints the paper's table as published. With run folders it prints the same
kind of columns measured from them. With ``--run DATASET`` it first trains every backbone on the
dataset under one budget and seed, then writes and prints the measured table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from dnaseq_cli.cli.checks import at_least_one
from dnaseq_cli.cli.console import stderr_console
from dnaseq_cli.cli.options import (
    batch_size_option,
    device_option,
    force_option,
    max_steps_option,
    quiet_option,
    seed_option,
    threads_option,
)
from dnaseq_cli.errors import InputError
from dnaseq_cli.models import registry
from dnaseq_cli.report.compare import (
    FORMATS,
    MEASURED,
    PAPER,
    Column,
    measured_rows,
    rich_table,
    to_json,
    to_markdown,
    to_tsv,
)
from dnaseq_cli.report.paper_table import SOURCE, paper_rows
from dnaseq_cli.threads import use_threads

ALL_BACKBONES = ",".join(registry.compared())  # caduceus,bigbird,gnn,hybrid,cnn


def compare(
    runs: list[Path] | None = typer.Argument(
        None, help="Run folders written by 'dnaseq train' (none: the paper's table only)."
    ),
    fmt: str = typer.Option("table", "--format", help="table (rich), tsv, markdown or json."),
    with_paper: bool = typer.Option(
        False, "--with-paper", help="Show the paper's table as well as the measured one."
    ),
    run: Path | None = typer.Option(
        None,
        "--run",
        help="Train every backbone on this dataset (a 'dnaseq preprocess' folder or a labelled "
        "table/FASTA) under one budget and seed, then compare the runs.",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Folder for the comparison (comparison.tsv, .json, .png); with --run also the run "
        "folders, one per backbone.",
    ),
    backbones: str = typer.Option(
        ALL_BACKBONES, "--backbones", help="Comma-separated backbones to train with --run."
    ),
    size: str = typer.Option("tiny", "--size", help="Model size preset for --run."),
    epochs: int = typer.Option(
        10, "--epochs", callback=at_least_one, help="Maximum epochs per backbone (--run)."
    ),
    batch_size: int = batch_size_option(32, "Sequences per batch (--run)."),
    max_steps: int | None = max_steps_option("Cap optimiser steps per epoch (--run)."),
    seed: int = seed_option("Seed shared by every backbone (--run)."),
    device: str = device_option("auto, cpu or cuda[:N] (--run)."),
    threads: int | None = threads_option(),
    by_task: bool = typer.Option(
        False,
        "--by-task",
        help="One row per backbone with the dev (validation) AUROC, MCC and accuracy of each task "
        "side by side, and the published foundation-model AUROCs for those tasks (GUE).",
    ),
    force: bool = force_option("Replace an existing --output folder.", short=False),
    quiet: bool = quiet_option("No progress messages (--run)."),
) -> None:
    """Print the model comparison table: the paper's as published, or measured from run folders.

    Measured columns come from what 'dnaseq train' wrote: test metrics, training and inference
    throughput, peak memory, parameter count, training time and window length.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown --format {fmt!r}; choose from {', '.join(FORMATS)}")
    if run is not None:
        use_threads(threads)
    runs = list(runs or [])
    if run is not None and runs:
        raise InputError("give run folders or --run DATASET, not both")
    if run is not None:
        if output is None:
            raise InputError("--run needs --output/-o: the folder for the run folders")
        runs = _train_all(
            run, output, backbones, size=size, epochs=epochs, batch_size=batch_size,
            max_steps=max_steps, seed=seed, device=device, force=force, quiet=quiet,
        )  # fmt: skip
    elif output is not None and not runs:
        raise InputError("--output needs run folders or --run DATASET")
    if by_task:
        if not runs:
            raise InputError("--by-task needs run folders (or --run DATASET)")
        _print_by_task(runs, fmt, output, quiet)
        return
    parts: dict[str, tuple[list[dict], tuple[Column, ...], str]] = {}
    if with_paper or not runs:
        parts["paper"] = (paper_rows(), PAPER, f"Published comparison ({SOURCE})")
    if runs:
        rows = measured_rows(runs, registry.describe, _checkpoint_config)
        parts["measured"] = (rows, MEASURED, "Measured by dnaseq (test split)")
        if output is not None:
            from dnaseq_cli.report.compare import write_comparison

            written = write_comparison(rows, output)
            if not quiet:
                stderr_console().print(
                    "wrote " + ", ".join(str(p) for p in written), highlight=False, markup=False
                )
    _print(parts, fmt)


def _checkpoint_config(folder: Path) -> dict:
    """A run's checkpoint/config.json, read by the one checkpoint reader (report sits below it)."""
    from dnaseq_cli.models.checkpoint import read_spec

    return read_spec(folder, check=False).raw


def _print_by_task(runs: list[Path], fmt: str, output: Path | None, quiet: bool) -> None:
    from dnaseq_cli.report.tasks import best_by_task, task_columns, task_rows, write_by_task

    rows, tasks = task_rows(runs)
    columns = task_columns(tasks)
    title = "Dev-split metrics by task (dnaseq) and published AUROCs"
    if output is not None:
        write_by_task(rows, tasks, output)
    _print({"by_task": (rows, columns, title)}, fmt)
    if not quiet:
        best = best_by_task(rows, tasks)
        stderr_console().print(
            "best dev AUROC: " + ", ".join(f"{task} {model}" for task, model in best.items()),
            highlight=False, markup=False,
        )  # fmt: skip


def _print(parts: dict[str, tuple[list[dict], tuple[Column, ...], str]], fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(to_json({name: rows for name, (rows, _, _) in parts.items()}))
    elif fmt == "tsv":
        if len(parts) > 1:
            raise InputError("--format tsv holds one table: drop --with-paper")
        ((rows, columns, _),) = parts.values()
        sys.stdout.write(to_tsv(rows, columns))
    elif fmt == "markdown":
        texts = [
            (f"## {title}\n\n" if len(parts) > 1 else "") + to_markdown(rows, columns)
            for rows, columns, title in parts.values()
        ]
        sys.stdout.write("\n".join(texts))
    else:
        console = Console()
        for rows, columns, title in parts.values():
            console.print(rich_table(rows, columns, title))


def _train_all(
    dataset_path: Path,
    output: Path,
    backbones: str,
    *,
    size: str,
    epochs: int,
    batch_size: int,
    max_steps: int | None,
    seed: int,
    device: str,
    force: bool,
    quiet: bool,
) -> list[Path]:
    """Train each backbone into ``output/<backbone>/``; return the run folders."""
    from dnaseq_cli.data.preprocess import PreprocessOptions
    from dnaseq_cli.engine.run import train_backbones
    from dnaseq_cli.engine.trainer import TrainConfig

    names = [name.strip() for name in backbones.split(",") if name.strip()]
    if not names:
        raise InputError("--backbones is empty")
    if len(set(names)) < len(names):
        raise InputError(f"--backbones names a backbone twice: {backbones}")
    console = stderr_console()

    def starting(backbone: str, index: int) -> None:
        if not quiet:
            console.print(
                f"training {backbone} ({index + 1}/{len(names)}) -> {output / backbone}",
                highlight=False,
                markup=False,
            )

    results = train_backbones(
        PreprocessOptions(inputs=[dataset_path], seed=seed), output, names, size=size,
        config=TrainConfig(
            epochs=epochs, batch_size=batch_size, max_steps_per_epoch=max_steps, seed=seed
        ),
        device=device, force=force, on_start=starting,
    )  # fmt: skip
    return [result.run_dir for result in results]
