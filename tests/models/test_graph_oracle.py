"""The sequence-graph oracle: node tokens, edge sets by type, reverse complement, and batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

from dnaseq_cli.encode.reverse_complement import reverse_complement
from dnaseq_cli.encode.tokens import encode_kmers
from dnaseq_cli.encode.vocab import KmerVocab

from .graph_oracle import (
    EDGE_BACKWARD,
    EDGE_FORWARD,
    EDGE_OVERLAP,
    batch_graphs,
    graph_from_tokens,
    rc_graph,
    sequence_graph,
)


def edges(data, kind: int) -> set[tuple[int, int]]:
    keep = data.edge_type == kind
    return set(map(tuple, data.edge_index[:, keep].t().tolist()))


def naive_overlap(seq: str, k: int, stride: int, window: int) -> set[tuple[int, int]]:
    """Reference: compare every pair of k-mers within the window."""
    kmers = [seq[i : i + k] for i in range(0, len(seq) - k + 1, stride)]
    out = set()
    for i, a in enumerate(kmers):
        for j, b in enumerate(kmers):
            ok = "N" not in a + b and 0 < abs(j - i) <= window and j != i + 1
            if ok and a[1:] == b[:-1]:
                out.add((i, j))
    return out


def test_graph_fields() -> None:
    data = sequence_graph("ACGTAC", 3)
    assert data.num_nodes == 4
    assert data.x.dtype == torch.long and data.x.tolist() == encode_kmers("ACGTAC", 3).tolist()
    assert data.pos.tolist() == [0, 1, 2, 3]
    assert data.edge_index.dtype == torch.long and data.edge_index.shape[0] == 2
    assert data.edge_type.shape == (data.edge_index.shape[1],)
    assert edges(data, EDGE_FORWARD) == {(0, 1), (1, 2), (2, 3)}
    assert edges(data, EDGE_BACKWARD) == {(1, 0), (2, 1), (3, 2)}
    assert sequence_graph("ACGTACGT", 3, stride=3).pos.tolist() == [0, 3]


def test_overlap_edges_examples() -> None:
    # AAAA: nodes AAA, AAA; 0->1 is adjacency, 1->0 is an overlap edge
    data = sequence_graph("AAAA", 3)
    assert edges(data, EDGE_OVERLAP) == {(1, 0)}
    assert not edges(sequence_graph("AAAA", 3, overlap_edges=False), EDGE_OVERLAP)
    # [UNK] nodes (1 and 2: AN, NA) get no overlap edges
    assert edges(sequence_graph("AANAA", 2), EDGE_OVERLAP) == {(0, 3), (3, 0)}
    # the window bounds the distance
    far = sequence_graph("ACG" + "T" * 30 + "CGA", 3, overlap_window=4)
    assert all(abs(j - i) <= 4 for i, j in edges(far, EDGE_OVERLAP))


@settings(deadline=None, max_examples=40)
@given(
    st.text(alphabet="ACGTN", max_size=40),
    st.integers(1, 4),
    st.sampled_from([1, 2, "k"]),
    st.integers(0, 6),
)
def test_overlap_edges_match_naive(seq: str, k: int, stride, window: int) -> None:
    stride = k if stride == "k" else stride
    data = sequence_graph(seq, k, stride=stride, overlap_window=window)
    assert edges(data, EDGE_OVERLAP) == naive_overlap(seq, k, stride, window)
    n = data.num_nodes
    assert len(edges(data, EDGE_FORWARD)) == max(n - 1, 0)


@settings(deadline=None, max_examples=40)
@given(st.text(alphabet="ACGTN", max_size=40), st.integers(1, 4))
def test_rc_graph_equals_graph_of_rc(seq: str, k: int) -> None:
    data = sequence_graph(seq, k)
    rc = rc_graph(data, KmerVocab(k))
    want = sequence_graph(reverse_complement(seq), k)
    assert torch.equal(rc.x, want.x) and torch.equal(rc.pos, want.pos)
    for kind in (EDGE_FORWARD, EDGE_BACKWARD, EDGE_OVERLAP):
        assert edges(rc, kind) == edges(want, kind)
    twice = rc_graph(rc, k)
    assert torch.equal(twice.x, data.x)


def test_graph_from_tokens_and_empty() -> None:
    tokens = encode_kmers("ACGTTT", 3, dtype=np.uint8)
    a, b = graph_from_tokens(tokens, 3), sequence_graph("ACGTTT", 3)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    empty = sequence_graph("AC", 3)
    assert empty.num_nodes == 0 and empty.edge_index.shape == (2, 0)
    single = sequence_graph("ACG", 3)
    assert single.num_nodes == 1 and single.edge_index.shape == (2, 0)
    with pytest.raises(ValueError):
        sequence_graph("ACGT", 7)


def test_batching() -> None:
    seqs = ["ACGTAC", "AAAAA", "GGC"]
    graphs = [sequence_graph(s, 3) for s in seqs]
    batch = Batch.from_data_list(graphs)
    assert batch.num_graphs == 3 and batch.num_nodes == sum(g.num_nodes for g in graphs)
    assert batch.edge_index.max() < batch.num_nodes
    second = batch.get_example(1)
    assert torch.equal(second.edge_index, graphs[1].edge_index)
    assert torch.equal(batch_graphs(seqs, 3).edge_index, batch.edge_index)
    loaded = next(iter(DataLoader(graphs, batch_size=2)))
    assert loaded.num_graphs == 2 and loaded.batch.tolist() == [0] * 4 + [1] * 3
