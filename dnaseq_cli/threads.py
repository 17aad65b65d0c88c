"""How many CPU threads a command's model uses: the cores this process may run on, or ``--threads``.

Why: torch sizes its thread pool from the machine's core count, not from the CPU affinity a batch
scheduler or ``taskset`` gives the process, so a job allowed 2 of 64 cores ran 64 threads on them;
and OpenMP's worker threads spin while they wait, so on a core shared with another busy process
every parallel region waits for a descheduled thread. dnaseq sizes the pool from the affinity mask.
``OMP_WAIT_POLICY=PASSIVE`` (threads sleep instead of spinning) is left to the user: measured here it
cut predict's wall time to 0.79x next to a busy training job, but cost 1.25x on an idle machine.
"""

from __future__ import annotations

import os


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
