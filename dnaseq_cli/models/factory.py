"""The one way the commands build, save and load classifiers.

``model_spec(backbone, size, overrides)`` resolves a size preset (declared by the backbone's
``@register`` call) into a JSON-able spec that is stored in the run folder;
``build_classifier(spec, n_out)`` turns it into backbone + shared head. Checkpoint folders are
saved and loaded by :mod:`dnaseq_cli.models.checkpoint`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from dnaseq_cli.errors import InputError
from dnaseq_cli.models import registry
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


def build_model(spec: dict[str, Any], n_out: int, objective: str | None = None) -> nn.Module:
    """The model a run trains: a classifier, or a masked LM for ``objective="masked_lm"``."""
    if objective:
        from dnaseq_cli.models.heads import MaskedLM

        return MaskedLM(build_backbone(spec))
    return build_classifier(spec, n_out=n_out)


def encoding_of(backbone: str, config: dict[str, Any] | None = None) -> str:
    """The token encoding a backbone reads (the GNN's follows its ``k``)."""
    return registry.encoding_of(backbone, config)


def rc_function(encoding: str) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """Reverse complement of a right-padded batch in ``encoding`` (for RC augmentation)."""
    complement = complement_ids_for(encoding)

    def reverse_complement(ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return reverse_complement_ids(ids, mask, complement.to(ids.device))

    return reverse_complement
