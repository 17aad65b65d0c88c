"""Subcommands whose implementation has not landed yet: registered so that ``--help`` shows the whole
tool, and failing clearly (exit 2) instead of pretending to work."""

from __future__ import annotations

import typer

from dnaseq_cli.errors import InputError

PLANNED = {
    "predict": "Score sequences (FASTA, table, BED + reference) with a trained model.",
    "vep": "Predict variant effects from a VCF against a reference FASTA.",
}


def _placeholder(name: str):
    def command(
        args: list[str] = typer.Argument(None, hidden=True),
    ) -> None:
        raise InputError(f"'dnaseq {name}' is not available yet in this version")

    command.__doc__ = f"{PLANNED[name]} [dim](not available yet)[/dim]"
    return command


def register(app: typer.Typer) -> None:
    for name in PLANNED:
        app.command(
            name=name,
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_placeholder(name))
