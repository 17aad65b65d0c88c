"""Where fetched resources live: ``--cache-dir``, else ``$DNASEQ_CACHE``, else the platform's cache
folder (``$XDG_CACHE_HOME/dnaseq`` or ``~/.cache/dnaseq`` on Linux, ``~/Library/Caches/dnaseq`` on
macOS, ``%LOCALAPPDATA%\\dnaseq\\Cache`` on Windows).

One root for everything keeps a shared cluster cache a single environment variable away, and the
layout below it is plain folders a user can inspect or delete.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dnaseq_cli.errors import InputError

CACHE_ENV = "DNASEQ_CACHE"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def default_cache_dir() -> Path:
    """The platform's per-user cache folder for dnaseq."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "dnaseq" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "dnaseq"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "dnaseq"


def resolve_cache_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit`` (the ``--cache-dir`` option) > ``$DNASEQ_CACHE`` > :func:`default_cache_dir`."""
    chosen = explicit if explicit not in (None, "") else os.environ.get(CACHE_ENV) or None
    path = Path(chosen).expanduser() if chosen is not None else default_cache_dir()
    if path.exists() and not path.is_dir():
        raise InputError("cache directory is not a directory", path=path)
    return path


def url_cache_path(cache: Path, url: str) -> Path:
    """Cache location of a plain URL download: ``<cache>/url/<host>/<path>``, like ``wget -x``.

    Path pieces are sanitised so that a URL can never point outside the cache (no ``..``).
    """
    parts = urlsplit(url)
    host = _safe(parts.netloc or "local")
    pieces = [_safe(unquote(p)) for p in parts.path.split("/") if p not in ("", ".", "..")]
    if not pieces:
        pieces = ["download"]
    if parts.query:
        pieces[-1] += "_" + _safe(parts.query)[:40]
    return cache.joinpath("url", host, *pieces)


def _safe(piece: str) -> str:
    cleaned = _UNSAFE.sub("_", piece).lstrip(".")
    return cleaned or "_"
