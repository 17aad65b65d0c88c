"""The stderr console the commands share: progress only on a terminal, plain one-line summaries.

Emoji are off everywhere: variant ids such as "chr1:100:A" would otherwise print as an emoji.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TimeElapsedColumn,
)
from rich.text import Text


def stderr_console() -> Console:
    return Console(stderr=True, emoji=False)


def show_progress(quiet: bool) -> bool:
    """Progress bars only for a person watching: never under --quiet or when stderr is piped."""
    return not quiet and sys.stderr.isatty()


class _CountColumn(ProgressColumn):
    """ "scoring: 1,024 windows", or "scoring: 1,024 of 8,192 windows (12%)" once a total is set."""

    def __init__(self, noun: str) -> None:
        super().__init__()
        self.noun = noun

    def render(self, task: Task) -> Text:
        done = int(task.completed)
        if task.total is None:
            return Text(f"scoring: {done:,} {self.noun}")
        total = int(task.total)
        share = f" ({100 * done / total:.0f}%)" if total else ""
        return Text(f"scoring: {done:,} of {total:,} {self.noun}{share}")


class Counter:
    """The advance callback ``counting_spinner`` yields: ``counter(n)`` counts ``n`` more; a
    command that knows how many are coming calls ``counter.set_total(total)`` (optional)."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress, self._task = progress, task

    def __call__(self, n: int) -> None:
        self._progress.advance(self._task, n)

    def set_total(self, total: int) -> None:
        self._progress.update(self._task, total=total)


@contextmanager
def counting_spinner(console: Console, noun: str, quiet: bool) -> Iterator[Counter]:
    """A spinner with a running count ("scoring: 1,024 windows"); yields the advance callback,
    whose ``set_total`` turns the count into "1,024 of 8,192 windows (12%)"."""
    progress = Progress(
        SpinnerColumn(),
        _CountColumn(noun),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress(quiet),
    )
    with progress:
        yield Counter(progress, progress.add_task(noun, total=None))


def say(console: Console, text: str) -> None:
    """Print a summary line as it is: no markup, highlighting or wrapping of paths and ids."""
    console.print(text, highlight=False, markup=False, soft_wrap=True)
