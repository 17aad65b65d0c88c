"""``dnaseq ensemble``: combine trained classifiers into one model folder for predict and vep."""

from __future__ import annotations

from pathlib import Path

import typer

from dnaseq_cli.cli.checks import THREADS_HELP, at_least_one
from dnaseq_cli.cli.console import stderr_console
from dnaseq_cli.errors import InputError
from dnaseq_cli.models.checkpoint import read_spec
from dnaseq_cli.output import check_folder_output
from dnaseq_cli.predict.ensemble import (
    MemberSource,
    build_ensemble,
    checkpoint_folder,
    fit_calibration,
)
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


def member_names(folders: list[Path]) -> list[str]:
    """Members named by backbone (``hybrid``, ``kmer``), numbered when a backbone repeats."""
    names = []
    for folder in folders:
        try:
            backbone = read_spec(folder, check=False).raw["backbone"]
        except (InputError, KeyError):  # the loader names what is wrong
            backbone = "member"
        names.append(str(backbone))
    if len(set(names)) == len(names):
        return names
    return [f"{name}_{i}" for i, name in enumerate(names)]


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
    threads: int | None = typer.Option(None, "--threads", callback=at_least_one, help=THREADS_HELP),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing output folder."),
) -> None:
    """Average several trained classifiers' probabilities: one model folder for --model.

    Members must read the same window length and predict the same classes; they may be different
    backbones. Each member's checkpoint is copied into OUTPUT/members/.
    """
    use_threads(threads)
    folders = [checkpoint_folder(path) for path in members]
    sources = [
        MemberSource(name, folder, weight)
        for name, folder, weight in zip(
            member_names(folders), folders, parse_weights(weights, len(members)), strict=True
        )
    ]
    check_folder_output(output, force=force, inputs=[*members, calibrate])
    calibration = None
    if calibrate is not None:
        calibration = fit_calibration(sources, calibrate, calibration_split)
    config = build_ensemble(sources, output, overwrite=force, calibration=calibration)
    stderr_console().print(
        f"ensemble of {len(sources)} members ({', '.join(m['name'] for m in config['members'])}) "
        f"written to {output}"
    )
