"""GNN+Attention backbone: graph construction, shapes, padding, RC averaging, reload, training."""

from __future__ import annotations

import json

import pytest
import torch

from dnaseq_cli.encode.reverse_complement import reverse_complement
from dnaseq_cli.encode.tokens import encode_batch_kmers
from dnaseq_cli.models.gnn import (
    EDGE_BACKWARD,
    EDGE_FORWARD,
    EDGE_OVERLAP,
    GNNAttentionBackbone,
    GraphAttention,
    kmer_graph,
)
from dnaseq_cli.models.heads import SequenceClassifier
from dnaseq_cli.models.rc import (
    complement_ids_for,
    reverse_complement_ids,
)

from .graph_oracle import graph_from_tokens

SEQS = ["ACGTACGGTTCAGGATNNACGTTAGC", "GGCATTACAGCT", "TTTAACCGGA" * 4, ""]


def batch(seqs: list[str], k: int = 3, length: int | None = None) -> tuple[torch.Tensor, ...]:
    ids, mask = encode_batch_kmers(seqs, k, length)
    return torch.from_numpy(ids), torch.from_numpy(mask)


def tiny(**kw: object) -> GNNAttentionBackbone:
    torch.manual_seed(0)
    sizes = dict(d_model=32, n_layers=2, n_heads=4, dropout=0.0)
    sizes.update(kw)
    return GNNAttentionBackbone(**sizes).eval()


def edges(seqs: list[str], **kw: object) -> set[tuple[int, int, int]]:
    ids, mask = batch(seqs)
    ei, et = kmer_graph(ids, mask, 3, **kw)
    return set(zip(ei[0].tolist(), ei[1].tolist(), et.tolist(), strict=True))


def test_graph_of_known_sequence() -> None:
    # ACGTACG -> ACG CGT GTA TAC ACG; de Bruijn (non-adjacent): TAC->ACG(0), ACG(4)->CGT
    got = edges(["ACGTACG"])
    fwd = {(i, i + 1, EDGE_FORWARD) for i in range(4)}
    bwd = {(i + 1, i, EDGE_BACKWARD) for i in range(4)}
    assert got == fwd | bwd | {(3, 0, EDGE_OVERLAP), (4, 1, EDGE_OVERLAP)}
    assert edges(["ACGTACG"], overlap_window=2) == fwd | bwd  # both overlaps are 3 apart
    assert edges(["ACGTACG"], overlap_edges=False) == fwd | bwd
    # second graph of a batch: node ids offset by the first graph's 3 nodes (ACGTA)
    shifted = {(s + 3, d + 3, t) for s, d, t in got}
    assert edges(["ACGTA", "ACGTACG"]) - edges(["ACGTA"]) == shifted


def test_unknown_kmers_get_adjacency_but_no_overlap_edges() -> None:
    got = edges(["ACGNACGT"])  # ACG CGN GNA NAC ACG CGT: nodes 1-3 are [UNK]
    assert all(t != EDGE_OVERLAP or not ({s, d} & {1, 2, 3}) for s, d, t in got)
    assert (0, 5, EDGE_OVERLAP) in got and (4, 5, EDGE_FORWARD) in got


@pytest.mark.parametrize("window", [1, 4, 16])
def test_graph_matches_the_per_sequence_oracle(window: int) -> None:
    ids, mask = batch(SEQS)
    got = edges(SEQS, overlap_window=window)
    ref, offset = set(), 0
    for row, m in zip(ids, mask, strict=True):
        g = graph_from_tokens(row[m].numpy(), 3, overlap_window=window)
        ei = g.edge_index + offset
        ref |= set(zip(ei[0].tolist(), ei[1].tolist(), g.edge_type.tolist(), strict=True))
        offset += int(m.sum())
    assert got == ref


@pytest.mark.parametrize("opts", [{}, {"attention_window": 4}, {"global_attention": False},
                                  {"local_layer": "gine"}, {"k": 4}])  # fmt: skip
def test_shapes_padding_and_rc(opts: dict) -> None:
    k = opts.get("k", 3)
    model = tiny(**opts)
    assert model.encoding == f"kmer{k}"
    ids, mask = batch(SEQS, k)
    hidden, valid = model(ids, mask)
    assert hidden.shape == (*ids.shape, 32) and torch.equal(valid, mask)
    assert torch.isfinite(hidden).all() and not hidden[~mask].any()
    clf = SequenceClassifier.create(model, 3, conjoin_train=True).eval()
    out = clf(ids, mask)
    ids_p, mask_p = batch(SEQS, k, length=ids.shape[1] + 7)
    torch.testing.assert_close(clf(ids_p, mask_p), out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model(ids_p, mask_p)[0][:, : ids.shape[1]], hidden, atol=1e-5,
                               rtol=1e-5)  # fmt: skip
    rc_ids, rc_mask = batch([reverse_complement(s) for s in SEQS], k)
    assert torch.equal(reverse_complement_ids(ids, mask, complement_ids_for(f"kmer{k}"))[0], rc_ids)
    torch.testing.assert_close(clf(rc_ids, rc_mask), out, atol=1e-5, rtol=1e-5)


def test_graphs_of_a_batch_do_not_interact() -> None:
    model = tiny()
    ids, mask = batch(SEQS)
    hidden = model(ids, mask)[0]
    for row, seq in enumerate(SEQS[:3]):
        alone, alone_mask = batch([seq])
        n = alone.shape[1]
        torch.testing.assert_close(model(alone, alone_mask)[0][0], hidden[row, :n], atol=1e-5,
                                   rtol=1e-5)  # fmt: skip


def test_empty_and_all_padding_inputs() -> None:
    model = tiny()
    for ids in (torch.zeros(2, 0, dtype=torch.long), torch.zeros(2, 9, dtype=torch.long)):
        hidden, valid = model(ids)
        assert hidden.shape == (*ids.shape, 32) and not valid.any() and not hidden.any()


def test_tiny_model_learns_motif(fit_motif) -> None:
    torch.manual_seed(0)
    clf = SequenceClassifier.create(tiny(d_model=32, n_layers=2), 2, conjoin_train=True)
    losses, acc = fit_motif(clf, batch, lr=3e-3, max_steps=200)
    assert sum(losses[-10:]) < 0.6 * sum(losses[:10])
    assert acc > 0.85, acc


# -- windowed attention (attention_window) and summary tokens (global_tokens) ---------------------


def dense_reference(attn: GraphAttention, x: torch.Tensor, mask: torch.Tensor, w: int | None,
                    summary: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Plain softmax attention with an explicit [queries, keys] mask of the windowed pattern."""
    b, n, d = x.shape
    g = 0 if summary is None else summary.shape[1]
    seq = x if summary is None else torch.cat([summary, x], 1)
    h, dh = attn.n_heads, d // attn.n_heads
    q, k, v = attn.qkv(seq).view(b, g + n, 3, h, dh).permute(2, 0, 3, 1, 4)
    block = torch.arange(n) // (w if w is not None else n + 1)
    allowed = torch.ones(g + n, g + n, dtype=torch.bool)
    allowed[g:, g:] = (block[:, None] - block[None, :]).abs() <= 1
    allowed = allowed[None] & torch.cat([torch.ones(b, g, dtype=torch.bool), mask], 1)[:, None, :]
    scores = (q @ k.transpose(-1, -2)) / dh**0.5
    scores = scores.masked_fill(~allowed[:, None], float("-inf"))
    y = attn.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, g + n, d))
    return y[:, g:], y[:, :g]


@pytest.mark.parametrize("window", [1, 3, 5, 8])
@pytest.mark.parametrize("n_summary", [0, 2])
def test_windowed_attention_equals_dense_attention_masked_to_the_same_pattern(
    window: int, n_summary: int
) -> None:
    torch.manual_seed(1)
    attn = GraphAttention(16, 4, window=window).eval()
    x = torch.randn(3, 19, 16)
    lengths = torch.tensor([19, 11, 4])  # variable-length graphs padded into one batch
    mask = torch.arange(19)[None] < lengths[:, None]
    summary = torch.randn(3, n_summary, 16) if n_summary else None
    got_x, got_s = attn(x, mask, summary)
    ref_x, ref_s = dense_reference(attn, x, mask, window, summary)
    torch.testing.assert_close(got_x[mask], ref_x[mask], atol=1e-5, rtol=1e-5)
    if n_summary:
        torch.testing.assert_close(got_s, ref_s, atol=1e-5, rtol=1e-5)
    # the window must actually restrict something: node 0 differs from full attention
    full_x, _ = dense_reference(attn, x, mask, None, summary)
    if window < 7:
        assert not torch.allclose(got_x[0, 0], full_x[0, 0], atol=1e-4)


@pytest.mark.parametrize("g", [0, 2])
def test_windowed_gnn_on_8k_nodes_keeps_attention_scores_linear(monkeypatch, g: int) -> None:
    """8k nodes, window 256: every attention call holds <= N * (3w + G) scores, not N^2."""
    import torch.nn.functional as F

    sizes: list[int] = []
    real = F.scaled_dot_product_attention

    def spy(q, k, v, **kw):
        sizes.append(q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2])
        return real(q, k, v, **kw)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    n, w, heads = 8192, 256, 2
    model = tiny(d_model=16, n_heads=heads, n_layers=1, attention_window=w, global_tokens=g,
                 overlap_window=4)  # fmt: skip
    ids = torch.randint(5, 5 + 64, (1, n + 2), generator=torch.Generator().manual_seed(0))
    ids[0, n:] = 0  # trailing padding
    with torch.inference_mode():
        hidden, valid = model(ids)
    assert hidden.shape == (1, n + 2, 16) and int(valid.sum()) == n
    assert torch.isfinite(hidden).all() and not hidden[0, n:].any()
    assert sizes and max(sizes) <= heads * n * (3 * w + g) < heads * n * n // 10


@pytest.mark.parametrize("opts", [{"attention_window": 4}, {"attention_window": 4, "global_tokens": 2},
                                  {"global_tokens": 3}])  # fmt: skip
def test_windowed_model_rc_invariant_padding_safe_and_reloads(opts: dict, tmp_path) -> None:
    from dnaseq_cli.models.checkpoint import load_checkpoint, save_checkpoint

    model = tiny(**opts)
    ids, mask = batch(SEQS)
    clf = SequenceClassifier.create(model, 2, conjoin_train=True).eval()
    out = clf(ids, mask)
    assert torch.isfinite(out).all()
    rc_ids, rc_mask = batch([reverse_complement(s) for s in SEQS])
    torch.testing.assert_close(clf(rc_ids, rc_mask), out, atol=1e-5, rtol=1e-5)
    ids_p, mask_p = batch(SEQS, length=ids.shape[1] + 9)
    torch.testing.assert_close(clf(ids_p, mask_p), out, atol=1e-5, rtol=1e-5)
    save_checkpoint(clf, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())["config"]
    assert config["attention_window"] == opts.get("attention_window")
    assert config.get("global_tokens", 0) == opts.get("global_tokens", 0)
    back = load_checkpoint(tmp_path)
    torch.testing.assert_close(back(ids, mask), out)


def test_default_config_has_no_new_keys_and_windowed_model_trains(fit_motif) -> None:
    assert "global_tokens" not in tiny().config_dict()  # earlier checkpoints' configs unchanged
    with pytest.raises(ValueError):
        tiny(global_tokens=2, global_attention=False)
    torch.manual_seed(0)
    model = tiny(d_model=32, n_layers=2, attention_window=8, global_tokens=2)
    clf = SequenceClassifier.create(model, 2, conjoin_train=True)
    losses, _ = fit_motif(clf, batch, lr=3e-3, max_steps=60)
    assert sum(losses[-10:]) < 0.8 * sum(losses[:10])
    assert model.summary is not None and model.summary.grad is not None
