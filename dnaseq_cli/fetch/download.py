"""Downloading one file safely: resume, verify, then place atomically.

Bytes go to ``<dest>.part``. A cut connection leaves the part file, and the next attempt (a retry
in the same run, or the same command run again) asks the server for the rest with an HTTP
``Range`` request. Only a complete file whose size and sha256 match what is expected is renamed
onto ``dest``; a file that fails the check is deleted, so the cache never holds a corrupt copy and
the next run starts afresh. ``file://`` URLs (local mirrors) follow the same path.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from dnaseq_cli import __version__
from dnaseq_cli.checksums import file_sha256
from dnaseq_cli.errors import InputError

logger = logging.getLogger(__name__)

# start(label, total bytes or None, bytes already present) -> advance(n)
ProgressFactory = Callable[[str, "int | None", int], Callable[[int], None]]

CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_TOTAL_ONLY = re.compile(r"bytes\s+\*/(\d+)")


class FetchError(InputError):
    """A download that cannot be completed as asked (missing, refused, corrupt): exit 2."""


class _Interrupted(Exception):
    """The transfer stopped early; the part file is kept so that it can be resumed."""


class _Restart(Exception):
    """The part file cannot be resumed (the server's file differs): start from byte 0."""


def part_path(dest: Path) -> Path:
    """The file a download of ``dest`` writes to until it is complete and verified."""
    return dest.with_name(dest.name + ".part")


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 1.0,
    progress: ProgressFactory | None = None,
    label: str | None = None,
) -> str:
    """Fetch ``url`` to ``dest`` (resuming ``dest.part``), check it, rename it; return its sha256.

    Interrupted transfers are retried ``retries`` times, resuming each time, with a growing pause
    (``backoff`` seconds, doubled). After the last try the part file is kept and the error says to
    run the command again. 404 and other HTTP errors fail at once.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    expected = sha256.lower() if sha256 else None
    label = label or dest.name
    attempt = 0
    while True:
        try:
            _transfer(url, part, size, timeout, progress, label)
            break
        except _Interrupted as exc:
            attempt += 1
            have = part.stat().st_size if part.exists() else 0
            if attempt > retries and have == 0:
                raise FetchError(f"download failed ({exc})", path=url) from None
            if attempt > retries:
                raise FetchError(
                    f"download interrupted after {have:,} bytes ({exc}); run the same command "
                    f"again to resume from {part.name}",
                    path=url,
                ) from None
            pause = backoff * 2 ** (attempt - 1)
            logger.warning("%s: %s; resuming from byte %d in %.0f s", url, exc, have, pause)
            time.sleep(pause)
    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        part.unlink()
        raise FetchError(
            f"size mismatch: got {actual_size:,} bytes, expected {size:,}; the partial file was "
            "deleted (a changed upstream file or a bad mirror?)",
            path=url,
        )
    digest = file_sha256(part)
    if expected is not None and digest != expected:
        part.unlink()
        raise FetchError(
            f"sha256 mismatch: got {digest}, expected {expected}; the download was deleted, "
            "nothing was kept (a changed upstream file or a bad mirror?)",
            path=url,
        )
    os.replace(part, dest)
    return digest


def _transfer(
    url: str,
    part: Path,
    size: int | None,
    timeout: float,
    progress: ProgressFactory | None,
    label: str,
) -> None:
    """Append the missing bytes of ``url`` to ``part``; raise _Interrupted if it ends early."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()  # longer than the real file: it cannot be a prefix of it
        offset = 0
    if size is not None and offset == size:
        return  # complete already: only the checks remain
    total: int | None
    if urlsplit(url).scheme.lower() == "file":
        stream, start, total = _open_local(url, offset)
    else:
        try:
            opened = _open_http(url, offset, timeout)
        except _Restart:
            part.unlink(missing_ok=True)
            offset = 0
            opened = _open_http(url, offset, timeout)
        if opened is None:  # 416: the part file is already the whole file
            return
        stream, start, total = opened
    if start == 0 and offset:
        logger.info("%s: the server does not resume downloads; starting again", url)
    if size is not None and total is not None and total != size:
        stream.close()
        part.unlink(missing_ok=True)
        raise FetchError(
            f"size mismatch: the server offers {total:,} bytes, expected {size:,} "
            "(a changed upstream file or a bad mirror?)",
            path=url,
        )
    advance = progress(label, total, start) if progress else None
    try:
        with stream, open(part, "ab" if start else "wb") as out:
            _copy(stream, out, advance)
    except (OSError, http.client.HTTPException) as exc:
        raise _Interrupted(f"connection lost: {exc}") from exc
    have = part.stat().st_size
    if total is not None and have < total:
        raise _Interrupted(f"connection closed after {have:,} of {total:,} bytes")


def _copy(stream: BinaryIO, out: BinaryIO, advance: Callable[[int], None] | None) -> None:
    while block := stream.read(CHUNK):
        out.write(block)
        if advance is not None:
            advance(len(block))


def _open_local(url: str, offset: int) -> tuple[BinaryIO, int, int]:
    path = Path(unquote(urlsplit(url).path))
    if not path.is_file():
        raise FetchError("not found in the local mirror", path=path)
    total = path.stat().st_size
    start = offset if offset <= total else 0
    handle = open(path, "rb")  # noqa: SIM115 - closed by the caller
    handle.seek(start)
    return handle, start, total


def _open_http(url: str, offset: int, timeout: float) -> tuple[BinaryIO, int, int | None] | None:
    """Open ``url`` from byte ``offset``: (response, byte it starts at, total or None).

    None means the server says the range is past the end while the total equals ``offset``.
    """
    headers = {"User-Agent": f"dnaseq/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            match = _TOTAL_ONLY.search(exc.headers.get("Content-Range", "") or "")
            if match is not None and int(match.group(1)) == offset:
                return None
            raise _Restart from exc
        if exc.code == 404:
            raise FetchError("not found on the server (HTTP 404)", path=url) from None
        raise FetchError(f"the server answered HTTP {exc.code} {exc.reason}", path=url) from None
    except urllib.error.URLError as exc:
        raise _Interrupted(f"cannot connect: {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _Interrupted(f"cannot connect: {exc}") from exc
    length = response.headers.get("Content-Length")
    if offset and response.status == 206:
        match = _CONTENT_RANGE.search(response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != offset:
            response.close()
            raise _Restart
        total = None if match.group(3) == "*" else int(match.group(3))
        return response, offset, total
    return response, 0, (int(length) if length and length.isdigit() else None)
