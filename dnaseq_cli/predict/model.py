"""A trained model ready to score windows: checkpoint + what it reads and predicts, on a device.

``predict`` and ``vep`` both go through :class:`WindowScorer`, so a window is encoded, padded,
strand-averaged and batched the same way for both (and the same way training evaluated it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from dnaseq_cli.errors import InputError
from dnaseq_cli.models.checkpoint import CONFIG_NAME, CheckpointSpec, checkpoint_in
from dnaseq_cli.predict import zoo
from dnaseq_cli.predict.zoo import DEFAULT_MODEL

#: ``--model bundled:NAME`` names a bundled model even where a folder NAME exists.
BUNDLED_PREFIX = "bundled:"


def bundled_model_dir(name: str = DEFAULT_MODEL) -> Path:
    """Folder of a model shipped inside the package (``dnaseq_cli/resources/models/NAME``)."""
    return zoo.zoo_root() / name


@dataclass(frozen=True)
class ModelInfo:
    """What a checkpoint reads and predicts, from its config.json ``data`` section."""

    path: Path
    backbone: str
    task: str  # binary | multiclass | regression | masked_lm
    classes: tuple[str, ...]
    window_length: int
    model_encoding: str

    @property
    def has_classifier(self) -> bool:
        return self.task != "masked_lm"

    @property
    def positive_class(self) -> str | None:
        """The class whose probability is "the score" of a binary model (the last one, e.g. 1)."""
        return self.classes[-1] if self.task == "binary" else None


def resolve_model_path(model: str | Path | None) -> Path:
    """The checkpoint folder a ``--model`` value names.

    ``None`` -> the bundled default model; ``bundled:NAME`` -> the bundled model NAME; an existing
    folder -> that folder (its ``checkpoint/`` for a ``dnaseq train`` run folder), so a folder
    wins over a bundled model of the same name; a bare NAME -> the bundled model NAME (see
    ``dnaseq models``). Anything else is a usage error naming ``--model`` and the bundled names.
    """
    if model is None:
        path = bundled_model_dir()
        if not (path / CONFIG_NAME).exists():
            raise InputError(
                "the bundled default model is missing from this installation; pass --model FOLDER"
            )
        return path
    text = str(model)
    if text.startswith(BUNDLED_PREFIX):
        name = text.removeprefix(BUNDLED_PREFIX)
        bundled = zoo.bundled_path(name)
        if bundled is None:
            raise InputError(zoo.unknown_model_message(text))
        return bundled
    path = Path(model)
    if not path.is_dir():
        bundled = zoo.bundled_path(text)
        if bundled is not None:
            return bundled
        if zoo.is_model_name(text) and not path.exists():
            raise InputError(zoo.unknown_model_message(text))
        names = ", ".join(zoo.bundled_names()) or "none"
        raise InputError(
            f"--model: model folder not found (expected a checkpoint folder or a bundled model: "
            f"{names})",
            path=path,
        )
    path = checkpoint_in(path)  # a run folder from dnaseq train: its checkpoint/
    if not (path / CONFIG_NAME).exists():
        raise InputError(f"not a checkpoint folder: {CONFIG_NAME} is missing", path=path)
    return path


def _read_info(path: Path, window: int | None) -> tuple[ModelInfo, CheckpointSpec]:
    """What the folder's config.json says the model reads and predicts, once its fields are checked.

    ``--window`` gives the window of a model that records none (a Hugging Face folder); for a
    model that records one it may only repeat it: a model trained on 500-bp windows scores
    1000-bp windows without complaint, but the scores mean nothing."""
    from dnaseq_cli.models.checkpoint import field_error, read_spec

    spec = read_spec(path)
    data = spec.data
    backbone = spec.backbone or "?"
    if spec.is_ensemble:
        backbone = "ensemble of " + ", ".join(m["name"] for m in spec.raw["members"])
    if spec.task == "masked_lm":
        task = "masked_lm"
    else:
        task = data.task or "binary"
    recorded = data.window_length
    if window is not None and recorded is not None and window != recorded:
        field_error(
            spec.config_file,
            "data.window_length",
            f"is {recorded}: the model reads {recorded}-bp windows, so --window {window} "
            f"cannot be used with it (leave --window out, or give --window {recorded})",
        )
    length = recorded if recorded is not None else window
    if length is None:
        raise InputError(
            "the checkpoint does not record its window length (a Hugging Face or older folder); "
            "pass --window N",
            path=path,
        )
    return (
        ModelInfo(
            path=path,
            backbone=backbone,
            task=task,
            classes=data.classes,
            window_length=int(length),
            model_encoding=spec.model_encoding(),
        ),
        spec,
    )


class WindowScorer:
    """Scores fixed-length character windows with a checkpoint, both strands averaged.

    ``score`` returns class probabilities ``[B, C]`` (or values ``[B, 1]`` for regression);
    ``log_probs`` returns per-base log-probabilities ``[B, L, V]`` for models with an MLM head.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "auto",
        batch_size: int = 128,
        window: int | None = None,
    ) -> None:
        from dnaseq_cli.device import resolve_device
        from dnaseq_cli.models.checkpoint import load_checkpoint
        from dnaseq_cli.models.heads import MaskedLM, SequenceClassifier

        path = resolve_model_path(model)
        self.info, spec = _read_info(path, window)
        self.device = resolve_device(device)
        if batch_size < 1:
            raise InputError(f"--batch-size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.classifier: torch.nn.Module | None  # a SequenceClassifier or an EnsembleClassifier
        self.lm: MaskedLM | None
        if spec.is_ensemble:  # members convert the char ids themselves
            self.classifier = load_checkpoint(spec, map_location=self.device, ensembles=True)
            self.lm = None
            return
        try:
            loaded = load_checkpoint(spec, map_location=self.device)  # checked once, above
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise InputError(f"cannot load the checkpoint: {error}", path=path) from None
        n_out: int | None = None
        if isinstance(loaded, SequenceClassifier):
            self.classifier, self.lm = loaded, None
            n_out = loaded.head.score.out_features
        elif isinstance(loaded, MaskedLM):
            self.classifier, self.lm = None, loaded
        elif hasattr(loaded, "lm_logits"):
            self.classifier, self.lm = None, MaskedLM(loaded)
        else:
            raise InputError("the checkpoint holds a bare backbone without a head", path=path)
        if self.classifier is not None and not self.info.classes:
            classes = tuple(str(i) for i in range(n_out)) if n_out and n_out > 1 else ()
            task = "binary" if n_out == 2 else ("regression" if n_out == 1 else "multiclass")
            self.info = replace(self.info, classes=classes, task=task)
        if self.classifier is None and self.info.task != "masked_lm":
            self.info = replace(self.info, task="masked_lm", classes=())
        for module in (self.classifier, self.lm):
            if module is not None:
                module.eval()

    # -- encoding ---------------------------------------------------------------------------
    def encode(self, sequences: list[str], valid: np.ndarray | None = None) -> torch.Tensor:
        """Character ids ``[B, L]`` of equal-length windows; positions not ``valid`` become PAD."""
        from dnaseq_cli.encode.tokens import encode_batch_chars
        from dnaseq_cli.encode.vocab import PAD_ID

        ids, _ = encode_batch_chars(sequences, self.info.window_length, truncate=False)
        if valid is not None:
            ids[~np.asarray(valid, dtype=bool)] = PAD_ID
        return torch.from_numpy(ids)

    def _model_inputs(self, char_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from dnaseq_cli.encode.convert import convert_tokens, pad_id_for

        ids = convert_tokens(char_ids, "char", self.info.model_encoding).to(self.device)
        return ids, ids != pad_id_for(self.info.model_encoding)

    # -- scoring ----------------------------------------------------------------------------
    @torch.inference_mode()
    def score(self, sequences: list[str], valid: np.ndarray | None = None) -> np.ndarray:
        """Probabilities ``[B, C]`` (classification) or values ``[B, 1]`` (regression)."""
        return self.score_ids(self.encode(sequences, valid))

    @torch.inference_mode()
    def score_ids(self, char_ids: torch.Tensor) -> np.ndarray:
        """:meth:`score` for windows already encoded as character ids ``[B, L]`` (PAD = invalid),
        e.g. the tokens of a ``dnaseq preprocess`` dataset."""
        if self.classifier is None:
            raise InputError("this model has no classification head; it can only give LLR scores")
        out = []
        for begin in range(0, len(char_ids), self.batch_size):
            ids, mask = self._model_inputs(char_ids[begin : begin + self.batch_size])
            logits = self.classifier(ids, mask).float()
            if self.info.task == "regression":
                out.append(logits.cpu().numpy())
            else:
                out.append(torch.softmax(logits, -1).cpu().numpy())
        if not out:
            width = 1 if self.info.task == "regression" else len(self.info.classes)
            return np.empty((0, width), dtype=np.float32)
        return np.concatenate(out)

    @torch.inference_mode()
    def log_probs(self, sequences: list[str], valid: np.ndarray | None = None) -> np.ndarray:
        """Per-position log-probabilities over the character vocabulary ``[B, L, V]`` (MLM only)."""
        if self.lm is None:
            raise InputError("this model has no MLM head, so it gives no log-likelihood scores")
        char_ids = self.encode(sequences, valid)
        out = []
        for begin in range(0, len(char_ids), self.batch_size):
            ids, mask = self._model_inputs(char_ids[begin : begin + self.batch_size])
            out.append(self.lm(ids, mask).float().cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, 0, 0), dtype=np.float32)

    @torch.inference_mode()
    def masked_log_probs(
        self, sequences: list[str], valid: np.ndarray, positions: list[np.ndarray]
    ) -> list[np.ndarray]:
        """Log-probabilities ``[len(positions[i]), V]`` at ``positions[i]`` of window ``i`` with those
        positions replaced by [MASK]: the zero-shot variant score of GPN and the Caduceus paper
        reads the masked site, not the reference base the model can see. Both strands for PH
        models (through :class:`~dnaseq_cli.models.heads.MaskedLM`), in batches."""
        from dnaseq_cli.encode.vocab import MASK_ID

        if self.lm is None:
            raise InputError("this model has no MLM head, so it gives no log-likelihood scores")
        if self.info.model_encoding != "char":
            raise InputError(
                f"masked scoring needs single-base tokens; this model reads "
                f"{self.info.model_encoding}",
                path=self.info.path,
            )
        char_ids = self.encode(sequences, valid)
        for row, where in enumerate(positions):
            char_ids[row, torch.as_tensor(where, dtype=torch.long)] = MASK_ID
        out: list[np.ndarray] = []
        for begin in range(0, len(char_ids), self.batch_size):
            ids, mask = self._model_inputs(char_ids[begin : begin + self.batch_size])
            logp = self.lm(ids, mask).float().cpu().numpy()
            out.extend(logp[row, positions[begin + row]] for row in range(len(logp)))
        return out


def logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """log(p / (1 - p)) with p clipped away from 0 and 1, so ratios stay finite."""
    q = np.clip(p, eps, 1 - eps)
    return np.log(q) - np.log1p(-q)


__all__ = [
    "BUNDLED_PREFIX",
    "DEFAULT_MODEL",
    "ModelInfo",
    "WindowScorer",
    "bundled_model_dir",
    "logit",
    "resolve_model_path",
]


def score_split(
    model: str | Path, dataset: str | Path, split: str = "test", *, device: str = "cpu",
    batch_size: int = 256,
):  # fmt: skip
    """The records of one split of a ``dnaseq preprocess`` dataset and their positive-class
    probabilities from a model folder (checkpoint or ensemble; both strands averaged), for
    metrics on records the model never saw (``scripts/split_metrics.py``, cross-validation)."""
    from dnaseq_cli.data.dataset import load_dataset

    data = load_dataset(dataset)
    rows = data.split(split)
    scorer = WindowScorer(model, device=device, batch_size=batch_size)
    tokens = torch.from_numpy(np.asarray(data.tokens[rows], dtype=np.int64))
    return data.records.iloc[rows], scorer.score_ids(tokens)[:, 1]
