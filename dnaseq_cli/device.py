"""Which torch device a command runs on: ``--device auto|cpu|cuda[:N]``, checked in one place.

A ground-floor module: training, inference and variant scoring all resolve devices here, so
inference does not depend on the training engine.
"""

from __future__ import annotations

import torch

from dnaseq_cli.errors import InputError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; asking for CUDA without it is a usage error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda requested but no CUDA device is available")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise InputError(f"unknown --device {name!r}; use auto, cpu or cuda[:N]")
    return torch.device(name)
