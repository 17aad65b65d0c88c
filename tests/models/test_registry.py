"""Every registered backbone round-trips through the checkpoint folder with identical outputs."""

from __future__ import annotations

import json

import pytest
import torch

from dnaseq_cli.encode.tokens import encode_batch_chars
from dnaseq_cli.engine.encoding import convert_tokens, pad_id_for
from dnaseq_cli.models import factory, registry

SEQS = ["ACGTTGCAAGTCCGATNACGTAGGCTAGCTAGGATCCA" * 3, "GGGATTACAGATTACA" * 4, "ACGT" * 9]


def test_all_five_backbones_are_registered():
    assert registry.available() == ["bigbird", "caduceus", "cnn", "gnn", "hybrid"]


@pytest.mark.parametrize("name", ["caduceus", "bigbird", "gnn", "hybrid", "cnn"])
def test_checkpoint_folder_round_trip(tmp_path, name):
    torch.manual_seed(0)
    spec = factory.model_spec(name, "tiny")
    model = factory.build_classifier(spec, n_out=3).eval()
    encoding = factory.encoding_of(name)
    chars, _ = encode_batch_chars(SEQS)
    ids = convert_tokens(torch.as_tensor(chars), "char", encoding)
    mask = ids != pad_id_for(encoding)
    before = model(ids, mask)
    factory.save(model, tmp_path / "ckpt")
    saved = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert saved["format"] == "dnaseq" and saved["backbone"] == name
    again = factory.load(tmp_path / "ckpt")
    assert type(again) is type(model)
    assert torch.equal(again(ids, mask), before)
    assert before.shape == (3, 3) and torch.isfinite(before).all()
