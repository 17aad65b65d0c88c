"""``dnaseq predict``: score sequences with a trained model (the bundled enhancer model by default)."""

from __future__ import annotations

from pathlib import Path

import typer

from dnaseq_cli.cli.checks import at_least_one, fraction
from dnaseq_cli.cli.console import counting_spinner, say, stderr_console


def predict(
    inputs: list[Path] = typer.Argument(
        ...,
        help="FASTA (plain/gz/bgzip, '-' for stdin), TSV/CSV with a sequence column, "
        "or BED (with --reference).",
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="A 'dnaseq train' run or checkpoint folder, a 'dnaseq ensemble' folder, or an HF "
        "Caduceus classifier folder; default: the bundled enhancer model.",
    ),
    output: str = typer.Option("-", "--output", "-o", help="Output TSV ('-' = stdout)."),
    reference: Path | None = typer.Option(
        None, "--reference", "-r", help="Reference FASTA for BED input."
    ),
    input_format: str = typer.Option("auto", "--format", help="auto, fasta, table or bed."),
    sequence_column: str | None = typer.Option(
        None, "--sequence-column", help="Table column with sequences (default: sequence/seq)."
    ),
    name_column: str | None = typer.Option(None, "--name-column", help="Table column with names."),
    stride: int | None = typer.Option(
        None,
        "--stride",
        callback=at_least_one,
        help="Step between tiled windows of long records (default: half a window).",
    ),
    per_window: bool = typer.Option(
        False, "--per-window", help="One row per window instead of one per record."
    ),
    aggregate: str = typer.Option(
        "max",
        "--aggregate",
        help="How tiled windows make a record's score: max or mean (multiclass: always mean).",
    ),
    window: int | None = typer.Option(
        None,
        "--window",
        "-w",
        callback=at_least_one,
        help="Window length, for checkpoints that do not record it.",
    ),
    max_n_fraction: float = typer.Option(
        0.5,
        "--max-n-fraction",
        callback=fraction(),
        help="Flag records/windows with more N than this fraction.",
    ),
    harmonise_chroms: bool = typer.Option(
        False, "--harmonise-chroms", help="Map chr1 <-> 1 naming between BED and reference."
    ),
    batch_size: int = typer.Option(
        256, "--batch-size", callback=at_least_one, help="Windows per forward pass."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary on stderr."),
) -> None:
    """Score every record: one TSV row with its score (or class probabilities) and label.

    Records longer than the model window are tiled and the window scores aggregated (mean and
    max); shorter ones are padded and flagged [bold]short[/bold]; N-rich ones are flagged
    [bold]n_rich[/bold]. Both strands are averaged.
    """
    from dnaseq_cli.predict.model import WindowScorer
    from dnaseq_cli.predict.sequences import PredictOptions
    from dnaseq_cli.predict.sequences import predict as run_predict

    scorer = WindowScorer(model, device=device, batch_size=batch_size, window=window)
    options = PredictOptions(
        inputs=inputs,
        output=output,
        reference=reference,
        input_format=input_format,
        sequence_column=sequence_column,
        name_column=name_column,
        stride=stride,
        per_window=per_window,
        aggregate=aggregate,
        max_n_fraction=max_n_fraction,
        harmonise_chroms=harmonise_chroms,
    )
    console = stderr_console()
    with counting_spinner(console, "windows", quiet) as advance:
        summary = run_predict(scorer, options, progress=advance)
    if not quiet:
        flagged = ", ".join(f"{n} {flag}" for flag, n in sorted(summary.flagged.items()))
        say(
            console,
            f"dnaseq: scored {summary.records:,} records ({summary.windows:,} windows of "
            f"{scorer.info.window_length} bp) with {scorer.info.path.name} "
            f"[{scorer.info.backbone}] in {summary.seconds:.1f} s "
            f"({summary.windows_per_second:,.0f} windows/s)"
            + (f"; flagged: {flagged}" if flagged else ""),
        )
