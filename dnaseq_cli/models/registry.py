"""Backbone registry and checkpoint folders (config.json + model.safetensors).

A backbone is an nn.Module class registered under a name, constructed from keyword config, with
class attribute `encoding` (the input encoding it reads: "char", "kmer3", "graph", ...) and a
`config_dict()` method returning the keyword config that rebuilds it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from dnaseq_cli.atomic import normal_mode

_REGISTRY: dict[str, type[nn.Module]] = {}
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


def checkpoint_in(path: Path) -> Path:
    """``path`` itself when it holds a config.json, else its ``checkpoint/`` folder when that does
    (a `dnaseq train` run folder), else ``path`` unchanged for the caller to report."""
    if not (path / CONFIG_NAME).exists() and (path / RUN_CHECKPOINT_DIR / CONFIG_NAME).exists():
        return path / RUN_CHECKPOINT_DIR
    return path


def register(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make a backbone buildable as `build(name, **config)`."""

    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        if not isinstance(getattr(cls, "encoding", None), str):
            raise TypeError(f"backbone {cls.__name__} must declare a class attribute `encoding`")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"backbone name {name!r} already registered")
        cls.backbone_name = name  # type: ignore[attr-defined]
        _REGISTRY[name] = cls
        return cls

    return deco


def _load_builtin() -> None:
    for mod in _BUILTIN:
        importlib.import_module(mod)


def available() -> list[str]:
    """Names of registered backbones."""
    _load_builtin()
    return sorted(_REGISTRY)


def get(name: str) -> type[nn.Module]:
    _load_builtin()
    if name not in _REGISTRY:
        raise KeyError(f"unknown backbone {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def build(name: str, **config: Any) -> nn.Module:
    """Instantiate backbone `name` from its keyword config."""
    return get(name)(**config)


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
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = _spec(model)
    if data is not None:
        spec["data"] = data
    (folder / CONFIG_NAME).write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    save_file({k: v.cpu() for k, v in unique_state_dict(model).items()}, str(folder / WEIGHTS_NAME))
    # safetensors writes 0600; checkpoints are outputs to share like any other
    normal_mode(folder / WEIGHTS_NAME)
    return folder


def load_checkpoint(folder: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by `save_checkpoint` (or an HF Caduceus folder) in eval mode."""
    folder = Path(folder)
    spec = json.loads((folder / CONFIG_NAME).read_text())
    if spec.get("format") != "dnaseq":
        if spec.get("model_type") == "caduceus":
            from .caduceus.hf_format import load_hf_checkpoint

            return load_hf_checkpoint(folder, map_location=map_location)
        raise ValueError(f"{folder / CONFIG_NAME}: not a dnaseq checkpoint (no 'format': 'dnaseq')")
    model = _from_spec(spec)
    load_state_dict_tied(model, load_file(str(folder / WEIGHTS_NAME), device=str(map_location)))
    return model.to(map_location).eval()
