"""The ``dnaseq`` command: a thin Typer layer over the library.

Errors the user can fix (:class:`~dnaseq_cli.errors.InputError`) are printed on one line and exit 2;
other failures exit 1. ``--debug`` (or ``DNASEQ_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator

import typer
from typer._click import exceptions as click_exceptions

from dnaseq_cli import __version__
from dnaseq_cli.allocator import keep_freed_memory
from dnaseq_cli.cli import compare as compare_cmd
from dnaseq_cli.cli import ensemble as ensemble_cmd
from dnaseq_cli.cli import explain as explain_cmd
from dnaseq_cli.cli import fetch as fetch_cmd
from dnaseq_cli.cli import models as models_cmd
from dnaseq_cli.cli import predict as predict_cmd
from dnaseq_cli.cli import preprocess as preprocess_cmd
from dnaseq_cli.cli import train as train_cmd
from dnaseq_cli.cli import vep as vep_cmd
from dnaseq_cli.cli.console import stderr_console
from dnaseq_cli.errors import DnaseqError, Terminated

app = typer.Typer(
    name="dnaseq",
    help="DNA sequence deep learning: score enhancers, predict variant effects, train backbones.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

stderr = stderr_console()


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dnaseq {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks on errors."),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Options that apply to every subcommand."""
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise typer.BadParameter(f"unknown log level {log_level!r}", param_hint="--log-level")
    # force: the entry point may run more than once in one process (tests, notebooks), and the
    # handler must write to the stderr of this call.
    logging.basicConfig(
        level=level, format="dnaseq: %(levelname)s: %(message)s", stream=sys.stderr, force=True
    )


app.command(name="predict", no_args_is_help=True)(predict_cmd.predict)
app.command(name="vep", no_args_is_help=True)(vep_cmd.vep)
app.command(name="explain", no_args_is_help=True)(explain_cmd.explain)
app.command(name="preprocess", no_args_is_help=True)(preprocess_cmd.preprocess)
app.command(name="train", no_args_is_help=True)(train_cmd.train)
app.command(name="compare")(compare_cmd.compare)
app.command(name="ensemble", no_args_is_help=True)(ensemble_cmd.ensemble)
app.command(name="fetch", no_args_is_help=True)(fetch_cmd.fetch)
app.command(name="models")(models_cmd.models)


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("DNASEQ_DEBUG", "") not in ("", "0")


TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def _signals_unwind() -> Iterator[None]:
    """SIGTERM/SIGHUP unwind the stack like Ctrl-C, so temporary outputs are removed."""
    previous = {}
    with contextlib.suppress(ValueError):  # not the main thread: leave the handlers alone
        for signum in TERMINATING_SIGNALS:
            previous[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _usage_line(error: click_exceptions.UsageError) -> str:
    """Click's usage error as one line: 'dnaseq predict: error: Invalid value for ...'."""
    command = error.ctx.command_path if error.ctx is not None else "dnaseq"
    message = " ".join(error.format_message().split())
    return f"{command}: error: {message} (see '{command} --help')"


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map exceptions to one-line messages and exit codes.

    Exit codes: 0 ok, 1 runtime failure, 2 bad usage or input, 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP.
    """
    args = sys.argv[1:] if argv is None else argv
    debug = _debug_requested(args)
    keep_freed_memory()  # the models' large temporaries are reused, not page-faulted back in
    try:
        with _signals_unwind():
            code = app(args=args, prog_name="dnaseq", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as error:
        error.show()
        sys.exit(error.exit_code)
    except click_exceptions.UsageError as error:
        if debug:
            raise
        _print_error(_usage_line(error))
        sys.exit(error.exit_code)
    except typer.Abort:
        _print_error("dnaseq: aborted")
        sys.exit(1)
    except KeyboardInterrupt:
        _print_error("dnaseq: interrupted")
        sys.exit(130)
    except Terminated as error:
        said = f": {error.message}" if error.message else ""
        _print_error(f"dnaseq: terminated by {signal.Signals(error.signum).name}{said}")
        sys.exit(error.exit_code)
    except DnaseqError as error:
        if debug:
            raise
        _print_error(f"dnaseq: error: {error}")
        sys.exit(error.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except Exception as error:  # noqa: BLE001 - last line of defence for a CLI
        if debug:
            raise
        _print_error(
            f"dnaseq: internal error: {type(error).__name__}: {error} (rerun with --debug for details)"
        )
        sys.exit(1)
    if isinstance(code, int) and code != 0:
        if code == 130:
            _print_error("dnaseq: interrupted")
        sys.exit(code)


def _print_error(text: str) -> None:
    stderr.print(text, markup=False, highlight=False, soft_wrap=True)
