"""Model ensembles: several trained classifiers that score a window together.

Why: on a few thousand training sequences single models are noisy, and models of different kinds
(a k-mer composition model, a CNN, a transformer) make different mistakes; averaging their
probabilities is the standard cure (as ChromBPNet and Enformer users average fold models). An
ensemble is a checkpoint folder like any other, so ``predict --model`` and ``vep --model`` take it:

    OUT/config.json     {"format": "dnaseq-ensemble", "members": [{"path": ..., "weight": ...}],
                         "combine": "mean_probability", "data": {...}}
    OUT/members/NAME/   each member's own checkpoint folder (config.json + model.safetensors)

Every member must read windows of the same length and predict the same classes. Each member keeps
its own strand averaging; the ensemble's probability is the weighted mean of the members'.
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
from torch import Tensor, nn

from dnaseq_cli.errors import InputError
from dnaseq_cli.models.registry import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    check_data,
    check_fields,
    check_spec,
    checkpoint_in,
    field_error,
    read_config,
    verify_weights,
)
from dnaseq_cli.output import output_directory

ENSEMBLE_FORMAT = "dnaseq-ensemble"
COMBINE = "mean_probability"


def is_ensemble(spec: dict[str, Any]) -> bool:
    return spec.get("format") == ENSEMBLE_FORMAT


class EnsembleClassifier(nn.Module):
    """Weighted mean of member class probabilities, returned as log-probabilities.

    Input is character ids; each member gets them converted to the encoding it reads. Returning
    ``log(mean p)`` keeps the classifier interface (``softmax`` of the output is the mean).
    """

    def __init__(
        self,
        members: list[nn.Module],
        encodings: list[str],
        weights: list[float],
        calibration: list[tuple[float, float]] | None = None,
    ) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.encodings = list(encodings)
        total = float(sum(weights))
        self.register_buffer("weights", torch.tensor([w / total for w in weights]))
        self.calibration = calibration

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        mean = 0.0
        for i, (member, encoding) in enumerate(zip(self.members, self.encodings, strict=True)):
            logits = member_logits(member, encoding, input_ids)
            if self.calibration is None:
                probs = torch.softmax(logits, -1)
            else:  # binary: Platt scaling of the member's log-odds
                scale, bias = self.calibration[i]
                positive = torch.sigmoid(scale * (logits[:, 1] - logits[:, 0]) + bias)
                probs = torch.stack([1 - positive, positive], dim=-1)
            mean = mean + self.weights[i] * probs
        return torch.log(mean.clamp(min=1e-12))


def member_logits(member: nn.Module, encoding: str, char_ids: Tensor) -> Tensor:
    """A member's (strand-averaged) logits for right-padded character ids."""
    from dnaseq_cli.encode.convert import convert_tokens, pad_id_for

    ids = convert_tokens(char_ids, "char", encoding)
    return member(ids, ids != pad_id_for(encoding)).float()


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


def member_encoding(spec: dict[str, Any]) -> str:
    """The token encoding a member checkpoint reads (recorded by train, else from its backbone)."""
    from dnaseq_cli.models.factory import encoding_of

    return (spec.get("data") or {}).get("model_encoding") or encoding_of(
        spec["backbone"], spec.get("config")
    )


def _member_spec(folder: Path) -> dict[str, Any]:
    """A member's config.json, checked to be a sound dnaseq classifier checkpoint (fields and
    weights hash), so that a damaged member is reported before it is copied into an ensemble."""
    spec = read_config(folder)
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


def check_ensemble_spec(spec: dict[str, Any], path: Path) -> dict[str, Any]:
    """Check an ensemble's config.json (``path``) field by field; returns it unchanged.

    The members' own folders are checked when they are loaded (:func:`load_ensemble`)."""
    top = {
        "format": str,
        "combine": str,
        "members": list[dict],
        "data": dict,
        "calibration": dict,
    }
    check_fields(spec, top, path, "", required=("format", "members"))
    if spec["format"] != ENSEMBLE_FORMAT:
        field_error(path, "format", f"must be {ENSEMBLE_FORMAT}, got {spec['format']!r}")
    if spec.get("combine", COMBINE) != COMBINE:
        field_error(path, "combine", f"must be {COMBINE}, got {spec['combine']!r}")
    if not spec["members"]:
        field_error(path, "members", "is empty; an ensemble needs at least one member")
    member_hints = {"name": str, "path": str, "weight": float, "calibration": dict}
    names = set()
    for i, entry in enumerate(spec["members"]):
        where = f"members[{i}]"
        check_fields(entry, member_hints, path, where, required=("name", "path"))
        weight = entry.get("weight", 1.0)
        if not (math.isfinite(weight) and weight > 0):
            field_error(path, f"{where}.weight", f"must be a positive number, got {weight}")
        relative = Path(entry["path"])
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            field_error(
                path,
                f"{where}.path",
                f"must be a folder inside the ensemble, got {entry['path']!r}",
            )
        if entry["name"] in names:
            field_error(path, f"{where}.name", f"repeats the member name {entry['name']!r}")
        names.add(entry["name"])
        if "calibration" in entry:
            hints = {"scale": float, "bias": float}
            check_fields(
                entry["calibration"], hints, path, f"{where}.calibration", required=tuple(hints)
            )
            for key in hints:
                if not math.isfinite(entry["calibration"][key]):
                    field_error(path, f"{where}.calibration.{key}", "must be a finite number")
    if len({"calibration" in entry for entry in spec["members"]}) > 1:
        field_error(path, "members", "gives calibration for some members only")
    if "calibration" in spec:
        hints = {"method": str, "dataset": str, "split": str, "records": int}
        check_fields(spec["calibration"], hints, path, "calibration")
    if "data" in spec:
        data = check_data(spec["data"], path)
        if data.get("task") not in (None, "binary", "multiclass"):
            field_error(path, "data.task", f"must be binary or multiclass, got {data['task']!r}")
        if data.get("model_encoding", "char") != "char":
            field_error(path, "data.model_encoding", "must be char (members convert it themselves)")
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
    from dnaseq_cli.models.registry import load_checkpoint

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


def load_ensemble(folder: Path, spec: dict[str, Any], device: torch.device) -> EnsembleClassifier:
    """Rebuild an ensemble folder's members on ``device`` (eval mode).

    Each member is a checkpoint folder and is checked as one (fields, weights hash); it must also
    read the window and predict the classes the ensemble's config.json records."""
    from dnaseq_cli.models.registry import load_checkpoint

    config_file = folder / CONFIG_NAME
    check_ensemble_spec(spec, config_file)
    data = spec.get("data") or {}
    members, encodings, weights, calibration = [], [], [], []
    for entry in spec["members"]:
        path = folder / entry["path"]
        if not (path / CONFIG_NAME).is_file():
            raise InputError(
                f"ensemble member {entry['name']!r} is missing ({entry['path']}/{CONFIG_NAME})",
                path=config_file,
            )
        member_spec = read_config(path)
        try:
            model = load_checkpoint(path, map_location=device)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise InputError(
                f"cannot load ensemble member {entry['path']}: {error}", path=folder
            ) from None
        _check_member_fits(member_spec, data, path / CONFIG_NAME, model, config_file)
        members.append(model)
        encodings.append(member_encoding(member_spec))
        weights.append(float(entry.get("weight", 1.0)))
        if "calibration" in entry:
            calibration.append((float(entry["calibration"]["scale"]),
                                float(entry["calibration"]["bias"])))  # fmt: skip
    if calibration and any(m.head.score.out_features != 2 for m in members):
        field_error(config_file, "members", "gives Platt calibration, which is for binary members")
    model = EnsembleClassifier(members, encodings, weights, calibration or None)
    return model.to(device).eval()


def _check_member_fits(
    member: dict[str, Any], data: dict[str, Any], path: Path, model: nn.Module, config_file: Path
) -> None:
    """A member must be a classifier that agrees with the ensemble's config.json (``config_file``)
    on window, classes and task: the ensemble's record is what predict labels its scores with."""
    from dnaseq_cli.models.heads import SequenceClassifier

    if not isinstance(model, SequenceClassifier):
        field_error(path, "task", "must be sequence_classification for an ensemble member")
    own = member.get("data") or {}
    where = (
        f"member {path.parent.name} ({path.parent.parent.name}/{path.parent.name}/{CONFIG_NAME})"
    )
    for key in ("window_length", "classes", "task"):
        if key in own and key in data and own[key] != data[key]:
            field_error(
                config_file,
                f"data.{key}",
                f"is {data[key]!r}, but {where} records {own[key]!r}; members must agree with it",
            )
    classes = data.get("classes")
    n_out = model.head.score.out_features
    if classes and len(classes) != n_out:
        field_error(
            config_file,
            "data.classes",
            f"lists {len(classes)} classes, but {where} has {n_out} outputs",
        )


__all__ = [
    "ENSEMBLE_FORMAT",
    "EnsembleClassifier",
    "MemberSource",
    "build_ensemble",
    "check_ensemble_spec",
    "checked_members",
    "checkpoint_folder",
    "fit_calibration",
    "fit_platt",
    "is_ensemble",
    "load_ensemble",
    "member_encoding",
    "member_logits",
]
