"""``dnaseq fetch``: download genomes, Genomic Benchmarks datasets, checkpoints or any URL."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from dnaseq_cli.cli.checks import non_negative
from dnaseq_cli.cli.console import stderr_console
from dnaseq_cli.cli.options import force_option, quiet_option
from dnaseq_cli.errors import InputError
from dnaseq_cli.fetch.cache import resolve_cache_dir
from dnaseq_cli.fetch.catalogue import GB_PREFIX, Resource, is_url, load_catalogue
from dnaseq_cli.fetch.fetcher import FetchOptions
from dnaseq_cli.fetch.fetcher import fetch as run_fetch
from dnaseq_cli.fetch.genome import is_installed


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return ""


def _is_cached(resource: Resource, cache: Path) -> bool:
    if resource.kind == "genome":
        return is_installed(cache / "genomes" / resource.name / f"{resource.name}.fa.gz")
    if resource.kind == "gb-dataset":
        folder = cache / "genomic-benchmarks" / resource.name.removeprefix(GB_PREFIX)
        return (folder / "train.bed").is_file()
    return False  # the hub client owns its cache; it answers offline without network anyway


def _print_catalogue(cache: Path) -> None:
    table = Table(title=f"dnaseq fetch catalogue (cache: {cache})", title_justify="left")
    table.add_column("name", no_wrap=True)
    for column in ("kind", "assembly", "size", "cached", "source"):
        table.add_column(column, no_wrap=True)
    table.add_column("description", overflow="fold", min_width=30)
    for resource in load_catalogue().values():
        table.add_row(
            resource.name,
            resource.kind,
            resource.assembly or "",
            _size(resource.size),
            "yes" if _is_cached(resource, cache) else "",
            resource.source,
            resource.description,
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def fetch(
    targets: list[str] = typer.Argument(
        None,
        help="Catalogue names (see --list), genomic-benchmarks/<dataset>, hf:<owner>/<repo> or URLs.",
        show_default=False,
    ),
    list_catalogue: bool = typer.Option(
        False, "--list", "-l", help="Print the catalogue of named resources and exit."
    ),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Cache folder (default: $DNASEQ_CACHE, else ~/.cache/dnaseq or the platform's cache).",
        show_default=False,
    ),
    mirror: str | None = typer.Option(
        None,
        "--mirror",
        envvar="DNASEQ_MIRROR",
        help="Fetch https://HOST/PATH from MIRROR/HOST/PATH instead (an http(s) or file:// URL or a "
        "folder, laid out like 'wget -x'); for hub checkpoints, the hub endpoint.",
    ),
    genome: str | None = typer.Option(
        None,
        "--genome",
        "-g",
        help="For genomic-benchmarks datasets: extract sequences from this catalogue genome "
        "(fetched if missing) or FASTA file.",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Put the result here instead of the cache (one target only): a file for URLs and "
        "genomes, a folder for datasets and checkpoints.",
    ),
    sha256: str | None = typer.Option(
        None, "--sha256", help="Expected sha256 of a URL or genome download."
    ),
    force: bool = force_option("Download again even if present in the cache."),
    retries: int = typer.Option(
        3,
        "--retries",
        callback=non_negative,
        help="Resume an interrupted download this many times.",
    ),
    quiet: bool = quiet_option("No progress bar or notes."),
) -> None:
    """Download reference genomes, benchmark datasets and model checkpoints into the cache.

    Downloads resume after an interruption (run the same command again), are checked against
    their size and sha256 when known, and only appear in the cache once complete. Genomes are
    stored as bgzip FASTA with .fai/.gzi indexes; Genomic Benchmarks coordinates become labelled
    BED files, and with [bold]--genome[/bold] sequence tables for [bold]dnaseq preprocess[/bold].
    The path of each result is printed on stdout. $DNASEQ_CATALOGUE may name a JSON file of extra
    catalogue entries.
    """
    cache = resolve_cache_dir(cache_dir)
    if list_catalogue:
        _print_catalogue(cache)
        return
    targets = targets or []
    if not targets:
        raise InputError("name at least one resource or URL to fetch (or --list the catalogue)")
    if output is not None and len(targets) > 1:
        raise InputError("--output takes one target; fetch several into the cache instead")
    if genome is not None and not any(t.startswith(GB_PREFIX) for t in targets if not is_url(t)):
        raise InputError("--genome applies to genomic-benchmarks/<dataset> targets")
    console = stderr_console()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not sys.stderr.isatty(),
    )

    def start(label: str, total: int | None, done: int) -> Callable[[int], None]:
        task = progress.add_task(label, total=total, completed=done)
        return lambda n: progress.advance(task, n)

    options = FetchOptions(
        cache_dir=cache,
        mirror=mirror,
        genome=genome,
        output=output,
        sha256=sha256,
        force=force,
        quiet=quiet,
        retries=retries,
        progress=start,
    )
    with progress:
        for target in targets:
            result = run_fetch(target, options)
            typer.echo(str(result.path))
            if quiet:
                continue
            state = "fetched" if result.downloaded else "already present"
            if result.kind == "hf-checkpoint":
                state = "ready"  # the hub client does not say whether it downloaded anything
            console.print(f"dnaseq: {result.name} ({result.kind}): {state}", highlight=False)
            if result.sha256:
                console.print(f"  sha256 {result.sha256}", highlight=False)
            for note in result.notes:
                console.print(f"  {note}", highlight=False, markup=False)
