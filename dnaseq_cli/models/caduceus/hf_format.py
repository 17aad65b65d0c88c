"""Read and write Hugging Face Caduceus checkpoint folders (kuleshov-group/caduceus-ps / -ph format).

Key layout (from modeling_caduceus.py / modeling_rcps.py of kuleshov-group/caduceus):
`caduceus.backbone.embeddings.word_embeddings[.embedding].weight` (`.embedding` and a
`.complement_map` buffer for RCPS), `caduceus.backbone.layers.N.mixer[.submodule].mamba_{fwd,rev}.*`
(`.submodule` for RCPS), `caduceus.backbone.layers.N.norm[.submodule].weight` (`.submodule` only for
RCPS without fused_add_norm), `caduceus.backbone.norm_f[.submodule].weight`, `lm_head[.lm_head].weight`
(+ `lm_head.complement_map` for RCPS), and `score.weight` for sequence classification. Our modules use
the same names below the `caduceus.` prefix, so conversion is a prefix change.

What the reference code leaves out when it saves (HF ``save_pretrained``): a classifier has no
``lm_head.*`` at all; a masked LM has no LM head matrix (tied to the embedding); safetensors files
drop the reverse Mamba's ``in_proj``/``out_proj`` (tied to the forward ones) as duplicates. The
loader derives those, and refuses any other missing or extra tensor by its name in the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from ...errors import InputError
from ..checkpoint import (
    CONFIG_NAME,
    HF_CADUCEUS,
    CheckpointSpec,
    check_fields,
    check_finite,
    field_error,
    load_weights_into,
    read_config,
    read_safetensors,
    register_format,
)
from ..heads import SequenceClassifier, SequenceHead
from ..registry import config_fields
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
        check_finite(state, weights)
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


#: Buffers that config.json's ``complement_map`` determines: a folder may leave them out (the
#: reference classifier has no LM head, so no ``lm_head.complement_map``), but when present they
#: must agree with the config, or the model would complement bases differently from what it says.
_DERIVED_BUFFERS = ("backbone.embeddings.word_embeddings.complement_map", "lm_head.complement_map")


def _lm_head_key(cfg: CaduceusConfig) -> str:
    return "lm_head.lm_head.weight" if cfg.rcps else "lm_head.weight"


def _map_keys(loaded: dict[str, torch.Tensor], weights: Path) -> tuple[dict, dict[str, str]]:
    """dnaseq-named tensors and, for messages, the name each one has in the file."""
    state: dict[str, torch.Tensor] = {}
    file_name: dict[str, str] = {}
    for key, tensor in loaded.items():
        ours = hf_to_dnaseq_key(key)
        if ours in state:
            raise InputError(
                f"weights {file_name[ours]} and {key} name the same tensor", path=weights
            )
        state[ours], file_name[ours] = tensor, key
    return state, file_name


def _check_backbone_state(
    model: CaduceusModel,
    state: dict[str, torch.Tensor],
    file_name: dict[str, str],
    weights: Path,
    config_file: Path,
) -> None:
    """Refuse what a strict load would, naming tensors as the file names them (first one first).

    Missing keys are allowed only where the model derives them: tied tensors (the LM head, the
    reverse Mamba's projections, which Hugging Face drops from safetensors as duplicates) and the
    complement-map buffers. Tensors saved for both sides of a tie must be equal, since only one
    value can be used.
    """
    expected = model.state_dict()

    def name(key: str) -> str:
        return file_name.get(key) or (("caduceus." + key) if key.startswith("backbone.") else key)

    unexpected = [file_name[k] for k in state if k not in expected]
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise InputError(
            f"unexpected weight {unexpected[0]}{more}: the model {CONFIG_NAME} describes has no "
            "such tensor",
            path=weights,
        )
    for key, tensor in state.items():
        if tuple(expected[key].shape) != tuple(tensor.shape):
            raise InputError(
                f"tensor {name(key)} has shape {list(tensor.shape)}, but {CONFIG_NAME} describes "
                f"a model where it is {list(expected[key].shape)}; the weights do not belong to "
                "this config",
                path=weights,
            )
    for key in _DERIVED_BUFFERS:
        if key in state and not torch.equal(state[key].cpu().long(), expected[key].cpu()):
            raise InputError(
                f'tensor {name(key)} differs from field "complement_map" of {config_file}',
                path=weights,
            )
    groups: dict[int, list[str]] = {}  # keys sharing one tensor (ties), in the model's order
    for key, tensor in expected.items():
        groups.setdefault(tensor.untyped_storage().data_ptr(), []).append(key)
    missing = [
        keys[0]
        for keys in groups.values()
        if not any(k in state for k in keys) and not all(k in _DERIVED_BUFFERS for k in keys)
    ]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(
            f"missing weight {name(missing[0])}{more}: the model {CONFIG_NAME} describes needs it",
            path=weights,
        )
    for keys in groups.values():
        present = [k for k in keys if k in state]
        for other in present[1:]:
            if not torch.equal(state[present[0]].float(), state[other].float()):
                raise InputError(
                    f"tensors {name(present[0])} and {name(other)} are tied in the model "
                    f"{CONFIG_NAME} describes (tie_word_embeddings, bidirectional_weight_tie), "
                    "but their values differ",
                    path=weights,
                )


def load_hf_checkpoint(
    folder: str | Path, map_location: str | torch.device = "cpu"
) -> CaduceusModel | SequenceClassifier:
    """Load an HF Caduceus folder; a classifier (`score.weight`) comes back as SequenceClassifier.

    Takes the layouts the reference code saves: a `CaduceusForSequenceClassification` folder has
    no LM head at all, a `CaduceusForMaskedLM` one leaves out the LM head matrix (tied to the
    embedding), and safetensors files leave out the reverse Mamba's tied projections.
    Problems with the folder are :class:`InputError` naming the file and the field or tensor.
    """
    folder = Path(folder)
    raw = check_hf_config(read_config(folder), folder / CONFIG_NAME)
    return _build(folder, raw, map_location)


def _build(
    folder: Path, raw: dict[str, Any], map_location: str | torch.device
) -> CaduceusModel | SequenceClassifier:
    """The model of an HF Caduceus folder whose config.json (``raw``) is already checked."""
    config_file = folder / CONFIG_NAME
    try:
        cfg = CaduceusConfig.from_dict(raw)
        model = CaduceusModel(config=cfg)
    except (TypeError, ValueError, KeyError, RuntimeError) as error:
        detail = " ".join(str(error).split())
        raise InputError(f"does not build a Caduceus model: {detail}", path=config_file) from None
    loaded, weights = _read_weights(folder, map_location)
    state, file_name = _map_keys(loaded, weights)
    score = {k.removeprefix("score."): state.pop(k) for k in list(state) if k.startswith("score.")}
    if score and _lm_head_key(cfg) not in state:
        # A classifier has no LM head; ours stays tied to the embedding, where it costs nothing.
        cfg.tie_word_embeddings = True
        model.tie_weights()
    _check_backbone_state(model, state, file_name, weights, config_file)
    model.load_state_dict(state, strict=False)  # completeness and ties were checked above
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

    Tied LM head weights are omitted as HF does, and a classifier has no LM head at all, as the
    reference `CaduceusForSequenceClassification`; the tied BiMamba projections are written for both
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
        if k.startswith("lm_head.") and (
            clf is not None or (k.endswith("weight") and cfg.tie_word_embeddings)
        ):
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


def _load(spec: CheckpointSpec, map_location: str | torch.device) -> nn.Module:
    return _build(spec.path, spec.raw, map_location)  # load_checkpoint checked spec.raw


register_format(HF_CADUCEUS, check=check_hf_config, load=_load)
