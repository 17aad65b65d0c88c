"""Opening inputs the way users expect: ``-`` is stdin, gzip and bgzip are read transparently.

Compression is detected from the magic bytes, not the file name, so a ``.fa`` that is really gzip
(or a gzip stream piped into stdin) still reads. Every failure to open becomes an
:class:`InputError`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, AnyStr, BinaryIO, cast

from dnaseq_cli.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"
# Errors a gzip stream raises when it is corrupt or cut short; readers turn them into InputError.
DECOMPRESSION_ERRORS = (OSError, EOFError, zlib.error)
_BUFFER_SIZE = 1 << 20


def numbered_lines(handle: Iterable[AnyStr], shown: str) -> Iterator[tuple[int, AnyStr]]:
    """``(line number, line)`` pairs; a corrupt or truncated compressed stream becomes an InputError
    naming the last line that could be read."""
    lineno = 0
    lines = iter(handle)
    while True:
        try:
            raw = next(lines)
        except StopIteration:
            return
        except DECOMPRESSION_ERRORS as exc:
            raise InputError(
                f"cannot read past this line, the file looks corrupt or truncated ({exc})",
                path=shown,
                line=lineno,
            ) from exc
        lineno += 1
        yield lineno, raw


def display_name(path: str | os.PathLike[str]) -> str:
    """The name errors use for ``path``: ``<stdin>`` for ``-``."""
    return "<stdin>" if str(path) == STDIN else str(path)


def check_readable(path: str | os.PathLike[str]) -> Path:
    """Fail early, with the file name, when ``path`` is missing, a directory or unreadable."""
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", path=p)
    if p.is_dir():
        raise InputError("is a directory, expected a file", path=p)
    if not os.access(p, os.R_OK):
        raise InputError("permission denied", path=p)
    return p


def read_magic(path: str | os.PathLike[str], size: int = 18) -> bytes:
    """The first ``size`` bytes of a file (enough for the gzip and BGZF headers)."""
    with open(check_readable(path), "rb") as fh:
        return fh.read(size)


def is_gzip_bytes(head: bytes) -> bool:
    """True for gzip, including BGZF (which is a series of gzip members)."""
    return head[:2] == GZIP_MAGIC


def is_bgzf_bytes(head: bytes) -> bool:
    """True if the header has the BGZF 'BC' extra field (htslib needs it for random access)."""
    return (
        len(head) >= 16
        and head[:4] == b"\x1f\x8b\x08\x04"
        and head[12:14] == b"BC"
        and head[14:16] == b"\x02\x00"
    )


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """True if the file starts with the gzip magic number."""
    return is_gzip_bytes(read_magic(path))


def is_bgzf(path: str | os.PathLike[str]) -> bool:
    """True if the file is block-gzipped (bgzip) rather than plain gzip."""
    return is_bgzf_bytes(read_magic(path))


class PrefixedStream(io.RawIOBase):
    """Replays bytes already read from a non-seekable stream, then continues with the stream."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(buffer))
        if not data:
            return 0
        n = len(data)
        buffer[:n] = data
        return n


def _stdin_binary() -> BinaryIO:
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    return stream  # type: ignore[return-value]


@contextlib.contextmanager
def open_binary(path: str | os.PathLike[str]) -> Iterator[io.BufferedReader[Any]]:
    """Open ``path`` (or stdin for ``-``) for binary reading; gzip/bgzip is decompressed.

    The stream supports ``peek`` so callers can sniff the first bytes without consuming them.
    """
    if str(path) == STDIN:
        raw = _stdin_binary()
        head = raw.read(2)
        replay = io.BufferedReader(PrefixedStream(head, raw), _BUFFER_SIZE)
        if is_gzip_bytes(head):
            gz = gzip.GzipFile(fileobj=replay, mode="rb")
            with io.BufferedReader(gz, _BUFFER_SIZE) as stream:
                yield stream
        else:
            yield replay
        return
    p = check_readable(path)
    try:
        # typeshed types a binary open() with a non-literal buffering as BinaryIO; a buffered
        # read is always a BufferedReader.
        fh = cast("io.BufferedReader[Any]", open(p, "rb", buffering=_BUFFER_SIZE))
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", path=p) from exc
    with fh:
        if is_gzip_bytes(fh.peek(2)[:2]):
            gz = gzip.GzipFile(fileobj=fh, mode="rb")
            with io.BufferedReader(gz, _BUFFER_SIZE) as stream:
                yield stream
        else:
            yield fh


@contextlib.contextmanager
def open_text(path: str | os.PathLike[str]) -> Iterator[io.TextIOWrapper]:
    """Open ``path`` as UTF-8 text (undecodable bytes replaced, universal newlines)."""
    with open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None)
        try:
            yield text
        finally:
            text.detach()
