"""The ensemble model: several trained classifiers that score a window together.

An ensemble is a checkpoint folder like any other (format ``dnaseq-ensemble``), so ``predict
--model`` and ``vep --model`` take it:

    OUT/config.json     {"format": "dnaseq-ensemble", "members": [{"path": ..., "weight": ...}],
                         "combine": "mean_probability", "data": {...}}
    OUT/members/NAME/   each member's own checkpoint folder (config.json + model.safetensors)

Every member must read windows of the same length and predict the same classes. Each member keeps
its own strand averaging; the ensemble's probability is the weighted mean of the members'. Building
an ensemble and fitting its Platt calibration are in :mod:`dnaseq_cli.predict.ensemble`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from dnaseq_cli.encode.convert import convert_tokens, pad_id_for
from dnaseq_cli.errors import InputError

from .checkpoint import (
    CONFIG_NAME,
    ENSEMBLE,
    CheckpointSpec,
    check_data,
    check_fields,
    field_error,
    load_checkpoint,
    read_spec,
    register_format,
)
from .heads import SequenceClassifier
from .registry import encoding_of

ENSEMBLE_FORMAT = ENSEMBLE
COMBINE = "mean_probability"


def is_ensemble(spec: dict[str, Any]) -> bool:
    return spec.get("format") == ENSEMBLE_FORMAT


class EnsembleClassifier(nn.Module):
    """Weighted mean of member class probabilities, returned as log-probabilities.

    Input is character ids; each member gets them converted to the encoding it reads. Returning
    ``log(mean p)`` keeps the classifier interface (``softmax`` of the output is the mean).
    """

    weights: Tensor  # a buffer: the normalised member weights

    def __init__(
        self,
        members: Sequence[nn.Module],
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
        mean: Tensor | None = None
        for i, (member, encoding) in enumerate(zip(self.members, self.encodings, strict=True)):
            logits = member_logits(member, encoding, input_ids)
            if self.calibration is None:
                probs = torch.softmax(logits, -1)
            else:  # binary: Platt scaling of the member's log-odds
                scale, bias = self.calibration[i]
                positive = torch.sigmoid(scale * (logits[:, 1] - logits[:, 0]) + bias)
                probs = torch.stack([1 - positive, positive], dim=-1)
            weighted = self.weights[i] * probs
            mean = weighted if mean is None else mean + weighted
        assert mean is not None  # an ensemble has at least one member
        return torch.log(mean.clamp(min=1e-12))


def member_logits(member: nn.Module, encoding: str, char_ids: Tensor) -> Tensor:
    """A member's (strand-averaged) logits for right-padded character ids."""
    ids = convert_tokens(char_ids, "char", encoding)
    return member(ids, ids != pad_id_for(encoding)).float()


def member_encoding(spec: dict[str, Any]) -> str:
    """The token encoding a member checkpoint reads (recorded by train, else from its backbone)."""
    return (spec.get("data") or {}).get("model_encoding") or encoding_of(
        spec["backbone"], spec.get("config")
    )


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
        check_fields(
            spec["calibration"],
            {"method": str, "dataset": str, "split": str, "records": int},
            path,
            "calibration",
        )
    if "data" in spec:
        data = check_data(spec["data"], path)
        if data.get("task") not in (None, "binary", "multiclass"):
            field_error(path, "data.task", f"must be binary or multiclass, got {data['task']!r}")
        if data.get("model_encoding", "char") != "char":
            field_error(path, "data.model_encoding", "must be char (members convert it themselves)")
    return spec


def load_ensemble(folder: Path, spec: dict[str, Any], device: torch.device) -> EnsembleClassifier:
    """Rebuild an ensemble folder's members on ``device`` (eval mode).

    Each member is a checkpoint folder and is checked as one (fields, weights hash); it must also
    read the window and predict the classes the ensemble's config.json records."""
    check_ensemble_spec(spec, folder / CONFIG_NAME)
    return _build(folder, spec, device)


def _build(folder: Path, spec: dict[str, Any], device: torch.device) -> EnsembleClassifier:
    """The ensemble of a folder whose config.json (``spec``) is already checked."""
    config_file = folder / CONFIG_NAME
    data = spec.get("data") or {}
    members: list[SequenceClassifier] = []
    encodings: list[str] = []
    weights: list[float] = []
    calibration: list[tuple[float, float]] = []
    for entry in spec["members"]:
        path = folder / entry["path"]
        if not (path / CONFIG_NAME).is_file():
            raise InputError(
                f"ensemble member {entry['name']!r} is missing ({entry['path']}/{CONFIG_NAME})",
                path=config_file,
            )
        member = read_spec(path, check=False)  # checked as it loads: read once
        member_spec = member.raw
        try:
            model = load_checkpoint(member, map_location=device)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise InputError(
                f"cannot load ensemble member {entry['path']}: {error}", path=folder
            ) from None
        members.append(
            _check_member_fits(member_spec, data, path / CONFIG_NAME, model, config_file)
        )
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
) -> SequenceClassifier:
    """A member must be a classifier that agrees with the ensemble's config.json (``config_file``)
    on window, classes and task: the ensemble's record is what predict labels its scores with.
    Returns ``model``, checked."""
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
    return model


def _load(spec: CheckpointSpec, map_location: str | torch.device) -> nn.Module:
    return _build(spec.path, spec.raw, torch.device(map_location))  # load_checkpoint checked it


register_format(ENSEMBLE, check=check_ensemble_spec, load=_load)

__all__ = [
    "COMBINE",
    "ENSEMBLE_FORMAT",
    "EnsembleClassifier",
    "check_ensemble_spec",
    "is_ensemble",
    "load_ensemble",
    "member_encoding",
    "member_logits",
]
