"""The one way the commands build, save and load classifiers.

``model_spec(backbone, size, overrides)`` resolves a size preset (declared by the backbone's
``@register`` call) into a JSON-able spec that is stored in the run folder;
``build_classifier(spec, n_out)`` turns it into backbone + shared head.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from dnaseq_cli.errors import InputError
from dnaseq_cli.models import checkpoint, registry
from dnaseq_cli.models.heads import SequenceClassifier
from dnaseq_cli.models.rc import complement_ids_for, reverse_complement_ids

SIZES = registry.SIZES  # each backbone's presets are in its @register call


def model_spec(backbone: str, size: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Preset config for ``backbone`` at ``size`` with user overrides applied."""
    if backbone not in registry.available():
        raise InputError(
            f"unknown backbone {backbone!r}; available: {', '.join(registry.available())}"
        )
    if size not in SIZES:
        raise InputError(f"unknown --size {size!r}; choose from {', '.join(SIZES)}")
    config = registry.preset(backbone, size)
    config.update(overrides or {})
    return {"backbone": backbone, "size": size, "config": config}


def build_backbone(spec: dict[str, Any]) -> nn.Module:
    try:
        return registry.build(spec["backbone"], **spec["config"])
    except (TypeError, ValueError) as error:
        raise InputError(f"bad --model-config for {spec['backbone']}: {error}") from None


def build_classifier(spec: dict[str, Any], n_out: int) -> nn.Module:
    """Backbone + shared pooled head (RC-invariant: PS pooling or strand averaging)."""
    return SequenceClassifier.create(build_backbone(spec), n_out)


def encoding_of(backbone: str, config: dict[str, Any] | None = None) -> str:
    """The token encoding a backbone reads (the GNN's follows its ``k``)."""
    return registry.encoding_of(backbone, config)


def rc_function(encoding: str) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """Reverse complement of a right-padded batch in ``encoding`` (for RC augmentation)."""
    complement = complement_ids_for(encoding)

    def reverse_complement(ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return reverse_complement_ids(ids, mask, complement.to(ids.device))

    return reverse_complement


def save(model: nn.Module, folder: Path, data: dict[str, Any] | None = None) -> None:
    """Write a checkpoint folder; its config.json records the weights' sha256."""
    checkpoint.save_checkpoint(model, folder, data=data)


def load(folder: Path, device: str | torch.device = "cpu") -> nn.Module:
    """Load a checkpoint folder, checked first: a damaged or hand-edited folder is an InputError
    naming the file and the field, never a traceback or a model that scores wrongly."""
    return checkpoint.load_checkpoint(folder, map_location=device)
