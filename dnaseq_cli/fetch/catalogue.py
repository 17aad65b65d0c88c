"""The catalogue of named resources ``dnaseq fetch`` knows: reference genomes, Genomic Benchmarks
coordinate datasets and Caduceus checkpoints on the Hugging Face hub.

The entries live in ``catalogue.json`` next to this module, so adding a genome is a data change,
not a code change. ``$DNASEQ_CATALOGUE`` may name a further JSON file of the same shape whose
entries are added to (or replace, by name) the built-in ones: a site-local list of resources, and
what the tests use to describe fixture files.

Mirrors: ``--mirror BASE`` maps a catalogue URL ``scheme://host/path`` to ``BASE/host/path``. That
is the layout ``wget -x`` (or ``wget --mirror``) produces, so a folder filled by it and served over
HTTP, or given as a ``file://`` URL or a plain directory, is a mirror as it stands.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dnaseq_cli.errors import InputError

Kind = Literal["genome", "gb-dataset", "hf-checkpoint"]
KINDS: tuple[Kind, ...] = ("genome", "gb-dataset", "hf-checkpoint")
CATALOGUE_ENV = "DNASEQ_CATALOGUE"
GB_PREFIX = "genomic-benchmarks/"
HF_PREFIX = "hf:"
GB_BASE_URL = "https://raw.githubusercontent.com/ML-Bioinfo-CEITEC/genomic_benchmarks/main/datasets"


@dataclass(frozen=True)
class RemoteFile:
    """One file to download; ``path`` is where it goes inside the resource's folder."""

    url: str
    path: str | None = None
    size: int | None = None
    sha256: str | None = None

    @property
    def filename(self) -> str:
        return self.path or (urlsplit(self.url).path.rsplit("/", 1)[-1] or "download")


@dataclass(frozen=True)
class Resource:
    """A named thing to fetch. Which fields matter depends on ``kind``."""

    name: str
    kind: Kind
    description: str = ""
    files: tuple[RemoteFile, ...] = ()
    assembly: str | None = None
    naming: str | None = None
    default_genome: str | None = None
    classes: tuple[str, ...] = ()
    repo_id: str | None = None
    revision: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def source(self) -> str:
        """Where it comes from, for the ``--list`` table."""
        if self.repo_id:
            return f"hf.co/{self.repo_id}"
        return urlsplit(self.files[0].url).netloc if self.files else ""

    @property
    def size(self) -> int | None:
        """Total download size when every file's size is known."""
        sizes = [f.size for f in self.files]
        return sum(sizes) if sizes and None not in sizes else None  # type: ignore[arg-type]


def _resource(entry: dict[str, Any], origin: str) -> Resource:
    try:
        kind = entry["kind"]
        name = entry["name"]
    except (KeyError, TypeError) as exc:
        raise InputError(
            f"catalogue entry without a name and kind: {entry!r}", path=origin
        ) from exc
    if kind not in KINDS:
        raise InputError(
            f"unknown kind {kind!r} (expected {', '.join(KINDS)})", path=origin, record=name
        )
    files = tuple(
        RemoteFile(url=f["url"], path=f.get("path"), size=f.get("size"), sha256=f.get("sha256"))
        for f in entry.get("files", [])
    )
    if kind != "hf-checkpoint" and not files:
        raise InputError("catalogue entry has no files", path=origin, record=name)
    if kind == "hf-checkpoint" and not entry.get("repo_id"):
        raise InputError("hub entry has no repo_id", path=origin, record=name)
    known = {"name", "kind", "description", "files", "assembly", "naming", "default_genome",
             "classes", "repo_id", "revision"}  # fmt: skip
    return Resource(
        name=name,
        kind=kind,
        description=entry.get("description", ""),
        files=files,
        assembly=entry.get("assembly"),
        naming=entry.get("naming"),
        default_genome=entry.get("default_genome"),
        classes=tuple(entry.get("classes", ())),
        repo_id=entry.get("repo_id"),
        revision=entry.get("revision"),
        extra={k: v for k, v in entry.items() if k not in known},
    )


def _parse(text: str, origin: str) -> list[Resource]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", path=origin) from exc
    entries = document.get("resources") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise InputError("expected an object with a 'resources' list", path=origin)
    return [_resource(entry, origin) for entry in entries]


def load_catalogue(extra: str | os.PathLike[str] | None = None) -> dict[str, Resource]:
    """Built-in entries, then those of ``extra`` (default ``$DNASEQ_CATALOGUE``), by name."""
    builtin = importlib_resources.files("dnaseq_cli.fetch").joinpath("catalogue.json")
    catalogue = {r.name: r for r in _parse(builtin.read_text(encoding="utf-8"), "catalogue.json")}
    extra = extra if extra is not None else os.environ.get(CATALOGUE_ENV) or None
    if extra is not None:
        path = Path(extra)
        if not path.is_file():
            raise InputError(f"catalogue file not found (${CATALOGUE_ENV})", path=path)
        catalogue.update({r.name: r for r in _parse(path.read_text(encoding="utf-8"), str(path))})
    return catalogue


def is_url(text: str) -> bool:
    """True for ``http(s)://``, ``ftp://`` and ``file://`` URLs."""
    return urlsplit(text).scheme.lower() in ("http", "https", "ftp", "file")


def lookup(name: str, catalogue: dict[str, Resource]) -> Resource:
    """The resource called ``name``; ``genomic-benchmarks/<any>`` and ``hf:<owner/repo>`` also work
    for datasets and hub repositories the catalogue does not list."""
    if name in catalogue:
        return catalogue[name]
    if name.startswith(HF_PREFIX) and "/" in name[len(HF_PREFIX) :]:
        repo_id = name[len(HF_PREFIX) :]
        return Resource(name=name, kind="hf-checkpoint", repo_id=repo_id, description=repo_id)
    if name.startswith(GB_PREFIX) and name[len(GB_PREFIX) :].isidentifier():
        dataset = name[len(GB_PREFIX) :]
        # Not pinned: classes come from metadata.yaml once it is downloaded, no checksums.
        metadata = RemoteFile(url=f"{GB_BASE_URL}/{dataset}/metadata.yaml", path="metadata.yaml")
        return Resource(name=name, kind="gb-dataset", files=(metadata,), description=dataset)
    close = difflib.get_close_matches(name, list(catalogue), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise InputError(
        f"unknown resource '{name}'{hint} ('dnaseq fetch --list' shows the catalogue; "
        "a URL, genomic-benchmarks/<dataset> or hf:<owner>/<repo> also work)"
    )


def mirror_url(url: str, mirror: str | None) -> str:
    """``url`` as served by ``mirror``: ``scheme://host/path`` -> ``<mirror>/host/path``.

    A mirror may be an http(s)/ftp/file URL or a local directory (turned into a ``file://`` URL).
    """
    if not mirror:
        return url
    base = mirror if is_url(mirror) else Path(mirror).expanduser().resolve().as_uri()
    parts = urlsplit(url)
    tail = parts.netloc + parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{base.rstrip('/')}/{tail}"
