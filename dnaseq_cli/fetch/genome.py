"""Turning a downloaded genome into an indexed bgzip FASTA (``.fa.gz`` + ``.fai`` + ``.gzi``).

UCSC and Ensembl ship plain gzip, which has no random access: every lookup would have to
decompress from the start. Recompressing once into BGZF blocks and indexing it lets
:class:`~dnaseq_cli.io.fasta.FastaReference` fetch any interval in microseconds while the file stays
compressed. A plain (uncompressed) FASTA is accepted too and compressed the same way.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import pysam
from pysam.libcbgzf import BGZFile

from dnaseq_cli.errors import InputError
from dnaseq_cli.io._open import is_bgzf_bytes, is_gzip_bytes, read_magic

CHUNK = 4 << 20


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
    advance = progress(f"bgzip {raw.name}", total, 0) if progress else None
    with open(raw, "rb") as compressed:
        source = gzip.GzipFile(fileobj=compressed) if is_gzip_bytes(head) else compressed
        writer = BGZFile(str(out), "wb")
        try:
            position = 0
            while block := source.read(CHUNK):
                writer.write(block)
                if advance is not None:
                    advance(compressed.tell() - position)
                    position = compressed.tell()
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise InputError(f"corrupt gzip download ({exc})", path=raw) from None
        finally:
            writer.close()
