"""A local HTTP server on 127.0.0.1 serving in-memory fixture files, with byte ranges and a switch
that cuts the connection part-way through a file: no test touches the network."""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dnaseq_runner import run_in_process, run_subprocess

_RANGE = re.compile(r"bytes=(\d+)-$")


@dataclass
class FixtureServer:
    base: str
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> absolute byte; used once
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    honour_range: bool = True

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return self.url(path)


def _handler(server: FixtureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            range_header = self.headers.get("Range")
            server.requests.append((self.path, range_header))
            data = server.files.get(self.path)
            if data is None:
                body = b"not found\n"
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            start = 0
            match = _RANGE.match(range_header or "")
            if match and server.honour_range:
                start = int(match.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            cut = server.cut_after.pop(self.path, None)
            if cut is not None and cut > start:
                self.wfile.write(data[start:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(data[start:])

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a deliberately cut connection is not worth a traceback in the test log


@pytest.fixture
def http_server():
    """A fresh server per test on a random free port of 127.0.0.1."""
    state = FixtureServer(base="")
    httpd = _QuietServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def _run_cli(*args, env=None):
    """In this process; a subprocess when the test sets the environment (read at import time)."""
    if env is None:
        return run_in_process(*args)
    return run_subprocess(*args, env=env, timeout=120)


@pytest.fixture
def run_cli():
    """The `dnaseq` command with its exit status and output streams."""
    return _run_cli


@pytest.fixture
def files_under():
    """Every file below a folder (relative paths), for 'nothing left behind' checks."""
    return lambda folder: sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
    )


@pytest.fixture
def write_catalogue(tmp_path, monkeypatch):
    """Write a catalogue JSON of fixture entries and point $DNASEQ_CATALOGUE at it."""

    def write(*resources: dict):
        path = tmp_path / "catalogue.json"
        path.write_text(json.dumps({"version": 1, "resources": list(resources)}))
        monkeypatch.setenv("DNASEQ_CATALOGUE", str(path))
        return path

    return write
