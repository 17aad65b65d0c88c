"""The model zoo: the models shipped inside the package, one folder each, and what is known of them.

Every bundled model is a folder ``dnaseq_cli/resources/models/NAME/`` that ``--model NAME`` selects
(in ``predict``, ``vep`` and ``explain``): a checkpoint or ensemble folder (``config.json`` and its
weights), a ``MODEL_CARD.md`` for people, and a ``zoo.json`` for programs, written by the script
that built the model (``scripts/build_zoo.py`` for the GUE models, ``scripts/write_model_card.py``
for ``enhancer_default``). ``dnaseq models`` lists them.

``zoo.json`` (schema 1): one JSON object; a figure that is not known is ``null``, never guessed::

    schema            1
    name              the folder name, e.g. "gue_tf_0"
    task              what it predicts, for people: "GUE tf_0: human TF binding"
    task_id           the benchmark's name of the task ("tf_0"), or null
    dataset           {"name", "source", "citation", "license", "records"}: where the data came from
    split             {"method": how train/dev/test were made, "train", "dev", "test": record counts}
    dev               {"records", "auroc", "accuracy", "mcc"}: the dev (validation) split, at the
                      epoch early stopping kept (for GUE: the task's own dev file)
    test              {"records", "auroc", "accuracy", "mcc"}: a split never used for training or
                      model selection, or null
    kmer_baseline     {"backbone", "size", "dev_auroc"}: the plain k-mer model on the same split
    best_published    {"model", "auroc", "source"}: the best published AUROC for the task, or null
    parameters        trainable parameters
    training_seconds  wall time of the training runs, on the device below
    device            where it was trained ("cpu", with the core count when known)
    train_commands    the ``dnaseq`` commands that trained it
    rebuild_command   the one command that rebuilds this folder
    built_with        {"dnaseq", "torch"} versions

Window, classes and backbones are read from ``config.json`` (the checkpoint is the authority on
what it reads); sizes are measured on disk.
"""

from __future__ import annotations

import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from dnaseq_cli.errors import InputError

DEFAULT_MODEL = "enhancer_default"
ZOO_FILE = "zoo.json"
CARD_FILE = "MODEL_CARD.md"
CONFIG_FILE = "config.json"
SCHEMA = 1
#: Names a bundled model may have: a plain folder name, never a path.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
METRICS = ("auroc", "accuracy", "mcc")


def zoo_root() -> Path:
    """The folder holding the bundled models (``dnaseq_cli/resources/models``)."""
    return Path(str(resources.files("dnaseq_cli") / "resources" / "models"))


def is_model_name(text: str) -> bool:
    """True for a bare name (``gue_tf_0``) as opposed to a path (``runs/x``, ``./x``, ``..``)."""
    return bool(NAME_PATTERN.fullmatch(text)) and text not in (".", "..")


def bundled_path(name: str) -> Path | None:
    """The folder of the bundled model ``name``, or None when there is none of that name."""
    if not is_model_name(name):
        return None
    folder = zoo_root() / name
    return folder if (folder / CONFIG_FILE).is_file() else None


def bundled_names() -> list[str]:
    """Names of the bundled models: the default first, then alphabetically."""
    root = zoo_root()
    if not root.is_dir():
        return []
    names = sorted(
        entry.name
        for entry in root.iterdir()
        if is_model_name(entry.name) and (entry / CONFIG_FILE).is_file()
    )
    return sorted(names, key=lambda name: name != DEFAULT_MODEL)


def unknown_model_message(name: str) -> str:
    """One line for a ``--model`` value that is neither a folder nor a bundled model."""
    names = bundled_names()
    listed = ", ".join(names) if names else "none in this installation"
    return (
        f"--model {name!r} is neither a model folder nor a bundled model; bundled models: {listed} "
        "(see 'dnaseq models')"
    )


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (links not followed)."""
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            path = Path(parent) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def _read_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the file: {error}", path=path) from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})", path=path
        ) from None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object", path=path)
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value else None


def check_facts(facts: dict[str, Any], path: Path | str = ZOO_FILE) -> dict[str, Any]:
    """Check the fields ``dnaseq models`` reads (types only; unknown fields are kept)."""
    if facts.get("schema") != SCHEMA:
        raise InputError(f"schema is {facts.get('schema')!r}, expected {SCHEMA}", path=path)
    for key in ("name", "task", "rebuild_command"):
        if not isinstance(facts.get(key), str) or not facts[key]:
            raise InputError(f"{key} must be a non-empty string", path=path)
    for key in ("dev", "test", "kmer_baseline", "best_published", "dataset", "split"):
        if facts.get(key) is not None and not isinstance(facts[key], dict):
            raise InputError(f"{key} must be an object or null", path=path)
    for part in ("dev", "test"):
        for metric in METRICS:
            value = (facts.get(part) or {}).get(metric)
            if value is not None and _number(value) is None:
                raise InputError(f"{part}.{metric} must be a number or null", path=path)
    for key in ("training_seconds", "parameters"):
        if facts.get(key) is not None and _number(facts[key]) is None:
            raise InputError(f"{key} must be a number or null", path=path)
    return facts


def read_facts(folder: Path) -> dict[str, Any] | None:
    """The folder's ``zoo.json``, checked; None when it has none."""
    path = Path(folder) / ZOO_FILE
    if not path.is_file():
        return None
    return check_facts(_read_object(path), path)


def write_facts(path: Path, facts: dict[str, Any]) -> Path:
    """Write ``facts`` as a ``zoo.json`` file (checked first, replaced only when complete)."""
    from dnaseq_cli.output import atomic_path

    path = Path(path)
    check_facts(facts, path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(facts, indent=2) + "\n")
    return path


def _backbones(folder: Path, config: dict[str, Any]) -> list[str]:
    """The backbone of a checkpoint; each member's for an ensemble; caduceus for an HF folder."""
    if config.get("format") == "dnaseq-ensemble":
        found = []
        for member in config.get("members") or []:
            member_config = folder / str(member.get("path", "")) / CONFIG_FILE
            backbone = None
            if member_config.is_file():
                backbone = _read_object(member_config).get("backbone")
            found.append(str(backbone or member.get("name", "?")))
        return found
    if "backbone" in config:
        return [str(config["backbone"])]
    return ["caduceus"] if config.get("model_type") == "caduceus" else ["?"]


def describe(folder: Path) -> dict[str, Any]:
    """One row of ``dnaseq models`` for a bundled model folder."""
    folder = Path(folder)
    config = _read_object(folder / CONFIG_FILE)
    data = config.get("data") or {}
    facts = read_facts(folder) or {}
    dev = facts.get("dev") or {}
    test = facts.get("test") or {}
    kmer = facts.get("kmer_baseline") or {}
    published = facts.get("best_published") or {}
    classes = [str(c) for c in data.get("classes") or []]
    return {
        "name": folder.name,
        "task": facts.get("task"),
        "window": data.get("window_length"),
        "classes": classes,
        "backbones": _backbones(folder, config),
        "dev_auroc": _number(dev.get("auroc")),
        "dev_accuracy": _number(dev.get("accuracy")),
        "dev_mcc": _number(dev.get("mcc")),
        "test_auroc": _number(test.get("auroc")),
        "kmer_dev_auroc": _number(kmer.get("dev_auroc")),
        "best_published_auroc": _number(published.get("auroc")),
        "training_seconds": _number(facts.get("training_seconds")),
        "size_bytes": folder_bytes(folder),
        "default": folder.name == DEFAULT_MODEL,
        "card": str(folder / CARD_FILE) if (folder / CARD_FILE).is_file() else None,
        "path": str(folder),
        "facts": facts or None,
    }


def zoo_rows() -> list[dict[str, Any]]:
    """Every bundled model, described (the default first)."""
    return [describe(zoo_root() / name) for name in bundled_names()]


__all__ = [
    "CARD_FILE",
    "DEFAULT_MODEL",
    "SCHEMA",
    "ZOO_FILE",
    "bundled_names",
    "bundled_path",
    "check_facts",
    "describe",
    "folder_bytes",
    "is_model_name",
    "read_facts",
    "unknown_model_message",
    "write_facts",
    "zoo_rows",
    "zoo_root",
]
