"""Data-parallel training under ``torchrun``: process group, sharded epoch order, rank-0 writes.

``torchrun --nproc-per-node N -m dnaseq_cli train ...`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``;
:func:`setup` then joins the process group (NCCL with one GPU per process, gloo on CPU). Every rank
draws the same global epoch order (a permutation, or the weighted sample of ``--balanced-sampling``)
from ``seed + epoch`` and keeps every ``world_size``-th item, so the shards are disjoint and their
union is the single-process epoch. Without torchrun nothing here changes the training.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from dnaseq_cli import shards

#: ``DNASEQ_DEBUG_SHARDS=1`` prints each rank's training rows per epoch on stderr (tests, debugging).
DEBUG_ENV = shards.DEBUG_ENV


@dataclass(frozen=True)
class Dist(shards.Shards):
    """This process's place in a training job (:class:`~dnaseq_cli.shards.Shards`, the same
    torchrun environment as inference) with the collectives training needs; ``world_size == 1``
    means plain single-process training."""

    @property
    def world_size(self) -> int:
        return self.world

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (decisions such as early stopping must agree)."""
        if not self.enabled:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sum(self, *values: float) -> list[float]:
        """Element-wise sum of ``values`` over all ranks (e.g. loss totals and counts)."""
        gathered = self.all_gather(list(values))
        return [float(sum(column)) for column in zip(*gathered, strict=True)]


SINGLE = Dist()


def from_env(environ: dict[str, str] | None = None) -> Dist:
    """Rank and world size as torchrun (or any ``env://`` launcher) sets them."""
    place = shards.from_env(environ)
    return Dist(rank=place.rank, world=place.world, local_rank=place.local_rank)


def setup(device: str) -> tuple[Dist, str]:
    """Join the process group when launched by torchrun; returns the context and the device name
    this rank trains on (``cuda:LOCAL_RANK`` for CUDA, so each process owns one GPU)."""
    place, device = shards.join(device)
    return Dist(rank=place.rank, world=place.world, local_rank=place.local_rank), device


def teardown(ctx: Dist) -> None:
    shards.leave(ctx)


@contextlib.contextmanager
def session(device: str) -> Iterator[tuple[Dist, str]]:
    """:func:`setup` on entry, :func:`teardown` on exit: ``with session(device) as (ctx, device)``."""
    ctx, device = setup(device)
    try:
        yield ctx, device
    finally:
        teardown(ctx)


def wrap(
    model: torch.nn.Module, ctx: Dist, device: torch.device, accumulate: bool = False
) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` (the same object when not distributed).

    ``static_graph``: the graph is the same every step, and parameters idle in it (a backbone's LM
    head while a classifier trains) are found once instead of on every step. With gradient
    accumulation (``accumulate``: micro-batches under ``no_sync``) static graphs are not safe
    (pytorch/pytorch#143580: an internal assert, and once past it, gradients that stop being
    all-reduced), so idle parameters are searched for on every step instead.
    """
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    if accumulate:
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
    return DistributedDataParallel(model, device_ids=ids, static_graph=True)


def epoch_order(
    n: int, seed: int, epoch: int, weights: np.ndarray | torch.Tensor | None = None
) -> torch.Tensor:
    """The global order of one epoch: a permutation, or ``n`` weighted draws with replacement.

    The same generator calls as a single-process ``RandomSampler``/``WeightedRandomSampler`` with a
    generator seeded ``seed + epoch``, so one rank of one process reproduces single-process order.
    """
    generator = torch.Generator().manual_seed(seed + epoch)
    if weights is not None:
        probs = torch.as_tensor(weights, dtype=torch.double)
        return torch.multinomial(probs, n, replacement=True, generator=generator)
    return torch.randperm(n, generator=generator)


def shard(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s share of ``order``: every ``world_size``-th item, after padding the order
    with its own first items so all ranks get the same count (equal step counts keep DDP in step)."""
    per_rank = math.ceil(len(order) / world_size) if len(order) else 0
    total = per_rank * world_size
    if total > len(order):  # repeat, not slice: fewer items than ranks must still fill every rank
        order = order.repeat(math.ceil(total / len(order)))[:total]
    return order[rank:total:world_size]


class ShardSampler(Sampler[int]):
    """Distributed sampler over ``n`` items: :func:`epoch_order` sharded by :func:`shard`.

    Call :meth:`set_epoch` before each epoch (the order depends on ``seed + epoch``)."""

    def __init__(
        self, n: int, *, rank: int, world_size: int, seed: int, weights: np.ndarray | None = None
    ) -> None:
        self.n, self.rank, self.world_size, self.seed, self.weights = (
            n, rank, world_size, seed, weights,
        )  # fmt: skip
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.n / self.world_size) if self.n else 0

    def __iter__(self) -> Iterator[int]:
        order = epoch_order(self.n, self.seed, self.epoch, self.weights)
        return iter(shard(order, self.rank, self.world_size).tolist())


def debug_shards_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def report_shard(ctx: Dist, epoch: int, rows: list[int], model: torch.nn.Module) -> None:
    """Stderr lines naming the dataset rows this rank trained on in ``epoch`` and a checksum of
    its weights after it (debug only): replicas that stay in sync print the same checksum."""
    tag = f"[dnaseq rank {ctx.rank}/{ctx.world_size}] epoch {epoch + 1}"
    with torch.no_grad():
        checksum = sum(float(p.double().abs().sum()) for p in model.parameters())
    # one write(2) per line: two ranks share the stderr pipe, and a print may be split mid-line
    # (writes under PIPE_BUF bytes reach a pipe whole)
    text = f"{tag} train rows: " + ",".join(map(str, rows)) + f"\n{tag} weights: {checksum:.10e}\n"
    sys.stderr.flush()
    for line in text.splitlines(keepends=True):
        os.write(sys.stderr.fileno(), line.encode())
