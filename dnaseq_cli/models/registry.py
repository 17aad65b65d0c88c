"""Backbone registry and checkpoint folders (config.json + model.safetensors).

A backbone is one module: an nn.Module class (see :class:`Backbone` for what it provides) and its
config dataclass, registered with ``@register(name, config=..., presets=..., describe=...)``. The
registration owns everything the rest of dnaseq needs to know about it: the config fields that
config.json may hold (checked by type and range on loading), the ``--size`` presets
(``tiny``/``small``/``base``) the factory builds, the words of the comparison table (``dnaseq
compare``) and the CLI's lists of backbones. Adding a backbone is that module, one line in
``_BUILTIN``, and its test.

Loading checks a folder before trusting it, because a checkpoint is user data that can be cut short
by a full disk, edited by hand or damaged in a copy: every config.json field is checked by type and
range (unknown fields are refused, since a typo would otherwise be ignored silently), the weights
file is compared with the sha256 recorded when dnaseq wrote it, and the tensors must fit the model
the config describes. Each problem is an :class:`~dnaseq_cli.errors.InputError` naming the file and
the field, so the CLI reports it on one line instead of a traceback or silently wrong scores.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, NoReturn, Protocol

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from dnaseq_cli.checksums import file_sha256
from dnaseq_cli.errors import InputError
from dnaseq_cli.output import normal_mode

_BUILTIN = (
    "dnaseq_cli.models.caduceus",
    "dnaseq_cli.models.bigbird",
    "dnaseq_cli.models.gnn",
    "dnaseq_cli.models.hybrid",
    "dnaseq_cli.models.cnn",
    "dnaseq_cli.models.kmer",
)  # imported lazily: they import this module to register
CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"
RUN_CHECKPOINT_DIR = "checkpoint"  # where `dnaseq train` puts the best checkpoint in a run folder
#: config.json key holding the sha256 of model.safetensors (absent in folders written before it).
WEIGHTS_HASH_KEY = "weights_sha256"
#: The ``--size`` presets a backbone may define (each a partial config over its defaults).
SIZES = ("tiny", "small", "base")
TASKS = ("backbone", "sequence_classification", "masked_lm")
DATA_TASKS = ("binary", "multiclass", "regression", "masked_lm")
_ENCODING = re.compile(r"^(char|kmer[1-6])$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SIGNED = {"seed"}  # numeric config fields that may be negative


def checkpoint_in(path: Path) -> Path:
    """``path`` itself when it holds a config.json, else its ``checkpoint/`` folder when that does
    (a `dnaseq train` run folder), else ``path`` unchanged for the caller to report."""
    if not (path / CONFIG_NAME).exists() and (path / RUN_CHECKPOINT_DIR / CONFIG_NAME).exists():
        return path / RUN_CHECKPOINT_DIR
    return path


#: (attention mechanism, embeddings): a backbone's two cells of the comparison table, worded
#: from its full config as a JSON object (fields it does not hold fall back to their defaults).
Describe = Callable[[dict[str, Any]], tuple[str, str]]
NOT_RECORDED = ("n/r", "n/r")


class Backbone(Protocol):
    """What a registered backbone provides: what the heads, the factory and this module use.

    * ``encoding``: the token encoding it reads ("char", "kmer3", ...); when it follows the config
      (the GNN's ``k``), a classmethod ``encoding_for(config: dict) -> str`` says which.
    * ``config``: its config dataclass; the constructor takes that (``config=``) or the same
      fields as keywords, and ``config_dict()`` is the JSON object config.json stores, which
      rebuilds it as ``cls(**config_dict())``.
    * ``forward(input_ids [B, L], attention_mask [B, L] | None)``: hidden states ``[B, L, D]``
      aligned with the input, or ``(hidden [B, L', D], valid mask [B, L'])`` for backbones that
      pool along the sequence. ``D`` is ``hidden_size``.
    * ``rc_mode``: "ps" (channel halves are forward / reverse-complement features, pooled by
      :class:`~dnaseq_cli.models.heads.SequenceHead`), "ph" (the classifier runs both strands
      through ``reverse_complement(input_ids, attention_mask)`` and averages) or "none"
      (invariant by construction).
    * Optionally ``lm_logits(hidden)`` and ``rc_logits(logits)``: a per-position language-model
      head, for ``--task mlm`` and :class:`~dnaseq_cli.models.heads.MaskedLM`.
    * ``backbone_name``: set by :func:`register`.
    """

    backbone_name: ClassVar[str]
    encoding: ClassVar[str]
    rc_mode: str
    hidden_size: int
    config: Any

    def config_dict(self) -> dict[str, Any]: ...

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None
    ) -> Tensor | tuple[Tensor, Tensor]: ...

    def reverse_complement(
        self, input_ids: Tensor, attention_mask: Tensor | None
    ) -> tuple[Tensor, Tensor]: ...


class BackboneConfig:
    """Base of the backbones' config dataclasses: ``to_dict()`` is what config.json stores.

    Tuples are written as JSON lists; a field declared with :func:`written_when_set` is left out
    while it holds its default, so that adding a field keeps the configs of earlier checkpoints
    exactly as they were.
    """

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.metadata.get("written_when_set") and value == f.default:
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def _set(self, **values: Any) -> None:
        """Normalise fields in ``__post_init__`` of a frozen dataclass."""
        for name, value in values.items():
            object.__setattr__(self, name, value)


def written_when_set(default: Any) -> Any:
    """A config field that config.json holds only when it differs from ``default``."""
    return dataclasses.field(default=default, metadata={"written_when_set": True})


def make_config(config_class: type[Any], config: Any, fields: dict[str, Any]) -> Any:
    """A backbone constructor's config: ``config`` as given, or built from keyword ``fields``."""
    if config is None:
        return config_class(**fields)
    if fields:
        raise TypeError(f"give a {config_class.__name__} or keyword fields, not both")
    if not isinstance(config, config_class):
        raise TypeError(f"config must be a {config_class.__name__}, got {type(config).__name__}")
    return config


@dataclasses.dataclass(frozen=True)
class Registration:
    """A registered backbone: its class and what its ``@register`` call declared."""

    name: str
    cls: type[nn.Module]
    config: type[Any]
    presets: Mapping[str, Mapping[str, Any]]
    describe: Describe | None
    compared: bool


_REGISTRY: dict[str, Registration] = {}


def register(
    name: str,
    *,
    config: type[Any],
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    describe: Describe | None = None,
    compared: bool = True,
) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make a backbone buildable as ``build(name, **config)``.

    ``config`` is its config dataclass (the fields config.json may hold); ``presets`` maps sizes of
    :data:`SIZES` to partial configs (a size it leaves out builds the defaults); ``describe``
    words its comparison-table cells from a full config; ``compared=False`` leaves it out of the
    backbones ``dnaseq compare --run`` trains unless ``--backbones`` names it.
    """
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"backbone {name!r}: config must be a dataclass, got {config!r}")
    known = {f.name for f in dataclasses.fields(config)}
    presets = {size: dict(values) for size, values in (presets or {}).items()}
    for size, values in presets.items():
        if size not in SIZES:
            raise ValueError(f"backbone {name!r}: preset {size!r} is not one of {SIZES}")
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"backbone {name!r}: preset {size!r} sets unknown fields {unknown}")

    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        if not isinstance(getattr(cls, "encoding", None), str):
            raise TypeError(f"backbone {cls.__name__} must declare a class attribute `encoding`")
        if not callable(getattr(cls, "config_dict", None)):
            raise TypeError(f"backbone {cls.__name__} must define config_dict()")
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise ValueError(f"backbone name {name!r} already registered")
        cls.backbone_name = name  # type: ignore[attr-defined]
        _REGISTRY[name] = Registration(name, cls, config, presets, describe, compared)
        return cls

    return deco


def _load_builtin() -> None:
    for mod in _BUILTIN:
        importlib.import_module(mod)


def available() -> list[str]:
    """Names of registered backbones, sorted."""
    _load_builtin()
    return sorted(_REGISTRY)


def registered() -> list[str]:
    """Names of registered backbones in the order the CLI lists them: the built-in ones in the order
    of ``_BUILTIN``, then any others in the order they were registered."""
    _load_builtin()

    def rank(entry: Registration) -> int:
        module = entry.cls.__module__
        places = (i for i, m in enumerate(_BUILTIN) if module == m or module.startswith(m + "."))
        return next(places, len(_BUILTIN))

    return [entry.name for entry in sorted(_REGISTRY.values(), key=rank)]


def compared() -> list[str]:
    """The backbones ``dnaseq compare --run`` trains by default, in registration order."""
    return [name for name in registered() if _REGISTRY[name].compared]


def registration(name: str) -> Registration:
    _load_builtin()
    if name not in _REGISTRY:
        raise KeyError(f"unknown backbone {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def get(name: str) -> type[nn.Module]:
    return registration(name).cls


def build(name: str, **config: Any) -> nn.Module:
    """Instantiate backbone `name` from its keyword config."""
    return get(name)(**config)


def preset(name: str, size: str) -> dict[str, Any]:
    """The partial config of backbone ``name`` at ``size`` (empty when it defines none)."""
    return copy.deepcopy(dict(registration(name).presets.get(size, {})))


def describe(name: str | None, config: dict[str, Any]) -> tuple[str, str]:
    """(attention mechanism, embeddings) of backbone ``name`` with its full config, for the
    comparison table; ``n/r`` for a backbone unknown here or without a description."""
    _load_builtin()
    entry = _REGISTRY.get(name) if isinstance(name, str) else None
    if entry is None or entry.describe is None:
        return NOT_RECORDED
    return entry.describe(config)


def encoding_of(name: str, config: dict[str, Any] | None = None) -> str:
    """The token encoding backbone ``name`` reads with ``config`` (the class's ``encoding``
    unless it defines ``encoding_for(config)``)."""
    cls = get(name)
    encoding_for = getattr(cls, "encoding_for", None)
    if config and encoding_for is not None:
        return encoding_for(config)
    return cls.encoding  # type: ignore[attr-defined]


def _spec(model: nn.Module) -> dict[str, Any]:
    from .heads import MaskedLM, SequenceClassifier

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
    return {"format": "dnaseq", "task": "backbone", "backbone": name, "config": model.config_dict()}


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


def config_fields(backbone: str) -> dict[str, Any]:
    """``{field: type hint}`` of a backbone's config dataclass (what config.json may hold)."""
    cls = registration(backbone).config
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}


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


def checkpoint_kind(spec: dict[str, Any], path: Path) -> str:
    """``"dnaseq"``, ``"ensemble"`` or ``"hf"`` (a Hugging Face Caduceus folder), from config.json."""
    fmt = spec.get("format")
    if fmt == "dnaseq":
        return "dnaseq"
    if fmt == "dnaseq-ensemble":
        return "ensemble"
    if fmt is None and spec.get("model_type") == "caduceus":
        return "hf"
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


def load_checkpoint(folder: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by `save_checkpoint` (or an HF Caduceus folder) in eval mode.

    Raises :class:`InputError` naming the file and the field for anything wrong with the folder.
    """
    folder = Path(folder)
    spec = read_config(folder)
    config_file = folder / CONFIG_NAME
    kind = checkpoint_kind(spec, config_file)
    if kind == "hf":
        from .caduceus.hf_format import load_hf_checkpoint

        return load_hf_checkpoint(folder, map_location=map_location)
    if kind == "ensemble":
        raise InputError(
            "this is an ensemble folder; load one of its members/NAME folders", path=config_file
        )
    check_spec(spec, config_file)
    weights = verify_weights(folder, spec)
    try:
        model = _from_spec(spec)
    except (TypeError, ValueError, AssertionError, RuntimeError, InputError) as error:
        detail = " ".join((error.reason if isinstance(error, InputError) else str(error)).split())
        raise InputError(
            f'field "config" does not build a {spec["backbone"]} model: {detail}', path=config_file
        ) from None
    load_weights_into(model, read_safetensors(weights, map_location), weights)
    return model.to(map_location).eval()
