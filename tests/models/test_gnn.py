"""GNN+Attention backbone: graph construction, shapes, padding, RC averaging, reload, training."""

from __future__ import annotations

import pytest
import torch

from dnaseq_cli.encode.graph import graph_from_tokens
from dnaseq_cli.encode.reverse_complement import reverse_complement
from dnaseq_cli.encode.tokens import encode_batch_kmers
from dnaseq_cli.models.gnn import (
    EDGE_BACKWARD,
    EDGE_FORWARD,
    EDGE_OVERLAP,
    GNNAttentionBackbone,
    kmer_graph,
)
from dnaseq_cli.models.heads import SequenceClassifier
from dnaseq_cli.models.rc import (
    complement_ids_for,
    reverse_complement_ids,
)

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
def test_graph_matches_encode_graph(window: int) -> None:
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
