"""How many CPU threads a command's model uses: the cores this process may run on, or ``--threads``.

Why: torch sizes its thread pool from the machine's core count, not from the CPU affinity a batch
scheduler or ``taskset`` gives the process, so a job allowed 2 of 64 cores ran 64 threads on them;
and OpenMP's worker threads spin while they wait, so a core shared with another busy process made
every parallel region wait for the spinning, descheduled thread (throughput fell 10-15x instead of
about 2x). dnaseq therefore sizes the pool from the affinity mask and asks OpenMP to sleep, not
spin, while waiting (``OMP_WAIT_POLICY=PASSIVE`` unless the user set it).
"""

from __future__ import annotations

import os

WAIT_POLICY = "OMP_WAIT_POLICY"


def prefer_passive_waiting() -> None:
    """Set OMP_WAIT_POLICY=PASSIVE unless already set; must run before torch starts OpenMP."""
    os.environ.setdefault(WAIT_POLICY, "PASSIVE")


def available_cores() -> int:
    """The cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # not Linux
        return max(os.cpu_count() or 1, 1)


def default_threads() -> int:
    """``OMP_NUM_THREADS`` when the user set it; else the available cores shared among the
    processes torchrun started on this machine (``LOCAL_WORLD_SIZE``)."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    local = os.environ.get("LOCAL_WORLD_SIZE", "1")
    processes = int(local) if local.isdigit() and int(local) > 0 else 1
    return max(available_cores() // processes, 1)


def use_threads(threads: int | None) -> int:
    """Size torch's intra-op pool to ``threads`` (default :func:`default_threads`); return it."""
    import torch

    count = threads or default_threads()
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count
