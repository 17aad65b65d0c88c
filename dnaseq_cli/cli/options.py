"""One home for the options that several commands share: each factory returns a fresh ``typer.Option``.

A command's signature then reads ``device: str = device_option()``; parameters exist only where
commands genuinely differ (a help sentence, a default, a short flag). Names, short flags, defaults,
types and callbacks are those the commands always had.
"""

from __future__ import annotations

from typing import Any

import typer

from dnaseq_cli.cli.checks import THREADS_HELP, at_least_one, fraction, non_negative

MODEL_HELP = (
    "A bundled model's name ('dnaseq models' lists them), a 'dnaseq train' run or "
    "checkpoint folder, a 'dnaseq ensemble' folder, or an HF Caduceus classifier folder (a "
    "folder wins over a bundled model of the same name); default: the bundled enhancer model."
)
WINDOW_HELP = "Window length, for checkpoints that do not record it."


def model_option(help: str = MODEL_HELP) -> Any:
    """``--model/-m``: a bundled model's name or a model folder (default: the bundled one)."""
    return typer.Option(None, "--model", "-m", help=help)


def output_tsv_option(help: str = "Output TSV ('-' = stdout).") -> Any:
    """``--output/-o`` of the commands that write a table, '-' (stdout) by default."""
    return typer.Option("-", "--output", "-o", help=help)


def reference_option(help: str = "Reference FASTA for BED input.", required: bool = False) -> Any:
    """``--reference/-r``: the reference FASTA (optional unless ``required``)."""
    return typer.Option(... if required else None, "--reference", "-r", help=help)


def input_format_option() -> Any:
    """``--format`` of the commands that read sequence records."""
    return typer.Option("auto", "--format", help="auto, fasta, table or bed.")


def sequence_column_option() -> Any:
    """``--sequence-column`` of table input."""
    return typer.Option(
        None, "--sequence-column", help="Table column with sequences (default: sequence/seq)."
    )


def name_column_option() -> Any:
    """``--name-column`` of table input."""
    return typer.Option(None, "--name-column", help="Table column with names.")


def window_option(help: str = WINDOW_HELP) -> Any:
    """``--window/-w``: a window length in bp, at least 1."""
    return typer.Option(None, "--window", "-w", callback=at_least_one, help=help)


def stride_option(help: str) -> Any:
    """``--stride``: the step between tiled windows, at least 1."""
    return typer.Option(None, "--stride", callback=at_least_one, help=help)


def harmonise_chroms_option() -> Any:
    """``--harmonise-chroms`` (off by default) of the commands that read BED against a reference."""
    return typer.Option(
        False, "--harmonise-chroms", help="Map chr1 <-> 1 naming between BED and reference."
    )


def batch_size_option(default: int = 256, help: str = "Windows per forward pass.") -> Any:
    """``--batch-size``, at least 1."""
    return typer.Option(default, "--batch-size", callback=at_least_one, help=help)


def device_option(help: str = "auto, cpu or cuda[:N].") -> Any:
    """``--device``: auto (the default), cpu or cuda[:N]."""
    return typer.Option("auto", "--device", help=help)


def threads_option(help: str = THREADS_HELP) -> Any:
    """``--threads``: CPU threads, at least 1 (default: the cores this process may use)."""
    return typer.Option(None, "--threads", callback=at_least_one, help=help)


def quiet_option(help: str = "No progress or summary on stderr.") -> Any:
    """``--quiet/-q``."""
    return typer.Option(False, "--quiet", "-q", help=help)


def force_option(help: str, short: bool = True) -> Any:
    """``--force`` (with ``-f`` unless ``short`` is False): replace what is already there."""
    flags = ("--force", "-f") if short else ("--force",)
    return typer.Option(False, *flags, help=help)


# The dataset options that 'dnaseq preprocess' and 'dnaseq train' (direct inputs) share.


def label_column_option() -> Any:
    """``--label-column``: where each record's label comes from."""
    return typer.Option(
        None,
        "--label-column",
        help="Label source: table column name; for BED 'name', 'score' or a 1-based column number.",
    )


def val_fraction_option() -> Any:
    """``--val-fraction``: 0.1 by default, a fraction below 1."""
    return typer.Option(
        0.1, "--val-fraction", callback=fraction(below_one=True), help="Validation fraction."
    )


def test_fraction_option() -> Any:
    """``--test-fraction``: 0.1 by default, a fraction below 1."""
    return typer.Option(
        0.1, "--test-fraction", callback=fraction(below_one=True), help="Test fraction."
    )


def test_chroms_option() -> Any:
    """``--test-chroms``: comma-separated chromosomes held out for test."""
    return typer.Option(
        None, "--test-chroms", help="Hold out these chromosomes for test, e.g. chr8,chr9."
    )


def val_inputs_option() -> Any:
    """``--val-input`` (repeatable): files whose records are the validation split."""
    return typer.Option(
        None,
        "--val-input",
        help="Use this file's records as the validation split, as given (e.g. a benchmark's dev "
        "set; repeatable). Training records identical to one of them are dropped, with a count.",
    )


def test_inputs_option() -> Any:
    """``--test-input`` (repeatable): files whose records are the test split."""
    return typer.Option(
        None,
        "--test-input",
        help="Use this file's records as the test split, as given (repeatable).",
    )


# The training options that 'dnaseq train' and 'dnaseq compare --run' share.


def seed_option(help: str) -> Any:
    """``--seed``: 0 by default, not negative."""
    return typer.Option(0, "--seed", callback=non_negative, help=help)


def max_steps_option(help: str) -> Any:
    """``--max-steps-per-epoch``: at least 1 (default: no cap)."""
    return typer.Option(None, "--max-steps-per-epoch", callback=at_least_one, help=help)
