"""The descriptive columns of the comparison table (attention, embeddings, class imbalance,
synthetic data, training optimisation) for a run, worded from what the run folder recorded.

The paper's table describes each model in words; the measured table says the same things about the
model that was actually trained, from its full checkpoint config and its run_config.json, so a row
never claims a mechanism the run did not use.
"""

from __future__ import annotations

import math
from typing import Any


def _blocks(config: dict[str, Any]) -> str:
    return (
        f"block-sparse: {config.get('window_blocks', 3)} window + "
        f"{config.get('num_random_blocks', 3)} random + {config.get('num_global_blocks', 1)} "
        f"global blocks of {config.get('block_size', 64)} tokens"
    )


def _self_attention(window: int | None) -> str:
    return "full self-attention" if window is None else f"block-local self-attention (w={window})"


def attention_and_embeddings(backbone: str | None, config: dict[str, Any]) -> tuple[str, str]:
    """(attention mechanism, embeddings) of a backbone with its full constructor config."""
    if backbone == "caduceus":
        rc = " reverse-complement equivariant (RCPS)" if config.get("rcps") else ""
        ssm = config.get("ssm_cfg") or {}
        return (
            f"none: bidirectional Mamba (selective SSM, d_state {ssm.get('d_state', 16)}){rc}",
            f"base tokens, d_model {config.get('d_model')}",
        )
    if backbone == "bigbird":
        return _blocks(config), f"3-mer tokens + rotary positions, d_model {config.get('d_model')}"
    if backbone == "gnn":
        local = str(config.get("local_layer", "gatv2")).upper()
        attention = f"{local} message passing"
        if config.get("global_attention", True):
            attention += " + " + _self_attention(config.get("attention_window"))
        if config.get("global_tokens"):
            attention += f", {config['global_tokens']} summary tokens"
        return attention, (
            f"{config.get('k', 3)}-mer graph nodes + edge types, d_model {config.get('d_model')}"
        )
    if backbone == "hybrid":
        pools = config.get("pool_sizes") or []
        factor = math.prod(pools) if pools else 1
        return (
            _self_attention(config.get("attention_window"))
            + f" over {factor}x pooled CNN features",
            f"summed k-mer embeddings (k = {', '.join(map(str, config.get('kmer_sizes', [])))}), "
            f"conv stem {config.get('stem_kernels')}, d_model {config.get('d_model')}",
        )
    if backbone == "cnn":
        return "none (convolutions)", f"base embeddings, {config.get('embed_dim')} dims"
    if backbone == "kmer":
        ks = ", ".join(map(str, config.get("kmer_sizes", [])))
        return "none (composition only)", f"strand-symmetric k-mer frequencies (k = {ks})"
    return "n/r", "n/r"


def class_imbalance(train: dict[str, Any]) -> str:
    methods = []
    if train.get("balanced_sampling"):
        methods.append("weighted sampling")
    loss = train.get("loss", "ce")
    if loss == "weighted":
        methods.append("class-weighted loss")
    elif loss == "focal":
        methods.append("focal loss")
    return ", ".join(methods) or "none"


def synthetic_data(train: dict[str, Any], synthetic: dict[str, Any]) -> str:
    parts = []
    if synthetic.get("gan"):
        parts.append(f"{synthetic['gan']:,} GAN sequences")
    if synthetic.get("shuffled_negatives"):
        parts.append(f"{synthetic['shuffled_negatives']:,} dinucleotide-shuffled negatives")
    if train.get("rc_augment"):
        parts.append("reverse-complement augmentation")
    if train.get("shift_augment"):
        parts.append(f"shift +-{train['shift_augment']} bp")
    return ", ".join(parts) or "none"


def training_optimisation(
    train: dict[str, Any], world_size: int, device: str | None, precision: str | None
) -> str:
    batch = f"batch {train.get('batch_size')}"
    if train.get("grad_accum", 1) > 1 or world_size > 1:
        batch += f" x {train.get('grad_accum', 1)} accumulated x {world_size} processes"
    precision = "bf16 autocast" if precision == "bf16" else "fp32"
    patience = train.get("patience")
    stopping = f"early stopping (patience {patience})" if patience else "no early stopping"
    return (
        f"AdamW lr {train.get('lr'):g} wd {train.get('weight_decay'):g}, "
        f"{train.get('warmup_fraction', 0):.0%} warmup + cosine, clip {train.get('grad_clip'):g}, "
        f"{batch}, {stopping}, {precision} on {device}"
    )


def describe_run(run_config: dict[str, Any], checkpoint: dict[str, Any]) -> dict[str, str]:
    """The five descriptive cells of a run (empty config pieces give 'n/r' words, not errors)."""
    model = run_config.get("model") or {}
    backbone = model.get("backbone") or checkpoint.get("backbone")
    config = {**(model.get("config") or {}), **(checkpoint.get("config") or {})}
    attention, embeddings = attention_and_embeddings(backbone, config)
    train = run_config.get("train") or {}
    described = {"attention": attention, "embeddings": embeddings}
    if train:
        described.update(
            class_imbalance=class_imbalance(train),
            synthetic_data=synthetic_data(train, run_config.get("synthetic") or {}),
            training_optimisation=training_optimisation(
                train,
                int(run_config.get("world_size") or 1),
                run_config.get("device"),
                run_config.get("precision"),
            ),
        )
    return described
