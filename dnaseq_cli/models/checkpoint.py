"""Checkpoint folders (config.json + weights): one reader, one checker per format, one loader.

Three formats share the folder layout: a dnaseq checkpoint (``"format": "dnaseq"``, written by
:func:`save_checkpoint`), a dnaseq ensemble (``"format": "dnaseq-ensemble"``, see
:mod:`dnaseq_cli.models.ensemble`) and a Hugging Face Caduceus folder (``"model_type":
"caduceus"``, see :mod:`dnaseq_cli.models.caduceus.hf_format`). :func:`read_spec` reads any of them
into a typed :class:`CheckpointSpec`, once its fields are checked by the format's checker;
:func:`load_checkpoint` rebuilds the model with the format's loader. Formats register both with
:func:`register_format`.

Loading checks a folder before trusting it, because a checkpoint is user data that can be cut short
by a full disk, edited by hand or damaged in a copy: every config.json field is checked by type and
range (unknown fields are refused, since a typo would otherwise be ignored silently), the weights
file is compared with the sha256 recorded when dnaseq wrote it, and the tensors must fit the model
the config describes. Each problem is an :class:`~dnaseq_cli.errors.InputError` naming the file and
the field, so the CLI reports it on one line instead of a traceback or silently wrong scores.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import math
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from dnaseq_cli.checksums import file_sha256
from dnaseq_cli.errors import InputError
from dnaseq_cli.output import normal_mode

from .registry import available, build, config_fields, encoding_of

CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"
RUN_CHECKPOINT_DIR = "checkpoint"  # where `dnaseq train` puts the best checkpoint in a run folder
#: config.json key holding the sha256 of model.safetensors (absent in folders written before it).
WEIGHTS_HASH_KEY = "weights_sha256"
TASKS = ("backbone", "sequence_classification", "masked_lm")
DATA_TASKS = ("binary", "multiclass", "regression", "masked_lm")
_ENCODING = re.compile(r"^(char|kmer[1-6])$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SIGNED = {"seed"}  # numeric config fields that may be negative

DNASEQ, ENSEMBLE, HF_CADUCEUS = "dnaseq", "dnaseq-ensemble", "hf-caduceus"
#: Modules that register a format on import (besides the backbones ``registry`` imports: the
#: Caduceus package registers the Hugging Face format); imported lazily, as they import this one.
_FORMAT_MODULES = ("dnaseq_cli.models.ensemble",)

Check = Callable[[dict[str, Any], Path], dict[str, Any]]
Load = Callable[["CheckpointSpec", "str | torch.device"], nn.Module]


@dataclasses.dataclass(frozen=True)
class Format:
    """A registered checkpoint format: how its config.json is checked and its model loaded."""

    name: str
    check: Check
    load: Load


_FORMATS: dict[str, Format] = {}


def register_format(name: str, *, check: Check, load: Load) -> None:
    """Make ``read_spec`` check, and ``load_checkpoint`` load, folders of format ``name``."""
    if name in _FORMATS and _FORMATS[name] != Format(name, check, load):
        raise ValueError(f"checkpoint format {name!r} already registered")
    _FORMATS[name] = Format(name, check, load)


def _format(name: str) -> Format:
    available()  # the backbones, and the Caduceus package with them, register their formats
    for module in _FORMAT_MODULES:
        importlib.import_module(module)
    return _FORMATS[name]


def checkpoint_in(path: Path) -> Path:
    """``path`` itself when it holds a config.json, else its ``checkpoint/`` folder when that does
    (a `dnaseq train` run folder), else ``path`` unchanged for the caller to report."""
    if not (path / CONFIG_NAME).exists() and (path / RUN_CHECKPOINT_DIR / CONFIG_NAME).exists():
        return path / RUN_CHECKPOINT_DIR
    return path


# -- the typed spec -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DataRecord:
    """A checkpoint's ``data`` section: what the model reads and predicts (each may be absent)."""

    task: str | None = None
    classes: tuple[str, ...] = ()
    window_length: int | None = None
    stored_encoding: str | None = None
    model_encoding: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> DataRecord:
        data = data if isinstance(data, dict) else {}
        return cls(
            task=data.get("task"),
            classes=tuple(str(c) for c in data.get("classes") or ()),
            window_length=data.get("window_length"),
            stored_encoding=data.get("stored_encoding"),
            model_encoding=data.get("model_encoding"),
        )


@dataclasses.dataclass(frozen=True)
class CheckpointSpec:
    """What a checkpoint folder's config.json says, typed.

    ``format`` is ``"dnaseq"``, ``"dnaseq-ensemble"`` or ``"hf-caduceus"`` (``None`` or another
    string only from ``read_spec(..., check=False)``); ``raw`` is the JSON object as read.
    ``backbone`` is ``"caduceus"`` for a Hugging Face folder and ``None`` for an ensemble;
    ``task`` is the dnaseq model task (``backbone``, ``sequence_classification``, ``masked_lm``).
    """

    path: Path
    format: str | None
    raw: dict[str, Any]
    backbone: str | None
    config: dict[str, Any]
    task: str | None
    head: dict[str, Any] | None
    data: DataRecord
    weights_sha256: str | None
    checked: bool = False  # its format's checker passed (read_spec's default)

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def is_ensemble(self) -> bool:
        return self.format == ENSEMBLE

    def model_encoding(self) -> str:
        """The token encoding the model reads (recorded by train, else from its backbone)."""
        if self.data.model_encoding:
            return self.data.model_encoding
        if self.format != DNASEQ:
            return "char"
        return encoding_of(str(self.backbone), self.config)


def _format_of(raw: dict[str, Any]) -> str | None:
    """The format a config.json declares, without judging it (an unknown one comes back as is)."""
    fmt = raw.get("format")
    if fmt is None and raw.get("model_type") == "caduceus":
        return HF_CADUCEUS
    return fmt if isinstance(fmt, str) else None


def read_spec(folder: str | Path, *, check: bool = True) -> CheckpointSpec:
    """``folder/config.json`` as a :class:`CheckpointSpec`, checked field by field by its format's
    checker (``check=False``: only read as JSON, for callers with their own first questions)."""
    folder = Path(folder)
    raw = read_config(folder)
    fmt: str | None
    if check:
        fmt = checkpoint_format(raw, folder / CONFIG_NAME)
        _format(fmt).check(raw, folder / CONFIG_NAME)
    else:
        fmt = _format_of(raw)
    config = raw.get("config") if fmt != HF_CADUCEUS else raw
    head = raw.get("head")
    digest = raw.get(WEIGHTS_HASH_KEY)
    return CheckpointSpec(
        path=folder,
        format=fmt,
        raw=raw,
        backbone="caduceus" if fmt == HF_CADUCEUS else _str_or_none(raw.get("backbone")),
        config=dict(config) if isinstance(config, dict) else {},
        task=_str_or_none(raw.get("task")),
        head=dict(head) if isinstance(head, dict) else None,
        data=DataRecord.from_dict(raw.get("data")),
        weights_sha256=digest if isinstance(digest, str) else None,
        checked=check,
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _spec(model: nn.Module) -> dict[str, Any]:
    from .heads import MaskedLM, SequenceClassifier, as_backbone

    if isinstance(model, SequenceClassifier):
        spec = _spec(model.backbone)
        spec.update(task="sequence_classification", head=model.head.config_dict())
        spec["conjoin_train"] = model.conjoin_train
        return spec
    if isinstance(model, MaskedLM):
        return _spec(model.backbone) | {"task": "masked_lm"}
    name = getattr(model, "backbone_name", None)
    if name is None:
        raise TypeError(f"{type(model).__name__} is not a registered backbone or a known wrapper")
    return {
        "format": "dnaseq",
        "task": "backbone",
        "backbone": name,
        "config": as_backbone(model).config_dict(),
    }


def _from_spec(spec: dict[str, Any]) -> nn.Module:
    from .heads import MaskedLM, SequenceClassifier, SequenceHead

    backbone = build(spec["backbone"], **spec["config"])
    task = spec.get("task", "backbone")
    if task == "sequence_classification":
        head = SequenceHead(**spec["head"])
        return SequenceClassifier(backbone, head, conjoin_train=spec.get("conjoin_train", False))
    if task == "masked_lm":
        return MaskedLM(backbone)
    return backbone


def unique_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """State dict with tied (shared) tensors written once: safetensors refuses aliases."""
    out: dict[str, torch.Tensor] = {}
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    for k, v in model.state_dict().items():
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        if key in seen:
            continue
        seen.add(key)
        out[k] = v.detach().contiguous()
    return out


def load_state_dict_tied(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Strict load that accepts missing keys only when they alias a loaded (tied) tensor."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise KeyError(f"unexpected weights: {unexpected[:5]}")
    full = model.state_dict()
    loaded = {full[k].untyped_storage().data_ptr() for k in state if k in full}
    real_missing = [k for k in missing if full[k].untyped_storage().data_ptr() not in loaded]
    if real_missing:
        raise KeyError(f"missing weights: {real_missing[:5]}")


def save_checkpoint(
    model: nn.Module, folder: str | Path, data: dict[str, Any] | None = None
) -> Path:
    """Write `folder/config.json` (backbone name + constructor config) and `model.safetensors`.

    ``data`` describes what the model reads and predicts (task, class names, window length, stored
    encoding); it goes under the ``"data"`` key so predict and vep can use a checkpoint on its own.
    The config records the weights' sha256 so that loading notices damaged or swapped weights; the
    weights are written first, so the config's hash always describes the file next to it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = _spec(model)
    if data is not None:
        spec["data"] = data
    weights = folder / WEIGHTS_NAME
    save_file({k: v.cpu() for k, v in unique_state_dict(model).items()}, str(weights))
    # safetensors writes 0600; checkpoints are outputs to share like any other
    normal_mode(weights)
    spec[WEIGHTS_HASH_KEY] = file_sha256(weights)
    (folder / CONFIG_NAME).write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    return folder


# -- config.json checks -------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """A JSON value as the user wrote it, with its JSON type, kept short for a one-line message."""
    kind = {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), "null" if value is None else "a number"
    )
    text = json.dumps(value, sort_keys=True)
    text = text if len(text) <= 40 else text[:37] + "..."
    return text if value is None else f"{text} ({kind})"


def field_error(path: Path, field: str, problem: str) -> NoReturn:
    """Raise the one-line error for a bad config.json field: ``FILE: field "F" PROBLEM``."""
    raise InputError(f'field "{field}" {problem}', path=path)


def read_config(folder: Path) -> dict[str, Any]:
    """``folder/config.json`` as a JSON object (a usage error when missing, unreadable or not JSON)."""
    path = Path(folder) / CONFIG_NAME
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(
            f"not a checkpoint folder: {CONFIG_NAME} is missing", path=folder
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the file: {error}", path=path) from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "the file is truncated or was edited by hand",
            path=path,
        ) from None
    if not isinstance(spec, dict):
        raise InputError(f"expected a JSON object, got {_shown(spec)}", path=path)
    return spec


def _hint_text(hint: Any, plural: bool = False) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        texts = (_hint_text(a, plural) for a in typing.get_args(hint))
        return " or ".join(dict.fromkeys(texts))
    if hint is type(None):
        return "null"
    if origin in (list, tuple):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return f"a list of {_hint_text(args[0], plural=True)}" if args else "a list"
    singular = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    several = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
    if hint is dict or origin is dict:
        return "objects" if plural else "an object"
    return (several if plural else singular).get(hint, str(hint))


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a (simple) type hint; hints it does not know are accepted."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple) or hint in (list, tuple):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        if not isinstance(value, list):
            return False
        return not args or all(_matches(v, args[0]) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def _check_range(path: Path, field: str, value: Any) -> None:
    """Numbers must be finite (JSON readers accept NaN), sizes not negative, dropouts below 1."""
    name = field.rsplit(".", 1)[-1]
    numbers = value if isinstance(value, list) else [value]
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int | float):
            continue
        if not math.isfinite(number):
            field_error(path, field, f"must be a finite number, got {_shown(value)}")
        if isinstance(value, list) and number < 1:
            field_error(path, field, f"must list positive numbers, got {_shown(value)}")
        if number < 0 and name not in _SIGNED:
            field_error(path, field, f"must not be negative, got {_shown(value)}")
        if "dropout" in name and number >= 1:
            field_error(path, field, f"is a dropout rate and must be below 1, got {_shown(value)}")


def check_fields(
    obj: Any,
    hints: dict[str, Any],
    path: Path,
    prefix: str,
    *,
    required: tuple[str, ...] = (),
    allow_unknown: bool = False,
    ranges: bool = False,
) -> dict[str, Any]:
    """Check the object at ``prefix`` (``""`` for the top level) against ``{key: type hint}``.

    Unknown keys are refused unless ``allow_unknown`` (formats with bookkeeping keys, like
    Hugging Face's); required keys must be present; every known key must fit its hint, and with
    ``ranges`` (model sizes and rates) be finite, not negative, and below 1 for a dropout.
    """
    where = prefix or "(top level)"
    if not isinstance(obj, dict):
        field_error(path, where, f"must be a JSON object, got {_shown(obj)}")
    dotted = f"{prefix}." if prefix else ""
    unknown = sorted(set(obj) - set(hints))
    if unknown and not allow_unknown:
        field_error(
            path,
            dotted + unknown[0],
            f"is not a known field here (known: {', '.join(sorted(hints))}); "
            "was it misspelt or written by another program?",
        )
    for key in required:
        if key not in obj:
            field_error(path, dotted + key, "is missing")
    for key, hint in hints.items():
        if key not in obj:
            continue
        value = obj[key]
        if not _matches(value, hint):
            field_error(path, dotted + key, f"must be {_hint_text(hint)}, got {_shown(value)}")
        if ranges:
            _check_range(path, dotted + key, value)
    return obj


def _signature_hints(func: Callable[..., Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Keyword parameters of ``func`` with their type hints, and those without a default."""
    hints = typing.get_type_hints(func)
    params = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    fields = {p.name: hints.get(p.name, Any) for p in params}
    return fields, tuple(p.name for p in params if p.default is inspect.Parameter.empty)


def check_data(
    data: Any, path: Path, prefix: str = "data", n_out: int | None = None
) -> dict[str, Any]:
    """Check a ``data`` section (what the model reads and predicts) against its head's outputs.

    Every key is optional (folders from older versions or tests record less); what is there must
    be right, and class names must match the number of outputs, or predictions would be labelled
    with the wrong class (or a class the model cannot predict).
    """
    hints = {
        "task": str,
        "classes": list[str | int],
        "window_length": int,
        "stored_encoding": str,
        "model_encoding": str,
    }
    check_fields(data, hints, path, prefix)
    task = data.get("task")
    if task is not None and task not in DATA_TASKS:
        field_error(
            path, f"{prefix}.task", f"must be one of {', '.join(DATA_TASKS)}, got {_shown(task)}"
        )
    window = data.get("window_length")
    if window is not None and window < 1:
        field_error(
            path, f"{prefix}.window_length", f"must be a positive integer, got {_shown(window)}"
        )
    if "model_encoding" in data and not _ENCODING.match(data["model_encoding"]):
        field_error(
            path,
            f"{prefix}.model_encoding",
            f"must be char or kmer1..kmer6, got {_shown(data['model_encoding'])}",
        )
    if "stored_encoding" in data:
        from dnaseq_cli.encode import ENCODINGS

        if data["stored_encoding"] not in ENCODINGS:
            field_error(
                path,
                f"{prefix}.stored_encoding",
                f"must be one of {', '.join(ENCODINGS)}, got {_shown(data['stored_encoding'])}",
            )
    classes = data.get("classes")
    if classes is not None and len({str(c) for c in classes}) != len(classes):
        field_error(path, f"{prefix}.classes", f"lists a class twice: {_shown(classes)}")
    if n_out is None:
        return data
    if task == "masked_lm":
        field_error(
            path, f"{prefix}.task", "is masked_lm but the checkpoint has a classification head"
        )
    expected = {"binary": 2, "regression": 1}.get(task or "")
    if expected is not None and n_out != expected:
        field_error(
            path,
            f"{prefix}.task",
            f"is {task}, which needs {_outputs(expected)}, but the head has {_outputs(n_out)}",
        )
    if classes and len(classes) != n_out:
        field_error(
            path,
            f"{prefix}.classes",
            f"lists {len(classes)} classes but the model's head has {_outputs(n_out)} "
            "(head.n_out and the weights); the labels would not match the scores",
        )
    if task == "multiclass" and n_out < 2:
        field_error(path, f"{prefix}.task", f"is multiclass but the head has {n_out} output")
    return data


def _outputs(n: int) -> str:
    return f"{n} output" if n == 1 else f"{n} outputs"


def checkpoint_format(spec: dict[str, Any], path: Path) -> str:
    """``"dnaseq"``, ``"dnaseq-ensemble"`` or ``"hf-caduceus"``, from config.json (``path``)."""
    fmt = spec.get("format")
    if fmt in (DNASEQ, ENSEMBLE):
        return fmt
    if fmt is None and spec.get("model_type") == "caduceus":
        return HF_CADUCEUS
    if fmt is not None:
        field_error(path, "format", f"must be dnaseq or dnaseq-ensemble, got {_shown(fmt)}")
    raise InputError(
        'not a dnaseq checkpoint (no "format": "dnaseq") nor a Hugging Face Caduceus folder '
        '(no "model_type": "caduceus")',
        path=path,
    )


def check_spec(spec: dict[str, Any], path: Path) -> dict[str, Any]:
    """Check a dnaseq checkpoint's config.json (``path``) field by field; returns it unchanged."""
    from .heads import SequenceHead

    top = {
        "format": str,
        "task": str,
        "backbone": str,
        "config": dict[str, Any],
        "head": dict[str, Any],
        "conjoin_train": bool,
        "data": dict[str, Any],
        WEIGHTS_HASH_KEY: str,
    }
    check_fields(spec, top, path, "", required=("format", "task", "backbone", "config"))
    if spec["format"] != "dnaseq":
        field_error(path, "format", f"must be dnaseq, got {_shown(spec['format'])}")
    task = spec["task"]
    if task not in TASKS:
        field_error(path, "task", f"must be one of {', '.join(TASKS)}, got {_shown(task)}")
    names = available()
    if spec["backbone"] not in names:
        field_error(
            path,
            "backbone",
            f"names no known backbone ({', '.join(names)}), got {_shown(spec['backbone'])}",
        )
    check_fields(spec["config"], config_fields(spec["backbone"]), path, "config", ranges=True)
    n_out = None
    if task == "sequence_classification":
        if "head" not in spec:
            field_error(path, "head", "is missing (task is sequence_classification)")
        hints, required = _signature_hints(SequenceHead.__init__)
        check_fields(spec["head"], hints, path, "head", required=required, ranges=True)
        for key in ("hidden_size", "n_out"):
            if spec["head"][key] < 1:
                field_error(
                    path, f"head.{key}", f"must be a positive integer, got {spec['head'][key]}"
                )
        n_out = spec["head"]["n_out"]
    elif "head" in spec:
        field_error(path, "head", f"is only for task sequence_classification (task is {task})")
    digest = spec.get(WEIGHTS_HASH_KEY)
    if digest is not None and not _SHA256.match(digest):
        field_error(
            path, WEIGHTS_HASH_KEY, f"must be 64 lowercase hex digits, got {_shown(digest)}"
        )
    if "data" in spec:
        data = check_data(spec["data"], path, n_out=n_out)
        if task == "masked_lm" and data.get("task", "masked_lm") != "masked_lm":
            field_error(
                path,
                "data.task",
                f"must be masked_lm for a masked_lm checkpoint, got {_shown(data['task'])}",
            )
        wanted = encoding_of(spec["backbone"], spec["config"])
        if "model_encoding" in data and data["model_encoding"] != wanted:
            field_error(
                path,
                "data.model_encoding",
                f"is {data['model_encoding']}, but a {spec['backbone']} model with this config reads {wanted}",
            )
    return spec


# -- weights checks -----------------------------------------------------------------------------


def verify_weights(folder: Path, spec: dict[str, Any], name: str = WEIGHTS_NAME) -> Path:
    """The weights file, once it exists, is not empty and matches the sha256 in config.json.

    Folders written before the hash was recorded have none and are only checked for presence."""
    weights = Path(folder) / name
    if not weights.is_file():
        raise InputError(f"{name} is missing next to {CONFIG_NAME}", path=folder)
    if weights.stat().st_size == 0:
        raise InputError(
            "the weights file is empty (0 bytes); it was not written completely", path=weights
        )
    recorded = spec.get(WEIGHTS_HASH_KEY)
    if recorded is not None:
        actual = file_sha256(weights)
        if actual != recorded:
            raise InputError(
                f"sha256 is {actual[:16]}..., but {CONFIG_NAME} records {WEIGHTS_HASH_KEY} "
                f"{recorded[:16]}...: the weights are damaged or belong to another model",
                path=weights,
            )
    return weights


def read_safetensors(weights: Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; a truncated or damaged file is a usage error naming it."""
    try:
        state = load_file(str(weights), device=str(map_location))
    except Exception as error:  # safetensors raises its own error type, or OSError
        detail = " ".join(str(error).split())
        raise InputError(
            f"not a readable safetensors file ({detail}); it is truncated or damaged",
            path=weights,
        ) from None
    check_finite(state, weights)
    return state


def check_finite(state: dict[str, torch.Tensor], weights: Path) -> None:
    """NaN or infinite weights give NaN or saturated scores: refuse them (damage, not a model)."""
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise InputError(
                f"tensor {key} holds NaN or infinite values; the weights are damaged",
                path=weights,
            )


def load_weights_into(model: nn.Module, state: dict[str, torch.Tensor], weights: Path) -> None:
    """Load ``state`` into ``model`` with errors that say which tensor does not fit."""
    expected = model.state_dict()
    for key, tensor in state.items():
        if key in expected and tuple(expected[key].shape) != tuple(tensor.shape):
            fields = '"head"' if key.startswith("head.") else '"config"'
            raise InputError(
                f"tensor {key} has shape {list(tensor.shape)}, but {CONFIG_NAME} (its {fields} "
                f"fields) describes a model where it is {list(expected[key].shape)}; the weights "
                "do not belong to this config",
                path=weights,
            )
    try:
        load_state_dict_tied(model, state)
    except KeyError as error:
        raise InputError(
            f"{error.args[0]}; the weights do not belong to the model {CONFIG_NAME} describes",
            path=weights,
        ) from None


# -- loading ------------------------------------------------------------------------------------


def load_checkpoint(
    folder: str | Path | CheckpointSpec,
    map_location: str | torch.device = "cpu",
    *,
    ensembles: bool = False,
) -> nn.Module:
    """Rebuild a model saved by `save_checkpoint` (or an HF Caduceus folder) in eval mode, with
    the loader its format registered; an ensemble folder only with ``ensembles=True``.

    ``folder`` may be a :class:`CheckpointSpec` already read (its fields are checked only when
    ``read_spec`` did not check them): config.json is read and checked once per load.
    Raises :class:`InputError` naming the file and the field for anything wrong with the folder.
    """
    spec = folder if isinstance(folder, CheckpointSpec) else read_spec(folder, check=False)
    fmt = spec.format
    if not spec.checked:
        fmt = checkpoint_format(spec.raw, spec.config_file)
    if fmt == ENSEMBLE and not ensembles:
        raise InputError(
            "this is an ensemble folder; load one of its members/NAME folders",
            path=spec.config_file,
        )
    handler = _format(str(fmt))
    if not spec.checked:
        handler.check(spec.raw, spec.config_file)
    return handler.load(spec, map_location)


def _load_dnaseq(spec: CheckpointSpec, map_location: str | torch.device) -> nn.Module:
    weights = verify_weights(spec.path, spec.raw)
    try:
        model = _from_spec(spec.raw)
    except (TypeError, ValueError, AssertionError, RuntimeError, InputError) as error:
        detail = " ".join((error.reason if isinstance(error, InputError) else str(error)).split())
        raise InputError(
            f'field "config" does not build a {spec.backbone} model: {detail}',
            path=spec.config_file,
        ) from None
    load_weights_into(model, read_safetensors(weights, map_location), weights)
    return model.to(map_location).eval()


register_format(DNASEQ, check=lambda raw, path: check_spec(raw, path), load=_load_dnaseq)
