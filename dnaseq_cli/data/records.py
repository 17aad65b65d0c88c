"""One input path: FASTA, labelled tables and BED + reference read into records cut into windows.

``dnaseq predict`` (and ``explain``) and ``dnaseq preprocess`` (and ``train``) read their inputs
here: :func:`iter_records` yields one :class:`Record` per FASTA record, table row or BED interval,
and every record is cut into windows by one tiling rule.

Tiling rule (:func:`dnaseq_cli.windows.tiling.tile_symmetric`): a record no longer than the window
gets one window (FASTA/table: its bases then N padding, masked; BED: a window centred on the
interval, with real genomic flanks); a longer one gets full windows inside it, the first starting at
its first base and the last ending at its last, the others spread evenly in between, consecutive
starts at most ``stride`` apart. The set of tiles is its own mirror image, so a record and its
reverse complement are cut into the same tiles. ``flank`` (BED only) widens every window by that
many real bases on each side.

Records are lazy: a record knows its length and its window count, and cuts windows ``first..last-1``
on demand (:meth:`Record.cut`), so a long record can be scored a group of windows at a time and
peak memory does not depend on its length. A FASTA file with a fresh faidx index (or one at least
``index_min_bytes`` large, which then gets one) is read twice: once to check every record, keeping
no bases, and once a window span at a time from the index. Other FASTA inputs (stdin, plain gzip,
small files) hold one record's bases at a time, 1 byte per base.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dnaseq_cli.data.inputs import SequenceWindow, detect_format, read_located_beds
from dnaseq_cli.errors import InputError
from dnaseq_cli.io.sequence_utils import read_u_as_t

if TYPE_CHECKING:
    from dnaseq_cli.io.fasta import FastaReference
    from dnaseq_cli.records import Interval


@dataclass(frozen=True)
class RecordOptions:
    """How to read one input and cut its records into windows."""

    #: Window length; None reads the records without cutting them (set it with
    #: :meth:`Record.tiled` once known, e.g. the longest record).
    window: int | None = None
    #: Most bases between consecutive tile starts; None: half a window.
    stride: int | None = None
    input_format: str = "auto"  # auto | fasta | table | bed
    reference: Path | None = None  # BED inputs
    harmonise_chroms: bool = False  # BED inputs: map chr1 <-> 1 names onto the reference
    sequence_column: str | None = None  # tables
    name_column: str | None = None  # tables
    #: Tables: the label column (None: an unlabelled table, though a ``label`` column is still
    #: read). BED: a name, ``score``, ``strand`` or a 1-based column number.
    label_column: str | int | None = None
    label: str | None = None  # one label for every record instead
    flank: int = 0  # BED: real bases added on each side of every window
    #: A FASTA file this large without a ``.fai`` gets one built (next to it), so its records are
    #: read from the index; smaller ones are streamed a record at a time. None: never build one.
    index_min_bytes: int | None = 64 << 20


def resolve_stride(window: int, stride: int | None) -> int:
    """The stride tiles of ``window`` bases are cut with: ``stride``, default half a window."""
    stride = stride or max(window // 2, 1)
    if stride < 1:
        raise InputError(f"--stride must be >= 1, got {stride}")
    if stride > window:
        raise InputError(f"--stride {stride} is longer than the window ({window} bases)")
    return stride


def window_count(length: int, window: int, stride: int) -> int:
    """How many windows a record of ``length`` bases is cut into (the tiling rule above)."""
    from dnaseq_cli.windows.tiling import symmetric_count

    return 1 if length <= window else symmetric_count(length, window, stride)


@dataclass
class Windows:
    """Windows ``first..last-1`` of one record, cut and ready to score."""

    names: list[str]
    sequences: list[str]
    valid: np.ndarray  # bool [n, window]
    first_base: list[int]  # 1-based closed bounds written in --per-window rows
    last_base: list[int]
    starts: list[int] | None  # 0-based window starts (None: the padded window of a short record)
    chrom: str | None = None  # genomic windows (BED inputs)
    strand: str = "+"


@dataclass
class Record:
    """One input record: its name, length and label, and how to cut its windows a batch at a time.

    Text records (FASTA, table) read their bases through ``read(start, end)``; BED records fetch
    theirs from ``reference`` around ``interval``."""

    name: str
    length: int
    label: str | float | int | None  # as read (a FASTA header, a table cell)
    window: int | None
    stride: int | None
    read: Callable[[int, int], str] | None = None
    reference: FastaReference | None = None
    interval: Interval | None = None
    flank: int = 0
    bed: tuple[str, int, int] | None = None  # chrom, start, end as written in the BED

    def tiled(self, window: int, stride: int | None = None) -> Record:
        """This record cut into windows of ``window`` bases (``stride``: default half a window)."""
        return dataclasses.replace(self, window=window, stride=resolve_stride(window, stride))

    def _size(self) -> tuple[int, int]:
        if self.window is None or self.stride is None:
            raise ValueError(f"record {self.name} has no window yet (Record.tiled)")
        return self.window, self.stride

    @property
    def short(self) -> bool:
        """No longer than the window: one window, padded (text) or centred (BED)."""
        return self.length <= self._size()[0]

    @property
    def count(self) -> int:
        return window_count(self.length, *self._size())

    def cut(self, first: int, last: int) -> Windows:
        """Windows ``first..last-1`` (``0..count``)."""
        if self.interval is not None:
            return self._cut_genomic(first, last)
        return self._cut_text(first, last)

    def _cut_text(self, first: int, last: int) -> Windows:
        from dnaseq_cli.windows.tiling import symmetric_starts

        window, stride = self._size()
        assert self.read is not None
        if self.short:
            valid = np.zeros((1, window), dtype=bool)
            valid[0, : self.length] = True
            padded = self.read(0, self.length) + "N" * (window - self.length)
            return Windows([self.name], [padded], valid, [1], [self.length], None)
        starts = symmetric_starts(self.length, window, stride, first, last)
        low = int(starts[0])
        span = self.read(low, int(starts[-1]) + window)  # one read for the whole batch
        offsets = (starts - low).tolist()
        begins = starts.tolist()
        return Windows(
            names=[f"{self.name}:{b + 1}-{b + window}" for b in begins],
            sequences=[span[o : o + window] for o in offsets],
            valid=np.ones((len(begins), window), dtype=bool),
            first_base=[b + 1 for b in begins],
            last_base=[b + window for b in begins],
            starts=begins,
        )

    def _cut_genomic(self, first: int, last: int) -> Windows:
        from dnaseq_cli.windows import Window, centred_window, fetch_window
        from dnaseq_cli.windows.tiling import interval_starts

        window, stride = self._size()
        interval, flank = self.interval, self.flank
        assert interval is not None and self.reference is not None
        if self.short:
            targets = [centred_window(interval, window, flank=flank)]
        else:
            starts = interval_starts(interval, window, stride, first, last).tolist()
            targets = [
                Window(interval.chrom, s - flank, s + window + flank, interval.strand)
                for s in starts
            ]
        sequences, masks = [], []
        for target in targets:
            sequence, valid = fetch_window(self.reference, target)
            sequences.append(sequence)
            masks.append(np.asarray(valid, dtype=bool))
        return Windows(
            names=[f"{t.chrom}:{t.start + 1}-{t.end}" for t in targets],
            sequences=sequences,
            valid=np.stack(masks),
            first_base=[t.start + 1 for t in targets],
            last_base=[t.end for t in targets],
            starts=[t.start for t in targets],
            chrom=interval.chrom,
            strand=interval.strand,
        )

    @property
    def windows(self) -> list[SequenceWindow]:
        """Every window at once, for callers that want them listed (explain, preprocess); scoring
        cuts them a group at a time instead."""
        cut = self.cut(0, self.count)
        out = []
        for i, (name, seq) in enumerate(zip(cut.names, cut.sequences, strict=True)):
            start = None if cut.starts is None else cut.starts[i]
            out.append(
                SequenceWindow(
                    name=name,
                    sequence=seq,
                    valid=cut.valid[i],
                    label=self.label,
                    chrom=cut.chrom,
                    start=start,
                    end=None if start is None else start + cut.valid.shape[1],
                    strand=cut.strand,
                    source_length=self.length,
                )
            )
        return out


@dataclass
class RecordInput:
    """One opened input: its records, lazily, and its window count when known before reading
    (indexed FASTA, BED)."""

    total: int | None
    records: Iterator[Record]


def iter_records(path: Path, options: RecordOptions) -> Iterator[Record]:
    """Every record of one input (FASTA, table or BED + reference), in input order."""
    yield from open_records(path, options).records


def open_records(path: Path, options: RecordOptions) -> RecordInput:
    """Open one input: its format decided (``input_format`` or the file name), BED intervals
    checked against the reference, and its records to come (:func:`iter_records`)."""
    stride = None if options.window is None else resolve_stride(options.window, options.stride)
    kind = detect_format(path, options.input_format)
    if kind == "bed":
        return _bed_records(path, options, stride)
    if kind == "fasta":
        return _fasta_records(path, options, stride)
    return RecordInput(None, _table_records(path, options, stride))


def _text(
    name: str,
    label: str | float | int | None,
    length: int,
    read: Callable[[int, int], str],
    options: RecordOptions,
    stride: int | None,
) -> Record:
    if options.label is not None:
        label = options.label
    return Record(name, length, label, options.window, stride, read=read)


def _held(sequence: str | bytearray) -> Callable[[int, int], str]:
    """Reader over bases held in memory (a table's str, a streamed FASTA record's bytearray)."""
    if isinstance(sequence, str):
        return lambda start, end: sequence[start:end]
    return lambda start, end: sequence[start:end].decode("ascii")


def _indexed(reference: FastaReference, name: str, u_to_t: bool) -> Callable[[int, int], str]:
    """Reader over one record of an indexed FASTA: U read as T, as the checking pass counted."""

    def read(start: int, end: int) -> str:
        text = reference.fetch(name, start, end)
        return read_u_as_t(text)[0] if u_to_t else text

    return read


def _open_indexed(path: Path, options: RecordOptions) -> FastaReference | None:
    """The faidx reader for a FASTA input worth reading by index, else None (then streamed).

    An existing, fresh index is used; a missing one is built only for large files, so reading a
    small FASTA leaves no new file beside it."""
    from dnaseq_cli.io._open import STDIN, is_bgzf_bytes, is_gzip_bytes, read_magic
    from dnaseq_cli.io.fasta import FastaReference

    if str(path) == STDIN or not path.is_file():
        return None
    head = read_magic(path)
    if is_gzip_bytes(head) and not is_bgzf_bytes(head):
        return None  # plain gzip cannot be indexed
    fai = Path(f"{path}.fai")
    if fai.exists():
        if fai.stat().st_mtime + 2 < path.stat().st_mtime:
            return None  # an older index may not match: read the file itself
        if is_bgzf_bytes(head) and not Path(f"{path}.gzi").exists():
            return None
    elif (
        options.index_min_bytes is None
        or path.stat().st_size < options.index_min_bytes
        or not os.access(path.parent, os.W_OK)
    ):
        return None
    return FastaReference.indexed(path)


def _fasta_records(path: Path, options: RecordOptions, stride: int | None) -> RecordInput:
    from dnaseq_cli.io.fasta import scan_fasta

    reference = _open_indexed(path, options)
    if reference is None:

        def streamed() -> Iterator[Record]:
            for record in scan_fasta(path, keep=True):
                assert record.sequence is not None
                read = _held(record.sequence)
                yield _text(record.name, record.label, record.length, read, options, stride)
                del record, read  # let the bases go before the next record is read

        return RecordInput(None, streamed())

    def indexed() -> Iterator[Record]:
        for record in scan_fasta(path, keep=False):  # checks every base, keeps none
            if reference.lengths.get(record.name) != record.length:
                raise InputError(
                    f"the index {path}.fai does not match the FASTA ({record.length:,} bp here, "
                    f"{reference.lengths.get(record.name, 0):,} in the index); delete the index "
                    "so that it is rebuilt",
                    path=path,
                    record=record.name,
                )
            read = _indexed(reference, record.name, record.u_bases > 0)
            yield _text(record.name, record.label, record.length, read, options, stride)

    total = None
    if options.window is not None and stride is not None:
        from dnaseq_cli.windows.tiling import symmetric_count

        total = sum(symmetric_count(n, options.window, stride) for n in reference.lengths.values())
    return RecordInput(total, indexed())


def _table_records(path: Path, options: RecordOptions, stride: int | None) -> Iterator[Record]:
    from dnaseq_cli.io.tables import read_labelled_table

    label_column = None if options.label is not None else options.label_column
    for record in read_labelled_table(
        path,
        sequence_column=options.sequence_column,
        label_column=label_column,  # type: ignore[arg-type]
        name_column=options.name_column,
    ):
        extra = getattr(record, "extra", None) or {}
        if record.label is None and "label" in extra:
            record.label = extra["label"]
        if len(record.sequence) == 0:
            raise InputError("empty sequence", path=path, record=record.name)
        read = _held(record.sequence)
        yield _text(record.name, record.label, len(record.sequence), read, options, stride)


def _bed_records(path: Path, options: RecordOptions, stride: int | None) -> RecordInput:
    reference, located = read_located_beds(
        path,
        options.reference,
        harmonise_chroms=options.harmonise_chroms,
        label_column=options.label_column,
        label_constant=options.label,
    )
    total = None
    if options.window is not None and stride is not None:
        total = sum(window_count(len(item.interval), options.window, stride) for item in located)

    def records() -> Iterator[Record]:
        for item in located:
            given = item.bed.interval  # the BED's own chrom name, before any --harmonise-chroms
            yield Record(
                item.name,
                len(item.interval),
                item.bed.label,
                options.window,
                stride,
                reference=reference,
                interval=item.interval,
                flank=options.flank,
                bed=(given.chrom, given.start, given.end),
            )

    return RecordInput(total, records())
