"""Error types that the CLI turns into one-line messages and exit codes.

Library code raises :class:`InputError` for anything the user can fix (a malformed file, an unknown
chromosome, a bad option). The CLI prints ``dnaseq: error: <message>`` and exits with code 2, without a
traceback unless ``--debug`` is given. Anything else is a bug or a runtime failure (exit 1).
"""

from __future__ import annotations

from os import PathLike


class DnaseqError(Exception):
    """Base class for errors dnaseq reports without a traceback."""

    exit_code = 1


class InputError(DnaseqError):
    """Bad input or usage: names the file and the line or record so the user can find it."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        record: str | None = None,
    ) -> None:
        self.reason = message
        self.path = None if path is None else str(path)
        self.line = line
        self.record = record
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.record is not None:
            where.append(f"record '{self.record}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.reason}" if prefix else self.reason


class Terminated(BaseException):
    """SIGTERM or SIGHUP (what batch schedulers and closed terminals send).

    Raised in the main thread by the CLI's signal handler so that every ``with`` block unwinds as it
    does for Ctrl-C: temporary files and folders are removed. Not an ``Exception``, so that no
    ``except Exception`` swallows it. The process exits with 128 + the signal number.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.message = ""  # what was kept, if anything: said after "terminated by SIGTERM"
        super().__init__(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
