"""Generate roff man pages from the live CLI definitions, so the pages never drift from ``--help``.

Run ``python -m dnaseq_cli.cli.manpages man/`` after changing an option; a test fails when the
committed pages differ from what this module generates.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from dnaseq_cli import __version__

_MARKUP = re.compile(r"\[/?[a-z ]+\]")


def _plain(text: str | None) -> str:
    return _MARKUP.sub("", text or "").strip()


def _escape(text: str) -> str:
    """Escape roff specials: backslashes, leading dots/quotes, and hyphens in option names."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = [("\\&" + line) if line.startswith((".", "'")) else line for line in text.splitlines()]
    return "\n".join(lines)


def _paragraphs(text: str) -> str:
    return "\n.PP\n".join(_escape(" ".join(p.split())) for p in text.split("\n\n") if p.strip())


def _option_lines(params) -> list[str]:
    lines: list[str] = []
    for param in params:
        if getattr(param, "hidden", False) or param.param_type_name == "argument":
            continue
        names = ", ".join(f"\\fB{_escape(o)}\\fR" for o in [*param.opts, *param.secondary_opts])
        takes_value = not getattr(param, "is_flag", False) and param.nargs != 0
        metavar = f" \\fI{param.name.upper()}\\fR" if takes_value else ""
        help_text = _escape(_plain(getattr(param, "help", "")))
        default = param.default
        if takes_value and default not in (None, (), []) and not callable(default):
            help_text += f" (default: {_escape(str(default))})"
        lines += [".TP", f"{names}{metavar}", help_text]
    return lines


def _synopsis(prog: str, command) -> str:
    args = [
        f"\\fI{p.name.upper()}\\fR" + ("..." if p.nargs == -1 else "")
        for p in command.params
        if p.param_type_name == "argument" and not getattr(p, "hidden", False)
    ]
    return f"\\fB{_escape(prog)}\\fR [\\fIOPTIONS\\fR] " + " ".join(args)


def render_page(prog: str, command, subcommands: Mapping[str, Any] | None = None) -> str:
    """One man page (roff) for ``prog``; the top-level page also lists the subcommands."""
    title = prog.replace(" ", "-")
    help_text = _plain(command.help)
    summary = help_text.split("\n")[0].rstrip(".")
    lines = [
        f'.TH {title.upper()} 1 "" "dnaseq {__version__}" "dnaseq manual"',
        ".SH NAME",
        f"{_escape(title)} \\- {_escape(summary)}",
        ".SH SYNOPSIS",
        _synopsis(prog, command) + (" \\fICOMMAND\\fR [\\fIARGS\\fR]..." if subcommands else ""),
        ".SH DESCRIPTION",
        _paragraphs(help_text),
    ]
    arguments = [p for p in command.params if p.param_type_name == "argument" and not p.hidden]
    if arguments:
        lines.append(".SH ARGUMENTS")
        for param in arguments:
            lines += [".TP", f"\\fI{param.name.upper()}\\fR", _escape(_plain(param.help))]
    options = _option_lines(command.params)
    if options:
        lines += [".SH OPTIONS", *options]
    if subcommands:
        lines.append(".SH COMMANDS")
        for name, sub in subcommands.items():
            lines += [
                ".TP",
                f"\\fB{name}\\fR",
                _escape(_plain(sub.help).split("\n")[0]),
                f"See \\fBdnaseq\\-{name}\\fR(1).",
            ]
        lines += [
            ".SH EXIT STATUS",
            "0 on success, 1 on a runtime failure, 2 on bad usage or bad input (the message names the "
            "file and line or record).",
        ]
    else:
        lines += [".SH SEE ALSO", "\\fBdnaseq\\fR(1)"]
    return "\n".join(lines) + "\n"


def generate(out_dir: str | Path) -> list[Path]:
    """Write ``dnaseq.1`` and ``dnaseq-<command>.1`` into ``out_dir``; returns the paths."""
    from dnaseq_cli.cli.app import app

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)  # the app has subcommands
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pages = {"dnaseq.1": render_page("dnaseq", root, root.commands)}
    for name, sub in root.commands.items():
        pages[f"dnaseq-{name}.1"] = render_page(f"dnaseq {name}", sub)
    written = []
    for filename, text in pages.items():
        path = out / filename
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    for page in generate(sys.argv[1] if len(sys.argv) > 1 else "man"):
        print(page)
