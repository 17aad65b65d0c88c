"""Chromosome naming: detect UCSC (``chr1``, ``chrM``) vs Ensembl (``1``, ``MT``) names, map them.

A VCF or BED that says ``1`` against a reference that says ``chr1`` is the most common silent
failure in genomics pipelines; here it is an error unless the user asks for harmonisation, and then
the mapping is explicit. Besides the numbered and sex chromosomes, GRCh38 scaffolds map between
their UCSC form (``chrUn_KI270302v1``, ``chr1_KI270706v1_random``) and the Ensembl accession
(``KI270302.1``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from dnaseq_cli.errors import InputError

NamingStyle = Literal["ucsc", "ensembl", "mixed", "other"]

_PRIMARY_RE = re.compile(r"(?:\d{1,3}|X|Y|W|Z|M|MT)", re.IGNORECASE)
_UCSC_SCAFFOLD_RE = re.compile(r"chr\w*?_([A-Z]{2}\d+)v(\d+)(?:_random|_alt|_fix)?", re.IGNORECASE)
_ENSEMBL_SCAFFOLD_RE = re.compile(r"([A-Z]{2}\d+)\.(\d+)")


def _strip_chr(name: str) -> str | None:
    """The name without a ``chr`` prefix (any case), or None when it has none."""
    if len(name) > 3 and name[:3].lower() == "chr":
        return name[3:]
    return None


def _classify(name: str) -> Literal["ucsc", "ensembl"] | None:
    """Per-name style; names that carry no style (``ref_brca1``, ``KI270302.1``) give None."""
    if _strip_chr(name) is not None:
        return "ucsc"
    if _PRIMARY_RE.fullmatch(name):
        return "ensembl"
    return None


def naming_style(names: Iterable[str]) -> NamingStyle:
    """``ucsc`` for chr-prefixed names, ``ensembl`` for bare ``1``/``MT``, else mixed/other."""
    styles = {_classify(name) for name in names} - {None}
    if len(styles) == 2:
        return "mixed"
    if styles:
        return styles.pop()  # type: ignore[return-value]
    return "other"


def contig_key(name: str) -> str:
    """Style-free key: ``chr1``/``1``/``CHR1`` -> ``1``, ``chrM``/``MT`` -> ``MT``, scaffolds ->
    their accession (``KI270302.1``)."""
    scaffold = _UCSC_SCAFFOLD_RE.fullmatch(name) or _ENSEMBL_SCAFFOLD_RE.fullmatch(name)
    if scaffold is not None:
        return f"{scaffold.group(1).upper()}.{scaffold.group(2)}"
    base = _strip_chr(name)
    base = name if base is None else base
    if _PRIMARY_RE.fullmatch(base):
        upper = base.upper()
        return "MT" if upper in ("M", "MT") else upper
    return base


@dataclass
class ContigMapper:
    """Maps query chromosome names onto the names a reference uses."""

    reference_names: tuple[str, ...]
    _by_key: dict[str, str] = field(default_factory=dict, repr=False)
    _present: frozenset[str] = field(default_factory=frozenset, repr=False)

    @classmethod
    def from_reference(cls, names: Iterable[str]) -> ContigMapper:
        """Build a mapper for the reference's contig names (the first name wins on a clash)."""
        ordered = tuple(dict.fromkeys(names))
        by_key: dict[str, str] = {}
        for name in ordered:
            by_key.setdefault(contig_key(name), name)
        return cls(ordered, by_key, frozenset(ordered))

    @property
    def style(self) -> NamingStyle:
        """The reference's naming style."""
        return naming_style(self.reference_names)

    def map(self, name: str) -> str | None:
        """The reference's name for ``name`` (itself if present), or None if there is none."""
        if name in self._present:
            return name
        return self._by_key.get(contig_key(name))


def _guess_kind(path: str | os.PathLike[str] | None) -> str:
    text = "" if path is None else str(path).lower()
    for suffix in (".gz", ".bgz"):
        text = text.removesuffix(suffix)
    if text.endswith((".vcf", ".bcf")):
        return "the VCF"
    if text.endswith(".bed"):
        return "the BED file"
    return "the input"


def _few(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{name}'" for name in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def check_naming(
    query_names: Iterable[str],
    reference_names: Iterable[str],
    *,
    harmonise: bool,
    path: str | os.PathLike[str] | None = None,
    kind: str | None = None,
    allow_unknown: bool = False,
) -> dict[str, str]:
    """Map every query name to the reference's name for it, or fail saying how to fix it.

    Without ``harmonise`` any name that exists only in the other style (``1`` vs ``chr1``) is an
    :class:`InputError` that suggests ``--harmonise-chroms``. Names with no counterpart at all are
    an error unless ``allow_unknown`` (then they are left out of the mapping). ``kind`` names the
    input in messages ("the VCF"); by default it is guessed from ``path``.
    """
    queries = list(dict.fromkeys(query_names))
    mapper = ContigMapper.from_reference(reference_names)
    what = kind if kind is not None else _guess_kind(path)
    mapping: dict[str, str] = {}
    renamed: dict[str, str] = {}
    unknown: list[str] = []
    for name in queries:
        if mapper.map(name) == name:
            mapping[name] = name
            continue
        target = mapper.map(name)
        if target is None:
            unknown.append(name)
        else:
            renamed[name] = target
    if renamed and not harmonise:
        query, target = next(iter(renamed.items()))
        raise InputError(
            f"{what} uses '{query}'-style names but the reference uses '{target}'; "
            "pass --harmonise-chroms to map them",
            path=path,
        )
    if unknown and not allow_unknown:
        raise InputError(
            f"{len(unknown)} chromosome name(s) not in the reference: {_few(unknown)}; "
            f"the reference has {_few(list(mapper.reference_names))}",
            path=path,
        )
    mapping.update(renamed)
    return mapping
