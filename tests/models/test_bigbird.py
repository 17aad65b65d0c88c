"""BigBird RC backbone: sparse == dense-masked attention, padding, RC, persistence, training."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dnaseq_cli.models.bigbird import (
    BigBirdBackbone,
    block_pattern,
    block_sparse_attention,
    dense_equivalent_mask,
)
from dnaseq_cli.models.heads import SequenceClassifier
from dnaseq_cli.models.rc import complement_ids_for

SMALL = dict(d_model=32, n_layers=2, n_heads=2, block_size=4, num_random_blocks=2, dropout=0.0)


def _small(**kw) -> BigBirdBackbone:
    torch.manual_seed(0)
    return BigBirdBackbone(**{**SMALL, **kw}).eval()


def _kmer_ids(seqs: list[str], k: int = 3) -> torch.Tensor:
    """Overlapping 3-mer ids, right-padded with 0 (local: the tests do not depend on encode/)."""
    code = {"A": 0, "C": 1, "G": 2, "T": 3}
    rows = [
        [
            5 + sum(code[c] << 2 * (k - 1 - i) for i, c in enumerate(s[j : j + k]))
            for j in range(len(s) - k + 1)
        ]
        for s in seqs
    ]
    out = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r)
    return out


def _rc(s: str) -> str:
    return s[::-1].translate(str.maketrans("ACGT", "TGCA"))


@pytest.mark.parametrize(
    ("n_valid", "n_random", "n_global"), [(32, 2, 1), (29, 2, 1), (64, 3, 2), (48, 0, 1), (7, 3, 1)]
)
def test_sparse_attention_equals_dense_masked(n_valid: int, n_random: int, n_global: int) -> None:
    """Gathered block attention == dense softmax masked by dense_equivalent_mask."""
    gen = torch.Generator().manual_seed(n_valid)
    bs, heads, dim = 4, 2, 8
    n_blocks = math.ceil(n_valid / bs) + 1  # one extra all-padding block in the batch
    length = n_blocks * bs
    q, k, v = (torch.randn(1, heads, length, dim, generator=gen) for _ in range(3))
    key_valid = torch.arange(length)[None] < n_valid
    nbv = math.ceil(n_valid / bs)
    keys, slot_ok, glob = block_pattern(nbv, n_global, 3, n_random, seed=7, layer=1)
    idx = torch.zeros(1, n_blocks, keys.shape[1], dtype=torch.long)
    ok = torch.zeros_like(idx, dtype=torch.bool)
    ok[..., 0] = True
    idx[0, :nbv], ok[0, :nbv] = torch.from_numpy(keys), torch.from_numpy(slot_ok)
    out = block_sparse_attention(
        q, k, v, key_valid, idx, ok, torch.from_numpy(glob)[None], bs, chunk_blocks=3
    )
    mask = dense_equivalent_mask(n_valid, bs, n_global, 3, n_random, seed=7, layer=1)
    assert mask.shape == (n_valid, n_valid) and mask.diagonal().all()
    if nbv > 2 * n_global + 3:
        assert not mask.all()  # the pattern is actually sparse
    qv, kv, vv = (t[:, :, :n_valid] for t in (q, k, v))
    ref = F.scaled_dot_product_attention(qv, kv, vv, attn_mask=mask)
    torch.testing.assert_close(out[:, :, :n_valid], ref, atol=1e-5, rtol=1e-5)
    assert torch.isfinite(out).all()


def test_pattern_is_seeded_and_random_blocks_exclude_window_and_global() -> None:
    a, b = block_pattern(40, 1, 3, 3, seed=1), block_pattern(40, 1, 3, 3, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], block_pattern(40, 1, 3, 3, seed=2)[0])
    keys, ok, glob = a
    for q in range(1, 39):
        rand = keys[q, 5:][ok[q, 5:]]
        assert len(rand) == 3 and not set(rand) & {0, 39, q - 1, q, q + 1}


@pytest.mark.parametrize("length", [1, 5, 63, 64, 65, 130])
def test_output_shapes_any_length(length: int) -> None:
    model = _small(block_size=16)
    ids = torch.randint(5, 69, (2, length))
    hidden, valid = model(ids)
    assert hidden.shape == (2, length, 32) and valid.shape == (2, length) and valid.all()
    assert torch.isfinite(hidden).all()


def test_padding_mask_respected() -> None:
    model = _small()
    ids = torch.randint(5, 69, (3, 37))
    ids[1, 21:] = 0
    ids[2, 9:] = 0
    hidden, valid = model(ids)
    padded, _ = model(F.pad(ids, (0, 27)))  # more blocks in the batch
    torch.testing.assert_close(padded[:, :37][valid], hidden[valid], atol=1e-5, rtol=1e-5)
    alone, _ = model(ids[1:2, :21])  # same sequence without any padding
    torch.testing.assert_close(alone[0], hidden[1, :21], atol=1e-5, rtol=1e-5)
    # an explicit mask hides tokens even when they are not PAD ids
    masked, vm = model(torch.where(valid, ids, 7), valid)
    assert torch.equal(vm, valid)
    torch.testing.assert_close(masked[valid], hidden[valid], atol=1e-5, rtol=1e-5)


def test_reverse_complement_ids_matches_string_rc() -> None:
    seqs = ["ACGTTGCAAGT", "GGGATTACA"]
    ids = _kmer_ids(seqs)
    model = BigBirdBackbone(n_layers=0)
    rc, mask = model.reverse_complement(ids, None)
    assert torch.equal(rc, _kmer_ids([_rc(s) for s in seqs]))
    assert torch.equal(model.reverse_complement(rc, mask)[0], ids)
    table = complement_ids_for("kmer3")
    assert table.shape == (69,) and torch.equal(table[:5], torch.arange(5))
    cls_sep = torch.tensor([[3, 10, 20, 30, 4, 0]])
    out, _ = model.reverse_complement(cls_sep, None)
    assert out[0, 0] == 3 and out[0, 4] == 4 and out[0, 5] == 0
    assert torch.equal(out[0, 1:4], table[torch.tensor([30, 20, 10])])


def test_classifier_is_rc_invariant() -> None:
    clf = SequenceClassifier.create(_small(), 3).eval()
    gen = np.random.default_rng(0)
    seqs = ["".join(gen.choice(list("ACGT"), n)) for n in (60, 41, 25)]
    fwd = clf(_kmer_ids(seqs))
    rev = clf(_kmer_ids([_rc(s) for s in seqs]))
    assert fwd.shape == (3, 3)
    torch.testing.assert_close(fwd, rev, atol=1e-5, rtol=1e-5)


def test_config_save_reload_and_safetensors(tmp_path) -> None:
    from safetensors.torch import load_file, save_file

    model = _small(seed=3)
    ids = torch.randint(5, 69, (2, 50))
    ref, _ = model(ids)
    config = json.loads(json.dumps(model.config_dict()))
    assert BigBirdBackbone(**config).config_dict() == config
    assert BigBirdBackbone(BigBirdBackbone(**config).config).config == model.config
    torch.save(model.state_dict(), tmp_path / "w.pt")
    again = BigBirdBackbone(**config).eval()
    again.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
    assert torch.equal(again(ids)[0], ref)
    save_file(model.state_dict(), tmp_path / "model.safetensors")
    third = BigBirdBackbone(**config).eval()
    third.load_state_dict(load_file(tmp_path / "model.safetensors"))
    assert torch.equal(third(ids)[0], ref)
    assert not torch.equal(_small(seed=4)(ids)[0], ref)  # the random pattern matters


def test_load_token_embeddings(tmp_path) -> None:
    model = _small()
    table = np.random.default_rng(0).normal(size=(69, 32)).astype(np.float32)
    np.save(tmp_path / "emb.npy", table)
    model.load_token_embeddings(tmp_path / "emb.npy")
    assert np.allclose(model.embed.weight.detach().numpy(), table)
    torch.save(torch.zeros(69, 32), tmp_path / "emb.pt")
    model.load_token_embeddings(tmp_path / "emb.pt")
    assert not model.embed.weight.any()
    np.save(tmp_path / "bad.npy", table[:, :16])
    with pytest.raises(ValueError, match="shape"):
        model.load_token_embeddings(tmp_path / "bad.npy")


def test_trains_on_motif_task() -> None:
    """Detect GATTACA in random DNA: the loss must clearly drop within a few dozen steps."""
    torch.manual_seed(0)
    gen = np.random.default_rng(0)

    def batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
        seqs, labels = [], []
        for _ in range(n):
            s = list(gen.choice(list("ACGT"), 48))
            y = int(gen.random() < 0.5)
            if y:
                at = int(gen.integers(0, 41))
                s[at : at + 7] = "GATTACA"
            seqs.append("".join(s))
            labels.append(y)
        return _kmer_ids(seqs), torch.tensor(labels, dtype=torch.float32)

    model = SequenceClassifier.create(BigBirdBackbone(**{**SMALL, "block_size": 8}), 1)
    flip_gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    test_ids, test_y = batch(128)
    losses = []
    for _ in range(100):
        ids, y = batch()
        rc_ids, rc_mask = model.backbone.reverse_complement(ids, None)
        flip = (torch.rand(len(ids), generator=flip_gen) < 0.5)[:, None]
        ids, mask = torch.where(flip, rc_ids, ids), torch.where(flip, rc_mask, ids != 0)
        loss = F.binary_cross_entropy_with_logits(model(ids, mask)[:, 0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        acc = ((model(test_ids)[:, 0] > 0).float() == test_y).float().mean().item()
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10]), losses
    assert acc > 0.7  # chance is 0.5
