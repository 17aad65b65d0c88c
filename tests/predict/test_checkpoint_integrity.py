"""Damaged or hand-edited model folders: `predict` and `vep` stop with one line naming the file and
the field (exit 2), never a traceback or scores from the wrong model.

Each case copies a tiny saved checkpoint into tmp_path, breaks one thing, and runs the CLI.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from dnaseq_runner import run_in_process as run_cli
from safetensors.torch import load_file, save_file

from dnaseq_cli.checksums import file_sha256
from dnaseq_cli.models.caduceus.hf_format import save_hf_checkpoint
from dnaseq_cli.models.checkpoint import WEIGHTS_HASH_KEY
from dnaseq_cli.predict.ensemble import MemberSource, build_ensemble
from dnaseq_cli.predict.model import WindowScorer, bundled_model_dir

from .conftest import EXAMPLES, WINDOW, save_model

FASTA = EXAMPLES / "enhancers_cohn.fa"
WEIGHTS, CONFIG = "model.safetensors", "config.json"


def edit_config(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        config = json.loads((folder / CONFIG).read_text())
        change(config)
        (folder / CONFIG).write_text(json.dumps(config, indent=2))

    return apply


def truncate(folder: Path) -> None:
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(data[: len(data) // 2])


def flip_a_bit(folder: Path) -> None:
    """One exponent bit of the last weight: same size, and the model still runs."""
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[-1] ^= 0x40
    (folder / WEIGHTS).write_bytes(bytes(data))


def without_hash(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """A folder written before weights_sha256 existed, then damaged."""

    def apply(folder: Path) -> None:
        edit_config(lambda c: c.pop(WEIGHTS_HASH_KEY))(folder)
        damage(folder)

    return apply


def nan_weight(folder: Path) -> None:
    state = load_file(folder / WEIGHTS)
    key = sorted(k for k, v in state.items() if v.is_floating_point())[0]
    state[key] = state[key].clone().fill_(float("nan"))
    save_file(state, folder / WEIGHTS)


def three_outputs(config: dict) -> None:
    config["head"]["n_out"] = 3
    config["data"].update(task="multiclass", classes=["0", "1", "2"])


def assert_one_line_error(result, file: Path, *needles: str) -> None:
    """Exit 2, one stderr line `dnaseq: error: FILE: ...` naming each needle, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"dnaseq: error: {file}: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return save_model(tmp_path_factory.mktemp("pristine") / "cnn")


def broken_copy(pristine: Path, target: Path, damage: Callable[[Path], None]) -> Path:
    shutil.copytree(pristine, target)
    damage(target)
    return target


# (case id, damage, file the message must name, what else it must say: the field)
CASES = [
    ("truncated-weights", truncate, WEIGHTS, [WEIGHTS_HASH_KEY]),
    ("truncated-weights-no-hash", without_hash(truncate), WEIGHTS, ["safetensors", "truncated"]),
    ("empty-weights", lambda f: (f / WEIGHTS).write_bytes(b""), WEIGHTS, ["0 bytes"]),
    ("bit-flip", flip_a_bit, WEIGHTS, [WEIGHTS_HASH_KEY]),
    ("nan-weights-no-hash", without_hash(nan_weight), WEIGHTS, ["NaN"]),
    ("missing-weights", lambda f: (f / WEIGHTS).unlink(), "", [WEIGHTS, "missing"]),
    ("not-json", lambda f: (f / CONFIG).write_text('{"format": "dn'), CONFIG, ["not valid JSON"]),
    ("extra-field", edit_config(lambda c: c.update(colour="red")), CONFIG, ['"colour"']),
    ("extra-data-field", edit_config(lambda c: c["data"].update(windw=1)), CONFIG,
     ['"data.windw"']),
    ("extra-config-field", edit_config(lambda c: c["config"].update(n_filtres=8)), CONFIG,
     ['"config.n_filtres"']),
    ("missing-backbone", edit_config(lambda c: c.pop("backbone")), CONFIG,
     ['"backbone"', "missing"]),
    ("missing-head", edit_config(lambda c: c.pop("head")), CONFIG, ['"head"', "missing"]),
    ("missing-n-out", edit_config(lambda c: c["head"].pop("n_out")), CONFIG,
     ['"head.n_out"', "missing"]),
    ("window-as-string", edit_config(lambda c: c["data"].update(window_length="200")), CONFIG,
     ['"data.window_length"', "integer", '"200"']),
    ("negative-window", edit_config(lambda c: c["data"].update(window_length=-200)), CONFIG,
     ['"data.window_length"', "-200"]),
    ("config-size-as-string", edit_config(lambda c: c["config"].update(n_filters="16")), CONFIG,
     ['"config.n_filters"', "integer"]),
    ("dropout-above-one", edit_config(lambda c: c["config"].update(dropout=1.5)), CONFIG,
     ['"config.dropout"']),
    ("three-classes-two-outputs", edit_config(lambda c: c["data"].update(classes=["0", "1", "2"])),
     CONFIG, ['"data.classes"', "3 classes", "2 outputs"]),
    ("regression-task-two-outputs", edit_config(lambda c: c["data"].update(task="regression")),
     CONFIG, ['"data.task"']),
    ("head-bigger-than-weights", edit_config(three_outputs), WEIGHTS, ["head.score", '"head" fields']),
    ("unknown-backbone", edit_config(lambda c: c.update(backbone="resnet")), CONFIG,
     ['"backbone"', "resnet"]),
    ("wrong-encoding", edit_config(lambda c: c["data"].update(model_encoding="kmer3")), CONFIG,
     ['"data.model_encoding"']),
    # "graph" was never a preprocess --encoding and is no longer an encoding at all
    ("graph-stored-encoding", edit_config(lambda c: c["data"].update(stored_encoding="graph")),
     CONFIG, ['"data.stored_encoding"', '"graph"']),
    ("bad-hash-text", edit_config(lambda c: c.update(weights_sha256="abc")), CONFIG,
     [f'"{WEIGHTS_HASH_KEY}"']),
    ("unknown-format", edit_config(lambda c: c.update(format="keras")), CONFIG, ['"format"']),
]  # fmt: skip


@pytest.mark.parametrize(("damage", "file", "needles"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_predict_names_the_damaged_file_and_field(pristine, tmp_path, damage, file, needles):
    folder = broken_copy(pristine, tmp_path / "model", damage)
    out = tmp_path / "scores.tsv"
    result = run_cli("predict", FASTA, "--model", folder, "-o", out, "--device", "cpu")
    assert_one_line_error(result, folder / file if file else folder, *needles)
    assert not out.exists()


def test_the_pristine_copy_still_predicts(pristine, tmp_path):
    """The cases above fail because of their damage, not because of the copy."""
    folder = broken_copy(pristine, tmp_path / "model", lambda f: None)
    result = run_cli("predict", FASTA, "--model", folder, "-o", tmp_path / "s.tsv", "--quiet")
    assert result.returncode == 0, result.stderr


def test_a_folder_written_before_the_hash_still_loads(pristine, tmp_path):
    folder = broken_copy(pristine, tmp_path / "old", edit_config(lambda c: c.pop(WEIGHTS_HASH_KEY)))
    scorer = WindowScorer(folder, device="cpu")
    assert scorer.info.window_length == WINDOW and scorer.info.classes == ("0", "1")


def test_saving_records_the_weights_sha256(pristine):
    config = json.loads((pristine / CONFIG).read_text())
    assert config[WEIGHTS_HASH_KEY] == file_sha256(pristine / WEIGHTS)


@pytest.mark.parametrize("command", ["predict", "vep"])
def test_window_option_may_not_override_the_models_window(pristine, tmp_path, command):
    inputs = [FASTA] if command == "predict" else [
        EXAMPLES / "clinvar_brca1.refcoords.vcf.gz", "--reference", EXAMPLES / "ref_brca1.fa"]  # fmt: skip
    out = tmp_path / "out.tsv"
    result = run_cli(command, *inputs, "--model", pristine, "--window", "1000", "-o", out)
    assert_one_line_error(
        result, pristine / CONFIG, "--window 1000", f"is {WINDOW}", '"data.window_length"'
    )
    assert not out.exists()
    same = run_cli(command, *inputs, "--model", pristine, "--window", WINDOW, "-o", out, "--quiet")
    assert same.returncode == 0, same.stderr  # repeating the model's own window is fine


def test_bundled_default_records_and_passes_its_member_hashes():
    members = bundled_model_dir() / "members"
    for member in sorted(members.iterdir()):
        config = json.loads((member / CONFIG).read_text())
        assert config[WEIGHTS_HASH_KEY] == file_sha256(member / WEIGHTS), member.name
    assert WindowScorer(device="cpu").info.window_length == 500


# -- ensembles: the members are checkpoint folders and are checked as such --------------------


@pytest.fixture(scope="module")
def pristine_ensemble(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ensemble")
    members = [save_model(root / "cnn", "cnn"), save_model(root / "kmer", "kmer")]
    sources = [MemberSource(m.name, m) for m in members]
    build_ensemble(sources, root / "ens")
    return root / "ens"


def edit_member(name: str, damage: Callable[[Path], None]) -> Callable[[Path], None]:
    return lambda folder: damage(folder / "members" / name)


ENSEMBLE_CASES = [
    ("member-bit-flip", edit_member("kmer", flip_a_bit), "members/kmer/" + WEIGHTS,
     [WEIGHTS_HASH_KEY]),
    ("member-empty-weights", edit_member("cnn", lambda f: (f / WEIGHTS).write_bytes(b"")),
     "members/cnn/" + WEIGHTS, ["0 bytes"]),
    ("member-extra-field", edit_member("cnn", edit_config(lambda c: c.update(colour=1))),
     "members/cnn/" + CONFIG, ['"colour"']),
    ("member-window-differs", edit_member("cnn", edit_config(
        lambda c: c["data"].update(window_length=2 * WINDOW))), CONFIG,
     ['"data.window_length"', str(2 * WINDOW), "members/cnn/config.json"]),
    ("ensemble-three-classes", edit_config(lambda c: c["data"].update(classes=["0", "1", "2"])),
     CONFIG, ['"data.classes"', "members/cnn/config.json"]),
    ("ensemble-extra-field", edit_config(lambda c: c.update(colour=1)), CONFIG, ['"colour"']),
    ("ensemble-negative-weight", edit_config(lambda c: c["members"][0].update(weight=-1)),
     CONFIG, ['"members[0].weight"']),
    ("ensemble-member-outside", edit_config(lambda c: c["members"][0].update(path="../cnn")),
     CONFIG, ['"members[0].path"']),
    ("ensemble-window-as-string", edit_config(lambda c: c["data"].update(window_length="200")),
     CONFIG, ['"data.window_length"']),
    ("ensemble-missing-members", edit_config(lambda c: c.pop("members")), CONFIG,
     ['"members"', "missing"]),
]  # fmt: skip


@pytest.mark.parametrize(("damage", "file", "needles"), [c[1:] for c in ENSEMBLE_CASES],
                         ids=[c[0] for c in ENSEMBLE_CASES])  # fmt: skip
def test_ensemble_names_the_damaged_member_file_and_field(
    pristine_ensemble, tmp_path, damage, file, needles
):
    folder = broken_copy(pristine_ensemble, tmp_path / "ens", damage)
    result = run_cli("predict", FASTA, "--model", folder, "-o", tmp_path / "s.tsv")
    assert_one_line_error(result, folder / file, *needles)


def test_pristine_ensemble_predicts_and_rejects_another_window(pristine_ensemble, tmp_path):
    ok = run_cli("predict", FASTA, "--model", pristine_ensemble, "-o", tmp_path / "a.tsv", "-q")
    assert ok.returncode == 0, ok.stderr
    result = run_cli(
        "predict", FASTA, "--model", pristine_ensemble, "--window", "1000", "-o", tmp_path / "b"
    )
    assert_one_line_error(result, pristine_ensemble / CONFIG, "--window 1000", f"is {WINDOW}")


def test_building_an_ensemble_from_a_damaged_member_names_it(pristine, tmp_path):
    good = broken_copy(pristine, tmp_path / "good", lambda f: None)
    bad = broken_copy(pristine, tmp_path / "bad", flip_a_bit)
    result = run_cli("ensemble", good, bad, "-o", tmp_path / "ens")
    assert_one_line_error(result, bad / WEIGHTS, WEIGHTS_HASH_KEY)
    assert not (tmp_path / "ens").exists()


# -- Hugging Face Caduceus folders: their own keys, no recorded window ------------------------


@pytest.fixture(scope="module")
def pristine_hf(tmp_path_factory) -> Path:
    from dnaseq_cli.models import factory

    torch.manual_seed(0)
    spec = factory.model_spec("caduceus", "tiny", {"d_model": 16, "n_layer": 1})
    folder = tmp_path_factory.mktemp("hf") / "hf"
    save_hf_checkpoint(factory.build_classifier(spec, 2).eval(), folder)
    return folder


def test_hf_folder_takes_window_and_hf_bookkeeping_keys(pristine_hf, tmp_path):
    extra = {"transformers_version": "4.38.1", "auto_map": {"AutoConfig": "x.Y"}, "torch_dtype":
             "float32", "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "pad_token_id": None}  # fmt: skip
    folder = broken_copy(pristine_hf, tmp_path / "hf", edit_config(lambda c: c.update(extra)))
    result = run_cli("predict", FASTA, "--model", folder, "--window", "64", "-o", tmp_path / "s")
    assert result.returncode == 0, result.stderr
    needs = run_cli("predict", FASTA, "--model", folder, "-o", tmp_path / "t")
    assert needs.returncode == 2 and "--window" in needs.stderr


def bin_weights(folder: Path) -> None:
    """The same folder in pytorch_model.bin form, cut short."""
    torch.save(load_file(folder / WEIGHTS), folder / "pytorch_model.bin")
    (folder / WEIGHTS).unlink()
    data = (folder / "pytorch_model.bin").read_bytes()
    (folder / "pytorch_model.bin").write_bytes(data[: len(data) // 2])


HF_CASES = [
    ("hf-truncated", truncate, WEIGHTS, ["safetensors", "truncated"]),
    ("hf-empty", lambda f: (f / WEIGHTS).write_bytes(b""), WEIGHTS, ["0 bytes"]),
    ("hf-truncated-bin", bin_weights, "pytorch_model.bin", ["truncated"]),
    ("hf-size-as-string", edit_config(lambda c: c.update(d_model="16")), CONFIG,
     ['"d_model"', "integer"]),
    ("hf-negative-layers", edit_config(lambda c: c.update(n_layer=-1)), CONFIG, ['"n_layer"']),
    ("hf-rcps-as-string", edit_config(lambda c: c.update(rcps="no")), CONFIG, ['"rcps"']),
    ("hf-three-labels", edit_config(lambda c: c.update(num_labels=3)), CONFIG,
     ['"num_labels"', "3"]),
    ("hf-wider-model", edit_config(lambda c: c.update(d_model=32)), WEIGHTS, ["shape"]),
]  # fmt: skip


@pytest.mark.parametrize(("damage", "file", "needles"), [c[1:] for c in HF_CASES],
                         ids=[c[0] for c in HF_CASES])  # fmt: skip
def test_hf_folder_names_the_damaged_file_and_field(pristine_hf, tmp_path, damage, file, needles):
    folder = broken_copy(pristine_hf, tmp_path / "hf", damage)
    result = run_cli("predict", FASTA, "--model", folder, "--window", "64", "-o", tmp_path / "s")
    assert_one_line_error(result, folder / file, *needles)
