"""Hybrid CNN Transformer: k-mer ids, shapes, pooled mask, padding, RC, reload, training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from dnaseq_cli.encode.reverse_complement import reverse_complement
from dnaseq_cli.encode.tokens import encode_batch_chars
from dnaseq_cli.encode.vocab import A_ID
from dnaseq_cli.models.heads import SequenceClassifier
from dnaseq_cli.models.hybrid import HybridCNNTransformerBackbone
from dnaseq_cli.models.layers import SelfAttention, char_kmer_levels

SEQS = ["ACGTACGGTTCAGGATNNACGTTAGCAT", "GGCATTACAGCT", "TTTAACCGGA" * 5, ""]


def batch(seqs: list[str], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask = encode_batch_chars(seqs, length)
    return torch.from_numpy(ids), torch.from_numpy(mask)


def char_kmer_ids(input_ids: Tensor, mask: Tensor, k: int) -> Tensor:
    """One k of :func:`char_kmer_levels` the plain way, k shifted passes (the oracle its single
    pass over all k is checked against): centred k-mer ids ``[B, L]`` from char ids, ``1 + base-4
    index``, or 0 when the window holds anything but A/C/G/T inside the valid part."""
    code = input_ids.long() - A_ID
    ok = mask & (code >= 0) & (code <= 3)
    code = torch.where(ok, code, torch.zeros_like(code))
    left = (k - 1) // 2
    right = k - 1 - left
    code = F.pad(code, (left, right))
    ok = F.pad(ok, (left, right), value=False)
    length = input_ids.shape[1]
    value = torch.zeros_like(input_ids, dtype=torch.long)
    good = torch.ones_like(mask)
    for o in range(k):  # k small passes over the whole tensor
        value = value * 4 + code[:, o : o + length]
        good = good & ok[:, o : o + length]
    return torch.where(good, value + 1, torch.zeros_like(value))


def tiny(**kw: object) -> HybridCNNTransformerBackbone:
    torch.manual_seed(0)
    sizes = dict(d_model=32, n_layers=2, n_heads=4, dropout=0.0, pool_sizes=(2, 2))
    sizes.update(kw)
    return HybridCNNTransformerBackbone(**sizes).eval()


def test_char_kmer_ids() -> None:
    ids, mask = batch(["ACGTN", "TG"])
    got = char_kmer_ids(ids, mask, 3)  # centred: window i-1..i+1; edges, N and padding -> 0
    acg, cgt = 1 + (0 * 16 + 1 * 4 + 2), 1 + (1 * 16 + 2 * 4 + 3)
    assert got.tolist() == [[0, acg, cgt, 0, 0], [0, 0, 0, 0, 0]]
    assert char_kmer_ids(ids, mask, 1).tolist() == [[1, 2, 3, 4, 0], [4, 3, 0, 0, 0]]
    two = char_kmer_ids(ids, mask, 2)  # window i..i+1
    assert two.tolist() == [[1 + 1, 1 + 6, 1 + 11, 0, 0], [1 + 14, 0, 0, 0, 0]]


@pytest.mark.parametrize("opts", [{}, {"pool_sizes": (4, 2, 2)}, {"pool_sizes": ()},
                                  {"kmer_sizes": (1, 2), "stem_kernels": (5,)},
                                  {"attention_window": 4}])  # fmt: skip
def test_shapes_padding_and_rc(opts: dict) -> None:
    model = tiny(**opts)
    ids, mask = batch(SEQS)
    hidden, valid = model(ids, mask)
    factor = 1
    for p in opts.get("pool_sizes", (2, 2)):
        factor *= p
    lengths = mask.sum(1)
    out_len = -(-ids.shape[1] // factor)
    assert hidden.shape == (4, out_len, 32) and valid.shape == (4, out_len)
    assert valid.sum(1).tolist() == (-(-lengths // factor)).tolist()
    assert torch.isfinite(hidden).all() and not hidden[~valid].any()
    clf = SequenceClassifier.create(model, 2, conjoin_train=True).eval()
    out = clf(ids, mask)
    ids_p, mask_p = batch(SEQS, length=ids.shape[1] + 37)
    torch.testing.assert_close(clf(ids_p, mask_p), out, atol=1e-5, rtol=1e-5)
    hidden_p = model(ids_p, mask_p)[0][:, :out_len]
    torch.testing.assert_close(hidden_p, hidden, atol=1e-5, rtol=1e-5)
    rc_ids, rc_mask = batch([reverse_complement(s) for s in SEQS])
    torch.testing.assert_close(clf(rc_ids, rc_mask), out, atol=1e-5, rtol=1e-5)


def test_block_local_attention_matches_dense_when_window_covers_all() -> None:
    torch.manual_seed(0)
    attn = SelfAttention(16, 2).eval()
    local = SelfAttention(16, 2, window=4).eval()
    local.load_state_dict(attn.state_dict())
    x = torch.randn(2, 11, 16)
    mask = torch.arange(11) < torch.tensor([[11], [6]])
    # window 4 sees blocks b-1..b+1, i.e. everything when N <= 8: compare a 7-token prefix
    torch.testing.assert_close(local(x[:, :7], mask[:, :7]), attn(x[:, :7], mask[:, :7]))
    y = local(x, mask)
    assert torch.isfinite(y).all()
    x2 = x.clone()
    x2[0, 10] += 1.0  # block 2 (8..11): invisible to block 0 (0..3)
    assert torch.equal(local(x2, mask)[0, :4], y[0, :4])


def test_empty_and_all_padding_inputs() -> None:
    model = tiny()
    for ids in (torch.zeros(2, 0, dtype=torch.long), torch.full((2, 9), 4)):
        hidden, valid = model(ids)
        assert hidden.shape[0] == 2 and not valid.any() and torch.isfinite(hidden).all()


def test_tiny_model_learns_motif(fit_motif) -> None:
    torch.manual_seed(0)
    clf = SequenceClassifier.create(tiny(), 2, conjoin_train=True)
    losses, acc = fit_motif(clf, batch, lr=3e-3, max_steps=200)
    assert sum(losses[-10:]) < 0.6 * sum(losses[:10])
    assert acc > 0.85, acc


def test_kmer_levels_equal_one_k_at_a_time() -> None:
    """The shared-prefix computation gives exactly the ids of the one-k-at-a-time definition."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(7, 12, (3, 41), generator=g)  # A C G T N
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[1, 30:] = False
    mask[2, :0] = False
    ks = [1, 2, 3, 5, 6]
    levels = char_kmer_levels(ids, mask, ks)
    for k in ks:
        assert torch.equal(levels[k], char_kmer_ids(ids, mask, k)), k


@pytest.mark.parametrize("ks", [(1, 2, 3, 4, 5, 6), (1, 3, 5), (2, 4), (1,)])
def test_fused_inference_embedding_equals_the_level_sum(ks: tuple[int, ...]) -> None:
    """Inference looks up one table indexed by the largest k-mer; window ends, N and padding fall
    back to the per-level sum. Same embeddings, and the cache follows a weight update."""
    model = tiny(kmer_sizes=ks)
    seqs = ["ACGTACGGTTCAGGATNNACGTTAGCATTGCA", "GGCATTACAGCT", "NACGTN", "A", ""]
    ids, mask = batch(seqs)
    expected = model._level_sum(ids.long(), char_kmer_levels(ids.long(), mask, list(ks)))
    expected = expected * mask.unsqueeze(-1)
    with torch.inference_mode():
        got = model.embed(ids, mask)
    assert torch.allclose(got, expected, atol=1e-6)
    with torch.no_grad():
        model.embeds[-1].weight.add_(1.0)
    with torch.inference_mode():
        moved = model.embed(ids, mask)
    expected = model._level_sum(ids.long(), char_kmer_levels(ids.long(), mask, list(ks)))
    assert torch.allclose(moved, expected.detach() * mask.unsqueeze(-1), atol=1e-6)
