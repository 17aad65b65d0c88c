"""``dnaseq ensemble``: combine trained classifiers into one model folder for predict and vep."""

from __future__ import annotations

from pathlib import Path

import typer

from dnaseq_cli.cli.console import stderr_console
from dnaseq_cli.cli.options import force_option, threads_option
from dnaseq_cli.errors import InputError
from dnaseq_cli.predict.ensemble import make_ensemble
from dnaseq_cli.threads import use_threads


def parse_weights(text: str | None, count: int) -> list[float]:
    """``"2,1,1"`` -> one positive weight per member (all 1 when not given)."""
    if text is None:
        return [1.0] * count
    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"--weights must be comma-separated numbers, got {text!r}") from None
    if len(weights) != count:
        raise InputError(f"--weights gives {len(weights)} numbers for {count} members")
    return weights


def ensemble(
    members: list[Path] = typer.Argument(
        ..., help="Run folders from 'dnaseq train' (or their checkpoint/ folders)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Ensemble model folder to create."),
    weights: str | None = typer.Option(
        None, "--weights", help="Comma-separated weight per member (default: equal)."
    ),
    calibrate: Path | None = typer.Option(
        None,
        "--calibrate",
        help="Fit each member's Platt scaling (binary models) on this 'dnaseq preprocess' "
        "dataset's --calibration-split, so members average on one probability scale.",
    ),
    calibration_split: str = typer.Option(
        "val", "--calibration-split", help="Split of --calibrate to fit on (not the test split)."
    ),
    threads: int | None = threads_option(),
    force: bool = force_option("Replace an existing output folder."),
) -> None:
    """Average several trained classifiers' probabilities: one model folder for --model.

    Members must read the same window length and predict the same classes; they may be different
    backbones. Each member's checkpoint is copied into OUTPUT/members/.
    """
    use_threads(threads)
    config = make_ensemble(
        members,
        output,
        weights=parse_weights(weights, len(members)),
        calibrate=calibrate,
        calibration_split=calibration_split,
        force=force,
    )
    names = [member["name"] for member in config["members"]]
    stderr_console().print(
        f"ensemble of {len(names)} members ({', '.join(names)}) written to {output}"
    )
