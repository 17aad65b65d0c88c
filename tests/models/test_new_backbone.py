"""Adding a backbone is one module plus one test: ``toy_backbone.py`` declares its config, size
presets and comparison-table words in its ``@register`` call, and nothing else in dnaseq changes
for the factory to build it, checkpoints to save, check and load it, ``dnaseq compare --run`` to
train and describe it and the CLI to list it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
import torch
from dnaseq_runner import run_in_process

from dnaseq_cli.encode.tokens import encode_batch_chars
from dnaseq_cli.errors import InputError
from dnaseq_cli.models import checkpoint, factory, registry

TOY = Path(__file__).with_name("toy_backbone.py")
EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


@pytest.fixture
def toy(monkeypatch) -> ModuleType:
    """``toy_backbone.py`` imported afresh, registered for this test only."""
    registry.available()  # the built-in backbones first, into the registry that stays
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    spec = importlib.util.spec_from_file_location("toy_backbone", TOY)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "toy_backbone", module)
    spec.loader.exec_module(module)
    return module


def test_factory_builds_saves_checks_and_loads_a_new_backbone(toy, tmp_path):
    assert "toy" in registry.available() and registry.registered()[-1] == "toy"
    spec = factory.model_spec("toy", "small", {"kernel_size": 5})
    assert spec["config"] == {"d_model": 16, "kernel_size": 5}
    assert factory.encoding_of("toy", spec["config"]) == "char"
    torch.manual_seed(0)
    model = factory.build_classifier(spec, n_out=2).eval()
    assert isinstance(model.backbone, toy.ToyBackbone) and model.head.score.in_features == 16
    ids, _ = encode_batch_chars(["ACGTTGCAAGTCCGATNACG", "GGGATTACA"])
    ids = torch.as_tensor(ids)
    mask = ids != 4
    before = model(ids, mask)
    folder = tmp_path / "ckpt"
    checkpoint.save_checkpoint(model, folder, data={"task": "binary"})
    saved = json.loads((folder / "config.json").read_text())
    assert saved["backbone"] == "toy"
    assert saved["config"] == {"d_model": 16, "kernel_size": 5}  # dropout unset: not written
    again = checkpoint.load_checkpoint(folder)
    assert isinstance(again.backbone, toy.ToyBackbone) and again.backbone.config == toy.ToyConfig(
        d_model=16, kernel_size=5
    )
    assert torch.equal(again(ids, mask), before)
    # its config.json is checked field by field against ToyConfig, like any backbone's
    for change, needle in (
        ({"d_model": "16"}, '"config.d_model" must be an integer'),
        ({"kernel_sise": 3}, '"config.kernel_sise" is not a known field'),
        ({"dropout": 1.5}, '"config.dropout" is a dropout rate'),
        ({"kernel_size": 0}, '"config" does not build a toy model: kernel_size must be >= 1'),
    ):
        edited = json.loads(json.dumps(saved))
        edited["config"].update(change)
        (folder / "config.json").write_text(json.dumps(edited))
        with pytest.raises(InputError, match=needle):
            checkpoint.load_checkpoint(folder)


def test_compare_run_trains_and_describes_a_new_backbone(toy, tmp_path):
    table = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t")
    table = pd.concat([table[table.label == 0].head(20), table[table.label == 1].head(20)])
    table["seq"] = table["seq"].str[200:300]
    table.to_csv(tmp_path / "small.tsv", sep="\t", index=False)
    result = run_in_process(
        "compare", "--run", tmp_path / "small.tsv", "-o", tmp_path / "out", "--backbones", "toy",
        "--epochs", "1", "--max-steps-per-epoch", "2", "--batch-size", "16", "--device", "cpu",
        "--format", "json", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["measured"]
    assert row["backbone"] == "toy" and row["size"] == "tiny"
    assert row["attention"] == "none (one convolution)"
    assert row["embeddings"] == "base embeddings, d_model 8"
    loaded = checkpoint.load_checkpoint(tmp_path / "out" / "toy" / "checkpoint")
    assert isinstance(loaded.backbone, toy.ToyBackbone)


def test_the_cli_lists_a_new_backbone():
    """The CLI's backbone lists come from the registry: a process that imports the module before
    the CLI shows it in ``train --backbone`` and in ``compare --backbones``' default."""
    code = "import toy_backbone, sys; from dnaseq_cli.cli.app import main; main(sys.argv[1:])"
    path = os.pathsep.join(filter(None, [str(TOY.parent), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "300", "NO_COLOR": "1"}
    for command, needle in (
        ("train", "caduceus, bigbird, gnn, hybrid, cnn, kmer or toy"),
        ("compare", "caduceus,bigbird,gnn,hybrid,cnn,toy"),
    ):
        result = subprocess.run(
            [sys.executable, "-c", code, command, "--help"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert needle in " ".join(result.stdout.split()), result.stdout


def test_register_checks_what_it_is_given(toy):
    with pytest.raises(ValueError, match="preset 'huge' is not one of"):
        registry.register("bad", config=toy.ToyConfig, presets={"huge": {}})
    with pytest.raises(ValueError, match=r"preset 'tiny' sets unknown fields \['width'\]"):
        registry.register("bad", config=toy.ToyConfig, presets={"tiny": {"width": 8}})
    with pytest.raises(TypeError, match="must be a dataclass"):
        registry.register("bad", config=dict)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("toy", config=toy.ToyConfig)(type("Other", (toy.ToyBackbone,), {}))
