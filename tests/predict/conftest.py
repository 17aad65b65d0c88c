"""A small untrained-but-fixed checkpoint for predict/vep tests (plumbing, not accuracy)."""

from pathlib import Path

import pytest
import torch

from dnaseq_cli.models import checkpoint, factory

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
WINDOW = 200


def save_model(folder: Path, backbone: str = "cnn", n_out: int = 2, window: int = WINDOW) -> Path:
    torch.manual_seed(0)
    spec = factory.model_spec(backbone, "tiny")
    model = factory.build_classifier(spec, n_out).eval()
    classes = [str(i) for i in range(n_out)] if n_out > 1 else []
    task = "binary" if n_out == 2 else ("regression" if n_out == 1 else "multiclass")
    checkpoint.save_checkpoint(
        model,
        folder,
        data={
            "task": task,
            "classes": classes,
            "window_length": window,
            "stored_encoding": "char",
            "model_encoding": factory.encoding_of(backbone),
        },
    )
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return save_model(tmp_path_factory.mktemp("models") / "cnn")
