"""The descriptive columns of the comparison table (attention, embeddings, class imbalance,
synthetic data, training optimisation) for a run, worded from what the run folder recorded.

The paper's table describes each model in words; the measured table says the same things about the
model that was actually trained, from its full checkpoint config and its run_config.json, so a row
never claims a mechanism the run did not use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: (backbone name or None, its full config) -> (attention mechanism, embeddings). Each backbone
#: words its own cells (its ``@register(describe=...)``); the caller passes
#: ``dnaseq_cli.models.registry.describe``, since report sits below models.
DescribeBackbone = Callable[[str | None, dict[str, Any]], tuple[str, str]]
NOT_RECORDED = ("n/r", "n/r")


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


def describe_run(
    run_config: dict[str, Any],
    checkpoint: dict[str, Any],
    describe_backbone: DescribeBackbone | None = None,
) -> dict[str, str]:
    """The five descriptive cells of a run (empty config pieces give 'n/r' words, not errors);
    without ``describe_backbone`` the attention and embeddings cells are 'n/r'."""
    model = run_config.get("model") or {}
    backbone = model.get("backbone") or checkpoint.get("backbone")
    config = {**(model.get("config") or {}), **(checkpoint.get("config") or {})}
    attention, embeddings = (
        NOT_RECORDED if describe_backbone is None else describe_backbone(backbone, config)
    )
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
