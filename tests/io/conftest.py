"""Shared fixtures for the reader tests: the example data and small files written on the fly."""

from __future__ import annotations

import gzip
import io
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pysam
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"

Writer = Callable[..., Path]


@pytest.fixture(scope="session")
def examples() -> Path:
    """The committed example data folder."""
    return EXAMPLES


@pytest.fixture
def write_file(tmp_path: Path) -> Writer:
    """Write ``text`` to ``tmp_path/name`` (plain, gzip or bgzip) and return the path."""

    def write(name: str, text: str | bytes, compression: str = "none") -> Path:
        data = text.encode() if isinstance(text, str) else text
        path = tmp_path / name
        if compression == "none":
            path.write_bytes(data)
        elif compression == "gzip":
            path.write_bytes(gzip.compress(data))
        elif compression == "bgzip":
            plain = tmp_path / f".{name}.plain"
            plain.write_bytes(data)
            pysam.tabix_compress(str(plain), str(path), force=True)
            plain.unlink()
        else:
            raise ValueError(compression)
        return path

    return write


@pytest.fixture
def fake_stdin(monkeypatch: pytest.MonkeyPatch) -> Callable[[bytes], None]:
    """Replace ``sys.stdin`` with an object whose ``.buffer`` yields ``data``."""

    def install(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))

    return install
