"""Range checks for numeric options, as Typer callbacks: one message shape for every command.

A failed check is a usage error, which the entry point prints as one line naming the option
(``dnaseq train: error: Invalid value for '--lr': must be > 0, got -1.0``) and exits 2. ``None``
always means "not given"; 0 is never quietly read as "the default".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import typer

Number = TypeVar("Number", int, float)


def _finite(value: float) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")


def at_least(minimum: float) -> Callable[[Number | None], Number | None]:
    """Accept ``value >= minimum`` (or None)."""

    def check(value: Number | None) -> Number | None:
        if value is None:
            return None
        _finite(value)
        if value < minimum:
            raise typer.BadParameter(f"must be >= {minimum:g}, got {value:g}")
        return value

    return check


def positive(value: Number | None) -> Number | None:
    """Accept ``value > 0`` (or None)."""
    if value is None:
        return None
    _finite(value)
    if value <= 0:
        raise typer.BadParameter(f"must be > 0, got {value:g}")
    return value


def at_most(maximum: float, minimum: float = 0) -> Callable[[Number | None], Number | None]:
    """Accept ``minimum <= value <= maximum`` (or None): rates where a huge value is a typo."""
    low = at_least(minimum)

    def check(value: Number | None) -> Number | None:
        value = low(value)
        if value is not None and value > maximum:
            raise typer.BadParameter(f"must be <= {maximum:g}, got {value:g}")
        return value

    return check


def fraction(*, below_one: bool = False) -> Callable[[float | None], float | None]:
    """Accept ``0 <= value <= 1`` (``< 1`` with ``below_one``), or None."""

    def check(value: float | None) -> float | None:
        if value is None:
            return None
        _finite(value)
        if value < 0 or value > 1 or (below_one and value == 1):
            bound = "< 1" if below_one else "<= 1"
            raise typer.BadParameter(f"must be a fraction, 0 <= x {bound}, got {value:g}")
        return value

    return check


non_negative = at_least(0)
at_least_one = at_least(1)


THREADS_HELP = "CPU threads for the model (default: the cores this process may use)."
