"""``dnaseq models``: the models shipped with dnaseq (the model zoo), for ``--model NAME``."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import typer

from dnaseq_cli.errors import InputError

FORMATS = ("table", "tsv", "json")
# (key, header, kind) of the table and TSV columns
COLUMNS = (
    ("name", "name", "text"),
    ("task", "task", "text"),
    ("window", "bp", "int"),
    ("classes", "classes", "list"),
    ("backbones", "backbone", "list"),
    ("dev_auroc", "dev AUROC", "fraction"),
    ("dev_accuracy", "dev acc", "fraction"),
    ("dev_mcc", "dev MCC", "fraction"),
    ("test_auroc", "test AUROC", "fraction"),
    ("kmer_dev_auroc", "k-mer dev AUROC", "fraction"),
    ("best_published_auroc", "published AUROC", "fraction"),
    ("size_bytes", "size", "bytes"),
)
# what the terminal table shows (TSV and JSON hold every column); more on a wide terminal
NARROW_KEYS = ("name", "task", "window", "backbones", "dev_auroc", "test_auroc", "size_bytes")
WIDE_KEYS = (*NARROW_KEYS, "dev_accuracy", "dev_mcc", "kmer_dev_auroc", "best_published_auroc")
WIDE = 130


def _check_format(value: str) -> str:
    if value not in FORMATS:
        raise typer.BadParameter(f"unknown format {value!r}; choose from {', '.join(FORMATS)}")
    return value


def models(
    fmt: str = typer.Option(
        "table", "--format", callback=_check_format, help="table (rich), tsv or json."
    ),
) -> None:
    """List the bundled models (the model zoo): name, task, window, backbone, dev AUROC, size.

    Any of them is selected by name with [bold]--model NAME[/bold] in predict, vep and explain (a
    folder of that name in the current directory wins; [bold]--model bundled:NAME[/bold] always
    means the bundled one). Each folder holds a MODEL_CARD.md (data, metrics, the command that
    rebuilt it, training time) and a zoo.json with the same facts for programs. Dev metrics are
    those of the epoch early stopping kept, on the task's dev (validation) split; a figure that
    was not recorded shows as n/r.
    """
    from dnaseq_cli.predict.zoo import zoo_rows

    rows = zoo_rows()
    if not rows:
        raise InputError("no bundled models in this installation")
    if fmt == "json":
        sys.stdout.write(json.dumps({"models": rows}, indent=2) + "\n")
    elif fmt == "tsv":
        lines = ["\t".join(key for key, _, _ in COLUMNS)]
        lines += ["\t".join(_tsv(row.get(key), kind) for key, _, kind in COLUMNS) for row in rows]
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        _print_table(rows)


def _tsv(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if kind == "list":
        return ",".join(str(item) for item in value)
    if kind == "fraction":
        return f"{value:.4f}"
    return str(value).replace("\t", " ").replace("\n", " ")


def human_size(size: int) -> str:
    """Bytes as people read them: 834 B, 12.3 kB, 2.3 MB (powers of 1000, as du --si)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _shown(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/r"
    if kind == "list":
        return " + ".join(str(item) for item in value)
    if kind == "fraction":
        return f"{value:.3f}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "bytes":
        return human_size(int(value))
    return str(value)


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(emoji=False)
    keys = WIDE_KEYS if console.width >= WIDE else NARROW_KEYS
    columns = [column for column in COLUMNS if column[0] in keys]
    total = sum(row["size_bytes"] for row in rows)
    default = next((row["name"] for row in rows if row["default"]), "none")
    table = Table(
        title="Bundled models (--model NAME in predict, vep, explain)",
        title_justify="left",
        caption=f"{len(rows)} model{'s' * (len(rows) != 1)}, {human_size(total)} in all; "
        f"default: {default}; n/r: not recorded",
        caption_justify="left",
    )
    for key, header, kind in columns:
        numeric = kind in ("int", "fraction", "bytes")
        table.add_column(
            header.replace(" ", "\n") if numeric else header,  # narrow: one word a line
            justify="right" if numeric else "left",
            no_wrap=key in ("name", "size_bytes"),
        )
    for row in rows:
        table.add_row(*(_shown(row.get(key), kind) for key, _, kind in columns))
    console.print(table)
