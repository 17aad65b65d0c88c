"""checkpoint.load_checkpoint checks a folder before trusting it: config.json fields by type and
range, the weights' recorded sha256, and tensors that fit the model the config describes.

Every problem is an InputError whose path is the file at fault and whose message names the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dnaseq_cli.checksums import file_sha256
from dnaseq_cli.errors import InputError
from dnaseq_cli.models import checkpoint, factory
from dnaseq_cli.models.checkpoint import (
    CONFIG_NAME,
    WEIGHTS_HASH_KEY,
    WEIGHTS_NAME,
    check_spec,
    load_checkpoint,
)
from dnaseq_cli.models.heads import MaskedLM

BACKBONES = ["caduceus", "bigbird", "gnn", "hybrid", "cnn", "kmer"]


def _save(folder: Path, backbone: str = "cnn", n_out: int = 2, **data) -> Path:
    torch.manual_seed(0)
    model = factory.build_classifier(factory.model_spec(backbone, "tiny"), n_out).eval()
    checkpoint.save_checkpoint(model, folder, data=data or None)
    return folder


def _edit(folder: Path, change) -> None:
    config = json.loads((folder / CONFIG_NAME).read_text())
    change(config)
    (folder / CONFIG_NAME).write_text(json.dumps(config))


@pytest.mark.parametrize("name", BACKBONES)
def test_every_backbone_writes_a_config_that_passes_its_own_checks(tmp_path, name):
    """The field hints come from the constructors, so each backbone's saved config must fit."""
    folder = _save(tmp_path / name, name, model_encoding=factory.encoding_of(name))
    spec = json.loads((folder / CONFIG_NAME).read_text())
    assert check_spec(spec, folder / CONFIG_NAME) is spec
    assert spec[WEIGHTS_HASH_KEY] == file_sha256(folder / WEIGHTS_NAME)


def test_masked_lm_and_bare_backbone_checkpoints_load(tmp_path):
    torch.manual_seed(0)
    backbone = factory.build_backbone(factory.model_spec("caduceus", "tiny"))
    checkpoint.save_checkpoint(MaskedLM(backbone), tmp_path / "mlm", data={"task": "masked_lm"})
    assert isinstance(load_checkpoint(tmp_path / "mlm"), MaskedLM)
    checkpoint.save_checkpoint(backbone, tmp_path / "bare")
    assert type(load_checkpoint(tmp_path / "bare")) is type(backbone)


def test_folder_without_recorded_hash_loads(tmp_path):
    folder = _save(tmp_path / "old", task="binary", classes=["0", "1"])
    _edit(folder, lambda c: c.pop(WEIGHTS_HASH_KEY))
    assert load_checkpoint(folder).head.score.out_features == 2


def _flip(folder: Path) -> None:
    data = bytearray((folder / WEIGHTS_NAME).read_bytes())
    data[-1] ^= 0x40
    (folder / WEIGHTS_NAME).write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "file", "needle"),
    [
        (_flip, WEIGHTS_NAME, WEIGHTS_HASH_KEY),
        (lambda f: (f / WEIGHTS_NAME).write_bytes(b""), WEIGHTS_NAME, "0 bytes"),
        (lambda f: _edit(f, lambda c: c["config"].update(n_layers=2.5)), CONFIG_NAME,
         '"config.n_layers" must be an integer'),
        (lambda f: _edit(f, lambda c: c["config"].update(kmer_sizes=[1])), CONFIG_NAME,
         '"config.kmer_sizes" is not a known field'),
        (lambda f: _edit(f, lambda c: c["head"].update(bias="yes")), CONFIG_NAME,
         '"head.bias" must be true or false'),
        (lambda f: _edit(f, lambda c: c.update(task="ranking")), CONFIG_NAME, '"task" must be'),
        (lambda f: _edit(f, lambda c: c.update(conjoin_train=1)), CONFIG_NAME,
         '"conjoin_train"'),
        (lambda f: _edit(f, lambda c: c["data"].update(classes=["0", "0"])), CONFIG_NAME,
         '"data.classes" lists a class twice'),
        (lambda f: _edit(f, lambda c: c["data"].update(task="masked_lm")), CONFIG_NAME,
         '"data.task" is masked_lm'),
        (lambda f: _edit(f, lambda c: c["config"].update(dropout=float("nan"))), CONFIG_NAME,
         '"config.dropout" must be a finite number'),
        # no command ever stored graphs; the GNN backbone reads kmer3 ids
        (lambda f: _edit(f, lambda c: c["data"].update(stored_encoding="graph")), CONFIG_NAME,
         '"data.stored_encoding" must be one of char, kmer1'),
        (lambda f: (f / CONFIG_NAME).write_text("[1, 2]"), CONFIG_NAME, "expected a JSON object"),
    ],
)  # fmt: skip
def test_damage_is_an_input_error_naming_file_and_field(tmp_path, damage, file, needle):
    folder = _save(tmp_path / "ckpt", task="binary", classes=["0", "1"], window_length=100)
    damage(folder)
    with pytest.raises(InputError) as caught:
        load_checkpoint(folder)
    assert caught.value.path == str(folder / file)
    assert needle in caught.value.reason and "\n" not in str(caught.value)


def test_caduceus_config_fields_are_checked_in_dnaseq_folders(tmp_path):
    """Caduceus builds from **config: its fields come from CaduceusConfig, typos included."""
    folder = _save(tmp_path / "cad", "caduceus")
    _edit(folder, lambda c: c["config"].update(rcps="yes"))
    with pytest.raises(InputError, match='"config.rcps" must be true or false'):
        load_checkpoint(folder)
    _edit(folder, lambda c: c["config"].update(rcps=True, dmodel=8))
    with pytest.raises(InputError, match='"config.dmodel" is not a known field'):
        load_checkpoint(folder)


def test_kmer_constructor_errors_become_config_errors(tmp_path):
    folder = _save(tmp_path / "kmer", "kmer")
    _edit(folder, lambda c: c["config"].update(motifs="hocomoco"))
    with pytest.raises(InputError, match='"config" does not build a kmer model.*hocomoco') as e:
        load_checkpoint(folder)
    assert e.value.path == str(folder / CONFIG_NAME)


def test_an_ensemble_folder_is_not_a_single_checkpoint(tmp_path):
    (tmp_path / CONFIG_NAME).write_text(json.dumps({"format": "dnaseq-ensemble", "members": []}))
    with pytest.raises(InputError, match="ensemble"):
        checkpoint.load_checkpoint(tmp_path)
