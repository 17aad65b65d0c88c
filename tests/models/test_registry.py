"""Every registered backbone round-trips through the checkpoint folder with identical outputs."""

from __future__ import annotations

import json
import os

import pytest
import torch

from dnaseq_cli.encode.convert import convert_tokens, pad_id_for
from dnaseq_cli.encode.tokens import encode_batch_chars
from dnaseq_cli.models import checkpoint, factory, registry

SEQS = ["ACGTTGCAAGTCCGATNACGTAGGCTAGCTAGGATCCA" * 3, "GGGATTACAGATTACA" * 4, "ACGT" * 9]


def test_the_paper_backbones_the_cnn_and_the_kmer_baseline_are_registered():
    assert registry.available() == ["bigbird", "caduceus", "cnn", "gnn", "hybrid", "kmer"]


@pytest.mark.parametrize("name", ["caduceus", "bigbird", "gnn", "hybrid", "cnn", "kmer"])
def test_checkpoint_folder_round_trip(tmp_path, name):
    torch.manual_seed(0)
    spec = factory.model_spec(name, "tiny")
    model = factory.build_classifier(spec, n_out=3).eval()
    encoding = factory.encoding_of(name)
    chars, _ = encode_batch_chars(SEQS)
    ids = convert_tokens(torch.as_tensor(chars), "char", encoding)
    mask = ids != pad_id_for(encoding)
    before = model(ids, mask)
    checkpoint.save_checkpoint(model, tmp_path / "ckpt")
    saved = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert saved["format"] == "dnaseq" and saved["backbone"] == name
    again = checkpoint.load_checkpoint(tmp_path / "ckpt")
    assert type(again) is type(model)
    assert torch.equal(again(ids, mask), before)
    assert before.shape == (3, 3) and torch.isfinite(before).all()
    umask = os.umask(0)
    os.umask(umask)
    for file in ("config.json", "model.safetensors"):  # readable like any other output
        assert (tmp_path / "ckpt" / file).stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("name", ["caduceus", "bigbird", "gnn", "hybrid", "cnn", "kmer"])
def test_every_backbone_trains_under_bf16_autocast(name):
    """`train --precision bf16` (the default on CUDA): forward and backward under autocast give
    finite gradients and logits near the fp32 ones, with padding in the batch."""
    torch.manual_seed(0)
    spec = factory.model_spec(name, "tiny")
    model = factory.build_classifier(spec, 2).eval()  # eval: no dropout, so the passes compare
    encoding = factory.encoding_of(name, spec["config"])
    chars = torch.randint(7, 11, (3, 160), generator=torch.Generator().manual_seed(1))
    ids = chars if encoding == "char" else convert_tokens(chars, "char", encoding)
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[0, 80:] = False
    full = model(ids, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = model(ids, mask)
    torch.nn.functional.cross_entropy(half.float(), torch.tensor([0, 1, 0])).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert (half.float() - full).abs().max() < 0.1 * (1 + full.abs().max())
