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
