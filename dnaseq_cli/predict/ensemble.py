"""Building model ensembles: several trained classifiers that score a window together.

Why: on a few thousand training sequences single models are noisy, and models of different kinds
(a k-mer composition model, a CNN, a transformer) make different mistakes; averaging their
probabilities is the standard cure (as ChromBPNet and Enformer users average fold models). An
ensemble is a checkpoint folder like any other, so ``predict --model`` and ``vep --model`` take it:

    OUT/config.json     {"format": "dnaseq-ensemble", "members": [{"path": ..., "weight": ...}],
                         "combine": "mean_probability", "data": {...}}
    OUT/members/NAME/   each member's own checkpoint folder (config.json + model.safetensors)

Every member must read windows of the same length and predict the same classes. Each member keeps
its own strand averaging; the ensemble's probability is the weighted mean of the members'. The
ensemble model itself (loading and scoring) is :mod:`dnaseq_cli.models.ensemble`; this module
names, checks and copies the members and fits their Platt calibration (:func:`make_ensemble`, what
``dnaseq ensemble`` calls, does all of it).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dnaseq_cli.errors import InputError
from dnaseq_cli.models.checkpoint import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    check_spec,
    checkpoint_in,
    load_checkpoint,
    read_spec,
    verify_weights,
)
from dnaseq_cli.models.ensemble import (
    COMBINE,
    ENSEMBLE_FORMAT,
    member_encoding,
    member_logits,
)
from dnaseq_cli.output import check_folder_output, output_directory


def fit_platt(margin: np.ndarray, labels: np.ndarray, l2: float = 1e-4) -> tuple[float, float]:
    """``(scale, bias)`` maximising the likelihood of ``sigmoid(scale * margin + bias)`` (Newton).

    Why: members trained with early stopping on AUROC rank well but can sit far from a 0.5
    threshold (a CNN that calls 90% of sequences positive); averaging such probabilities drags the
    ensemble's calls. Platt scaling on held-out data puts every member on one probability scale.
    A small ridge keeps separable data from diverging.
    """
    x = np.stack([margin.astype(np.float64), np.ones(len(margin))], axis=1)
    y = labels.astype(np.float64)
    ridge = l2 * len(y)

    def loss(theta: np.ndarray) -> float:
        z = x @ theta
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * ridge * theta @ theta)

    theta = np.zeros(2)  # p = 0.5 everywhere: a well-conditioned start
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ theta, -30, 30)))
        gradient = x.T @ (p - y) + ridge * theta
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        size, before = 1.0, loss(theta)
        while size > 1e-6 and loss(theta - size * step) > before:  # backtracking
            size /= 2
        theta = theta - size * step
        if np.abs(size * step).max() < 1e-10:
            break
    return float(theta[0]), float(theta[1])


@dataclass(frozen=True)
class MemberSource:
    """A checkpoint folder to copy into an ensemble, under ``name``, with a weight."""

    name: str
    checkpoint: Path
    weight: float = 1.0


def checkpoint_folder(path: Path) -> Path:
    """A train run folder's ``checkpoint/`` or a checkpoint folder itself, with its weights."""
    folder = checkpoint_in(path)
    if not ((folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()):
        raise InputError(
            f"not a run or checkpoint folder (no {CONFIG_NAME} + {WEIGHTS_NAME})", path=path
        )
    return folder


def member_names(folders: list[Path]) -> list[str]:
    """Members named by backbone (``hybrid``, ``kmer``), numbered when a backbone repeats."""
    names = []
    for folder in folders:
        try:
            backbone = read_spec(folder, check=False).raw["backbone"]
        except (InputError, KeyError):  # the loader names what is wrong
            backbone = "member"
        names.append(str(backbone))
    if len(set(names)) == len(names):
        return names
    return [f"{name}_{i}" for i, name in enumerate(names)]


def _member_spec(folder: Path) -> dict[str, Any]:
    """A member's config.json, checked to be a sound dnaseq classifier checkpoint (fields and
    weights hash), so that a damaged member is reported before it is copied into an ensemble."""
    spec = read_spec(folder, check=False).raw
    if spec.get("format") != "dnaseq" or spec.get("task") != "sequence_classification":
        raise InputError(
            "ensemble members must be dnaseq classifier checkpoints (from dnaseq train)",
            path=folder,
        )
    check_spec(spec, folder / CONFIG_NAME)
    task = (spec.get("data") or {}).get("task")
    if task not in ("binary", "multiclass"):
        raise InputError(f"ensemble members must be classifiers (task {task!r})", path=folder)
    verify_weights(folder, spec)
    return spec


def checked_members(sources: list[MemberSource]) -> list[dict[str, Any]]:
    """The members' specs, once every member is known to be usable together: unique names,
    positive weights, and the same window length, classes and task."""
    if not sources:
        raise InputError("an ensemble needs at least one member")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise InputError(f"member names must be unique, got {names}")
    for source in sources:
        if not (math.isfinite(source.weight) and source.weight > 0):
            raise InputError(
                f"member weights must be positive numbers, got {source.weight}",
                path=source.checkpoint,
            )
    specs = [_member_spec(s.checkpoint) for s in sources]
    first = specs[0]["data"]
    for source, spec in zip(sources, specs, strict=True):
        for key in ("window_length", "classes", "task"):
            if spec["data"].get(key) != first.get(key):
                raise InputError(
                    f"member {source.name} has {key} {spec['data'].get(key)!r}, but "
                    f"{sources[0].name} has {first.get(key)!r}; members must agree",
                    path=source.checkpoint,
                )
    return specs


@torch.no_grad()  # not inference_mode: weights loaded inside would be inference tensors
def fit_calibration(
    sources: list[MemberSource], dataset: Path, split: str = "val", batch_size: int = 128
) -> dict[str, Any]:
    """Platt scaling of every (binary) member on one split of a ``dnaseq preprocess`` dataset."""
    from dnaseq_cli.data.dataset import load_dataset

    specs = checked_members(sources)
    data = specs[0]["data"]
    classes = data.get("classes") or []
    if data.get("task") != "binary" or len(classes) != 2:
        raise InputError("calibration is for binary classifiers only", path=sources[0].checkpoint)
    loaded = load_dataset(dataset)
    rows = loaded.split(split)
    if len(rows) == 0:
        raise InputError(f"the dataset has no {split!r} records to calibrate on", path=dataset)
    window = int(data["window_length"])
    if loaded.tokens.shape[1] != window:
        raise InputError(
            f"the dataset's windows are {loaded.tokens.shape[1]} bp, the members read {window} bp",
            path=dataset,
        )
    labels = (loaded.records["label"].to_numpy()[rows] == classes[1]).astype(np.int64)
    if labels.min() == labels.max():
        raise InputError(
            f"the {split!r} split holds only one class; cannot calibrate", path=dataset
        )
    tokens = torch.from_numpy(np.asarray(loaded.tokens[rows], dtype=np.int64))
    fitted: dict[str, Any] = {}
    for source, spec in zip(sources, specs, strict=True):
        model = load_checkpoint(source.checkpoint)
        encoding = member_encoding(spec)
        margins = []
        for begin in range(0, len(tokens), batch_size):
            logits = member_logits(model, encoding, tokens[begin : begin + batch_size])
            margins.append((logits[:, 1] - logits[:, 0]).numpy())
        scale, bias = fit_platt(np.concatenate(margins), labels)
        fitted[source.name] = {"scale": scale, "bias": bias}
    return {
        "method": "platt",
        "dataset": str(dataset),
        "split": split,
        "records": int(len(rows)),
        "members": fitted,
    }


def build_ensemble(
    sources: list[MemberSource],
    output: Path,
    *,
    overwrite: bool = False,
    calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Copy the member checkpoints into ``output`` and write its config; returns the config.

    ``calibration`` (from :func:`fit_calibration`) adds each member's Platt scale and bias."""
    first = checked_members(sources)[0]["data"]
    config = {
        "format": ENSEMBLE_FORMAT,
        "combine": COMBINE,
        "members": [
            {"name": s.name, "path": f"members/{s.name}", "weight": s.weight}
            | ({"calibration": calibration["members"][s.name]} if calibration else {})
            for s in sources
        ],
        "data": {
            "task": first["task"],
            "classes": first.get("classes", []),
            "window_length": first["window_length"],
            "model_encoding": "char",
            "stored_encoding": "char",
        },
    }
    if calibration:
        config["calibration"] = {k: v for k, v in calibration.items() if k != "members"}
    with output_directory(
        output, force=overwrite, inputs=[source.checkpoint for source in sources]
    ) as tmp:
        for source in sources:
            target = tmp / "members" / source.name
            target.mkdir(parents=True)
            for name in (CONFIG_NAME, WEIGHTS_NAME):
                shutil.copyfile(source.checkpoint / name, target / name)
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    return config


def make_ensemble(
    members: list[Path],
    output: Path,
    *,
    weights: list[float] | None = None,
    calibrate: Path | None = None,
    calibration_split: str = "val",
    force: bool = False,
) -> dict[str, Any]:
    """Run or checkpoint folders -> one ensemble model folder; returns its config.

    Members are named by backbone. The output folder is checked before any calibration work, so a
    refused ``output`` costs nothing; ``calibrate`` (a ``dnaseq preprocess`` dataset) fits each
    member's Platt scaling on its ``calibration_split``.
    """
    folders = [checkpoint_folder(path) for path in members]
    if weights is None:
        weights = [1.0] * len(folders)
    if len(weights) != len(folders):
        raise InputError(f"{len(weights)} weights for {len(folders)} members")
    sources = [
        MemberSource(name, folder, weight)
        for name, folder, weight in zip(member_names(folders), folders, weights, strict=True)
    ]
    check_folder_output(output, force=force, inputs=[*members, calibrate])
    calibration = None
    if calibrate is not None:
        calibration = fit_calibration(sources, calibrate, calibration_split)
    return build_ensemble(sources, output, overwrite=force, calibration=calibration)


__all__ = [
    "MemberSource",
    "build_ensemble",
    "checked_members",
    "checkpoint_folder",
    "fit_calibration",
    "fit_platt",
    "make_ensemble",
    "member_names",
]
