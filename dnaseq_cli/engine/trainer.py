"""The training loop: AdamW, warmup + cosine, clipping, accumulation, early stopping, resume.

Reproducibility: the data order of epoch ``e`` comes from a generator seeded with ``seed + e`` and the
global RNG states are saved with every epoch checkpoint, so ``--resume`` after an interruption gives the
same weights as an uninterrupted run.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, WeightedRandomSampler

from dnaseq_cli.engine.augment import (
    AugmentedRows,
    item_labels,
    random_shift,
    synthetic_training_rows,
)
from dnaseq_cli.engine.batches import Batch, WindowRows, make_collate
from dnaseq_cli.engine.encoding import pad_id_for
from dnaseq_cli.engine.losses import make_loss
from dnaseq_cli.engine.schedule import warmup_cosine
from dnaseq_cli.report.metrics import classification_metrics, regression_metrics

STATE_FILE = "last_state.pt"


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


@dataclass
class TrainState:
    epoch: int = 0
    step: int = 0
    best_score: float = -math.inf
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def monitor_key(config: TrainConfig, task: str) -> str:
    if config.monitor != "auto":
        return config.monitor
    return {"binary": "auroc", "multiclass": "accuracy"}.get(task, "neg_loss")


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
    ) -> None:
        self.model = model.to(device)
        self.dataset = dataset
        self.config = config
        self.device = device
        self.task = dataset.manifest["task"]
        self.classes: list[str] = dataset.manifest.get("classes", [])
        self.rc_fn = rc_fn
        stored = dataset.manifest["encoding"]
        self.collate = make_collate(stored, encoding)
        self.pad_id = pad_id_for(encoding)
        train_rows = WindowRows(dataset, dataset.split("train"), self.task)
        synthetic = synthetic_training_rows(
            train_rows, encoding=stored, task=self.task, classes=self.classes,
            shuffled_fraction=config.shuffled_negatives, augment=config.augment,
            gan_steps=config.gan_steps, gan_samples=config.gan_samples, seed=config.seed,
            device=device,
        )  # fmt: skip
        # synthetic rows join the train split only; validation and test stay as stored
        self.synthetic_counts = synthetic.counts
        self.train_rows: WindowRows | AugmentedRows = (
            AugmentedRows(train_rows, synthetic.tokens, synthetic.labels)
            if len(synthetic.tokens)
            else train_rows
        )
        self.val_rows = WindowRows(dataset, dataset.split("val"), self.task)
        self.test_rows = WindowRows(dataset, dataset.split("test"), self.task)
        labels = item_labels(self.train_rows)
        self.loss_fn = make_loss(config.loss, self.task, labels, max(len(self.classes), 1)).to(
            device
        )
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        steps = self.steps_per_epoch() * config.epochs
        self.scheduler = warmup_cosine(self.optimizer, steps, int(config.warmup_fraction * steps))
        self.state = TrainState()
        self.monitor = monitor_key(config, self.task)

    # -- data -------------------------------------------------------------------------------
    def steps_per_epoch(self) -> int:
        batches = math.ceil(len(self.train_rows) / self.config.batch_size)
        if self.config.max_steps_per_epoch:
            batches = min(batches, self.config.max_steps_per_epoch * self.config.grad_accum)
        return max(math.ceil(batches / self.config.grad_accum), 1)

    def train_loader(self, epoch: int) -> DataLoader:
        generator = torch.Generator().manual_seed(self.config.seed + epoch)
        if self.config.balanced_sampling and self.task in ("binary", "multiclass"):
            labels = item_labels(self.train_rows)
            counts = np.bincount(labels, minlength=len(self.classes)).astype(np.float64)
            weights = 1.0 / np.maximum(counts[labels], 1)
            sampler = WeightedRandomSampler(
                torch.as_tensor(weights), len(labels), replacement=True, generator=generator
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
    def _loss(self, batch: Batch) -> torch.Tensor:
        logits = self.model(batch.input_ids, batch.attention_mask)
        if self.task == "regression":
            return self.loss_fn(logits.squeeze(-1).float(), batch.labels.float())
        return self.loss_fn(logits.float(), batch.labels.long())

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
        generator = torch.Generator().manual_seed(self.config.seed * 7919 + epoch)
        total, count = 0.0, 0
        self.optimizer.zero_grad(set_to_none=True)
        limit = self.steps_per_epoch() * config.grad_accum
        for index, batch in enumerate(self.train_loader(epoch)):
            if index >= limit:
                break
            batch = self._augment(batch, generator).to(self.device)
            loss = self._loss(batch)
            (loss / config.grad_accum).backward()
            total += float(loss.detach()) * len(batch.labels)
            count += len(batch.labels)
            if (index + 1) % config.grad_accum == 0:
                if config.grad_clip > 0:
                    nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.state.step += 1
            if progress is not None:
                progress(len(batch.labels), float(loss.detach()))
        return total / max(count, 1)

    @torch.inference_mode()
    def predict(self, rows: WindowRows) -> tuple[np.ndarray, np.ndarray, float]:
        """Model outputs (probabilities or values), labels and mean loss over ``rows``."""
        self.model.eval()
        outputs, labels, total = [], [], 0.0
        for batch in self.eval_loader(rows):
            batch = batch.to(self.device)
            logits = self.model(batch.input_ids, batch.attention_mask).float()
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
        outputs, labels, loss = self.predict(rows)
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
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "state": asdict(self.state),
                "config": asdict(self.config),
                "rng": {
                    "torch": torch.get_rng_state(),
                    "numpy": np.random.get_state(),
                    "python": random.getstate(),
                },
            },
            path,
        )

    def load_state(self, path: Path) -> None:
        saved = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.state = TrainState(**saved["state"])
        torch.set_rng_state(saved["rng"]["torch"])
        np.random.set_state(saved["rng"]["numpy"])
        random.setstate(saved["rng"]["python"])

    def fit(
        self,
        run_dir: Path,
        save_best: Callable[[nn.Module], None],
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        progress: Callable[[int, float], None] | None = None,
    ) -> TrainState:
        """Train until ``epochs`` or early stopping; ``save_best`` is called on each new best."""
        config = self.config
        while self.state.epoch < config.epochs and not self._stopped_early():
            epoch = self.state.epoch
            started = time.perf_counter()
            train_loss = self.train_epoch(epoch, progress)
            seconds = time.perf_counter() - started
            metrics = self.evaluate(self.val_rows) if len(self.val_rows) else {}
            score = metrics.get(self.monitor, -train_loss)
            if score is None or (isinstance(score, float) and math.isnan(score)):
                score = -metrics.get("loss", train_loss)
            improved = score > self.state.best_score
            if improved:
                self.state.best_score = float(score)
                self.state.best_epoch = epoch
                self.state.epochs_without_improvement = 0
                save_best(self.model)
            else:
                self.state.epochs_without_improvement += 1
            row = {
                "epoch": epoch + 1,
                "step": self.state.step,
                "lr": self.scheduler.get_last_lr()[0],
                "train_loss": train_loss,
                "val_loss": metrics.get("loss", float("nan")),
                **{
                    f"val_{k}": metrics[k]
                    for k in ("accuracy", "f1", "f1_macro", "auroc", "mcc", "pearson", "mse")
                    if k in metrics
                },
                "train_seconds": seconds,
                "train_seqs_per_s": len(self.train_rows) / seconds if seconds > 0 else 0.0,
                "best": improved,
            }
            self.state.history.append(row)
            self.state.epoch += 1
            self.save_state(run_dir / STATE_FILE)
            if on_epoch is not None:
                on_epoch(row)
        return self.state

    def _stopped_early(self) -> bool:
        patience = self.config.patience
        return bool(patience) and self.state.epochs_without_improvement >= patience
