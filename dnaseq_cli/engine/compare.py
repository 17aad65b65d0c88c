"""Train several backbones on one dataset under one budget and seed (``dnaseq compare --run``).

Each backbone goes through :func:`dnaseq_cli.engine.run.train_run`, exactly what ``dnaseq train``
runs, into ``out_dir/<backbone>/``; only the model differs between the runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from dnaseq_cli.data.dataset import Dataset
from dnaseq_cli.engine.run import RunResult, train_run
from dnaseq_cli.engine.trainer import TrainConfig
from dnaseq_cli.models import factory


def train_backbones(
    dataset: Dataset,
    out_dir: Path,
    backbones: Sequence[str],
    *,
    size: str,
    config: TrainConfig,
    device: torch.device,
    on_start: Callable[[str, int], None] | None = None,
) -> list[RunResult]:
    """One run folder per backbone; every spec is checked before the first run starts."""
    specs = {backbone: factory.model_spec(backbone, size) for backbone in backbones}
    results = []
    for index, (backbone, spec) in enumerate(specs.items()):
        if on_start:
            on_start(backbone, index)
        results.append(
            train_run(
                dataset,
                out_dir / backbone,
                model_spec=spec,
                config=config,
                device=device,
            )
        )
    return results
