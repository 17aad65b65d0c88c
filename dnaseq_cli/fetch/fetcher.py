"""One entry point for ``dnaseq fetch``: resolve a name or URL and bring it into the cache.

Cache layout (under :func:`~dnaseq_cli.fetch.cache.resolve_cache_dir`)::

    genomes/<name>/<name>.fa.gz(.fai,.gzi)      bgzip reference + index, fetch.json
    genomic-benchmarks/<dataset>/               metadata.yaml, {train,test}/<class>.csv.gz,
                                                {train,test}.bed, fetch.json
    genomic-benchmarks/<dataset>/<genome>/      {train,test}.sequences.tsv
    huggingface/                                the hub client's own cache
    url/<host>/<path>                           any other URL

Everything that is already present is reused (``force`` fetches again); everything new is
downloaded to a ``.part`` file, verified and renamed into place.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dnaseq_cli.checksums import file_sha256
from dnaseq_cli.errors import InputError
from dnaseq_cli.fetch import genomic_benchmarks as gb
from dnaseq_cli.fetch.cache import url_cache_path
from dnaseq_cli.fetch.catalogue import (
    GB_PREFIX,
    RemoteFile,
    Resource,
    is_url,
    load_catalogue,
    lookup,
    mirror_url,
)
from dnaseq_cli.fetch.download import ProgressFactory, download, part_path
from dnaseq_cli.fetch.genome import install_genome, is_installed
from dnaseq_cli.io.fasta import FastaReference
from dnaseq_cli.output import atomic_path

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass
class FetchOptions:
    """What the command line asked for, in library terms."""

    cache_dir: Path
    mirror: str | None = None
    genome: str | None = None
    output: Path | None = None
    sha256: str | None = None
    force: bool = False
    quiet: bool = False
    retries: int = 3
    timeout: float = 60.0
    backoff: float = 1.0
    progress: ProgressFactory | None = None
    catalogue: dict[str, Resource] | None = None


@dataclass
class FetchResult:
    """Where a fetched resource ended up."""

    name: str
    kind: str
    path: Path
    downloaded: bool
    sha256: str | None = None
    notes: list[str] = field(default_factory=list)


def fetch(target: str, options: FetchOptions) -> FetchResult:
    """Fetch a catalogue name, ``genomic-benchmarks/<dataset>``, ``hf:<repo>`` or a URL."""
    if options.sha256 is not None and not _SHA256.fullmatch(options.sha256):
        raise InputError(f"--sha256 must be 64 hex digits, got '{options.sha256}'")
    if is_url(target):
        return fetch_url(target, options)
    catalogue = options.catalogue if options.catalogue is not None else load_catalogue()
    resource = lookup(target, catalogue)
    if options.sha256 is not None and resource.kind != "genome":
        raise InputError("--sha256 applies to a URL or a genome (one file), not to " + target)
    if resource.kind == "genome":
        return fetch_genome(resource, options)
    if resource.kind == "gb-dataset":
        return fetch_gb_dataset(resource, options, catalogue)
    return fetch_hub(resource, options)


def fetch_url(url: str, options: FetchOptions) -> FetchResult:
    """Any URL, cached under ``url/<host>/<path>`` (or written to ``--output``)."""
    dest = options.output or url_cache_path(options.cache_dir, url)
    if dest.is_file() and not options.force:
        if options.sha256 is None or file_sha256(dest) == options.sha256.lower():
            return FetchResult(url, "url", dest, downloaded=False)
    if options.force:
        part_path(dest).unlink(missing_ok=True)
    digest = _download(mirror_url(url, options.mirror), dest, options, options.sha256, None)
    return FetchResult(url, "url", dest, downloaded=True, sha256=digest)


def fetch_genome(resource: Resource, options: FetchOptions) -> FetchResult:
    """A genome as bgzip + ``.fai`` + ``.gzi``, converted from whatever the source ships."""
    folder = options.cache_dir / "genomes" / resource.name
    dest = options.output or folder / f"{resource.name}.fa.gz"
    if is_installed(dest) and not options.force:
        return FetchResult(resource.name, "genome", dest, downloaded=False)
    remote = resource.files[0]
    raw = folder / f"download.{remote.filename}"
    if options.force:
        part_path(raw).unlink(missing_ok=True)
        raw.unlink(missing_ok=True)
    sha = options.sha256 or remote.sha256
    digest = _download(mirror_url(remote.url, options.mirror), raw, options, sha, remote.size)
    try:
        install_genome(raw, dest, progress=options.progress)
    finally:
        raw.unlink(missing_ok=True)  # verified once; the indexed copy is what is kept
    _write_provenance(folder, resource, {remote.url: digest})
    return FetchResult(resource.name, "genome", dest, downloaded=True, sha256=digest)


def fetch_gb_dataset(
    resource: Resource, options: FetchOptions, catalogue: dict[str, Resource]
) -> FetchResult:
    """Coordinates -> ``{train,test}.bed``; with a genome also ``{train,test}.sequences.tsv``."""
    dataset = resource.name.removeprefix(GB_PREFIX)
    folder = options.cache_dir / "genomic-benchmarks" / dataset
    files = list(resource.files)
    downloaded: dict[str, str] = {}
    classes = list(resource.classes)
    if not classes:  # not in the catalogue: learn the classes from metadata.yaml
        metadata = files[0]
        downloaded.update(_fetch_files([metadata], folder, options))
        classes = gb.classes_from_metadata(folder / "metadata.yaml")
        base = metadata.url.rsplit("/", 1)[0]
        files = [
            RemoteFile(url=f"{base}/{split}/{label}.csv.gz", path=f"{split}/{label}.csv.gz")
            for split in gb.SPLITS
            for label in classes
        ]
    downloaded.update(_fetch_files(files, folder, options))
    regions = gb.read_dataset(folder, classes)
    out_dir = options.output or folder
    for split, rows in regions.items():
        gb.write_bed(rows, out_dir / f"{split}.bed")
    notes = [f"{split}: {len(rows):,} regions" for split, rows in regions.items()]
    if downloaded:
        _write_provenance(folder, resource, downloaded)
    if options.genome is None:
        notes.append("add --genome NAME|FASTA to extract the sequences")
    else:
        genome_path, genome_label = _resolve_genome(options.genome, resource, options, catalogue)
        seq_dir = options.output or folder / genome_label
        with FastaReference(genome_path) as genome:
            for split, rows in regions.items():
                gb.write_sequences(rows, genome, seq_dir / f"{split}.sequences.tsv")
        notes.append(f"sequences from {genome_path} in {seq_dir}")
    return FetchResult(
        resource.name, "gb-dataset", out_dir, downloaded=bool(downloaded), notes=notes
    )


def fetch_hub(resource: Resource, options: FetchOptions) -> FetchResult:
    """A hub repository snapshot (see :mod:`dnaseq_cli.fetch.hub`)."""
    from dnaseq_cli.fetch.hub import fetch_checkpoint

    assert resource.repo_id is not None
    folder = fetch_checkpoint(
        resource.repo_id,
        cache_dir=options.cache_dir / "huggingface",
        revision=resource.revision,
        local_dir=options.output,
        endpoint=options.mirror,
        force=options.force,
        quiet=options.quiet,
    )
    return FetchResult(resource.name, "hf-checkpoint", folder, downloaded=True)


# -- helpers ---------------------------------------------------------------------------------


def _download(
    url: str, dest: Path, options: FetchOptions, sha256: str | None, size: int | None
) -> str:
    return download(
        url,
        dest,
        sha256=sha256,
        size=size,
        retries=options.retries,
        timeout=options.timeout,
        backoff=options.backoff,
        progress=options.progress,
    )


def _fetch_files(files: list[RemoteFile], folder: Path, options: FetchOptions) -> dict[str, str]:
    """Download the files that are missing (all with ``force``); {url: sha256} of those fetched."""
    fetched: dict[str, str] = {}
    for remote in files:
        dest = folder / remote.filename
        if dest.is_file() and not options.force:
            continue
        if options.force:
            part_path(dest).unlink(missing_ok=True)
        url = mirror_url(remote.url, options.mirror)
        fetched[remote.url] = _download(url, dest, options, remote.sha256, remote.size)
    return fetched


def _resolve_genome(
    genome: str, dataset: Resource, options: FetchOptions, catalogue: dict[str, Resource]
) -> tuple[Path, str]:
    """A ``--genome`` value -> (FASTA path, folder label). Catalogue genomes are fetched if
    missing and must be the dataset's assembly; a path is taken as given."""
    resource = catalogue.get(genome)
    if resource is not None and resource.kind == "genome":
        if dataset.assembly and resource.assembly and dataset.assembly != resource.assembly:
            raise InputError(
                f"{dataset.name} has {dataset.assembly} coordinates but {genome} is "
                f"{resource.assembly}; use {dataset.default_genome or 'a ' + dataset.assembly + ' genome'}"
            )
        sub = dataclasses.replace(options, output=None, sha256=None, force=False)
        return fetch_genome(resource, sub).path, genome
    path = Path(genome).expanduser()
    if path.is_file():
        label = re.sub(r"\.(fa|fasta|fna)(\.b?gz)?$", "", path.name) or "genome"
        return path, label
    known = sorted(name for name, r in catalogue.items() if r.kind == "genome")
    raise InputError(
        f"--genome '{genome}' is neither a catalogue genome ({', '.join(known)}) nor a FASTA file"
    )


def _write_provenance(folder: Path, resource: Resource, sha256: dict[str, str]) -> None:
    """``fetch.json``: what was fetched from where, its checksums and when (for methods sections)."""
    record = {
        "name": resource.name,
        "kind": resource.kind,
        "description": resource.description,
        "assembly": resource.assembly,
        "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": [{"url": url, "sha256": digest} for url, digest in sha256.items()],
    }
    with atomic_path(folder / "fetch.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
