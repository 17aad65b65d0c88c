"""Inference split across the processes ``torchrun`` starts: which work units are this process's,
and how their outputs reach the one process that writes.

Why rounds: outputs must come out in input order and exactly as a single process writes them, with
memory that does not grow with the input. The input is cut into units (whole records for
``predict``, chunks of variants for ``vep``) that every process reads in the same order; in round
``r`` process ``k`` scores unit ``r * world + k`` and skips the others, then all processes hand
their unit's output to process 0 (``gather``), which writes them in process order: that is input
order. One round holds at most ``world`` units in memory. Without torchrun (``world == 1``) every
unit is this process's and nothing is gathered.

The process group is the one ``torchrun`` describes (``RANK``/``WORLD_SIZE``/``LOCAL_RANK``, gloo on
CPU, NCCL with a GPU per process); :func:`join` joins it, the CLI leaves it with :func:`leave`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from dnaseq_cli.errors import InputError

T = TypeVar("T")
#: ``DNASEQ_DEBUG_SHARDS=1``: each process reports its share of the work on stderr (tests).
DEBUG_ENV = "DNASEQ_DEBUG_SHARDS"


@dataclass(frozen=True)
class Shards:
    """This process's place among the inference processes (``world == 1``: the only one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every process (see :func:`joined`)."""
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def gather(self, value: Any) -> list[Any] | None:
        """Every process's ``value`` on process 0, in rank order (None on the others)."""
        if not self.enabled:
            return [value]
        import torch.distributed as dist

        box: list[Any] | None = [None] * self.world if self.is_main else None
        dist.gather_object(value, box, dst=0)
        return box

    def all_gather(self, value: Any) -> list[Any]:
        """Every process's ``value`` on every process, in rank order (counts to add up)."""
        if not self.enabled:
            return [value]
        import torch.distributed as dist

        box: list[Any] = [None] * self.world
        dist.all_gather_object(box, value)
        return box

    def rounds(self, units: Iterable[T]) -> Iterator[list[tuple[bool, T]]]:
        """The units in rounds of ``world``, each marked with whether it is this process's.
        With ``DNASEQ_DEBUG_SHARDS=1`` each process says on stderr how many units it had."""
        batch: list[tuple[bool, T]] = []
        count = 0
        for count, unit in enumerate(units, start=1):
            batch.append(((count - 1) % self.world == self.rank, unit))
            if len(batch) == self.world:
                yield batch
                batch = []
        if batch:
            yield batch
        if os.environ.get(DEBUG_ENV) == "1":
            mine = len(range(self.rank, count, self.world))
            # one write(2) per line: processes sharing the stderr pipe cannot split it
            os.write(
                2, f"[dnaseq shard {self.rank}/{self.world}] {mine} of {count} units\n".encode()
            )


SINGLE = Shards()


def from_env(environ: dict[str, str] | None = None) -> Shards:
    """Rank and world size as torchrun (or any ``env://`` launcher) sets them."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as error:
        raise InputError(
            f"bad torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK): {error}"
        ) from None
    if world < 1 or not 0 <= rank < world:
        raise InputError(f"bad torchrun environment: RANK={rank} WORLD_SIZE={world}")
    return Shards(rank=rank, world=world, local_rank=local)


def join(device: str) -> tuple[Shards, str]:
    """Join torchrun's process group (when launched by it); returns this process's place and the
    device it scores on: ``cuda:LOCAL_RANK`` for CUDA, so each process owns one GPU."""
    shards = from_env()
    if not shards.enabled:
        return shards, device
    import torch
    import torch.distributed as dist

    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            raise InputError("--device cuda requested but no CUDA device is available")
        if shards.local_rank >= torch.cuda.device_count():
            raise InputError(
                f"LOCAL_RANK {shards.local_rank} but only {torch.cuda.device_count()} CUDA "
                "devices: use --nproc-per-node <= the number of GPUs"
            )
        device = f"cuda:{shards.local_rank}"
        torch.cuda.set_device(shards.local_rank)
    elif device == "auto":
        device = "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return shards, device


@contextlib.contextmanager
def joined(device: str) -> Iterator[tuple[Shards, str]]:
    """:func:`join` for the body, then :func:`leave`. After a body that succeeded, every process
    waits for the others first, so none leaves the group while another still receives from it
    (gloo aborts the sender otherwise); after a failure this process leaves at once and torchrun
    stops the others."""
    shards, device = join(device)
    try:
        yield shards, device
        shards.barrier()
    finally:
        leave(shards)


def leave(shards: Shards) -> None:
    if not shards.enabled:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    # Free what still refers to the group's finished work now, while the interpreter is whole:
    # gloo work objects released during interpreter shutdown can abort the process (SIGABRT,
    # "terminate called without an active exception"; see pytorch/pytorch#179291).
    import gc

    gc.collect()
