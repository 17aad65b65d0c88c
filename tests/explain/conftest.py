"""Small fixed checkpoints for explain tests (plumbing and exactness, not accuracy)."""

from pathlib import Path

import pytest
import torch

from dnaseq_cli.models import checkpoint, factory

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
WINDOW = 120


def save_model(
    folder: Path, backbone: str = "cnn", n_out: int = 2, window: int = WINDOW, **overrides
) -> Path:
    """A seeded untrained classifier saved as a checkpoint folder."""
    torch.manual_seed(0)
    spec = factory.model_spec(backbone, "tiny", overrides or None)
    model = factory.build_classifier(spec, n_out).eval()
    task = "binary" if n_out == 2 else ("regression" if n_out == 1 else "multiclass")
    checkpoint.save_checkpoint(
        model,
        folder,
        data={
            "task": task,
            "classes": [str(i) for i in range(n_out)] if n_out > 1 else [],
            "window_length": window,
            "stored_encoding": "char",
            "model_encoding": factory.encoding_of(backbone, spec["config"]),
        },
    )
    return folder


@pytest.fixture(scope="session")
def cnn_model(tmp_path_factory) -> Path:
    return save_model(tmp_path_factory.mktemp("models") / "cnn")
