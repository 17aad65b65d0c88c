"""Turning a downloaded genome into an indexed bgzip FASTA (``.fa.gz`` + ``.fai`` + ``.gzi``).

UCSC and Ensembl ship plain gzip, which has no random access: every lookup would have to
decompress from the start. Recompressing once into BGZF blocks and indexing it lets
:class:`~dnaseq_cli.io.fasta.FastaReference` fetch any interval in microseconds while the file stays
compressed. A plain (uncompressed) FASTA is accepted too and compressed the same way.

BGZF blocks are independent gzip members, so they are deflated on a thread pool (zlib releases the
GIL) and a multi-core machine compresses a 3 GB genome in parallel rather than block after block.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pysam

from dnaseq_cli.errors import InputError
from dnaseq_cli.io._open import is_bgzf_bytes, is_gzip_bytes, read_magic

BLOCK = 0xFF00  # uncompressed bytes per BGZF block, as htslib: deflate can never overflow 64 KiB
BLOCKS_PER_BATCH = 64
LEVEL = 6
# The empty block that marks the end of a BGZF file (SAM specification, section 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def genome_files(fasta: Path) -> tuple[Path, Path, Path]:
    """The bgzip FASTA and its two index files."""
    return fasta, Path(f"{fasta}.fai"), Path(f"{fasta}.gzi")


def is_installed(fasta: Path) -> bool:
    """True when the FASTA and both index files are present (the FASTA is renamed in last)."""
    return all(p.is_file() for p in genome_files(fasta))


def install_genome(
    raw: Path,
    dest: Path,
    *,
    progress: Callable[[str, int | None, int], Callable[[int], None]] | None = None,
) -> None:
    """Recompress ``raw`` (gzip, bgzip or plain FASTA) to bgzip at ``dest`` and index it.

    Work happens under temporary names; the index files are moved into place first and the FASTA
    last, so a present ``dest`` always has its index. ``raw`` is left for the caller to delete.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp_fai, tmp_gzi = Path(f"{tmp}.fai"), Path(f"{tmp}.gzi")
    try:
        _to_bgzip(raw, tmp, progress)
        previous = pysam.set_verbosity(0)
        try:
            pysam.faidx(str(tmp))
        except (OSError, ValueError, pysam.SamtoolsError) as exc:
            raise InputError(
                f"the download is not an indexable FASTA ({str(exc).strip() or type(exc).__name__})",
                path=raw,
            ) from None
        finally:
            pysam.set_verbosity(previous)
        if not tmp_fai.is_file() or tmp_fai.stat().st_size == 0:
            raise InputError("the download holds no FASTA records", path=raw)
        _, fai, gzi = genome_files(dest)
        os.replace(tmp_gzi, gzi)
        os.replace(tmp_fai, fai)
        os.replace(tmp, dest)
    finally:
        for leftover in (tmp, tmp_fai, tmp_gzi):
            leftover.unlink(missing_ok=True)


def bgzf_block(data: bytes, level: int = LEVEL) -> bytes:
    """One BGZF block: a gzip member whose extra field ``BC`` records the block's size."""
    deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush()
    header = struct.pack(
        "<4BI2BH2BHH", 0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, ord("B"), ord("C"), 2, len(body) + 25
    )
    return header + body + struct.pack("<2I", zlib.crc32(data), len(data))


def _batches(source, advance: Callable[[], None]) -> Iterator[list[bytes]]:
    while batch := source.read(BLOCK * BLOCKS_PER_BATCH):
        advance()
        yield [batch[i : i + BLOCK] for i in range(0, len(batch), BLOCK)]


def _to_bgzip(
    raw: Path, out: Path, progress: Callable[[str, int | None, int], Callable[[int], None]] | None
) -> None:
    head = read_magic(raw)
    if is_bgzf_bytes(head):
        shutil.copyfile(raw, out)
        return
    if head[:1] != b">" and not is_gzip_bytes(head):
        raise InputError("the download is neither FASTA nor gzip-compressed FASTA", path=raw)
    total = raw.stat().st_size
    step = progress(f"bgzip {raw.name}", total, 0) if progress else None
    position = 0
    workers = max(1, min(16, os.cpu_count() or 1))
    with (
        open(raw, "rb") as compressed,
        open(out, "wb") as writer,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        source = gzip.GzipFile(fileobj=compressed) if is_gzip_bytes(head) else compressed

        def advance() -> None:
            nonlocal position
            if step is not None:
                step(compressed.tell() - position)
                position = compressed.tell()

        try:
            for blocks in _batches(source, advance):
                writer.write(b"".join(pool.map(bgzf_block, blocks)))
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise InputError(f"corrupt gzip download ({exc})", path=raw) from None
        writer.write(BGZF_EOF)
