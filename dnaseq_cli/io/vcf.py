"""VCF/BCF reader: one :class:`Variant` per ALT allele, through pysam.

Multi-allelic records are split so that every variant can be scored on its own. Alleles that are not
sequence (symbolic ``<DEL>``/``<*>``, breakends, the spanning deletion ``*``, a missing ``.``) or
not ``A/C/G/T/N`` (a REF of ``.``, an IUPAC ``R``, gReLU's ``-``) cannot be turned into an
alternative sequence, so they are skipped, counted in :class:`VariantStats`, and reported in one
warning at the end rather than one per line: one odd record never stops a file. Only a file (or a
line) that is not a variant record at all is an error. ``fmt="variants"`` reads a headerless
tab-separated ``CHROM POS ID REF ALT [...]`` table (GPN's example VCF) with the same rules. htslib's own
stderr chatter is silenced and its failures become :class:`InputError` naming the file and the line.
Plain gzip (not bgzip) input and stdin are copied to a temporary file first, because htslib cannot
read those through pysam.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pysam

from dnaseq_cli.errors import InputError
from dnaseq_cli.io._open import (
    DECOMPRESSION_ERRORS,
    STDIN,
    PrefixedStream,
    _stdin_binary,
    check_readable,
    display_name,
    is_bgzf_bytes,
    is_gzip_bytes,
    numbered_lines,
    open_text,
)

__all__ = ["FORMATS", "Variant", "VariantStats", "iter_variants", "read_variants"]

#: ``--format`` values: ``auto`` and ``vcf`` read VCF/BCF (never guessing a table), ``variants`` a
#: tab-separated ``CHROM POS ID REF ALT [...]`` table with or without ``#`` header lines.
FORMATS = ("auto", "vcf", "variants")
_TABLE_HINT = "a CHROM POS ID REF ALT table without a VCF header is read with --format variants"

logger = logging.getLogger(__name__)

_BASES_RE = re.compile(r"[ACGTN]+")


@dataclass(frozen=True)
class Variant:
    """One ALT allele of a VCF record; ``pos`` is 1-based as in the VCF, REF/ALT upper case.

    ``record_number`` is the 1-based index of the data record in the file and ``allele_index`` the
    1-based index of this ALT within it (as in genotype codes). ``info`` holds the record's INFO
    with per-allele fields (``Number=A``/``R``) narrowed to this allele.
    """

    chrom: str
    pos: int
    id: str | None
    ref: str
    alt: str
    record_number: int
    allele_index: int
    info: dict[str, Any] = field(default_factory=dict, hash=False)
    #: Why this ALT cannot be scored (``symbolic``, ``breakend``, ``spanning_deletion``,
    #: ``missing_alt``, ``invalid_allele``); only set when the reader was asked to
    #: ``include_skipped``.
    skip_reason: str | None = None
    #: 1-based line in the file when the reader knows it (tables); see :meth:`VariantStats.line_of`.
    line: int | None = field(default=None, compare=False)
    #: The record's QUAL (None when ``.``) and FILTER names (empty when ``.``), kept so an
    #: annotated VCF passes them on.
    qual: float | None = field(default=None, compare=False)
    filters: tuple[str, ...] = field(default=(), compare=False)

    @property
    def start0(self) -> int:
        """0-based start of REF (``pos - 1``)."""
        return self.pos - 1

    @property
    def end0(self) -> int:
        """0-based exclusive end of REF."""
        return self.pos - 1 + len(self.ref)

    @property
    def is_snv(self) -> bool:
        """Single-base substitution."""
        return len(self.ref) == 1 and len(self.alt) == 1

    @property
    def is_indel(self) -> bool:
        """Insertion or deletion (REF and ALT lengths differ)."""
        return len(self.ref) != len(self.alt)

    @property
    def name(self) -> str:
        """A stable name for output rows: ``chrom:pos:ref:alt``."""
        return f"{self.chrom}:{self.pos}:{self.ref}:{self.alt}"


@dataclass
class VariantStats:
    """What a read produced: data records, variants yielded, and ALT alleles skipped per reason."""

    records: int = 0
    variants: int = 0
    symbolic: int = 0
    breakend: int = 0
    spanning_deletion: int = 0
    missing_alt: int = 0
    invalid_allele: int = 0
    header: str | None = field(default=None, repr=False)
    kind: str = "VCF"  # what a record is, for the summary: "VCF" or "table"
    source: str = ""  # the file's name as messages show it
    #: Finds the line of a data record while the file is being read (None for BCF / tables).
    locate: Callable[[int], int | None] | None = field(default=None, repr=False, compare=False)

    @property
    def skipped(self) -> int:
        """ALT alleles skipped for any reason."""
        return (
            self.symbolic
            + self.breakend
            + self.spanning_deletion
            + self.missing_alt
            + self.invalid_allele
        )

    def line_of(self, variant: Variant) -> int | None:
        """The 1-based line of ``variant`` in its file, if it can be found (for error messages:
        text VCFs are re-scanned, so call this once, not per record)."""
        if variant.line is not None:
            return variant.line
        return None if self.locate is None else self.locate(variant.record_number)

    def warn(self) -> None:
        """Log :meth:`summary` once on the ``dnaseq_cli.io.vcf`` logger if alleles were skipped."""
        if self.skipped:
            logger.warning("%s: %s", self.source, self.summary())

    def summary(self) -> str:
        """One line for logs: counts and the reasons alleles were skipped."""
        text = f"{self.records:,} {self.kind} records -> {self.variants:,} variants"
        reasons = [
            (self.symbolic, "symbolic (<DEL>, <*>, ...)"),
            (self.breakend, "breakend"),
            (self.spanning_deletion, "spanning deletion (*)"),
            (self.missing_alt, "missing ALT (.)"),
            (self.invalid_allele, "invalid allele (not A/C/G/T/N, e.g. '.', '-', 'R')"),
        ]
        parts = [f"{count:,} {why}" for count, why in reasons if count]
        if parts:
            text += f"; skipped {self.skipped:,} ALT alleles that are not sequence: " + ", ".join(
                parts
            )
        return text


def read_variants(
    path: str | os.PathLike[str], *, stats: VariantStats | None = None, fmt: str = "auto"
) -> list[Variant]:
    """All variants of a VCF/BCF (or a ``fmt="variants"`` table) as a list (see
    :func:`iter_variants`)."""
    return list(iter_variants(path, stats=stats, fmt=fmt))


def iter_variants(
    path: str | os.PathLike[str],
    *,
    stats: VariantStats | None = None,
    include_skipped: bool = False,
    fmt: str = "auto",
    warn: bool = True,
) -> Iterator[Variant]:
    """Yield one :class:`Variant` per sequence ALT allele of a VCF, bgzip VCF, BCF or stdin (``-``),
    or of a ``CHROM POS ID REF ALT`` table with ``fmt="variants"`` (plain, gzip or stdin).

    Skipped alleles are counted in ``stats`` (which accumulates if reused) and, if any, summarised
    in one warning on the ``dnaseq_cli.io.vcf`` logger once the file is exhausted. With
    ``include_skipped`` they are also yielded, with ``skip_reason`` set, so a caller can report them
    row by row. ``stats.header`` holds the file's header text once reading has started.
    ``warn=False`` leaves the warning to the caller (who may still fail on a record it has read).
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown variant format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if str(path) != STDIN:
        if check_readable(path).stat().st_size == 0:
            raise InputError("empty file, expected a VCF or BCF", path=path)
    stats = stats if stats is not None else VariantStats()
    if fmt == "variants":
        return _iter_table(path, stats, include_skipped, warn)
    return _iter_variants(path, stats, include_skipped, warn)


@contextlib.contextmanager
def _readable_copy(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A path htslib can open: the file itself, or a temporary copy of stdin / plain gzip."""
    if str(path) != STDIN:
        with open(path, "rb") as fh:
            head = fh.read(18)
        if not (is_gzip_bytes(head) and not is_bgzf_bytes(head)):
            yield Path(path)
            return
    with tempfile.TemporaryDirectory(prefix="dnaseq-vcf-") as tmp:
        target = Path(tmp) / "input.vcf"
        with open(target, "wb") as out:
            if str(path) == STDIN:
                _copy_stdin(out)
            else:
                try:
                    with gzip.open(path, "rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                except DECOMPRESSION_ERRORS as exc:
                    raise InputError(f"corrupt or truncated gzip ({exc})", path=path) from exc
        if target.stat().st_size == 0:
            raise InputError("empty input, expected a VCF or BCF", path=display_name(path))
        yield target


def _copy_stdin(out: BinaryIO) -> None:
    """Copy stdin, decompressing plain gzip; BGZF stays as is (htslib reads it sequentially)."""
    src = _stdin_binary()
    head = src.read(18)
    if is_gzip_bytes(head) and not is_bgzf_bytes(head):
        stream = gzip.GzipFile(fileobj=io.BufferedReader(PrefixedStream(head, src)), mode="rb")
        try:
            shutil.copyfileobj(stream, out, 1 << 20)
        except DECOMPRESSION_ERRORS as exc:
            raise InputError(f"corrupt or truncated gzip ({exc})", path="<stdin>") from exc
        return
    out.write(head)
    shutil.copyfileobj(src, out, 1 << 20)


def _iter_variants(
    path: str | os.PathLike[str], stats: VariantStats, include_skipped: bool, warn: bool
) -> Iterator[Variant]:
    shown = display_name(path)
    stats.source = shown
    with _readable_copy(path) as source:
        previous = pysam.set_verbosity(0)
        try:
            vcf = pysam.VariantFile(str(source))
        except (ValueError, OSError) as exc:
            raise _not_a_vcf(source, shown) from exc
        finally:
            pysam.set_verbosity(previous)
        with vcf:
            stats.header = str(vcf.header)
            stats.locate = lambda n: (_find_data_line(source, n) or (None, ""))[0]
            numbers = {key: meta.number for key, meta in vcf.header.info.items()}
            records = iter(vcf)
            record_number = 0
            while True:
                previous = pysam.set_verbosity(0)
                try:
                    rec = next(records)
                except StopIteration:
                    break
                except (ValueError, OSError) as exc:
                    raise _record_error(exc, source, shown, record_number + 1) from exc
                finally:
                    pysam.set_verbosity(previous)
                record_number += 1
                stats.records += 1
                yield from _split_record(rec, record_number, numbers, stats, include_skipped)
    if warn:
        stats.warn()


def _split_record(
    rec: Any,
    record_number: int,
    numbers: dict[str, Any],
    stats: VariantStats,
    include_skipped: bool = False,
) -> list[Variant]:
    """One Variant per sequence ALT; other ALTs are counted in ``stats`` (and kept if asked)."""
    alts = rec.alts
    if not alts:
        stats.missing_alt += 1
        if not include_skipped:
            return []
        return [
            Variant(rec.chrom, rec.pos, rec.id, rec.ref.upper(), ".", record_number, 1,
                    _info(rec), skip_reason="missing_alt", **_qual_and_filters(rec))
        ]  # fmt: skip
    info = _info(rec)
    kept = _qual_and_filters(rec)
    if len(alts) == 1:
        return _alleles(rec.chrom, rec.pos, rec.id, rec.ref, alts, record_number, lambda _: info,
                        stats, include_skipped, kept=kept)  # fmt: skip
    return _alleles(
        rec.chrom, rec.pos, rec.id, rec.ref, alts, record_number,
        lambda index: _allele_info(info, numbers, index), stats, include_skipped, kept=kept,
    )  # fmt: skip


def _alleles(
    chrom: str,
    pos: int,
    vid: str | None,
    raw_ref: str,
    alts: tuple[str, ...] | list[str],
    record_number: int,
    info_of: Callable[[int], dict[str, Any]],
    stats: VariantStats,
    include_skipped: bool,
    line: int | None = None,
    kept: dict[str, Any] | None = None,
) -> list[Variant]:
    """The variants of one record (VCF or table), ALTs in file order; unscoreable ALTs counted.
    ``kept``: the record's ``qual`` and ``filters``, passed on to every ALT."""
    kept = kept or {}
    ref = raw_ref.upper()
    ref_ok = _BASES_RE.fullmatch(ref) is not None
    variants = []
    for index, raw_alt in enumerate(alts, start=1):
        alt = raw_alt.upper()
        reason = _skip_reason(alt) if ref_ok else "invalid_allele"
        if reason is None:
            variants.append(
                Variant(chrom, pos, vid, ref, alt, record_number, index, info_of(index),
                        line=line, **kept)
            )  # fmt: skip
            continue
        setattr(stats, reason, getattr(stats, reason) + 1)
        if include_skipped:
            variants.append(
                Variant(chrom, pos, vid, ref, raw_alt, record_number, index, info_of(index),
                        skip_reason=reason, line=line, **kept)
            )  # fmt: skip
    stats.variants += sum(v.skip_reason is None for v in variants)
    return variants


def _skip_reason(alt: str) -> str | None:
    """Why an (upper-case) ALT cannot be windowed, or None for a plain A/C/G/T/N sequence."""
    if _BASES_RE.fullmatch(alt):
        return None
    if alt == "*":
        return "spanning_deletion"
    if alt in (".", ""):
        return "missing_alt"
    if alt.startswith("<"):
        return "symbolic"
    if "[" in alt or "]" in alt or (len(alt) > 1 and (alt[0] == "." or alt[-1] == ".")):
        return "breakend"
    return "invalid_allele"


# -- headerless variant tables (--format variants) ----------------------------------------------

_TABLE_POS_NAMES = {"pos", "position", "start"}


def _iter_table(
    path: str | os.PathLike[str], stats: VariantStats, include_skipped: bool, warn: bool
) -> Iterator[Variant]:
    """``CHROM POS ID REF ALT [more]`` lines (tab-separated, or whitespace without tabs); ``#``
    lines and a first ``chrom pos ...`` line are headers; ALT may list several alleles."""
    shown = display_name(path)
    stats.kind, stats.source = "table", shown
    record_number = 0
    no_info: Callable[[int], dict[str, Any]] = lambda _: {}  # noqa: E731
    with open_text(path) as fh:
        for lineno, raw in numbered_lines(fh, shown):
            text = raw.rstrip("\r\n")
            if not text.strip() or text.startswith("#"):
                continue
            fields = text.split("\t") if "\t" in text else text.split()
            pos_text = fields[1].strip() if len(fields) > 1 else ""
            if record_number == 0 and pos_text.lower() in _TABLE_POS_NAMES:
                continue  # a "chrom pos id ref alt" header line without '#'
            if len(fields) < 5:
                raise InputError(
                    f"{len(fields)} columns; a variant table line needs CHROM POS ID REF ALT "
                    "(tab-separated)",
                    path=shown,
                    line=lineno,
                )
            if not pos_text.isdecimal():
                raise InputError(
                    f"POS '{pos_text}' in column 2 is not a non-negative integer",
                    path=shown,
                    line=lineno,
                )
            chrom, vid, ref, alt = fields[0].strip(), fields[2].strip(), fields[3], fields[4]
            record_number += 1
            stats.records += 1
            yield from _alleles(
                chrom, int(pos_text), None if vid in ("", ".") else vid, ref.strip(),
                alt.strip().split(","), record_number, no_info, stats, include_skipped, lineno,
            )  # fmt: skip
    if warn:
        stats.warn()


def _first_lines(source: Path, limit: int = 1 << 16) -> list[str]:
    """The first lines of a text (or gzip) file, for diagnosing a header htslib refused."""
    try:
        with open(source, "rb") as fh:
            head = fh.read(2)
        opener: Any = gzip.open if is_gzip_bytes(head) else open
        with opener(source, "rb") as fh:
            data = fh.read(limit)
    except DECOMPRESSION_ERRORS:
        return []
    if b"\0" in data:
        return []  # binary: not text at all
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[:-1] if len(data) == limit else lines  # the last line may be cut


def _not_a_vcf(source: Path, shown: str) -> InputError:
    """Why htslib could not open the file, in the user's terms (header missing or short)."""
    lines = _first_lines(source)
    chrom_line = next((line for line in lines if line.startswith("#CHROM")), None)
    if chrom_line is not None:
        columns = len(chrom_line.split("\t"))
        if columns < 8:
            return InputError(
                f"the '#CHROM' header line has {columns} columns, a VCF needs 8 (CHROM POS ID REF "
                f"ALT QUAL FILTER INFO); {_TABLE_HINT}",
                path=shown,
            )
        if not lines[0].startswith("##fileformat"):
            return InputError(
                "the first line is not '##fileformat=VCFv4.x', which a VCF must start with; "
                f"add it, or: {_TABLE_HINT}",
                path=shown,
            )
    else:
        data = next((line for line in lines if line.strip() and not line.startswith("#")), None)
        fields = [] if data is None else data.split("\t")
        if len(fields) >= 5 and fields[1].strip().isdecimal():
            return InputError(
                "no '##fileformat' / '#CHROM' VCF header: this looks like a headerless variant "
                f"table ({len(fields)} columns); read it with --format variants",
                path=shown,
            )
    return InputError(
        f"not a valid VCF or BCF file (is the '##fileformat' / '#CHROM' header missing? "
        f"{_TABLE_HINT})",
        path=shown,
    )


def _info(rec: Any) -> dict[str, Any]:
    try:
        return dict(rec.info.items())
    except (ValueError, KeyError, OSError):
        return {}  # an INFO value htslib cannot decode is not worth failing the whole file over


def _qual_and_filters(rec: Any) -> dict[str, Any]:
    """The record's QUAL and FILTER as :class:`Variant` keeps them."""
    return {"qual": rec.qual, "filters": tuple(rec.filter.keys())}


def _allele_info(info: dict[str, Any], numbers: dict[str, Any], index: int) -> dict[str, Any]:
    """Narrow ``Number=A`` (one per ALT) and ``Number=R`` (REF then ALTs) fields to one allele."""
    narrowed: dict[str, Any] = {}
    for key, value in info.items():
        number = numbers.get(key)
        if isinstance(value, tuple) and number == "A" and len(value) >= index:
            narrowed[key] = value[index - 1]
        elif isinstance(value, tuple) and number == "R" and len(value) > index:
            narrowed[key] = (value[0], value[index])
        else:
            narrowed[key] = value
    return narrowed


def _record_error(exc: Exception, source: Path, shown: str, record_number: int) -> InputError:
    """Point at the record htslib choked on; for text VCF find its line and say what is wrong."""
    located = _find_data_line(source, record_number)
    if located is None:
        return InputError(
            f"malformed record {record_number} (htslib: {exc})",
            path=shown,
            record=f"record {record_number}",
        )
    lineno, text = located
    return InputError(
        f"malformed VCF record: {_diagnose(text)} (htslib: {exc})", path=shown, line=lineno
    )


def _find_data_line(source: Path, record_number: int) -> tuple[int, str] | None:
    """Line number and text of the n-th data line of a text VCF, or None for BCF/unreadable."""
    try:
        with open(source, "rb") as fh:
            opener = gzip.open if is_gzip_bytes(fh.read(2)) else open
        with opener(source, "rt", encoding="utf-8", errors="replace") as text:
            seen = 0
            for lineno, line in enumerate(text, start=1):
                if lineno == 1 and line.startswith("BCF"):
                    return None
                if line.startswith("#") or not line.strip():
                    continue
                seen += 1
                if seen == record_number:
                    return lineno, line.rstrip("\r\n")
    except (*DECOMPRESSION_ERRORS, UnicodeError):
        return None
    return None


def _diagnose(line: str) -> str:
    fields = line.split("\t")
    if len(fields) < 8:
        hint = " (spaces instead of tabs?)" if " " in line and len(fields) == 1 else ""
        if len(fields) >= 5:
            hint = f" (QUAL FILTER INFO missing? {_TABLE_HINT})"
        return f"{len(fields)} tab-separated columns, a VCF line needs at least 8{hint}"
    if not fields[1].isdecimal():
        return f"POS '{fields[1]}' is not a positive integer"
    snippet = line if len(line) <= 60 else line[:57] + "..."
    return f"htslib could not parse '{snippet}'"
