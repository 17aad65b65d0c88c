"""``dnaseq vep``: variant effect scores from a VCF and a reference FASTA."""

from __future__ import annotations

from pathlib import Path

import typer

from dnaseq_cli.cli.checks import at_least_one
from dnaseq_cli.cli.console import counting_spinner, say, stderr_console


def vep(
    vcf: str = typer.Argument(..., help="VCF or BCF (plain, bgzip; '-' for stdin)."),
    reference: Path = typer.Option(
        ..., "--reference", "-r", help="Reference FASTA the VCF was called against."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="A run, checkpoint (classifier or MLM) or 'dnaseq ensemble' folder; default: the "
        "bundled enhancer model.",
    ),
    output: str = typer.Option("-", "--output", "-o", help="Output TSV ('-' = stdout)."),
    output_vcf: Path | None = typer.Option(
        None,
        "--output-vcf",
        help="Also write an annotated VCF (.vcf.gz: bgzipped + tabix index) with DNASEQ_* INFO.",
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Fail on the first REF mismatch or unknown chromosome."
    ),
    harmonise_chroms: bool = typer.Option(
        True,
        "--harmonise-chroms/--no-harmonise-chroms",
        help="Map chr1 <-> 1 naming between VCF and reference (on by default).",
    ),
    window: int | None = typer.Option(
        None,
        "--window",
        "-w",
        callback=at_least_one,
        help="Window length, for checkpoints that do not record it.",
    ),
    batch_size: int = typer.Option(
        256, "--batch-size", callback=at_least_one, help="Windows per forward pass."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary on stderr."),
) -> None:
    """Score every ALT allele: ref vs alt window centred on the variant, both strands averaged.

    Columns: CHROM POS ID REF ALT, ref_score, alt_score, delta (alt - ref), log_odds_ratio,
    llr (models with an MLM head) and status ([bold]ok[/bold], [bold]ref_mismatch[/bold] -
    never scored, [bold]unknown_contig[/bold], or why a symbolic ALT was skipped).
    """
    from dnaseq_cli.predict.model import WindowScorer
    from dnaseq_cli.vep.output import run_vep
    from dnaseq_cli.vep.scoring import VariantEffectScorer

    scorer = WindowScorer(model, device=device, batch_size=batch_size, window=window)
    effect = VariantEffectScorer(
        scorer, reference, strict=strict, harmonise_chroms=harmonise_chroms
    )
    console = stderr_console()
    with counting_spinner(console, "variants", quiet) as advance:
        summary = run_vep(effect, vcf, output, output_vcf, progress=advance)
    if quiet:
        return
    statuses = ", ".join(f"{n:,} {status}" for status, n in sorted(summary.statuses.items()))
    renamed = ", ".join(f"{a}->{b}" for a, b in summary.renamed_contigs.items())
    say(
        console,
        f"dnaseq: {summary.variants:,} variants ({statuses}) in {summary.seconds:.1f} s "
        f"({summary.variants_per_second:,.0f} variants/s) with {scorer.info.path.name} "
        f"[{scorer.info.backbone}]"
        + (f"; harmonised chromosome names {renamed}" if renamed else ""),
    )
