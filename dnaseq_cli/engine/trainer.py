"""The training loop: AdamW, warmup + cosine, clipping, accumulation, early stopping, resume.

Reproducibility: the data order of epoch ``e`` comes from a generator seeded with ``seed + e`` and the
global RNG states are saved with every epoch checkpoint, so ``--resume`` after an interruption gives the
same weights as an uninterrupted run.

Under torchrun (``dist.enabled``) each rank trains on its shard of that same epoch order through
DistributedDataParallel; rank 0 alone evaluates (on the full split), saves and reports, and
broadcasts the validation metrics so every rank takes the same best/early-stopping decisions.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, WeightedRandomSampler

from dnaseq_cli.encode.convert import pad_id_for
from dnaseq_cli.engine.augment import (
    AugmentedRows,
    item_labels,
    random_shift,
    synthetic_training_rows,
)
from dnaseq_cli.engine.batches import Batch, WindowRows, make_collate
from dnaseq_cli.engine.distributed import (
    SINGLE,
    Dist,
    ShardSampler,
    debug_shards_enabled,
    report_shard,
    wrap,
)
from dnaseq_cli.engine.losses import make_loss
from dnaseq_cli.engine.mlm import mask_tokens, masked_nll
from dnaseq_cli.engine.schedule import warmup_cosine
from dnaseq_cli.errors import InputError
from dnaseq_cli.output import atomic_path
from dnaseq_cli.report.metrics import (
    classification_metrics,
    describe_not_finite,
    not_finite,
    regression_metrics,
)

STATE_FILE = "last_state.pt"
#: 2: no pickled Python objects besides tensors and plain values (loads with weights_only=True);
#: 1 (unnumbered): numpy RNG state as an array, settings as dicts
STATE_FORMAT = 2
MLM_TASK = "masked_lm"
#: validation metrics copied into metrics_per_epoch.tsv (``val_`` prefix) when a task has them
ROW_METRICS = ("accuracy", "f1", "f1_macro", "auroc", "mcc", "pearson", "mse", "perplexity")
_COMMON = ("loss", "neg_loss")
_CLASSIFICATION = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "mcc", "auroc",
                   "auprc")  # fmt: skip
#: validation metrics --monitor may name, per task
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary": (*_CLASSIFICATION, "precision", "recall", "f1", *_COMMON),
    "multiclass": (*_CLASSIFICATION, *_COMMON),
    "regression": ("mse", "mae", "pearson", "spearman", "r2", *_COMMON),
    MLM_TASK: ("accuracy", "perplexity", *_COMMON),
}
#: monitored metrics where lower is better (their negation is maximised)
LOWER_IS_BETTER = frozenset({"loss", "mse", "mae", "perplexity"})


@dataclass
class TrainConfig:
    """Every setting that changes the trained weights (saved in the run folder)."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    grad_clip: float = 1.0
    grad_accum: int = 1
    patience: int = 3
    monitor: str = "auto"
    loss: str = "ce"
    balanced_sampling: bool = False
    rc_augment: bool = True
    shift_augment: int = 0  # shift training windows by up to +-N tokens (padding fills the gap)
    shuffled_negatives: float = 0.0  # dinucleotide-shuffled negatives, fraction of the train split
    augment: str = "none"  # "gan": WGAN-GP samples of the minority class
    gan_steps: int = 300
    gan_samples: int | None = None  # None: enough to match the largest class
    seed: int = 0
    max_steps_per_epoch: int | None = None
    eval_batch_size: int = 64
    precision: str = "auto"  # auto (bf16 autocast on CUDA that has it, else fp32), fp32 or bf16
    ema: float = 0.0  # decay of an exponential moving average of the weights per step (0: off)


PRECISIONS = ("auto", "fp32", "bf16")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def resolve_precision(precision: str, device: torch.device) -> str:
    """'fp32' or 'bf16' for a device; bf16 autocast needs no loss scaling (fp32 exponent range)."""
    check_precision(precision)
    if precision != "auto":
        return precision
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


@dataclass
class TrainState:
    epoch: int = 0
    step: int = 0
    best_score: float = -math.inf
    best_epoch: int = -1
    best_loss: float = math.inf  # validation loss of the best epoch: breaks ties of the score
    epochs_without_improvement: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = ""  # epochs, early_stopping or time_limit, once fit returns


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def monitor_key(config: TrainConfig, task: str) -> str:
    """The validation metric that picks the best epoch; an unknown name is an InputError (it would
    otherwise select on the training loss without saying so)."""
    if config.monitor == "auto":
        return {"binary": "auroc", "multiclass": "accuracy"}.get(task, "neg_loss")
    key = config.monitor.removeprefix("val_")
    choices = TASK_METRICS.get(task)
    if choices is not None and key not in choices:
        raise InputError(
            f"--monitor {config.monitor!r} is not a validation metric of a {task} task; "
            f"choose auto or one of {', '.join(choices)}"
        )
    return key


def _numpy_array_globals() -> list[Any]:
    """What a format-1 state needs besides tensors: its numpy RNG key array (uint32).

    Safe to allow: an array is rebuilt from its raw bytes, and any object inside one would still
    need its own global, which stays refused. Written under numpy 2 or numpy 1 (other module name).
    """
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    allowed: list[Any] = [_reconstruct, np.ndarray, np.dtype]
    if tuple(int(part) for part in torch.__version__.split(".")[:2]) >= (2, 6):  # aliases
        for name in ("numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"):
            if name != f"{_reconstruct.__module__}._reconstruct":
                allowed.append((_reconstruct, name))
    uint32 = getattr(getattr(np, "dtypes", None), "UInt32DType", None)  # numpy >= 1.25
    return allowed if uint32 is None else [*allowed, uint32]


def _allowing_numpy_arrays() -> contextlib.AbstractContextManager:
    safe_globals = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    return (
        contextlib.nullcontext() if safe_globals is None else safe_globals(_numpy_array_globals())
    )


def _plain(value: Any) -> Any:
    """JSON for numpy scalars that end up in the history (they are not plain Python values)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _load_error(path: Path, error: Exception) -> InputError:
    """One line on why ``torch.load`` failed: a refused pickled global, or not a state file."""
    text = str(error)
    refused = re.search(r"Unsupported global: GLOBAL (\S+?)\.? was not an allowed", text)
    if refused:
        reason = (
            f"it asks to unpickle {refused.group(1)}, which is not a tensor or plain value; "
            "dnaseq does not load such objects (unpickling them could run code)"
        )
    else:
        detail = text.split("WeightsUnpickler error:", 1)[-1]  # torch's long preamble dropped
        first = next((line.strip() for line in detail.splitlines() if line.strip()), "")
        first = first.split(". ")[0][:160] or "the file ends early"
        reason = f"it is not a readable training state ({type(error).__name__}: {first})"
    return InputError(
        f"cannot resume from {path.name}: {reason}; start the run again with --force", path=path
    )


def read_state(path: Path) -> dict[str, Any]:
    """The saved training state of ``path`` (tensors on the CPU), loaded without running code.

    ``torch.load(weights_only=True)`` refuses every pickled global but tensors and plain values, so
    a planted ``last_state.pt`` cannot execute anything. Settings and history come back as dicts,
    the numpy and Python RNG states as what their ``set_state`` functions take. A file that cannot
    be read or is not a training state is an :class:`InputError` naming it.
    """
    path = Path(path)
    try:
        with _allowing_numpy_arrays():
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, garbage, refused globals: all "cannot resume"
        raise _load_error(path, error) from None
    try:
        if int(saved.get("format", 1)) > STATE_FORMAT:
            raise InputError(
                f"{path.name} was written by a newer dnaseq (state format {saved['format']})",
                path=path,
            )
        state, config, rng = saved["state"], saved["config"], saved["rng"]
        state = json.loads(state) if isinstance(state, str) else dict(state)
        config = json.loads(config) if isinstance(config, str) else dict(config)
        numpy_rng = rng["numpy"]
        if isinstance(numpy_rng, dict):
            numpy_rng = (
                str(numpy_rng["bit_generator"]),
                np.asarray(numpy_rng["keys"], dtype=np.uint32),
                int(numpy_rng["pos"]),
                int(numpy_rng["has_gauss"]),
                float(numpy_rng["cached_gaussian"]),
            )
        version, internal, gauss = rng["python"]
        python_rng = (int(version), tuple(int(v) for v in internal), gauss)
        if not isinstance(rng["torch"], torch.Tensor):
            raise TypeError("the torch RNG state is not a tensor")
        for part in ("model", "optimizer", "scheduler"):
            if not isinstance(saved[part], dict):
                raise TypeError(f"{part} is not a state dict")
    except InputError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise InputError(
            f"{path.name} is not a dnaseq training state ({type(error).__name__}: {error})",
            path=path,
        ) from None
    return {
        **saved,
        "state": state,
        "config": config,
        "rng": {"torch": rng["torch"], "numpy": numpy_rng, "python": python_rng},
    }


def averaged_copy(model: nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of ``model``'s weights (buffers such as BatchNorm statistics
    are averaged too).

    Why: on a few thousand sequences the validation curve of a deep model jumps from epoch to
    epoch; the averaged weights generalise and calibrate better than any single step's weights.
    """

    @torch.no_grad()
    def update(
        averaged: Sequence[torch.Tensor], current: Sequence[torch.Tensor], count: torch.Tensor | int
    ) -> None:
        # warm-up: early on the average must not remember the random initial weights for long
        n = int(count)
        weight = 1.0 - min(decay, (1.0 + n) / (10.0 + n))
        floats = [(a, c) for a, c in zip(averaged, current, strict=True) if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], weight)
        for a, c in zip(averaged, current, strict=True):
            if not a.is_floating_point():  # counters such as BatchNorm's num_batches_tracked
                a.copy_(c)

    return AveragedModel(model, multi_avg_fn=update, use_buffers=True)


class Trainer:
    """Fits one model on one dataset split; the caller decides where checkpoints go."""

    def __init__(
        self,
        model: nn.Module,
        dataset,
        *,
        encoding: str,
        config: TrainConfig,
        device: torch.device,
        rc_fn: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None,
        dist: Dist = SINGLE,
        task: str | None = None,
    ) -> None:
        """``task`` overrides the dataset's (``masked_lm``: labels are ignored)."""
        self.monitor = monitor_key(config, task or dataset.manifest["task"])  # before any work
        self.model = model.to(device)
        self.dist = dist
        # what training steps call (DDP or the model)
        self.net = wrap(self.model, dist, device, accumulate=config.grad_accum > 1)
        self.precision = resolve_precision(config.precision, device)
        self.dataset = dataset
        self.config = config
        self.device = device
        self.task = task or dataset.manifest["task"]
        self.mlm = self.task == MLM_TASK
        self.classes: list[str] = [] if self.mlm else dataset.manifest.get("classes", [])
        self.rc_fn = rc_fn
        stored = dataset.manifest["encoding"]
        self.collate = make_collate(stored, encoding)
        self.pad_id = pad_id_for(encoding)
        train_rows = WindowRows(dataset, dataset.split("train"), self.task)
        self.train_rows: WindowRows | AugmentedRows = train_rows
        self.synthetic_counts: dict[str, Any] = {}
        if not self.mlm:
            synthetic = synthetic_training_rows(
                train_rows, encoding=stored, task=self.task, classes=self.classes,
                shuffled_fraction=config.shuffled_negatives, augment=config.augment,
                gan_steps=config.gan_steps, gan_samples=config.gan_samples, seed=config.seed,
                device=device,
            )  # fmt: skip
            # synthetic rows join the train split only; validation and test stay as stored
            self.synthetic_counts = synthetic.counts
            if len(synthetic.tokens):
                self.train_rows = AugmentedRows(train_rows, synthetic.tokens, synthetic.labels)
        self.val_rows = WindowRows(dataset, dataset.split("val"), self.task)
        self.test_rows = WindowRows(dataset, dataset.split("test"), self.task)
        self.loss_fn: nn.Module | None = None
        if not self.mlm:
            labels = item_labels(self.train_rows)
            self.loss_fn = make_loss(config.loss, self.task, labels, max(len(self.classes), 1))
            self.loss_fn = self.loss_fn.to(device)
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        steps = self.steps_per_epoch() * config.epochs
        self.scheduler = warmup_cosine(self.optimizer, steps, int(config.warmup_fraction * steps))
        self.state = TrainState()
        if not 0.0 <= config.ema < 1.0:
            raise InputError(f"--ema must be in [0, 1), got {config.ema}")
        # validation, checkpoints and the test use the averaged weights when --ema is on
        self.ema = averaged_copy(self.model, config.ema) if config.ema > 0 else None

    @property
    def scoring_model(self) -> nn.Module:
        """The weights that are validated and saved: the moving average, or the live model."""
        return self.model if self.ema is None else self.ema.module

    # -- data -------------------------------------------------------------------------------
    def steps_per_epoch(self) -> int:
        """Optimiser steps per epoch of one process (its shard under torchrun)."""
        per_rank = math.ceil(len(self.train_rows) / self.dist.world_size)
        batches = math.ceil(per_rank / self.config.batch_size)
        if self.config.max_steps_per_epoch:
            batches = min(batches, self.config.max_steps_per_epoch * self.config.grad_accum)
        return max(math.ceil(batches / self.config.grad_accum), 1)

    def _balance_weights(self) -> np.ndarray | None:
        if not (self.config.balanced_sampling and self.task in ("binary", "multiclass")):
            return None
        labels = item_labels(self.train_rows)
        counts = np.bincount(labels, minlength=len(self.classes)).astype(np.float64)
        return 1.0 / np.maximum(counts[labels], 1)

    def train_loader(self, epoch: int) -> DataLoader:
        if self.dist.enabled:
            shards = ShardSampler(
                len(self.train_rows), rank=self.dist.rank, world_size=self.dist.world_size,
                seed=self.config.seed, weights=self._balance_weights(),
            )  # fmt: skip
            shards.set_epoch(epoch)
            return DataLoader(
                self.train_rows, self.config.batch_size, sampler=shards, collate_fn=self.collate
            )
        generator = torch.Generator().manual_seed(self.config.seed + epoch)
        weights = self._balance_weights()
        if weights is not None:
            sampler = WeightedRandomSampler(
                # torch's stub says Sequence[float]; the sampler takes any 1-D weights
                torch.as_tensor(weights),  # type: ignore[arg-type]
                len(weights),
                replacement=True,
                generator=generator,
            )
            return DataLoader(
                self.train_rows, self.config.batch_size, sampler=sampler, collate_fn=self.collate
            )
        return DataLoader(
            self.train_rows,
            self.config.batch_size,
            shuffle=True,
            generator=generator,
            collate_fn=self.collate,
        )

    def eval_loader(self, rows: WindowRows) -> DataLoader:
        return DataLoader(rows, self.config.eval_batch_size, shuffle=False, collate_fn=self.collate)

    # -- steps ------------------------------------------------------------------------------
    def _mask(self, batch: Batch, generator: torch.Generator) -> Batch:
        """MLM inputs: corrupted ids, and per-position targets in place of the labels."""
        masked = mask_tokens(batch.input_ids, batch.attention_mask, generator)
        return Batch(masked.input_ids, batch.attention_mask, masked.targets, batch.rows)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision for forward passes: bf16 autocast (weights and gradients stay fp32)."""
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _loss(self, batch: Batch) -> tuple[torch.Tensor, int]:
        """Mean loss of a batch and its weight (sequences, or masked positions for MLM)."""
        with self.autocast():
            logits = self.net(batch.input_ids, batch.attention_mask)
        if self.mlm:
            total, _, count = masked_nll(logits.float(), batch.labels)
            return total / max(count, 1), count
        assert self.loss_fn is not None
        if self.task == "regression":
            loss = self.loss_fn(logits.squeeze(-1).float(), batch.labels.float())
        else:
            loss = self.loss_fn(logits.float(), batch.labels.long())
        return loss, len(batch.labels)

    def _augment(self, batch: Batch, generator: torch.Generator) -> Batch:
        if self.config.rc_augment and self.rc_fn is not None:
            flip = torch.rand(len(batch.labels), generator=generator) < 0.5
            if flip.any():
                rc_ids, rc_mask = self.rc_fn(batch.input_ids, batch.attention_mask)
                flip = flip[:, None].to(batch.input_ids.device)
                ids = torch.where(flip, rc_ids, batch.input_ids)
                mask = torch.where(flip, rc_mask, batch.attention_mask)
                batch = Batch(ids, mask, batch.labels, batch.rows)
        if self.config.shift_augment > 0:  # after RC: shifting may put padding at the start
            ids, mask = random_shift(
                batch.input_ids, batch.attention_mask, self.config.shift_augment, self.pad_id,
                generator,
            )  # fmt: skip
            batch = Batch(ids, mask, batch.labels, batch.rows)
        return batch

    def train_epoch(
        self, epoch: int, progress: Callable[[int, float], None] | None = None
    ) -> float:
        self.model.train()
        config = self.config
        # rank 0 draws exactly what a single process draws; other ranks get their own streams
        offset = 104729 * self.dist.rank
        generator = torch.Generator().manual_seed(self.config.seed * 7919 + epoch + offset)
        masking = torch.Generator().manual_seed(self.config.seed * 7723 + epoch + 1 + offset)
        # counts, summed over ranks as floats (exact: far below 2**53)
        total, count, sequences = 0.0, 0.0, 0.0
        seen: list[int] = []
        self.optimizer.zero_grad(set_to_none=True)
        loader = self.train_loader(epoch)
        micro_batches = min(len(loader), self.steps_per_epoch() * config.grad_accum)
        full_groups = micro_batches // config.grad_accum * config.grad_accum
        for index, batch in enumerate(loader):
            if index >= micro_batches:
                break
            # the epoch's last, shorter accumulation group steps too (as steps_per_epoch counts it)
            group = config.grad_accum if index < full_groups else micro_batches - full_groups
            batch = self._augment(batch, generator)
            if self.mlm:
                batch = self._mask(batch, masking)
            if self.dist.enabled and debug_shards_enabled():
                seen.extend(batch.rows.tolist())
            batch = batch.to(self.device)
            stepping = (index + 1) % config.grad_accum == 0 or index + 1 == micro_batches
            # DDP: gradients are all-reduced once per optimiser step, not per micro-batch
            no_sync = getattr(self.net, "no_sync", None)
            with contextlib.nullcontext() if stepping or no_sync is None else no_sync():
                loss, weight = self._loss(batch)
                (loss / group).backward()
            total += float(loss.detach()) * weight
            count += weight
            sequences += len(batch.labels)
            if stepping:
                if config.grad_clip > 0:
                    nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.state.step += 1
                if self.ema is not None:
                    self.ema.update_parameters(self.model)
            if progress is not None:
                progress(len(batch.labels), float(loss.detach()))
        if self.dist.enabled:
            if debug_shards_enabled():
                report_shard(self.dist, epoch, seen, self.model)
            total, count, sequences = self.dist.sum(total, count, sequences)
        self.epoch_sequences = int(sequences)  # all ranks, synthetic rows included
        return total / max(count, 1)

    @torch.inference_mode()
    def evaluate_mlm(self, rows: WindowRows) -> dict[str, Any]:
        """Masked-token loss, accuracy and perplexity; the same masks every epoch (fixed seed)."""
        model = self.scoring_model.eval()
        generator = torch.Generator().manual_seed(self.config.seed * 7723 + 999_983)
        total, correct, count = 0.0, 0.0, 0
        for batch in self.eval_loader(rows):
            batch = self._mask(batch, generator).to(self.device)
            with self.autocast():
                log_probs = model(batch.input_ids, batch.attention_mask).float()
            batch_total, batch_correct, batch_count = masked_nll(log_probs, batch.labels)
            total += float(batch_total)
            correct += float(batch_correct)
            count += batch_count
        if count == 0:
            return {"n": len(rows), "masked_tokens": 0, "loss": float("nan")}
        loss = total / count
        return {
            "n": len(rows),
            "masked_tokens": count,
            "loss": loss,
            "neg_loss": -loss,
            "accuracy": correct / count,
            "perplexity": math.exp(min(loss, 50.0)),
        }

    @torch.inference_mode()
    def predict(self, rows: WindowRows) -> tuple[np.ndarray, np.ndarray, float]:
        """Model outputs (probabilities or values), labels and mean loss over ``rows``."""
        model = self.scoring_model.eval()
        assert self.loss_fn is not None, "predict() is for classifiers and regressors"
        outputs, labels, total = [], [], 0.0
        for batch in self.eval_loader(rows):
            batch = batch.to(self.device)
            with self.autocast():
                logits = model(batch.input_ids, batch.attention_mask).float()
            if self.task == "regression":
                total += float(self.loss_fn(logits.squeeze(-1), batch.labels.float())) * len(logits)
                outputs.append(logits.squeeze(-1).cpu().numpy())
            else:
                total += float(self.loss_fn(logits, batch.labels.long())) * len(logits)
                outputs.append(torch.softmax(logits, -1).cpu().numpy())
            labels.append(batch.labels.cpu().numpy())
        if not outputs:
            return np.empty((0,)), np.empty((0,)), float("nan")
        return np.concatenate(outputs), np.concatenate(labels), total / len(rows)

    def evaluate(self, rows: WindowRows) -> dict[str, Any]:
        if self.mlm:
            return self.evaluate_mlm(rows)
        return self.metrics_of(*self.predict(rows))

    def metrics_of(self, outputs: np.ndarray, labels: np.ndarray, loss: float) -> dict[str, Any]:
        """The task's metrics of :meth:`predict`'s outputs (so the test split is scored once)."""
        if len(labels) == 0:
            return {"n": 0, "loss": float("nan")}
        if self.task == "regression":
            metrics = regression_metrics(labels, outputs)
        else:
            metrics = classification_metrics(labels, outputs, self.classes)
        metrics["loss"] = loss
        metrics["neg_loss"] = -loss
        return metrics

    # -- checkpoints ------------------------------------------------------------------------
    def save_state(self, path: Path) -> None:
        """Tensors and plain values only (settings and history as JSON text), so that
        :func:`read_state` loads it with ``weights_only=True``; replaced atomically, so an
        interruption while saving leaves the previous epoch's state to resume from."""
        name, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
        version, internal, gauss_next = random.getstate()
        state = {
            "format": STATE_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "state": json.dumps(asdict(self.state), default=_plain),
            "config": json.dumps(asdict(self.config), default=_plain),
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": {
                    "bit_generator": str(name),
                    "keys": [int(k) for k in keys],
                    "pos": int(pos),
                    "has_gauss": int(has_gauss),
                    "cached_gaussian": float(gauss),
                },
                "python": [int(version), [int(v) for v in internal], gauss_next],
            },
        }
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    def load_state(self, path: Path) -> None:
        self.restore(read_state(path), Path(path))

    def restore(self, saved: dict[str, Any], path: Path) -> None:
        """Continue from a :func:`read_state` result; one that does not fit this model (another
        backbone, size or task) is an InputError naming ``path``."""
        try:
            self.model.load_state_dict(saved["model"])
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])
            if self.ema is not None:
                if saved.get("ema") is None:
                    raise ValueError("the state has no --ema average")
                self.ema.load_state_dict(saved["ema"])
            state = TrainState(**saved["state"])
        except (KeyError, RuntimeError, TypeError, ValueError) as error:
            first = (str(error).strip().splitlines() or [""])[0][:200]
            raise InputError(
                f"{path.name} does not fit this run's model and settings ({first})", path=path
            ) from None
        if "best_loss" not in saved["state"]:  # format 1: the best epoch's row holds its loss
            best = [row for row in state.history if row.get("best")]
            state.best_loss = float(best[-1]["val_loss"]) if best else math.inf
        self.state = state
        torch.set_rng_state(saved["rng"]["torch"])
        np.random.set_state(saved["rng"]["numpy"])
        random.setstate(saved["rng"]["python"])

    def fit(
        self,
        run_dir: Path,
        save_best: Callable[[nn.Module], None],
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        progress: Callable[[int, float], None] | None = None,
        time_limit: float | None = None,
    ) -> TrainState:
        """Train until ``epochs``, early stopping or ``time_limit`` (seconds of this call: no
        epoch is started that would, at the pace so far, end past it); ``save_best`` is called on
        each new best."""
        config = self.config
        if not len(self.val_rows):
            raise InputError("the validation split is empty: no epoch can be selected")
        fit_started, epochs_here = time.perf_counter(), 0
        self.state.stop_reason = ""
        while self.state.epoch < config.epochs and not self._stopped_early():
            if time_limit is not None and epochs_here:
                spent = time.perf_counter() - fit_started
                out_of_time = spent + spent / epochs_here > time_limit
                if self.dist.broadcast(out_of_time):  # rank 0's clock decides for every rank
                    self.state.stop_reason = "time_limit"
                    break
            epoch = self.state.epoch
            started = time.perf_counter()
            train_loss = self.train_epoch(epoch, progress)
            seconds = time.perf_counter() - started
            metrics = None
            if self.dist.is_main:  # the full validation split, on one rank
                metrics = self.evaluate(self.val_rows)
            metrics = self.dist.broadcast(metrics)
            self._check_finite(epoch, train_loss, metrics)
            score, val_loss = self.score(metrics), float(metrics["loss"])
            improved = self.better(score, val_loss)
            if improved:
                self.state.best_score = score
                self.state.best_epoch = epoch
                self.state.best_loss = val_loss
                self.state.epochs_without_improvement = 0
                if self.dist.is_main:
                    save_best(self.scoring_model)
            else:
                self.state.epochs_without_improvement += 1
            row = {
                "epoch": epoch + 1,
                "step": self.state.step,
                "lr": self.scheduler.get_last_lr()[0],
                "train_loss": train_loss,
                "val_loss": metrics.get("loss", float("nan")),
                **{f"val_{k}": metrics[k] for k in ROW_METRICS if k in metrics},
                "train_seconds": seconds,
                "train_seqs_per_s": self.epoch_sequences / seconds if seconds > 0 else 0.0,
                "best": improved,
            }
            self.state.history.append(row)
            self.state.epoch += 1
            epochs_here += 1
            if self.dist.is_main:
                self.save_state(run_dir / STATE_FILE)
                if on_epoch is not None:
                    on_epoch(row)
        if not self.state.stop_reason:
            self.state.stop_reason = "early_stopping" if self._stopped_early() else "epochs"
        return self.state

    def score(self, metrics: dict[str, Any]) -> float:
        """The monitored validation metric, oriented so that higher is better."""
        value = float(metrics[self.monitor])
        return -value if self.monitor in LOWER_IS_BETTER else value

    def better(self, score: float, val_loss: float) -> bool:
        """A new best epoch: a higher score, or the same score with a lower validation loss.

        Why: AUROC or accuracy on a small validation split often ties between epochs; keeping the
        first one kept, e.g., an early epoch that called every window positive.
        """
        best = self.state
        return score > best.best_score or (score == best.best_score and val_loss < best.best_loss)

    def _check_finite(self, epoch: int, train_loss: float, metrics: dict[str, Any]) -> None:
        """NaN or infinite validation metrics are an InputError: no epoch is chosen on them."""
        bad = not_finite({"train_loss": train_loss, **{f"val_{k}": v for k, v in metrics.items()}})
        if bad:
            raise InputError(
                f"epoch {epoch + 1}: metrics are not finite: "
                + describe_not_finite(bad, metrics, self.task)
                + f" ({len(self.val_rows)} validation windows); nothing is saved for this epoch"
            )

    def _stopped_early(self) -> bool:
        patience = self.config.patience
        return bool(patience) and self.state.epochs_without_improvement >= patience
