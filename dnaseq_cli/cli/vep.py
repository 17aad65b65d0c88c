"""``dnaseq vep``: variant effect scores from a VCF and a reference FASTA."""

from __future__ import annotations

from pathlib import Path

import typer

from dnaseq_cli.cli.checks import fraction, non_negative
from dnaseq_cli.cli.console import counting_spinner, say, stderr_console
from dnaseq_cli.cli.options import (
    batch_size_option,
    device_option,
    model_option,
    output_tsv_option,
    quiet_option,
    reference_option,
    threads_option,
    window_option,
)


def vep(
    vcf: str = typer.Argument(
        ..., help="VCF or BCF (plain, bgzip; '-' for stdin), or a table with --format variants."
    ),
    reference: Path = reference_option(
        "Reference FASTA the VCF was called against.", required=True
    ),
    model: str | None = model_option(
        "A bundled model's name ('dnaseq models' lists them), or a run, checkpoint "
        "(classifier or MLM) or 'dnaseq ensemble' folder (a folder wins over a bundled model of "
        "the same name); default: the bundled enhancer model."
    ),
    output: str = output_tsv_option(),
    output_vcf: Path | None = typer.Option(
        None,
        "--output-vcf",
        help="Also write an annotated VCF: the input's records, one per ALT, QUAL, FILTER and INFO "
        "kept, with DNASEQ_* INFO fields added (.vcf.gz: bgzipped + tabix index).",
    ),
    skipped: str | None = typer.Option(
        None,
        "--skipped",
        help="Also write every variant that was not scored, filtered ones included, as a TSV: "
        "CHROM POS ID REF ALT status.",
    ),
    input_format: str = typer.Option(
        "auto",
        "--format",
        help="auto or vcf: VCF/BCF; variants: a tab-separated CHROM POS ID REF ALT [...] table "
        "without a VCF header ('#' lines skipped).",
    ),
    regions: Path | None = typer.Option(
        None,
        "--regions",
        help="Score only variants whose REF overlaps an interval of this BED (others filtered).",
    ),
    snvs_only: bool = typer.Option(
        False, "--snvs-only", help="Score only single-base substitutions (others filtered)."
    ),
    max_indel_length: int | None = typer.Option(
        None,
        "--max-indel-length",
        callback=non_negative,
        help="Filter out indels that change the length by more than this many bases (0: keep only "
        "SNVs and MNVs).",
    ),
    max_n_fraction: float = typer.Option(
        0.5,
        "--max-n-fraction",
        callback=fraction(),
        help="Flag n_rich when more than this fraction of the reference window is not A/C/G/T.",
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Fail (exit 2) on the first variant that cannot be scored, naming it and why.",
    ),
    harmonise_chroms: bool = typer.Option(
        True,
        "--harmonise-chroms/--no-harmonise-chroms",
        help="Map chr1 <-> 1 naming between VCF and reference (on by default).",
    ),
    window: int | None = window_option(),
    batch_size: int = batch_size_option(),
    device: str = device_option(),
    threads: int | None = threads_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Score every ALT allele: ref vs alt window centred on the variant, both strands averaged.

    Columns: CHROM POS ID REF ALT, ref_score, alt_score, delta (alt - ref), log_odds_ratio,
    llr (models with an MLM head), n_fraction (share of the reference window that is not
    A/C/G/T), padding (N bases added past a contig end), flags and status.

    No record stops a run: a variant that cannot be scored is written with its reason in status
    and counted in the summary: [bold]ref_mismatch[/bold], [bold]unknown_contig[/bold],
    [bold]out_of_range[/bold] (POS not on the contig), [bold]ref_off_contig[/bold] (REF runs past
    its end), [bold]invalid_allele[/bold] (REF or ALT not A/C/G/T/N, e.g. '.', '-', 'R'), or
    symbolic, breakend, spanning_deletion, missing_alt; otherwise [bold]ok[/bold]. --strict
    makes the first one an error. Only a file that is not a variant file at all is an error.

    flags (comma-separated, '.' for none): [bold]n_rich[/bold] (n_fraction above
    --max-n-fraction), [bold]contig_edge[/bold] (a window needed padding),
    [bold]indel_truncated[/bold] (REF or ALT longer than the window's right half),
    [bold]ref_eq_alt[/bold], [bold]n_allele[/bold] (REF or ALT has N), [bold]duplicate[/bold]
    (same CHROM POS REF ALT as an earlier record).

    Filtered variants (--regions, --snvs-only, --max-indel-length) are not rows; they are
    counted in the summary and listed in --skipped as filtered_region, filtered_not_snv or
    filtered_indel_length. A run that scores nothing prints one warning line saying why and
    exits 0, except when every variant is on a chromosome the reference lacks: that is taken as
    the wrong reference, an input error (exit 2; a file output is then not written).

    Several processes: torchrun --nproc-per-node N [--nnodes M ...] -m dnaseq_cli vep ... splits
    the variants across the processes; process 0 writes every output, in input order, exactly as
    one process would (a VCF file, not stdin).
    """
    from dnaseq_cli.errors import InputError
    from dnaseq_cli.io.vcf import FORMATS
    from dnaseq_cli.predict.model import WindowScorer
    from dnaseq_cli.shards import from_env, joined
    from dnaseq_cli.threads import use_threads
    from dnaseq_cli.vep.output import run_vep
    from dnaseq_cli.vep.scoring import VariantEffectScorer

    use_threads(threads)
    if input_format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {input_format!r}")
    if from_env().enabled and vcf == "-":
        raise InputError("under torchrun every process reads the VCF: give a file, not stdin")
    with joined(device) as (shards, device):
        quiet = quiet or not shards.is_main  # one voice: process 0's
        scorer = WindowScorer(model, device=device, batch_size=batch_size, window=window)
        effect = VariantEffectScorer(
            scorer, reference, strict=strict, harmonise_chroms=harmonise_chroms,
            max_n_fraction=max_n_fraction, regions=regions, snvs_only=snvs_only,
            max_indel_length=max_indel_length,
        )  # fmt: skip
        with counting_spinner(stderr_console(), "variants", quiet) as advance:
            summary = run_vep(
                effect, vcf, output, output_vcf, skipped=skipped, fmt=input_format,
                progress=advance, shards=shards,
            )  # fmt: skip
    if quiet:
        return
    statuses = ", ".join(f"{n:,} {status}" for status, n in sorted(summary.statuses.items()))
    renamed = ", ".join(f"{a}->{b}" for a, b in summary.renamed_contigs.items())
    flagged = ", ".join(f"{n:,} {flag}" for flag, n in sorted(summary.flags.items()))
    filtered = ", ".join(f"{n:,} {why}" for why, n in sorted(summary.filtered.items()))
    say(
        stderr_console(),
        f"dnaseq: {summary.variants:,} variants ({statuses or 'none'}) in {summary.seconds:.1f} s "
        f"({summary.variants_per_second:,.0f} variants/s) with {scorer.info.path.name} "
        f"[{scorer.info.backbone}]"
        + (f"; flagged {flagged}" if flagged else "")
        + (f"; filtered out {filtered}" if filtered else "")
        + (f"; harmonised chromosome names {renamed}" if renamed else ""),
    )
