"""VCF/BCF reader: one :class:`Variant` per ALT allele, through pysam.

Multi-allelic records are split so that every variant can be scored on its own. Alleles that are not
sequence (symbolic ``<DEL>``/``<*>``, breakends, the spanning deletion ``*``, a missing ``.``)
cannot be turned into an alternative sequence, so they are skipped, counted in
:class:`VariantStats`, and reported in one warning at the end rather than one per line. htslib's own
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
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pysam

from dnaseq_cli.errors import InputError
from dnaseq_cli.io._open import (
    DECOMPRESSION_ERRORS,
    STDIN,
    PrefixedStream,
    check_readable,
    display_name,
    is_bgzf_bytes,
    is_gzip_bytes,
)

__all__ = ["Variant", "VariantStats", "iter_variants", "read_variants"]

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
    #: ``missing_alt``); only set when the reader was asked to ``include_skipped``.
    skip_reason: str | None = None

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
    header: str | None = field(default=None, repr=False)

    @property
    def skipped(self) -> int:
        """ALT alleles skipped for any reason."""
        return self.symbolic + self.breakend + self.spanning_deletion + self.missing_alt

    def summary(self) -> str:
        """One line for logs: counts and the reasons alleles were skipped."""
        text = f"{self.records:,} VCF records -> {self.variants:,} variants"
        reasons = [
            (self.symbolic, "symbolic (<DEL>, <*>, ...)"),
            (self.breakend, "breakend"),
            (self.spanning_deletion, "spanning deletion (*)"),
            (self.missing_alt, "missing ALT (.)"),
        ]
        parts = [f"{count:,} {why}" for count, why in reasons if count]
        if parts:
            text += f"; skipped {self.skipped:,} ALT alleles that are not sequence: " + ", ".join(
                parts
            )
        return text


def read_variants(
    path: str | os.PathLike[str], *, stats: VariantStats | None = None
) -> list[Variant]:
    """All variants of a VCF/BCF as a list (see :func:`iter_variants`)."""
    return list(iter_variants(path, stats=stats))


def iter_variants(
    path: str | os.PathLike[str],
    *,
    stats: VariantStats | None = None,
    include_skipped: bool = False,
) -> Iterator[Variant]:
    """Yield one :class:`Variant` per sequence ALT allele of a VCF, bgzip VCF, BCF or stdin (``-``).

    Skipped alleles are counted in ``stats`` (which accumulates if reused) and, if any, summarised
    in one warning on the ``dnaseq_cli.io.vcf`` logger once the file is exhausted. With
    ``include_skipped`` they are also yielded, with ``skip_reason`` set, so a caller can report them
    row by row. ``stats.header`` holds the file's header text once reading has started.
    """
    if str(path) != STDIN:
        if check_readable(path).stat().st_size == 0:
            raise InputError("empty file, expected a VCF or BCF", path=path)
    return _iter_variants(
        path, stats if stats is not None else VariantStats(), include_skipped=include_skipped
    )


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
    src: BinaryIO = getattr(sys.stdin, "buffer", sys.stdin)  # type: ignore[assignment]
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
    path: str | os.PathLike[str], stats: VariantStats, include_skipped: bool = False
) -> Iterator[Variant]:
    shown = display_name(path)
    with _readable_copy(path) as source:
        previous = pysam.set_verbosity(0)
        try:
            vcf = pysam.VariantFile(str(source))
        except (ValueError, OSError) as exc:
            raise InputError(
                "not a valid VCF or BCF file (is the '##fileformat' / '#CHROM' header missing?)",
                path=shown,
            ) from exc
        finally:
            pysam.set_verbosity(previous)
        with vcf:
            stats.header = str(vcf.header)
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
                try:
                    variants = _split_record(rec, record_number, numbers, stats, include_skipped)
                except _AlleleError as exc:
                    located = _find_data_line(source, record_number)
                    raise InputError(
                        exc.reason,
                        path=shown,
                        line=None if located is None else located[0],
                        record=f"{rec.chrom}:{rec.pos}",
                    ) from None
                yield from variants
    if stats.skipped:
        logger.warning("%s: %s", shown, stats.summary())


class _AlleleError(Exception):
    """A REF/ALT problem; the caller adds the file, line and record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _split_record(
    rec: Any,
    record_number: int,
    numbers: dict[str, Any],
    stats: VariantStats,
    include_skipped: bool = False,
) -> list[Variant]:
    """One Variant per sequence ALT; other ALTs are counted in ``stats`` (and kept if asked)."""
    ref = rec.ref.upper()
    if not _BASES_RE.fullmatch(ref):
        raise _AlleleError(f"REF allele '{rec.ref}' has characters other than A, C, G, T, N")
    alts = rec.alts
    if not alts:
        stats.missing_alt += 1
        if not include_skipped:
            return []
        alts = (".",)
    info = _info(rec)
    variants = []
    skipped = []
    for index, raw_alt in enumerate(alts, start=1):
        alt = raw_alt.upper()
        reason = _skip_reason(alt)
        if reason is not None:
            if rec.alts:
                setattr(stats, reason, getattr(stats, reason) + 1)
            if include_skipped:
                skipped.append(
                    Variant(rec.chrom, rec.pos, rec.id, ref, raw_alt, record_number, index,
                            skip_reason=reason)
                )  # fmt: skip
            continue
        if not _BASES_RE.fullmatch(alt):
            raise _AlleleError(f"ALT allele '{raw_alt}' has characters other than A, C, G, T, N")
        variants.append(
            Variant(
                chrom=rec.chrom,
                pos=rec.pos,
                id=rec.id,
                ref=ref,
                alt=alt,
                record_number=record_number,
                allele_index=index,
                info=_allele_info(info, numbers, index) if len(alts) > 1 else info,
            )
        )
    stats.variants += len(variants)
    if skipped:  # keep the file's allele order
        variants = sorted(variants + skipped, key=lambda v: v.allele_index)
    return variants


def _skip_reason(alt: str) -> str | None:
    if alt == "*":
        return "spanning_deletion"
    if alt == ".":
        return "missing_alt"
    if alt.startswith("<"):
        return "symbolic"
    if "[" in alt or "]" in alt or (len(alt) > 1 and (alt[0] == "." or alt[-1] == ".")):
        return "breakend"
    return None


def _info(rec: Any) -> dict[str, Any]:
    try:
        return dict(rec.info.items())
    except (ValueError, KeyError, OSError):
        return {}  # an INFO value htslib cannot decode is not worth failing the whole file over


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
        with opener(source, "rt", encoding="utf-8", errors="replace") as text:  # type: ignore[operator]
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
        return f"{len(fields)} tab-separated columns, a VCF line needs at least 8{hint}"
    if not fields[1].isdecimal():
        return f"POS '{fields[1]}' is not a positive integer"
    snippet = line if len(line) <= 60 else line[:57] + "..."
    return f"htslib could not parse '{snippet}'"
