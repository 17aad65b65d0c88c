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
from safetensors.torch import load_file, save_file
from torch import nn

from ..heads import SequenceClassifier, SequenceHead
from ..registry import load_state_dict_tied
from .model import CaduceusConfig, CaduceusModel

_DNASEQ_ONLY = {"scan_chunk_size"}


def _read_weights(folder: Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:
    if (folder / "model.safetensors").exists():
        return load_file(str(folder / "model.safetensors"), device=str(map_location))
    if (folder / "pytorch_model.bin").exists():
        return torch.load(
            folder / "pytorch_model.bin", map_location=map_location, weights_only=True
        )
    raise FileNotFoundError(f"{folder}: neither model.safetensors nor pytorch_model.bin")


def hf_to_dnaseq_key(key: str) -> str:
    """`caduceus.backbone.X` (MaskedLM / classifier) or `backbone.X` (bare model) -> `backbone.X`."""
    return key.removeprefix("caduceus.")


def load_hf_checkpoint(
    folder: str | Path, map_location: str | torch.device = "cpu"
) -> CaduceusModel | SequenceClassifier:
    """Load an HF Caduceus folder; a classifier (`score.weight`) comes back as SequenceClassifier.

    The LM head is re-tied to the embedding when its weight is absent (HF drops tied tensors).
    """
    folder = Path(folder)
    raw = json.loads((folder / "config.json").read_text())
    cfg = CaduceusConfig.from_dict(raw)
    model = CaduceusModel(config=cfg)
    state = {hf_to_dnaseq_key(k): v for k, v in _read_weights(folder, map_location).items()}
    score = {k.removeprefix("score."): state.pop(k) for k in list(state) if k.startswith("score.")}
    lm_key = "lm_head.lm_head.weight" if cfg.rcps else "lm_head.weight"
    if lm_key not in state:  # tied in the original model: share the embedding matrix
        cfg.tie_word_embeddings = True
        model.tie_weights()
    load_state_dict_tied(model, state)
    if not score:
        return model.to(map_location).eval()
    n_out = score["weight"].shape[0]
    head = SequenceHead(model.hidden_size, n_out, rc_equivariant=cfg.rcps, bias="bias" in score)
    head.score.load_state_dict(score)
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
