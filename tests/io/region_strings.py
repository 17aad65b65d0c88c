"""Region strings as samtools writes them (``chr1:1,000-2,000``, 1-based) -> 0-based intervals.

No command takes a region string yet (``explain --region`` is a span inside one record), so this
parser lives next to its test (``test_io_regions_contigs.py``) until one does.

A bare ``chr1`` (or the open ``chr1:1,000-``) needs the contig length to become an
:class:`Interval`, so parsing is split in two: a :class:`Region` keeps what was written,
:meth:`Region.resolve` turns it into an interval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.contigs import ContigMapper
from dnaseq_cli.records import Interval

_REGION_RE = re.compile(
    r"(?:\{(?P<braced>[^{}]+)\}|(?P<chrom>[^:\s{}]+))"
    r"(?::(?P<start>\d[\d,_]*)(?P<dash>-(?P<end>\d[\d,_]*)?)?)?"
    r"(?::(?P<strand>[+\-.]))?"
)
_SYNTAX = (
    "expected chrom, chrom:pos or chrom:start-end (1-based, closed; commas allowed, "
    "e.g. chr1:1,000-2,000), optionally followed by :+ or :-"
)


@dataclass(frozen=True)
class Region:
    """A parsed region string; ``start``/``end`` are 0-based half-open, None where not given."""

    chrom: str
    start: int | None = None
    end: int | None = None
    strand: str = "+"
    text: str = field(default="", compare=False)

    @property
    def is_whole_contig(self) -> bool:
        """True for a bare chromosome name."""
        return self.start is None and self.end is None

    def resolve(self, lengths: Mapping[str, int] | None = None) -> Interval:
        """The :class:`Interval`; ``lengths`` fills in open ends and checks contig and bounds."""
        length = None
        if lengths is not None:
            length = lengths.get(self.chrom)
            if length is None:
                raise InputError(_unknown_contig(self, lengths))
        start = 0 if self.start is None else self.start
        end = self.end
        if end is None:
            if length is None:
                raise InputError(
                    f"region '{self.text}' does not say where it ends; "
                    "the chromosome lengths are needed (give a reference)"
                )
            end = length
        if length is not None and end > length:
            raise InputError(
                f"region '{self.text}' runs past the end of {self.chrom} ({length:,} bp)"
            )
        if start > end:
            raise InputError(f"region '{self.text}' starts after the end of {self.chrom}")
        return Interval(self.chrom, start, end, self.strand)


def _unknown_contig(region: Region, lengths: Mapping[str, int]) -> str:
    names = list(lengths)
    message = f"region '{region.text}': unknown chromosome '{region.chrom}'"
    suggestion = ContigMapper.from_reference(names).map(region.chrom)
    if suggestion is not None:
        message += f"; did you mean '{suggestion}'?"
    more = f", ... ({len(names)} in all)" if len(names) > 5 else ""
    return f"{message}; the reference has {', '.join(names[:5])}{more}"


def _number(digits: str) -> int:
    return int(digits.replace(",", "").replace("_", ""))


def parse_region_spec(text: str, lengths: Mapping[str, int] | None = None) -> Region:
    """Parse a region string without resolving open ends.

    Forms: ``chr1``, ``chr1:1000`` (one base), ``chr1:1,000-2,000``, ``chr1:1000-`` (to the end),
    each optionally with ``:+``/``:-``; ``{name}`` quotes a contig name that contains ``:``. When
    ``lengths`` is given a name that is itself a contig (``HLA-A*01:01``) is taken whole.
    """
    stripped = text.strip()
    if lengths is not None and stripped in lengths:
        return Region(stripped, None, None, "+", text=stripped)
    match = _REGION_RE.fullmatch(stripped)
    if match is None:
        raise InputError(f"invalid region '{text}': {_SYNTAX}")
    chrom = match.group("braced") or match.group("chrom")
    strand = match.group("strand") or "+"
    if match.group("start") is None:
        return Region(chrom, None, None, strand, text=stripped)
    first = _number(match.group("start"))
    if first < 1:
        raise InputError(f"invalid region '{text}': positions are 1-based, so the first base is 1")
    if match.group("dash") is None:
        return Region(chrom, first - 1, first, strand, text=stripped)
    if match.group("end") is None:
        return Region(chrom, first - 1, None, strand, text=stripped)
    last = _number(match.group("end"))
    if last < first:
        raise InputError(
            f"invalid region '{text}': the end ({last:,}) is before the start ({first:,})"
        )
    return Region(chrom, first - 1, last, strand, text=stripped)


def parse_region(text: str, lengths: Mapping[str, int] | None = None) -> Interval:
    """Parse ``chr1:1,000-2,000`` (1-based closed) into ``Interval('chr1', 999, 2000)``.

    A single position gives one base; a bare chromosome or an open end needs ``lengths`` (contig ->
    length, e.g. ``FastaReference.lengths``), which also checks the contig exists and the end fits.
    The strand is ``+`` unless a ``:-`` suffix says otherwise.
    """
    return parse_region_spec(text, lengths).resolve(lengths)
