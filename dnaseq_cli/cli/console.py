"""The stderr console the commands share: progress only on a terminal, plain one-line summaries.

Emoji are off everywhere: variant ids such as "chr1:100:A" would otherwise print as an emoji.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


def stderr_console() -> Console:
    return Console(stderr=True, emoji=False)


def show_progress(quiet: bool) -> bool:
    """Progress bars only for a person watching: never under --quiet or when stderr is piped."""
    return not quiet and sys.stderr.isatty()


@contextmanager
def counting_spinner(console: Console, noun: str, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A spinner with a running count ("scoring: 1,024 windows"); yields the advance callback."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn(f"scoring: {{task.completed:,}} {noun}"),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress(quiet),
    )
    with progress:
        task = progress.add_task(noun, total=None)
        yield lambda n: progress.advance(task, n)


def say(console: Console, text: str) -> None:
    """Print a summary line as it is: no markup, highlighting or wrapping of paths and ids."""
    console.print(text, highlight=False, markup=False, soft_wrap=True)
