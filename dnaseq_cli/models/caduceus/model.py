"""Caduceus backbone (Schiff et al. 2024): BiMamba blocks, RC-equivariant (PS) or post-hoc (PH).

Module names mirror the Hugging Face `CaduceusForMaskedLM` (`backbone.*` <-> `caduceus.backbone.*`,
`lm_head.*`), so HF checkpoints map onto this model by a key prefix only (see hf_format.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dnaseq_cli.allocator import heap_only

from ..registry import register
from .bimamba import BiMambaWrapper
from .rcps import RCPSAddNormWrapper, RCPSEmbedding, RCPSLMHead, RCPSWrapper, RMSNorm, rc_hidden

# Complement of the HF Caduceus character vocabulary: A(7)<->T(10), C(8)<->G(9), specials/N fixed.
DEFAULT_COMPLEMENT_MAP: dict[int, int] = {i: i for i in range(12)} | {7: 10, 8: 9, 9: 8, 10: 7}


@dataclass
class CaduceusConfig:
    """Constructor config; field names and meaning are those of the HF `CaduceusConfig`."""

    d_model: int = 128
    n_layer: int = 4
    vocab_size: int = 12
    ssm_cfg: dict[str, Any] = field(default_factory=dict)
    rms_norm: bool = True
    residual_in_fp32: bool = True
    fused_add_norm: bool = True  # fused-kernel numerics (RCPS: halves swapped per block)
    pad_vocab_size_multiple: int = 8
    norm_epsilon: float = 1e-5
    initializer_cfg: dict[str, Any] | None = None
    bidirectional: bool = True
    bidirectional_strategy: str | None = "add"
    bidirectional_weight_tie: bool = True
    rcps: bool = False
    complement_map: dict[int, int] | None = None
    tie_word_embeddings: bool = True
    num_labels: int = 2
    pad_token_id: int = 4
    scan_chunk_size: int = 32  # dnaseq-only: chunk length of the CPU selective scan

    def __post_init__(self) -> None:
        # Same adjustments as HF Caduceus.__init__: pad the vocab, extend the complement map with identity.
        mult = self.pad_vocab_size_multiple
        if self.vocab_size % mult:
            self.vocab_size += mult - self.vocab_size % mult
        cmap = DEFAULT_COMPLEMENT_MAP if self.complement_map is None else self.complement_map
        cmap = {int(k): int(v) for k, v in cmap.items()}  # JSON gives string keys
        self.complement_map = {i: cmap.get(i, i) for i in range(max(self.vocab_size, len(cmap)))}
        self.ssm_cfg = dict(self.ssm_cfg or {})

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> CaduceusConfig:
        """Build from a dict that may carry extra (e.g. HF bookkeeping) keys; those are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in cfg.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (complement_map with string keys, as HF writes it)."""
        out = asdict(self)
        assert self.complement_map is not None  # __post_init__ fills it in
        out["complement_map"] = {str(k): v for k, v in sorted(self.complement_map.items())}
        return out

    def complement_tensor(self) -> Tensor:
        cmap = self.complement_map
        assert cmap is not None  # __post_init__ fills it in
        return torch.tensor([cmap[i] for i in range(self.vocab_size)], dtype=torch.long)


def _rcps_norm(norm: nn.Module, x: Tensor) -> Tensor:
    """The norm on the forward half and, in its own orientation, on the RC half. A per-position
    norm commutes with the length flip, so the RC half only needs the channel-flipped weight: an
    RMSNorm does both halves as one (..., 2, d) tensor, without flipped copies or a cat."""
    d = x.shape[-1] // 2
    if isinstance(norm, RMSNorm):
        weight = torch.stack([norm.weight, norm.weight.flip(0)]).float()
        halves = F.rms_norm(x.float().unflatten(-1, (2, d)), (d,), eps=norm.eps) * weight
        return halves.flatten(-2).to(norm.weight.dtype)
    return torch.cat([norm(x[..., :d]), rc_hidden(norm(rc_hidden(x[..., d:])))], dim=-1)


def _swap_halves(x: Tensor) -> Tensor:
    return x.unflatten(-1, (2, x.shape[-1] // 2)).flip(-2).flatten(-2)


class CaduceusBlock(nn.Module):
    """Add -> norm -> BiMamba mixer, returning (hidden, residual) like mamba-ssm's Block."""

    def __init__(self, cfg: CaduceusConfig) -> None:
        super().__init__()
        self.rcps, self.fused, self.fp32_res = cfg.rcps, cfg.fused_add_norm, cfg.residual_in_fp32
        mixer = BiMambaWrapper(
            cfg.d_model,
            bidirectional=cfg.bidirectional,
            bidirectional_strategy=cfg.bidirectional_strategy,
            bidirectional_weight_tie=cfg.bidirectional_weight_tie,
            chunk_size=cfg.scan_chunk_size,
            **cfg.ssm_cfg,
        )
        norm = _make_norm(cfg)
        self.mixer = RCPSWrapper(mixer) if cfg.rcps else mixer
        self.norm = RCPSAddNormWrapper(norm) if cfg.rcps and not cfg.fused_add_norm else norm

    def forward(
        self, hidden: Tensor, residual: Tensor | None, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        if self.rcps and self.fused:
            # The reference fused path feeds channels [d:] to the "forward" norm and [:d] to the RC
            # one, i.e. it swaps the strand halves of the residual stream in every block. Checkpoints
            # trained that way need the same swap; it commutes with RC, so equivariance is kept.
            residual = _swap_halves(hidden if residual is None else hidden + residual)
            hidden = _rcps_norm(self.norm, residual)
        elif self.rcps:
            hidden, residual = self.norm(hidden, residual, prenorm=True)
        else:
            residual = hidden if residual is None else hidden + residual
            hidden = self.norm(residual.to(cast(Tensor, self.norm.weight).dtype))
        if self.fp32_res:
            residual = residual.float()
        return self.mixer(hidden, mask), residual


def _make_norm(cfg: CaduceusConfig) -> nn.Module:
    return (
        RMSNorm(cfg.d_model, cfg.norm_epsilon)
        if cfg.rms_norm
        else nn.LayerNorm(cfg.d_model, eps=cfg.norm_epsilon)
    )


class CaduceusEmbeddings(nn.Module):
    def __init__(self, cfg: CaduceusConfig) -> None:
        super().__init__()
        self.word_embeddings: nn.Module = (
            RCPSEmbedding(cfg.vocab_size, cfg.d_model, cfg.complement_tensor())
            if cfg.rcps
            else nn.Embedding(cfg.vocab_size, cfg.d_model)
        )

    def forward(self, ids: Tensor) -> Tensor:
        return self.word_embeddings(ids)


class CaduceusMixerModel(nn.Module):
    """Embeddings, n_layer blocks and the final add+norm (HF `CaduceusMixerModel`)."""

    def __init__(self, cfg: CaduceusConfig) -> None:
        super().__init__()
        self.rcps, self.fused = cfg.rcps, cfg.fused_add_norm
        self.embeddings = CaduceusEmbeddings(cfg)
        self.layers = nn.ModuleList(CaduceusBlock(cfg) for _ in range(cfg.n_layer))
        norm_f = _make_norm(cfg)
        self.norm_f = RCPSAddNormWrapper(norm_f) if cfg.rcps and not cfg.fused_add_norm else norm_f

    def forward(self, ids: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is not None and bool(mask.all()):
            # Batches of full windows (the usual case: the trainer always sends a mask) take the
            # unmasked path, whose fused scan also does dt_proj, bias and softplus; same result.
            mask = None
        hidden, residual = self.embeddings(ids), None
        for layer in self.layers:
            hidden, residual = layer(hidden, residual, mask)
        residual = hidden if residual is None else hidden + residual
        if self.rcps:  # the final norm does not swap halves in either reference path
            norm = (
                self.norm_f.submodule
                if isinstance(self.norm_f, RCPSAddNormWrapper)
                else self.norm_f
            )
            return _rcps_norm(norm, residual.to(norm.weight.dtype))
        return self.norm_f(residual.to(self.norm_f.weight.dtype))


PRESETS = {
    "tiny": {"d_model": 64, "n_layer": 2, "rcps": True},
    "small": {"d_model": 128, "n_layer": 4, "rcps": True},
    "base": {"d_model": 256, "n_layer": 8, "rcps": True},
}


def describe(config: dict[str, Any]) -> tuple[str, str]:
    rc = " reverse-complement equivariant (RCPS)" if config.get("rcps") else ""
    ssm = config.get("ssm_cfg") or {}
    return (
        f"none: bidirectional Mamba (selective SSM, d_state {ssm.get('d_state', 16)}){rc}",
        f"base tokens, d_model {config.get('d_model')}",
    )


@register("caduceus", config=CaduceusConfig, presets=PRESETS, describe=describe)
class CaduceusModel(nn.Module):
    """Caduceus backbone + (tied) LM head. forward -> hidden states (batch, L, hidden_size).

    PS (`rcps=True`): hidden_size = 2*d_model and outputs are exactly RC-equivariant.
    PH (`rcps=False`): hidden_size = d_model; heads average both strands (`rc_mode == "ph"`).
    """

    encoding = "char"
    _complement: Tensor  # a buffer: the complement map as a lookup table

    def __init__(self, **config: Any) -> None:
        super().__init__()
        cfg = config.pop("config", None) or CaduceusConfig.from_dict(config)
        self.config = cfg
        self.hidden_size = cfg.d_model * (2 if cfg.rcps else 1)
        self.rc_mode = "ps" if cfg.rcps else "ph"
        self.register_buffer("_complement", cfg.complement_tensor(), persistent=False)
        self.backbone = CaduceusMixerModel(cfg)
        if cfg.rcps:
            self.lm_head: nn.Module = RCPSLMHead(
                cfg.d_model, cfg.vocab_size, cfg.complement_tensor()
            )
        else:
            self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.apply(self._init_weights)
        self.tie_weights()

    def _init_weights(self, module: nn.Module) -> None:
        """mamba-ssm init: N(0, 0.02) embeddings, zero biases, out_proj scaled by 1/sqrt(n_layer)."""
        init = self.config.initializer_cfg or {}
        if isinstance(module, nn.Linear) and module.bias is not None:
            if not getattr(module.bias, "_no_reinit", False):
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=init.get("initializer_range", 0.02))
        if init.get("rescale_prenorm_residual", True):
            out_proj = getattr(module, "out_proj", None)
            if isinstance(out_proj, nn.Linear) and module is not self:
                nn.init.kaiming_uniform_(out_proj.weight, a=math.sqrt(5))
                with torch.no_grad():
                    out_proj.weight /= math.sqrt(
                        init.get("n_residuals_per_layer", 1) * self.config.n_layer
                    )

    def tie_weights(self) -> None:
        """Share the LM head matrix with the input embedding (HF tie_word_embeddings)."""
        if not self.config.tie_word_embeddings:
            return
        emb = self.backbone.embeddings.word_embeddings
        if self.config.rcps:
            self.lm_head.lm_head.weight = emb.embedding.weight  # type: ignore[union-attr]
        else:
            self.lm_head.weight = emb.weight

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def set_scan(self, impl: str) -> None:
        """'auto' (CUDA kernels / fused CPU kernel / chunked scan, the first that can run), 'fused',
        'chunked' (the pure-PyTorch scan) or 'reference' (step-by-step; tests, benchmarks)."""
        for m in self.modules():
            if hasattr(m, "scan_impl"):
                setattr(m, "scan_impl", impl)  # noqa: B010 (nn.Module types attributes as Tensor | Module)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        if input_ids.is_cuda:
            return self.backbone(input_ids, attention_mask)
        with heap_only():  # long windows' activations are reused, not page-faulted in afresh
            return self.backbone(input_ids, attention_mask)

    def lm_logits(self, hidden: Tensor) -> Tensor:
        """Per-position vocabulary logits (batch, L, vocab_size), float32."""
        return self.lm_head(hidden).float()

    def reverse_complement(
        self, input_ids: Tensor, attention_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """RC of token ids (flip + complement map from the config); the mask is flipped with them."""
        rc_ids = self._complement[input_ids.flip(-1)]
        return rc_ids, None if attention_mask is None else attention_mask.flip(-1)

    def rc_logits(self, logits: Tensor) -> Tensor:
        """Map per-position vocab outputs of the RC strand back onto the forward strand."""
        return logits.flip(-2)[..., self._complement]
