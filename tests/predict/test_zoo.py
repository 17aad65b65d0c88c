"""The model zoo: `dnaseq models`, `--model NAME`, the bundled models' zoo.json, build_zoo.py."""

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from dnaseq_runner import run_in_process as run_cli

from dnaseq_cli.errors import InputError
from dnaseq_cli.predict import zoo
from dnaseq_cli.predict.model import resolve_model_path

from .conftest import EXAMPLES, save_model

REPO = Path(__file__).resolve().parents[2]


def _facts(name: str, **extra) -> dict:
    return {
        "schema": zoo.SCHEMA,
        "name": name,
        "task": "toy task: planted nothing",
        "dev": {"records": 10, "auroc": 0.6125, "accuracy": 0.55, "mcc": 0.1},
        "test": None,
        "kmer_baseline": {"backbone": "kmer", "size": "tiny", "dev_auroc": 0.5},
        "best_published": None,
        "training_seconds": 1.5,
        "rebuild_command": "python make_toy.py",
        **extra,
    }


@pytest.fixture
def toy_zoo(tmp_path, monkeypatch) -> Path:
    """A zoo of one model, a tiny CNN named gue_toy, in place of the bundled models."""
    root = tmp_path / "zoo"
    root.mkdir()
    model = save_model(root / "gue_toy")
    zoo.write_facts(model / zoo.ZOO_FILE, _facts("gue_toy"))
    (model / zoo.CARD_FILE).write_text("# gue_toy\n")
    monkeypatch.setattr(zoo, "zoo_root", lambda: root)
    return root


# ----------------------------------------------------------------------------------------------
# dnaseq models


def test_models_lists_the_enhancer_model_as_a_table():
    result = run_cli("models")
    assert result.returncode == 0, result.stderr
    assert "enhancer_default" in result.stdout and "500" in result.stdout
    assert "0.777" in result.stdout  # its held-out test AUROC (0.7769, from its model card)
    assert result.stderr == ""


def test_models_lists_the_enhancer_model_as_tsv():
    result = run_cli("models", "--format", "tsv")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout), sep="\t").set_index("name")
    row = table.loc["enhancer_default"]
    assert row.window == 500 and row.backbones == "hybrid,kmer" and row.classes == "0,1"
    assert row.test_auroc == pytest.approx(0.7769)
    assert pd.isna(row.dev_auroc)  # not recorded for the ensemble: left empty, not guessed
    assert row.size_bytes > 1_000_000


def test_models_lists_the_enhancer_model_as_json():
    result = run_cli("models", "--format", "json")
    assert result.returncode == 0, result.stderr
    (row,) = [m for m in json.loads(result.stdout)["models"] if m["name"] == "enhancer_default"]
    assert row["window"] == 500 and row["default"] is True
    assert row["test_auroc"] == pytest.approx(0.7769) and row["dev_auroc"] is None
    assert row["facts"]["rebuild_command"].startswith("bash scripts/build_default_model.sh")


def test_models_rejects_an_unknown_format():
    result = run_cli("models", "--format", "xml")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--format" in lines[0]


def test_a_model_in_the_zoo_is_listed(toy_zoo):
    result = run_cli("models", "--format", "json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["models"]
    assert row["name"] == "gue_toy" and row["task"] == "toy task: planted nothing"
    assert row["window"] == 200 and row["backbones"] == ["cnn"]
    assert row["dev_auroc"] == pytest.approx(0.6125) and row["kmer_dev_auroc"] == 0.5
    table = run_cli("models")
    assert "gue_toy" in table.stdout and "0.613" in table.stdout


def test_a_broken_zoo_json_is_a_one_line_error(toy_zoo):
    (toy_zoo / "gue_toy" / zoo.ZOO_FILE).write_text('{"schema": 1, "name": "gue_toy"}')
    result = run_cli("models")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "zoo.json" in lines[0] and "task" in lines[0]


# ----------------------------------------------------------------------------------------------
# --model NAME


def _scores(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


def test_predict_selects_a_zoo_model_by_name(toy_zoo, tmp_path):
    by_name, by_folder = tmp_path / "name.tsv", tmp_path / "folder.tsv"
    fasta = EXAMPLES / "enhancers_cohn.fa"
    result = run_cli("predict", fasta, "--model", "gue_toy", "-o", by_name, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "with gue_toy" in result.stderr
    assert run_cli("predict", fasta, "--model", toy_zoo / "gue_toy", "-o", by_folder,
                   "--device", "cpu", "--quiet").returncode == 0  # fmt: skip
    pd.testing.assert_frame_equal(_scores(by_name), _scores(by_folder))
    assert resolve_model_path("bundled:gue_toy") == toy_zoo / "gue_toy"


@pytest.mark.parametrize("value", ["no_such_model", "bundled:no_such_model", "bundled:../x"])
def test_an_unknown_model_name_is_one_line_naming_model(toy_zoo, value):
    result = run_cli("predict", EXAMPLES / "enhancers_cohn.fa", "--model", value)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--model" in lines[0] and "gue_toy" in lines[0] and "Traceback" not in lines[0]
    assert result.stdout == ""


def test_a_missing_folder_path_still_names_model(tmp_path):
    result = run_cli("predict", EXAMPLES / "enhancers_cohn.fa", "--model", tmp_path / "nope")
    assert result.returncode == 2
    assert "model folder not found" in result.stderr and "--model" in result.stderr
    assert "enhancer_default" in result.stderr


def test_a_folder_beats_a_zoo_model_of_the_same_name(toy_zoo, tmp_path, monkeypatch):
    work = tmp_path / "work"
    save_model(work / "gue_toy", n_out=3)  # the user's own folder: a three-class model
    monkeypatch.chdir(work)
    fasta = EXAMPLES / "enhancers_cohn.fa"
    result = run_cli("predict", fasta, "--model", "gue_toy", "-o", "mine.tsv", "--quiet")
    assert result.returncode == 0, result.stderr
    assert {"prob_0", "prob_1", "prob_2"} <= set(_scores(work / "mine.tsv").columns)
    result = run_cli("predict", fasta, "--model", "bundled:gue_toy", "-o", "zoo.tsv", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "score" in _scores(work / "zoo.tsv").columns  # bundled: always means the zoo's
    assert resolve_model_path("gue_toy") == Path("gue_toy")


def test_names_that_are_paths_never_reach_the_zoo(toy_zoo):
    for text in ("../gue_toy", "./gue_toy", "gue_toy/", ".", ".."):
        assert zoo.bundled_path(text) is None
    with pytest.raises(InputError, match="--model"):
        resolve_model_path("./gue_toy")


# ----------------------------------------------------------------------------------------------
# The bundled models themselves


def test_every_bundled_model_has_a_card_and_valid_facts():
    names = zoo.bundled_names()
    assert names[0] == zoo.DEFAULT_MODEL
    for name in names:
        folder = zoo.zoo_root() / name
        facts = zoo.read_facts(folder)
        assert facts is not None and facts["name"] == name, name
        card = (folder / zoo.CARD_FILE).read_text()
        for part in ("dev", "test"):
            auroc = (facts.get(part) or {}).get("auroc")
            if auroc is not None:
                assert f"{auroc:.4f}" in card, (name, part, auroc)  # the card and zoo.json agree
    total = sum(zoo.folder_bytes(zoo.zoo_root() / name) for name in names)
    assert total <= 25_000_000, f"the bundled models take {total / 1e6:.1f} MB (budget 25 MB)"


# ----------------------------------------------------------------------------------------------
# scripts/build_zoo.py


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_build_zoo_dry_run_prints_the_plan_and_touches_nothing(tmp_path):
    before = _tree(zoo.zoo_root())
    runs, data = tmp_path / "runs", tmp_path / "no_data"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_zoo.py"), "--dry-run", "--runs", str(runs),
         "--data", str(data)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for task in ("tf_0", "mouse_4", "prom_prom_core_all", "prom_prom_300_tata"):
        assert f"\n{task} -> " in result.stdout
    assert "gue_prom_core_all" in result.stdout and "dnaseq train " in result.stdout
    assert "--backbone kmer" in result.stdout and "data missing" in result.stdout
    assert not runs.exists() and not data.exists()
    assert list(tmp_path.iterdir()) == []
    assert _tree(zoo.zoo_root()) == before
