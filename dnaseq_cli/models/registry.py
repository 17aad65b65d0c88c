"""Backbone registry.

A backbone is one module: an nn.Module class (see :class:`Backbone` for what it provides) and its
config dataclass, registered with ``@register(name, config=..., presets=..., describe=...)``. The
registration owns everything the rest of dnaseq needs to know about it: the config fields that
config.json may hold (checked by type and range on loading), the ``--size`` presets
(``tiny``/``small``/``base``) the factory builds, the words of the comparison table (``dnaseq
compare``) and the CLI's lists of backbones. Adding a backbone is that module, one line in
``_BUILTIN``, and its test.

Checkpoint folders (config.json + model.safetensors: reading, checking, saving and loading) live
in :mod:`dnaseq_cli.models.checkpoint`.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from torch import Tensor, nn

_BUILTIN = (
    "dnaseq_cli.models.caduceus",
    "dnaseq_cli.models.bigbird",
    "dnaseq_cli.models.gnn",
    "dnaseq_cli.models.hybrid",
    "dnaseq_cli.models.cnn",
    "dnaseq_cli.models.kmer",
)  # imported lazily: they import this module to register

#: The ``--size`` presets a backbone may define (each a partial config over its defaults).
SIZES = ("tiny", "small", "base")


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


class LanguageModelBackbone(Backbone, Protocol):
    """A :class:`Backbone` with the optional per-position language-model head."""

    def lm_logits(self, hidden: Tensor) -> Tensor: ...

    def rc_logits(self, logits: Tensor) -> Tensor: ...


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


def config_fields(backbone: str) -> dict[str, Any]:
    """``{field: type hint}`` of a backbone's config dataclass (what config.json may hold)."""
    cls = registration(backbone).config
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}
