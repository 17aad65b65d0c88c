"""``dnaseq explain``: in-silico mutagenesis, attributions and motif hits, with pictures."""

from __future__ import annotations

from pathlib import Path

import typer

from dnaseq_cli.cli.checks import at_least_one, at_most, fraction
from dnaseq_cli.cli.console import counting_spinner, say, stderr_console
from dnaseq_cli.cli.options import (
    batch_size_option,
    device_option,
    force_option,
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


def explain(
    inputs: list[Path] = typer.Argument(
        ...,
        help="FASTA (plain/gz/bgzip, '-' for stdin), TSV/CSV with a sequence column, "
        "or BED (with --reference).",
    ),
    model: str | None = model_option(),
    method: str = typer.Option(
        "ism",
        "--method",
        help="Attribution: ism, saliency, input-x-gradient or integrated-gradients "
        "(gradients need a per-base input: not the kmer or gnn backbones).",
    ),
    output: str = output_tsv_option("Long TSV: name pos ref A C G T attribution ('-' = stdout)."),
    npz: str | None = typer.Option(None, "--npz", help="Also write the arrays to this .npz."),
    plot_dir: Path | None = typer.Option(
        None, "--plot-dir", help="Folder for one PNG per record: ISM heatmap above a logo."
    ),
    force: bool = force_option("Replace an existing --plot-dir.", short=False),
    motif_hits: str | None = typer.Option(
        None, "--motif-hits", help="TSV of JASPAR hits overlapping high-attribution positions."
    ),
    motif_bed: str | None = typer.Option(None, "--motif-bed", help="The same hits as BED."),
    motif_pvalue: float = typer.Option(
        1e-4,
        "--motif-pvalue",
        callback=at_most(1.0, 1e-300),
        help="Keep motif hits with p-value <= this (exact, FIMO-style).",
    ),
    top_fraction: float = typer.Option(
        0.1,
        "--top-fraction",
        callback=fraction(),
        help="High-attribution positions: the top fraction by |attribution|.",
    ),
    ig_steps: int = typer.Option(
        32,
        "--ig-steps",
        callback=at_least_one,
        help="Integrated gradients: Gauss-Legendre points along each path.",
    ),
    ig_baselines: int = typer.Option(
        8,
        "--ig-baselines",
        callback=at_least_one,
        help="Integrated gradients: dinucleotide-shuffled copies of the window used as baselines "
        "(attributions averaged; seeded, so reruns agree).",
    ),
    gradient_correction: bool = typer.Option(
        True,
        "--gradient-correction/--no-gradient-correction",
        help="Input x gradient: subtract each position's mean gradient over A, C, G, T (the "
        "part no real sequence can move along; Majdandzic et al. 2023).",
    ),
    target: str | None = typer.Option(
        None, "--target", help="Class to explain (default: the positive / last class)."
    ),
    no_ism: bool = typer.Option(
        False, "--no-ism", help="Skip ISM (only with a gradient method): A C G T columns are '.'."
    ),
    per_window: bool = typer.Option(
        False, "--per-window", help="Explain every tiled window of records longer than the model."
    ),
    region: str | None = typer.Option(
        None, "--region", help="START-END (1-based) of long records: the window centred on it."
    ),
    stride: int | None = stride_option(
        "Step between tiled windows with --per-window (default: half a window)."
    ),
    reference: Path | None = reference_option(),
    input_format: str = input_format_option(),
    sequence_column: str | None = sequence_column_option(),
    name_column: str | None = name_column_option(),
    window: int | None = window_option(),
    harmonise_chroms: bool = harmonise_chroms_option(),
    batch_size: int = batch_size_option(help="Mutated windows per forward pass."),
    device: str = device_option(),
    threads: int | None = threads_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Explain the model's score of every record, position by position.

    ISM scores every base against its 3 alternatives (delta of the explained class's probability,
    both strands averaged, as [bold]predict[/bold] and [bold]vep[/bold] score); gradient methods
    attribute the class's log-odds to each base through the model's base embedding. JASPAR 2024
    motif hits (exact p-values) that overlap high-attribution positions are reported and drawn.
    """
    from dnaseq_cli.errors import InputError
    from dnaseq_cli.explain.run import METHODS, ExplainOptions
    from dnaseq_cli.explain.run import explain as run_explain
    from dnaseq_cli.predict.model import WindowScorer
    from dnaseq_cli.threads import use_threads

    use_threads(threads)
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if no_ism and method == "ism":
        raise InputError("--no-ism leaves nothing to compute with --method ism")
    scorer = WindowScorer(model, device=device, batch_size=batch_size, window=window)
    options = ExplainOptions(
        inputs=inputs,
        output=output,
        method=method,
        reference=reference,
        input_format=input_format,
        sequence_column=sequence_column,
        name_column=name_column,
        per_window=per_window,
        region=region,
        stride=stride,
        target=target,
        ig_steps=ig_steps,
        ig_baselines=ig_baselines,
        gradient_correction=gradient_correction,
        no_ism=no_ism,
        npz=npz,
        plot_dir=plot_dir,
        motif_hits=motif_hits,
        motif_bed=motif_bed,
        motif_pvalue=motif_pvalue,
        top_fraction=top_fraction,
        force=force,
        harmonise_chroms=harmonise_chroms,
    )
    console = stderr_console()
    with counting_spinner(console, "windows", quiet) as advance:
        summary = run_explain(scorer, options, progress=advance)
    if not quiet:
        say(
            console,
            f"dnaseq: explained {summary.windows:,} windows ({summary.rows:,} positions, "
            f"{summary.mutants:,} mutants, {summary.hits:,} motif hits) with "
            f"{scorer.info.path.name} [{scorer.info.backbone}] by {method} in "
            f"{summary.seconds:.1f} s",
        )
