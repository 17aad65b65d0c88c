"""Two ways for tests to run the `dnaseq` command, both returning a CompletedProcess.

`run_in_process` calls the same entry point (`dnaseq_cli.cli.app.main`) with this process's standard
streams swapped for in-memory ones. It is what most command tests use: a fresh Python process
costs 2-4 s of imports (torch), and the suite runs hundreds of commands. `run_subprocess` is the
command exactly as a user starts it, kept for the tests about the real process (exit status,
environment variables, no traceback, torchrun).
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Mapping

from dnaseq_cli.cli.app import main


class _KeptBytes(io.BytesIO):
    """A byte buffer that survives `close()` (the CLI closes stderr on a broken pipe)."""

    def close(self) -> None:
        self.flush()


def run_subprocess(
    *args,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dnaseq_cli", *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin,
        env=None if env is None else dict(env),
        timeout=timeout,
    )


def run_in_process(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    argv = [str(arg) for arg in args]
    buffers = {name: _KeptBytes() for name in ("stdout", "stderr")}
    streams = {
        name: io.TextIOWrapper(buffer, encoding="utf-8", newline="", write_through=True)
        for name, buffer in buffers.items()
    }
    fake_stdin = io.TextIOWrapper(io.BytesIO((stdin or "").encode()), encoding="utf-8")
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = fake_stdin, streams["stdout"], streams["stderr"]
    try:
        main(argv)
        code = 0
    except SystemExit as exit_info:
        code = (
            exit_info.code if isinstance(exit_info.code, int) else int(exit_info.code is not None)
        )
    finally:
        for stream in streams.values():
            if not stream.closed:
                stream.flush()
        sys.stdin, sys.stdout, sys.stderr = saved
    out, err = (buffers[name].getvalue().decode("utf-8") for name in ("stdout", "stderr"))
    return subprocess.CompletedProcess(argv, code, out, err)


def torchrun(processes: int, *args) -> list[str]:
    """The command line of ``torchrun --nproc-per-node processes -m dnaseq_cli ARGS`` on this
    machine alone (a free local port for the rendezvous), for the multi-process tests."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes),
        "--master-addr", "127.0.0.1", "--master-port", str(port), "-m", "dnaseq_cli",
        *map(str, args),
    ]  # fmt: skip
