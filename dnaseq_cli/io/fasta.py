"""FASTA: a streaming reader for sequence files and random access to an indexed reference.

``iter_fasta`` reads plain, gzip or bgzip FASTA (or stdin) one record at a time; each record's lines
are joined and validated in one C-speed pass, so a multi-megabase chromosome costs milliseconds, not
a Python loop per base. ``FastaReference`` serves ``fetch(chrom, start, end)`` from a faidx index
through pysam, building the index when it is missing, and falls back to holding the sequences in
memory when the file cannot be indexed (plain gzip, read-only directory, irregular line lengths).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pysam

from dnaseq_cli.errors import InputError
from dnaseq_cli.io._open import (
    STDIN,
    check_readable,
    display_name,
    is_bgzf_bytes,
    is_gzip_bytes,
    numbered_lines,
    open_binary,
    read_magic,
)
from dnaseq_cli.io.contigs import ContigMapper
from dnaseq_cli.io.sequence_utils import (
    UAsTCount,
    describe_char,
    find_invalid_bytes,
    read_u_as_t,
    reverse_complement,
)
from dnaseq_cli.records import Interval, SequenceRecord

__all__ = [
    "FastaReference",
    "ScannedRecord",
    "iter_fasta",
    "read_fasta",
    "reverse_complement",
    "scan_fasta",
]

logger = logging.getLogger(__name__)

_LABEL_RE = re.compile(r"(?:^|\s)label=(\S+)")
_ALPHABET_HINT = "expected A, C, G, T, N or an IUPAC code (RYKMSWBDHV), upper or lower case"


def iter_fasta(
    path: str | os.PathLike[str], *, uppercase: bool = False
) -> Iterator[SequenceRecord]:
    """Yield the records of a FASTA file (plain, gzip, bgzip, or stdin for ``-``) one at a time.

    ``record.name`` is the header's first word, ``record.extra["description"]`` the rest, and a
    ``label=VALUE`` token in the description becomes ``record.label`` (a string). Soft-masked lower
    case is kept unless ``uppercase``. ``U`` is read as ``T`` (one counted warning per file, logged
    once the file has been read). Raises :class:`InputError` naming the file and line for
    anything malformed; the file's existence is checked at once, the contents as they are read.
    """
    if str(path) != STDIN:
        check_readable(path)
    return _iter_fasta(path, uppercase)


def read_fasta(path: str | os.PathLike[str], *, uppercase: bool = False) -> list[SequenceRecord]:
    """All records of a FASTA file as a list (see :func:`iter_fasta`)."""
    return list(iter_fasta(path, uppercase=uppercase))


def _iter_fasta(path: str | os.PathLike[str], uppercase: bool) -> Iterator[SequenceRecord]:
    """The records of :func:`_scan_fasta` (the one FASTA line parser) with their bases kept."""
    for scanned in _scan_fasta(path, keep=True):
        seq = bytes(scanned.sequence or b"")
        yield SequenceRecord(
            name=scanned.name,
            sequence=(seq.upper() if uppercase else seq).decode("ascii"),
            label=scanned.label,
            extra={"description": scanned.description},
        )


def _parse_header(raw: bytes, shown: str, lineno: int) -> tuple[str, str]:
    text = raw[1:].decode("utf-8", errors="replace").strip()
    parts = text.split(maxsplit=1)
    if not parts:
        raise InputError("header line has no sequence name after '>'", path=shown, line=lineno)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def _invalid_character(
    seq: bytes, bad: int, chunks: list[bytes], chunk_lines: list[int], shown: str, name: str
) -> None:
    """Raise the error for ``seq[bad]``, naming the line and column it came from."""
    offset = 0
    for chunk, chunk_line in zip(chunks, chunk_lines, strict=True):
        if bad < offset + len(chunk):
            column = bad - offset + 1
            raise InputError(
                f"invalid character {describe_char(seq[bad : bad + 1])} at column {column} of "
                f"the sequence ({_ALPHABET_HINT})",
                path=shown,
                line=chunk_line,
                record=name,
            )
        offset += len(chunk)
    raise AssertionError("bad offset outside the record")  # pragma: no cover


@dataclass
class ScannedRecord:
    """A FASTA record as :func:`scan_fasta` read it: header fields, length, and the bases (U read
    as T) once as a ``bytearray``, or ``None`` when they were only checked, not kept."""

    name: str
    description: str
    label: str | None
    length: int
    line: int  # of the header
    u_bases: int  # U/u bases read as T
    sequence: bytearray | None = None


#: Bases checked (and appended) at a time by :func:`scan_fasta`: the joined block is the only copy.
_SCAN_BLOCK = 1 << 20


def scan_fasta(path: str | os.PathLike[str], *, keep: bool) -> Iterator[ScannedRecord]:
    """Read a FASTA (plain, gzip, bgzip or stdin) record by record, checking it as
    :func:`iter_fasta` does (same errors, same U warning), without its per-record copies.

    With ``keep`` each record's bases are held once, 1 byte per base, so a long stdin record costs
    its length and not three times it; without, they are checked and dropped (the caller reads
    them back from an index), so memory does not grow with record length at all.
    """
    if str(path) != STDIN:
        check_readable(path)
    return _scan_fasta(path, keep)


def _scan_fasta(path: str | os.PathLike[str], keep: bool) -> Iterator[ScannedRecord]:
    shown = display_name(path)
    u_count = UAsTCount(shown)
    seen: dict[str, int] = {}
    record: ScannedRecord | None = None
    chunks: list[bytes] = []
    chunk_lines: list[int] = []
    pending = 0

    def flush() -> None:
        # Check (and keep) one block of lines: the block is the only extra copy of those bases.
        nonlocal chunks, chunk_lines, pending
        assert record is not None
        block = b"".join(chunks)
        bad = find_invalid_bytes(block)
        if bad >= 0 and block[bad] in b"Uu":
            block, count = read_u_as_t(block)
            record.u_bases += count
            bad = find_invalid_bytes(block)
        if bad >= 0:
            _invalid_character(block, bad, chunks, chunk_lines, shown, record.name)
        record.length += len(block)
        if record.sequence is not None:
            record.sequence += block
        chunks, chunk_lines, pending = [], [], 0

    def finish() -> ScannedRecord:
        assert record is not None
        flush()
        if record.length == 0:
            raise InputError(
                "record has no sequence", path=shown, line=record.line, record=record.name
            )
        u_count.add(record.u_bases)
        return record

    n_records = 0
    with open_binary(path) as fh:
        try:
            for lineno, raw in numbered_lines(fh, shown):
                if raw[:1] == b">":
                    if record is not None:
                        n_records += 1
                        yield finish()
                    name, description = _parse_header(raw, shown, lineno)
                    if name in seen:
                        raise InputError(
                            f"duplicate record name (first seen on line {seen[name]})",
                            path=shown,
                            line=lineno,
                            record=name,
                        )
                    seen[name] = lineno
                    match = _LABEL_RE.search(description)
                    record = ScannedRecord(
                        name=name,
                        description=description,
                        label=None if match is None else match.group(1),
                        length=0,
                        line=lineno,
                        u_bases=0,
                        sequence=bytearray() if keep else None,
                    )
                    continue
                line = raw.strip()
                if not line:
                    continue
                if record is None:
                    raise InputError(
                        "sequence data before the first '>' header (is this a FASTA file?)",
                        path=shown,
                        line=lineno,
                    )
                chunks.append(line)
                chunk_lines.append(lineno)
                pending += len(line)
                if pending >= _SCAN_BLOCK:
                    flush()
            if record is not None:
                n_records += 1
                yield finish()
        except GeneratorExit:
            u_count.warn()  # the reader stopped early: still say what was converted so far
            raise
    if n_records == 0:
        raise InputError("no FASTA records found (empty file?)", path=shown)
    u_count.warn()


class _NotIndexable(Exception):
    """Raised instead of loading into memory when :meth:`FastaReference.indexed` was asked."""


class FastaReference:
    """Random access to a reference FASTA: ``fetch(chrom, start, end)`` (0-based, half-open).

    Uses pysam/htslib faidx for plain or bgzip files (``.fai``, plus ``.gzi`` for bgzip), building
    the index next to the file when it is missing. Plain gzip cannot be indexed, and an index may be
    impossible to write; then the sequences are loaded into memory once, with a warning, so a small
    reference still works. Case (soft-masking) is kept. The handle reopens itself after a fork, so
    the object can be shared with data-loader worker processes.
    """

    lengths: dict[str, int]
    contigs: list[str]

    def __init__(self, path: str | os.PathLike[str], *, memory_fallback: bool = True) -> None:
        self._memory_fallback = memory_fallback
        self.path = path if str(path) == STDIN else Path(path)
        self._shown = display_name(path)
        self._fasta: Any = None
        self._pid = os.getpid()
        self._memory: dict[str, str] | None = None
        self._mapper: ContigMapper | None = None
        self.in_memory = False
        if str(path) == STDIN:
            self._load_into_memory(reason=None)
        else:
            head = read_magic(path)
            if is_gzip_bytes(head) and not is_bgzf_bytes(head):
                self._load_into_memory(reason="it is plain gzip, not bgzip, so cannot be indexed")
            else:
                self._open_indexed()
        self.contigs = list(self.lengths)

    # -- opening -------------------------------------------------------------------------------

    def _open_indexed(self) -> None:
        path = Path(self.path)
        fai = Path(f"{path}.fai")
        if not fai.exists() and not os.access(path.parent, os.W_OK):
            self._load_into_memory(reason=f"its index {fai.name} is missing and cannot be written")
            return
        # 2 s of slack: a git checkout may write the index a moment before the FASTA
        if fai.exists() and fai.stat().st_mtime + 2 < path.stat().st_mtime:
            logger.warning(
                "%s: the index %s is older than the FASTA; if the FASTA changed, delete the "
                "index so that it is rebuilt",
                self._shown,
                fai.name,
            )
        previous = pysam.set_verbosity(0)
        try:
            fasta = pysam.FastaFile(str(path))
        except (OSError, ValueError) as exc:
            self._load_into_memory(reason=f"htslib could not index it ({exc})")
            return
        finally:
            pysam.set_verbosity(previous)
        self._fasta = fasta
        self.lengths = dict(zip(fasta.references, fasta.lengths, strict=True))
        if not self.lengths:
            raise InputError("no FASTA records found (empty file?)", path=self._shown)

    @classmethod
    def indexed(cls, path: str | os.PathLike[str]) -> FastaReference | None:
        """The reference read through its faidx index (built if missing), or ``None`` where it
        cannot be indexed: never the in-memory fallback, for callers that then stream instead."""
        try:
            return cls(path, memory_fallback=False)
        except _NotIndexable:
            return None

    def _load_into_memory(self, reason: str | None) -> None:
        if not self._memory_fallback:
            raise _NotIndexable(reason)
        # Parse first: a malformed file should fail with its own error, not a fallback warning.
        self._memory = {rec.name: rec.sequence for rec in iter_fasta(self.path)}
        self.lengths = {name: len(seq) for name, seq in self._memory.items()}
        self.in_memory = True
        if reason is not None:
            logger.warning(
                "%s: loaded the whole reference into memory because %s; "
                "for fast random access use a plain or bgzip FASTA indexed by 'samtools faidx'",
                self._shown,
                reason,
            )

    def _handle(self) -> Any:
        if self._fasta is None or self._pid != os.getpid():
            self._fasta = pysam.FastaFile(str(self.path))
            self._pid = os.getpid()
        return self._fasta

    # -- access --------------------------------------------------------------------------------

    def __contains__(self, chrom: object) -> bool:
        return chrom in self.lengths

    def fetch(self, chrom: str, start: int, end: int, *, name: str | None = None) -> str:
        """Sequence of ``chrom[start:end]`` (0-based half-open), case kept.

        ``name`` (a BED name, a variant id) is only used to point errors at the offending record.
        """
        self._check(chrom, start, end, name)
        if self._memory is not None:
            return self._memory[chrom][start:end]
        if start == end:
            return ""
        return self._handle().fetch(chrom, start, end)

    def fetch_interval(self, interval: Interval, *, name: str | None = None) -> str:
        """Sequence of ``interval``, reverse-complemented (IUPAC, case kept) on strand ``-``."""
        seq = self.fetch(interval.chrom, interval.start, interval.end, name=name)
        return reverse_complement(seq) if interval.strand == "-" else seq

    def _check(self, chrom: str, start: int, end: int, name: str | None) -> None:
        length = self.lengths.get(chrom)
        if length is None:
            raise InputError(self._unknown_message(chrom), path=self._shown, record=name)
        where = f"interval {chrom}:{start + 1:,}-{end:,}"
        if start < 0:
            reason = f"{where} has a negative start ({start})"
        elif end < start:
            reason = f"{where} ends before it starts"
        elif end > length:
            reason = f"{where} runs past the end of {chrom} ({length:,} bp)"
        else:
            return
        raise InputError(reason, path=self._shown, record=name)

    def _unknown_message(self, chrom: str) -> str:
        if self._mapper is None:
            self._mapper = ContigMapper.from_reference(self.contigs)
        message = f"unknown chromosome '{chrom}'"
        suggestion = self._mapper.map(chrom)
        if suggestion is not None and suggestion != chrom:
            message += f"; did you mean '{suggestion}'? (--harmonise-chroms maps names)"
        shown = ", ".join(self.contigs[:5])
        more = f", ... ({len(self.contigs)} in all)" if len(self.contigs) > 5 else ""
        return f"{message}; the reference has {shown}{more}"

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the htslib handle (in-memory sequences are kept until the object goes)."""
        if self._fasta is not None:
            self._fasta.close()
            self._fasta = None

    def __enter__(self) -> FastaReference:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fasta"] = None  # htslib handles cannot be pickled; reopened on first fetch
        return state

    def __repr__(self) -> str:
        mode = "in memory" if self.in_memory else "indexed"
        return f"FastaReference({self._shown!r}, {len(self.contigs)} contigs, {mode})"
