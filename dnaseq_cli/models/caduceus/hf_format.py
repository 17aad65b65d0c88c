"""Read and write Hugging Face Caduceus checkpoint folders (kuleshov-group/caduceus-ps / -ph format).

Key layout (from modeling_caduceus.py / modeling_rcps.py of kuleshov-group/caduceus):
`caduceus.backbone.embeddings.word_embeddings[.embedding].weight` (`.embedding` and a
`.complement_map` buffer for RCPS), `caduceus.backbone.layers.N.mixer[.submodule].mamba_{fwd,rev}.*`
(`.submodule` for RCPS), `caduceus.backbone.layers.N.norm[.submodule].weight` (`.submodule` only for
RCPS without fused_add_norm), `caduceus.backbone.norm_f[.submodule].weight`, `lm_head[.lm_head].weight`
(+ `lm_head.complement_map` for RCPS), and `score.weight` for sequence classification. Our modules use
the same names below the `caduceus.` prefix, so conversion is a prefix change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from ...errors import InputError
from ..heads import SequenceClassifier, SequenceHead
from ..registry import (
    CONFIG_NAME,
    check_fields,
    config_fields,
    field_error,
    load_weights_into,
    read_config,
    read_safetensors,
)
from .model import CaduceusConfig, CaduceusModel

_DNASEQ_ONLY = {"scan_chunk_size"}
#: HF's PretrainedConfig default for these is null; a folder saved by transformers may write it.
_NULLABLE = {"pad_token_id"}


def _read_weights(folder: Path, map_location: str | torch.device) -> tuple[dict, Path]:
    """The folder's tensors and the file they came from (safetensors preferred, as HF does)."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        weights = folder / name
        if not weights.exists():
            continue
        if weights.stat().st_size == 0:
            raise InputError(
                "the weights file is empty (0 bytes); it was not written completely", path=weights
            )
        if name.endswith(".safetensors"):
            return read_safetensors(weights, map_location), weights
        try:
            state = torch.load(weights, map_location=map_location, weights_only=True)
        except Exception as error:  # pickle, zip and torch errors alike: a damaged file
            detail = " ".join(str(error).split())
            raise InputError(
                f"not a readable PyTorch weights file ({detail}); it is truncated or damaged",
                path=weights,
            ) from None
        if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()
        ):
            raise InputError("does not hold a state dict of tensors", path=weights)
        return state, weights
    raise InputError(
        "neither model.safetensors nor pytorch_model.bin is in the folder", path=folder
    )


def check_hf_config(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """Check the Caduceus fields of an HF config.json by type and range.

    Lenient only where the format requires: HF configs carry bookkeeping keys dnaseq does not use
    (``architectures``, ``auto_map``, ``transformers_version``, ``id2label``...), so unknown keys
    are allowed, and ``pad_token_id`` may be null (HF's default). Known fields must be right.
    """
    hints = config_fields("caduceus")
    hints.update({k: hints[k] | None for k in _NULLABLE})
    check_fields(raw, hints, path, "", allow_unknown=True, ranges=True)
    if raw.get("model_type") != "caduceus":
        field_error(path, "model_type", f"must be caduceus, got {raw.get('model_type')!r}")
    for key in ("d_model", "n_layer", "vocab_size", "pad_vocab_size_multiple"):
        if key in raw and raw[key] < 1:
            field_error(path, key, f"must be a positive integer, got {raw[key]}")
    return raw


def _check_labels(raw: dict[str, Any], path: Path, n_out: int) -> None:
    """A classifier's label count in config.json must match its score layer."""
    if "num_labels" in raw and raw["num_labels"] != n_out:
        field_error(
            path,
            "num_labels",
            f"is {raw['num_labels']}, but the score layer in the weights has {n_out} outputs",
        )
    labels = raw.get("id2label")
    if isinstance(labels, dict) and len(labels) != n_out:
        field_error(
            path,
            "id2label",
            f"names {len(labels)} labels, but the score layer in the weights has {n_out} outputs",
        )


def hf_to_dnaseq_key(key: str) -> str:
    """`caduceus.backbone.X` (MaskedLM / classifier) or `backbone.X` (bare model) -> `backbone.X`."""
    return key.removeprefix("caduceus.")


def load_hf_checkpoint(
    folder: str | Path, map_location: str | torch.device = "cpu"
) -> CaduceusModel | SequenceClassifier:
    """Load an HF Caduceus folder; a classifier (`score.weight`) comes back as SequenceClassifier.

    The LM head is re-tied to the embedding when its weight is absent (HF drops tied tensors).
    Problems with the folder are :class:`InputError` naming the file and the field.
    """
    folder = Path(folder)
    config_file = folder / CONFIG_NAME
    raw = check_hf_config(read_config(folder), config_file)
    try:
        cfg = CaduceusConfig.from_dict(raw)
        model = CaduceusModel(config=cfg)
    except (TypeError, ValueError, KeyError, RuntimeError) as error:
        detail = " ".join(str(error).split())
        raise InputError(f"does not build a Caduceus model: {detail}", path=config_file) from None
    loaded, weights = _read_weights(folder, map_location)
    state = {hf_to_dnaseq_key(k): v for k, v in loaded.items()}
    score = {k.removeprefix("score."): state.pop(k) for k in list(state) if k.startswith("score.")}
    lm_key = "lm_head.lm_head.weight" if cfg.rcps else "lm_head.weight"
    if lm_key not in state:  # tied in the original model: share the embedding matrix
        cfg.tie_word_embeddings = True
        model.tie_weights()
    load_weights_into(model, state, weights)
    if not score:
        return model.to(map_location).eval()
    if "weight" not in score or score["weight"].dim() != 2:
        raise InputError("the score layer (score.weight) is missing or not a matrix", path=weights)
    n_out = score["weight"].shape[0]
    _check_labels(raw, config_file, n_out)
    head = SequenceHead(model.hidden_size, n_out, rc_equivariant=cfg.rcps, bias="bias" in score)
    load_weights_into(head, {f"score.{k}": v for k, v in score.items()}, weights)
    return SequenceClassifier(model, head).to(map_location).eval()


def _hf_config(cfg: CaduceusConfig, architecture: str) -> dict[str, Any]:
    out = {k: v for k, v in cfg.to_dict().items() if k not in _DNASEQ_ONLY}
    out.update(model_type="caduceus", architectures=[architecture])
    return out


def save_hf_checkpoint(
    model: nn.Module, folder: str | Path, safe_serialization: bool = True
) -> Path:
    """Write config.json + model.safetensors (or pytorch_model.bin) with HF key names.

    Tied LM head weights are omitted as HF does; the tied BiMamba projections are written for both
    directions (clones) so that any loader finds them.
    """
    clf = model if isinstance(model, SequenceClassifier) else None
    lm = clf.backbone if clf is not None else model
    if not isinstance(lm, CaduceusModel):
        raise TypeError(
            "save_hf_checkpoint expects a CaduceusModel or a SequenceClassifier over one"
        )
    cfg = lm.config
    state: dict[str, torch.Tensor] = {}
    for k, v in lm.state_dict().items():
        if k.startswith("lm_head.") and k.endswith("weight") and cfg.tie_word_embeddings:
            continue
        state[("caduceus." + k) if k.startswith("backbone.") else k] = v.detach().cpu().clone()
    arch = "CaduceusForMaskedLM"
    if clf is not None:
        arch = "CaduceusForSequenceClassification"
        state.update(
            {f"score.{k}": v.detach().cpu().clone() for k, v in clf.head.score.state_dict().items()}
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hf_cfg = _hf_config(cfg, arch)
    if clf is not None:
        hf_cfg["num_labels"] = clf.head.score.out_features
    (folder / "config.json").write_text(json.dumps(hf_cfg, indent=2) + "\n")
    if safe_serialization:
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    else:
        torch.save(state, folder / "pytorch_model.bin")
    return folder
