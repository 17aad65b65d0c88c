"""``dnaseq train --init CHECKPOINT``: start from a pretrained (MLM or classifier) checkpoint.

The new model is built with the checkpoint's own backbone config, so every backbone weight has a
home; the head is taken over only when it has the same shape (same number of classes), otherwise it
keeps its fresh (seeded) initialisation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from dnaseq_cli.checksums import file_sha256
from dnaseq_cli.errors import InputError
from dnaseq_cli.models.checkpoint import (
    CONFIG_NAME,
    DNASEQ,
    ENSEMBLE,
    WEIGHTS_NAME,
    load_checkpoint,
    read_spec,
)


def read_backbone_spec(path: Path) -> dict[str, Any]:
    """``{"backbone", "config"}`` of a dnaseq checkpoint folder (usage errors, not tracebacks)."""
    config_file = Path(path) / CONFIG_NAME
    if not Path(path).is_dir() or not config_file.is_file():
        raise InputError("--init must be a checkpoint folder with config.json", path=path)
    try:
        spec = read_spec(path, check=False)  # its fields are checked when it is loaded
    except InputError as error:
        raise InputError(f"cannot read config.json: {error.reason}", path=config_file) from None
    if spec.format == ENSEMBLE:
        raise InputError(
            "--init takes one checkpoint, not an ensemble; pass one of its members/NAME folders",
            path=path,
        )
    if spec.format != DNASEQ or "backbone" not in spec.raw or "config" not in spec.raw:
        raise InputError("--init: not a dnaseq checkpoint (no backbone config)", path=config_file)
    if not (Path(path) / WEIGHTS_NAME).is_file():
        raise InputError(f"--init: {WEIGHTS_NAME} is missing", path=path)
    return {"backbone": spec.raw["backbone"], "config": dict(spec.raw["config"])}


def spec_from_init(
    path: Path, backbone: str | None, overrides: dict[str, Any], size: str | None = None
) -> dict[str, Any]:
    """The model spec of a run started from ``path``: the checkpoint's backbone and config.

    ``--backbone`` and ``--model-config`` may repeat the checkpoint's values but not contradict
    them (the weights would not fit)."""
    saved = read_backbone_spec(path)
    if backbone is not None and backbone != saved["backbone"]:
        raise InputError(
            f"--backbone {backbone} disagrees with the --init checkpoint, a {saved['backbone']} "
            "model (leave --backbone out to use the checkpoint's)",
            path=path,
        )
    clashes = {k: v for k, v in overrides.items() if saved["config"].get(k, v) != v}
    unknown = sorted(set(overrides) - set(saved["config"]))
    if clashes or unknown:
        detail = ", ".join(
            [f"{k}={v!r} (checkpoint: {saved['config'].get(k)!r})" for k, v in clashes.items()]
            + [f"{k} (not in the checkpoint's config)" for k in unknown]
        )
        raise InputError(
            f"--model-config disagrees with the --init checkpoint: {detail}", path=path
        )
    return {"backbone": saved["backbone"], "size": size or "from-init", "config": saved["config"]}


def _backbone_of(model: nn.Module) -> nn.Module:
    """The backbone inside a wrapper (a bare backbone is its own; Caduceus has a ``.backbone`` too)."""
    from dnaseq_cli.models.heads import MaskedLM, SequenceClassifier

    return model.backbone if isinstance(model, SequenceClassifier | MaskedLM) else model


def load_pretrained(model: nn.Module, path: Path) -> dict[str, Any]:
    """Copy the checkpoint's backbone weights (and a same-shaped head) into ``model``.

    Returns what run_config.json records about the initialisation."""
    from dnaseq_cli.models.heads import SequenceClassifier

    path = Path(path)
    read_backbone_spec(path)
    try:
        source = load_checkpoint(path)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as error:
        raise InputError(f"cannot load the --init checkpoint: {error}", path=path) from None
    source_task = type(source).__name__
    target_backbone, source_backbone = _backbone_of(model), _backbone_of(source)
    if type(target_backbone) is not type(source_backbone):
        raise InputError(
            f"--init holds a {type(source_backbone).__name__} backbone, the run builds a "
            f"{type(target_backbone).__name__}",
            path=path,
        )
    try:
        target_backbone.load_state_dict(source_backbone.state_dict())
    except RuntimeError as error:
        raise InputError(f"--init weights do not fit the model: {error}", path=path) from None
    head = "none"
    if isinstance(model, SequenceClassifier):
        head = "reinitialised"
        if isinstance(source, SequenceClassifier) and _same_shapes(model.head, source.head):
            model.head.load_state_dict(source.head.state_dict())
            head = "loaded"
    return {
        "path": str(path.resolve()),
        "sha256": file_sha256(path / WEIGHTS_NAME),
        "source": source_task,
        "head": head,
    }


def _same_shapes(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape for k in sa)
