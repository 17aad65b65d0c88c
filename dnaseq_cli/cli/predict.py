"""``dnaseq predict``: score sequences with a trained model (the bundled enhancer model by default)."""

from __future__ import annotations

from pathlib import Path

import typer

from dnaseq_cli.cli.checks import fraction
from dnaseq_cli.cli.console import counting_spinner, say, stderr_console
from dnaseq_cli.cli.options import (
    batch_size_option,
    device_option,
    harmonise_chroms_option,
    input_format_option,
    model_option,
    name_column_option,
    output_tsv_option,
    quiet_option,
    reference_option,
    sequence_column_option,
    stride_option,
    threads_option,
    window_option,
)
from dnaseq_cli.threads import use_threads


def predict(
    inputs: list[Path] | None = typer.Argument(
        None,
        help="FASTA (plain/gz/bgzip, '-' for stdin), TSV/CSV with a sequence column, "
        "or BED (with --reference). None, with --reference: score the whole genome as a track.",
    ),
    model: str | None = model_option(),
    output: str = output_tsv_option(),
    reference: Path | None = reference_option(),
    input_format: str = input_format_option(),
    sequence_column: str | None = sequence_column_option(),
    name_column: str | None = name_column_option(),
    stride: int | None = stride_option(
        "Step between tiled windows of long records (default: half a window)."
    ),
    per_window: bool = typer.Option(
        False, "--per-window", help="One row per window instead of one per record."
    ),
    aggregate: str = typer.Option(
        "max",
        "--aggregate",
        help="How tiled windows make a record's score: max or mean (multiclass: always mean).",
    ),
    window: int | None = window_option(),
    max_n_fraction: float = typer.Option(
        0.5,
        "--max-n-fraction",
        callback=fraction(),
        help="Flag records/windows with more N than this fraction.",
    ),
    harmonise_chroms: bool = harmonise_chroms_option(),
    batch_size: int = batch_size_option(),
    contigs: str | None = typer.Option(
        None, "--contigs", help="Genome track: only these contigs (comma-separated)."
    ),
    regions: Path | None = typer.Option(
        None, "--regions", help="Genome track: only these BED regions (merged where they overlap)."
    ),
    bigwig: Path | None = typer.Option(
        None, "--bigwig", help="Genome track: also write a bigWig (needs the pyBigWig extra)."
    ),
    device: str = device_option(),
    threads: int | None = threads_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Score every record: one TSV row with its score (or class probabilities) and label.

    Records longer than the model window are tiled and the window scores aggregated (mean and
    max); shorter ones are padded and flagged [bold]short[/bold]; N-rich ones are flagged
    [bold]n_rich[/bold]. Both strands are averaged.

    With [bold]--reference[/bold] and no INPUT, every contig (or [bold]--contigs[/bold], or
    [bold]--regions[/bold]) is tiled with the model window every [bold]--stride[/bold] bases
    (default: one window) and a bedGraph of window scores is written (each score over the
    stride-wide bin at its window's centre; all-N windows left out), plus a bigWig with
    [bold]--bigwig[/bold].

    Several processes: torchrun --nproc-per-node N [--nnodes M ...] -m dnaseq_cli predict ...
    splits the records across the processes; process 0 writes the output, in input order,
    exactly as one process would (files only, not stdin; genome tracks run in one process).
    """
    from dnaseq_cli.errors import InputError
    from dnaseq_cli.predict.sequences import PredictOptions
    from dnaseq_cli.shards import from_env, joined

    use_threads(threads)
    genome_only = {"--contigs": contigs, "--regions": regions, "--bigwig": bigwig}
    if not inputs:
        if reference is None:
            raise typer.BadParameter(
                "give INPUT files, or --reference GENOME.fa alone to score the whole genome",
                param_hint="INPUTS",
            )
        if from_env().enabled:
            raise InputError(
                "genome tracks are scored by one process: run this without torchrun (records "
                "of FASTA, table and BED inputs are split across torchrun processes)"
            )
        _genome_track(model, device, batch_size, window, reference, output, stride, contigs,
                      regions, bigwig, harmonise_chroms, quiet)  # fmt: skip
        return
    given = [name for name, value in genome_only.items() if value is not None]
    if given:
        raise typer.BadParameter(
            "is for genome tracks (--reference without INPUT files)", param_hint=given[0]
        )
    if from_env().enabled and any(str(path) == "-" for path in inputs):
        raise InputError("under torchrun every process reads the inputs: give files, not stdin")
    from dnaseq_cli.predict.model import WindowScorer
    from dnaseq_cli.predict.sequences import predict as run_predict

    options = PredictOptions(
        inputs=inputs, output=output, reference=reference, input_format=input_format,
        sequence_column=sequence_column, name_column=name_column, stride=stride,
        per_window=per_window, aggregate=aggregate, max_n_fraction=max_n_fraction,
        harmonise_chroms=harmonise_chroms,
    )  # fmt: skip
    console = stderr_console()
    with joined(device) as (shards, device):
        quiet = quiet or not shards.is_main  # one voice: process 0's
        scorer = WindowScorer(model, device=device, batch_size=batch_size, window=window)
        with counting_spinner(console, "windows", quiet) as advance:
            summary = run_predict(scorer, options, progress=advance, shards=shards)
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


def _genome_track(
    model: str | None, device: str, batch_size: int, window: int | None, reference: Path,
    output: str, stride: int | None, contigs: str | None, regions: Path | None,
    bigwig: Path | None, harmonise_chroms: bool, quiet: bool,
) -> None:  # fmt: skip
    from dnaseq_cli.predict.genome import GenomeOptions, score_genome
    from dnaseq_cli.predict.model import WindowScorer

    scorer = WindowScorer(model, device=device, batch_size=batch_size, window=window)
    names = [name.strip() for name in contigs.split(",") if name.strip()] if contigs else None
    options = GenomeOptions(
        reference=reference, output=output, bigwig=bigwig, contigs=names, regions=regions,
        stride=stride, harmonise_chroms=harmonise_chroms,
    )  # fmt: skip
    console = stderr_console()
    with counting_spinner(console, "windows", quiet) as advance:
        summary = score_genome(scorer, options, progress=advance)
    if not quiet:
        say(
            console,
            f"dnaseq: scored {summary.windows:,} windows over {summary.bases:,} bp of "
            f"{len(summary.contigs)} contigs ({summary.spans} spans) with {scorer.info.path.name} "
            f"[{scorer.info.backbone}] in {summary.seconds:.1f} s "
            f"({summary.windows_per_second:,.0f} windows/s); {summary.skipped_all_n:,} all-N "
            "windows left out",
        )
