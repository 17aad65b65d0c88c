"""Sequence graphs, one sequence at a time: the test oracle for the GNN backbone's batched edges.

Why here: no command stores or reads a graph (``models/gnn.py`` builds its edges inside
``forward`` from k-mer ids, ``kmer_graph``), so this plain per-sequence construction lives next to
the tests that check ``kmer_graph`` against it (``test_gnn.py``) and its own test
(``test_graph_oracle.py``).

Node ``i`` is the k-mer token starting at base ``i * stride``. Edges, in this order:

* type 0, forward adjacency ``i -> i+1``; type 1, backward adjacency ``i+1 -> i`` (message passing
  needs both directions);
* type 2, k-mer overlap ``i -> j`` when the (k-1)-suffix of node i's k-mer equals the (k-1)-prefix
  of node j's (a de Bruijn edge: j's k-mer can follow i's), for ``0 < |j - i| <= overlap_window``
  and ``j != i + 1`` (that pair is already an adjacency edge). The window keeps E at O(L * window)
  rather than O(L^2) on repeats; ``[UNK]`` nodes get no overlap edges because their bases are
  unknown. For k=1 the (k-1)-mers are empty, so every pair of known nodes in the window is
  connected.

Graphs batch with ``torch_geometric.data.Batch.from_data_list`` like any other ``Data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from dnaseq_cli.encode.tokens import SequenceLike, encode_kmers, to_numpy
from dnaseq_cli.encode.vocab import KMER_OFFSET, KmerVocab

EDGE_FORWARD, EDGE_BACKWARD, EDGE_OVERLAP = 0, 1, 2
NUM_EDGE_TYPES = 3


def _overlap_pairs(tokens: np.ndarray, k: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(src, dst) of de Bruijn edges within ``window`` positions, sorted by src, in one pass."""
    n = tokens.shape[0]
    if n < 2 or window < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    known = tokens >= KMER_OFFSET
    value = tokens - KMER_OFFSET
    suffix = np.where(known, value & (4 ** (k - 1) - 1), -1)
    prefix = np.where(known, value >> 2, -2)  # never equal to an unknown suffix
    padded = np.concatenate([np.full(window, -3), prefix, np.full(window, -3)])
    # column c of row i is node j = i + c - window
    candidates = np.lib.stride_tricks.sliding_window_view(padded, 2 * window + 1)
    match = suffix[:, None] == candidates
    match[:, window : window + 2] = False  # j == i and j == i + 1
    src, col = np.nonzero(match)
    return src, src + col - window


def graph_from_tokens(
    tokens: Any,
    k: int,
    *,
    stride: int = 1,
    overlap_edges: bool = True,
    overlap_window: int = 16,
) -> Data:
    """Build the graph from stored k-mer token ids, so preprocess need not keep the sequence."""
    KmerVocab(k)  # validates k
    x = to_numpy(tokens).reshape(-1).astype(np.int64)
    n = x.shape[0]
    step = np.arange(max(n - 1, 0), dtype=np.int64)
    src = [step, step + 1]
    dst = [step + 1, step]
    types = [np.full(step.shape[0], EDGE_FORWARD), np.full(step.shape[0], EDGE_BACKWARD)]
    if overlap_edges:
        o_src, o_dst = _overlap_pairs(x, k, overlap_window)
        src.append(o_src)
        dst.append(o_dst)
        types.append(np.full(o_src.shape[0], EDGE_OVERLAP))
    edge_index = torch.from_numpy(
        np.stack([np.concatenate(src), np.concatenate(dst)]).astype(np.int64)
    )
    return Data(
        x=torch.from_numpy(x),
        pos=torch.arange(n, dtype=torch.long) * stride,
        edge_index=edge_index,
        edge_type=torch.from_numpy(np.concatenate(types).astype(np.int64)),
        num_nodes=n,
    )


def sequence_graph(
    seq: SequenceLike,
    k: int = 3,
    *,
    overlap_edges: bool = True,
    stride: int = 1,
    overlap_window: int = 16,
) -> Data:
    """Graph of a sequence: ``x`` k-mer ids [N], ``pos`` start base [N], ``edge_index`` [2, E],
    ``edge_type`` [E] (0 forward, 1 backward, 2 overlap), ``num_nodes`` (see the module doc)."""
    tokens = encode_kmers(seq, k, stride=stride)
    return graph_from_tokens(
        tokens, k, stride=stride, overlap_edges=overlap_edges, overlap_window=overlap_window
    )


def rc_graph(data: Data, vocab: KmerVocab | int) -> Data:
    """The graph of the reverse-complement sequence, from a single (unbatched) graph.

    Node i becomes node N-1-i with the reverse-complement k-mer, and edge ``s -> d`` becomes
    ``N-1-d -> N-1-s`` with the same type (adjacency stays forward/backward; a de Bruijn edge
    reverses on the other strand). The edge set equals that of
    ``sequence_graph(reverse_complement(seq))`` whenever the tokens cover the whole sequence (see
    ``rc_kmer_ids``).
    """
    vocab = vocab if isinstance(vocab, KmerVocab) else KmerVocab(vocab)
    n = int(data.num_nodes)
    table = torch.tensor(vocab.complement_ids, device=data.x.device)
    x = table[data.x.long()].flip(0)
    pos = data.pos[-1] - data.pos.flip(0) if n else data.pos.clone()
    edge_index = (n - 1) - data.edge_index.flip(0)
    return Data(x=x, pos=pos, edge_index=edge_index, edge_type=data.edge_type.clone(), num_nodes=n)


def batch_graphs(seqs: Sequence[SequenceLike], k: int = 3, **kwargs: Any) -> Batch:
    """Graphs of several sequences as one disjoint-union ``Batch`` (node ids offset per graph)."""
    return Batch.from_data_list([sequence_graph(s, k, **kwargs) for s in seqs])
