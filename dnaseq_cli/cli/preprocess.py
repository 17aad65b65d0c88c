"""``dnaseq preprocess``: build a dataset folder from FASTA, a labelled table, or BED + reference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dnaseq_cli.cli.checks import at_least_one, non_negative
from dnaseq_cli.cli.console import say, show_progress, stderr_console
from dnaseq_cli.cli.options import (
    force_option,
    harmonise_chroms_option,
    input_format_option,
    label_column_option,
    name_column_option,
    quiet_option,
    reference_option,
    seed_option,
    sequence_column_option,
    stride_option,
    test_chroms_option,
    test_fraction_option,
    test_inputs_option,
    val_fraction_option,
    val_inputs_option,
    window_option,
)
from dnaseq_cli.data.preprocess import ENCODING_CHOICES, PreprocessOptions
from dnaseq_cli.data.preprocess import preprocess as run_preprocess


def _chrom_list(text: str | None) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()] if text else []


def preprocess(
    inputs: list[Path] = typer.Argument(
        ..., help="FASTA (plain/gz/bgzip, '-' for stdin), TSV/CSV table, or BED (with --reference)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Dataset folder to create."),
    reference: Path | None = reference_option(
        "Reference FASTA for BED input (indexed, or indexable)."
    ),
    input_format: str = input_format_option(),
    label_column: str | None = label_column_option(),
    label: str | None = typer.Option(
        None, "--label", help="Give every record this constant label."
    ),
    sequence_column: str | None = sequence_column_option(),
    name_column: str | None = name_column_option(),
    window: int | None = window_option("Window length in bp (default: the longest record/region)."),
    flank: int = typer.Option(
        0, "--flank", callback=non_negative, help="Extra bases added on each side of BED windows."
    ),
    stride: int | None = stride_option(
        "Tile records longer than --window, tiles evenly spread at most this far apart "
        "(default: window)."
    ),
    encoding: str = typer.Option(
        "char", "--encoding", "-e", help=f"Token encoding: {', '.join(ENCODING_CHOICES)}."
    ),
    kmer_stride: int = typer.Option(
        1, "--kmer-stride", callback=at_least_one, help="1 = overlapping k-mers, k = disjoint."
    ),
    val_fraction: float = val_fraction_option(),
    test_fraction: float = test_fraction_option(),
    test_chroms: str | None = test_chroms_option(),
    val_inputs: list[Path] | None = val_inputs_option(),
    test_inputs: list[Path] | None = test_inputs_option(),
    val_chroms: str | None = typer.Option(
        None, "--val-chroms", help="Hold out these chromosomes for validation."
    ),
    seed: int = seed_option("Random seed for the split."),
    harmonise_chroms: bool = harmonise_chroms_option(),
    force: bool = force_option("Replace an existing output folder."),
    quiet: bool = quiet_option("No progress bar or summary."),
) -> None:
    """Cut inputs into fixed-length windows, encode them and write a dataset folder.

    The folder holds [bold]records.tsv[/bold] (name, chrom, start, end, strand, label, split),
    [bold]tokens.npy[/bold] (memory-mappable token array) and [bold]manifest.json[/bold] (encoding,
    window length, split settings, input checksums).
    """
    options = PreprocessOptions(
        inputs=inputs,
        reference=reference,
        input_format=input_format,
        label_column=label_column,
        label=label,
        sequence_column=sequence_column,
        name_column=name_column,
        window=window,
        flank=flank,
        stride=stride,
        encoding=encoding,
        kmer_stride=kmer_stride,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        test_chroms=_chrom_list(test_chroms),
        val_chroms=_chrom_list(val_chroms),
        seed=seed,
        harmonise_chroms=harmonise_chroms,
        val_inputs=list(val_inputs or []),
        test_inputs=list(test_inputs or []),
    )
    console = stderr_console()
    progress = Progress(
        TextColumn("encoding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress(quiet),
    )

    def start(total: int) -> Callable[[int], None]:
        task = progress.add_task("encode", total=total)
        return lambda n: progress.advance(task, n)

    with progress:
        dataset = run_preprocess(options, output, overwrite=force, progress=start)
    if not quiet:
        manifest = dataset.manifest
        counts = ", ".join(
            f"{name} {manifest['split_counts'].get(name, {}).get('total', 0)}"
            for name in ("train", "val", "test")
        )
        say(
            console,
            f"dnaseq: wrote {output}: {manifest['n_records']} windows of "
            f"{manifest['window_length']} bp, {manifest['encoding']} tokens, task "
            f"{manifest['task']}; {counts}",
        )
