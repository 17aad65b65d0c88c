"""GNN+Attention backbone: a k-mer sequence graph built inside ``forward``, GPS-style layers.

Graph (built on the tensor from a right-padded batch of overlapping k-mer ids, no Python loop over
sequences; checked against a per-sequence construction in ``tests/models/graph_oracle.py``):

* nodes: the valid tokens of each row, features = token embedding + sinusoidal position encoding;
* edges, typed (an edge-type embedding is the edge feature): 0 forward adjacency ``i -> i+1``,
  1 backward ``i+1 -> i``, 2 k-mer overlap (de Bruijn) ``i -> j`` for ``0 < |j - i| <=
  overlap_window``, ``j != i + 1``, when the (k-1)-suffix of token i equals the (k-1)-prefix of
  token j (known k-mers only), 3 self loops (added per layer input so attention-based message
  passing sees the node itself);
* the rows form one disjoint-union graph (node ids offset by the number of valid tokens before).

Each layer (GPS, Rampasek et al. 2022, pre-LN): ``h = x + MP(LN x) + Attn(LN x)``, ``x = h +
FFN(LN h)`` where MP is ``GATv2Conv`` (or ``GINEConv``) with edge features and Attn is multi-head
attention over each graph's nodes (dense per row, key padding mask).

Memory: global attention is O(nodes^2) per graph: fine up to a few thousand tokens (4k tokens, 4
heads: ~256 MB of scores per layer in float32 without a fused kernel). For longer inputs use
``attention_window=w``: block-local attention (the nodes of each graph, in sequence order, cut into
blocks of ``w``; a node attends to its own block and both neighbouring blocks, padding masked), so
scores are O(nodes * 3w). ``global_tokens=g`` adds ``g`` learned summary tokens per graph that
attend to every node and are attended to by every node (O(nodes * g)), carried from layer to layer,
so windowed layers keep a global channel. ``global_attention=False`` keeps message passing only; the
graph itself is O(nodes * overlap_window).

Reverse complement: not equivariant by construction; wrap in
:class:`dnaseq_cli.models.heads.SequenceClassifier`, which averages the graphs of both strands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dnaseq_cli.encode.vocab import KMER_OFFSET, KMER_PAD_ID
from dnaseq_cli.models.layers import (
    SelfAttention,
    block_local_attention,
    feed_forward,
    self_attention_words,
    sinusoidal,
)
from dnaseq_cli.models.rc import StrandAveragedBackbone
from dnaseq_cli.models.registry import BackboneConfig, make_config, register, written_when_set

EDGE_FORWARD, EDGE_BACKWARD, EDGE_OVERLAP, EDGE_SELF = 0, 1, 2, 3
NUM_EDGE_TYPES = 4
EDGE_DIM = 16  # width of the edge-type embedding: 4 types need few dims, and E x D is costly


def kmer_graph(
    input_ids: Tensor, mask: Tensor, k: int, overlap_window: int = 16, overlap_edges: bool = True
) -> tuple[Tensor, Tensor]:
    """Edges of the disjoint-union graph of a padded k-mer batch.

    Node ``n`` is the n-th ``True`` of ``mask`` in row-major order. Returns ``edge_index [2, E]``
    and ``edge_type [E]`` (types 0-2, no self loops).
    """
    b, length = input_ids.shape
    node = (mask.reshape(-1).long().cumsum(0) - 1).view(b, length)
    ids = input_ids.long()
    known = mask & (ids >= KMER_OFFSET)
    value = ids - KMER_OFFSET
    suffix = value & (4 ** (k - 1) - 1)
    prefix = value >> 2
    srcs, dsts, types = [], [], []

    def add(d: int, ok: Tensor, kind: int, reverse: bool = False) -> None:
        """Edges i -> i + d (``reverse``: i + d -> i) where ``ok [B, L - |d|]`` holds."""
        lo = node[:, : length - d] if d > 0 else node[:, -d:]
        hi = node[:, d:] if d > 0 else node[:, : length + d]
        s, t = (hi[ok], lo[ok]) if reverse else (lo[ok], hi[ok])
        srcs.append(s)
        dsts.append(t)
        types.append(torch.full_like(s, kind))

    if length > 1:
        both = mask[:, :-1] & mask[:, 1:]
        add(1, both, EDGE_FORWARD)
        add(1, both, EDGE_BACKWARD, reverse=True)
    if overlap_edges:
        for d in range(-overlap_window, overlap_window + 1):
            if d in (0, 1) or abs(d) >= length:
                continue
            if d > 0:
                ok = known[:, :-d] & known[:, d:] & (suffix[:, :-d] == prefix[:, d:])
            else:  # i at column c - d (> c), j at column c
                ok = known[:, -d:] & known[:, :d] & (suffix[:, -d:] == prefix[:, :d])
            add(d, ok, EDGE_OVERLAP)
    if not srcs:
        empty = input_ids.new_zeros(0, dtype=torch.long)
        return torch.stack([empty, empty]), empty
    return torch.stack([torch.cat(srcs), torch.cat(dsts)]), torch.cat(types)


class GraphAttention(SelfAttention):
    """:class:`SelfAttention` over the nodes of each graph, optionally with summary tokens.

    Without summaries it is exactly ``SelfAttention`` (same weights, so older checkpoints load).
    With summaries ``s [B, G, D]``: summaries attend to all valid nodes and all summaries; nodes
    attend to their window (or all nodes when ``window`` is None) and all summaries. Returns
    ``(nodes, summaries)`` updates.
    """

    def forward(  # type: ignore[override]
        self, x: Tensor, mask: Tensor, summary: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        if summary is None:
            return super().forward(x, mask), None
        b, n, d = x.shape
        g = summary.shape[1]
        qkv = self.qkv(torch.cat([summary, x], dim=1))
        q, k, v = qkv.view(b, g + n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        keys = torch.cat([mask.new_ones(b, g), mask], dim=1)[:, None, None, :]
        if self.window is None or n <= self.window:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=keys, dropout_p=p)
        else:
            ys = F.scaled_dot_product_attention(q[:, :, :g], k, v, attn_mask=keys, dropout_p=p)
            yx = block_local_attention(
                q[:, :, g:], k[:, :, g:], v[:, :, g:], mask, self.window, p,
                extra_k=k[:, :, :g], extra_v=v[:, :, :g],
            )  # fmt: skip
            y = torch.cat([ys, yx], dim=2)
        out = self.out(y.transpose(1, 2).reshape(b, g + n, d))
        return out[:, g:], out[:, :g]


class GPSLayer(nn.Module):
    """Local message passing + global attention + FFN, pre-LN residual (GPS layer)."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        local_layer: str,
        global_attention: bool,
        attention_window: int | None,
        ff_mult: int,
        dropout: float,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        # imported here: torch_geometric.nn takes over a second to import, and listing or checking
        # backbones (every CLI start) must not pay for it
        from torch_geometric.nn import GATv2Conv, GINEConv

        self.norm1 = nn.LayerNorm(d_model)
        if local_layer == "gatv2":
            self.local: nn.Module = GATv2Conv(
                d_model, d_model // n_heads, heads=n_heads, edge_dim=EDGE_DIM,
                add_self_loops=False, dropout=attention_dropout,
            )  # fmt: skip
        elif local_layer == "gine":
            mlp = nn.Sequential(
                nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model)
            )
            self.local = GINEConv(mlp, train_eps=True, edge_dim=EDGE_DIM)
        else:
            raise ValueError(f"local_layer must be 'gatv2' or 'gine', got {local_layer!r}")
        self.attn = (
            GraphAttention(d_model, n_heads, attention_dropout, window=attention_window)
            if global_attention
            else None
        )
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = feed_forward(d_model, ff_mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_attr: Tensor,
        mask: Tensor,
        summary: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Node states ``[nodes, D]`` (and summary tokens ``[B, G, D]``, if any) after the layer."""
        xn = self.norm1(x)
        h = x + self.drop(self.local(xn, edge_index, edge_attr))
        if self.attn is not None:
            dense = xn.new_zeros(*mask.shape, xn.shape[-1])
            dense[mask] = xn
            sn = None if summary is None else self.norm1(summary)
            dx, ds = self.attn(dense, mask, sn)
            h = h + self.drop(dx[mask])
            if summary is not None and ds is not None:
                summary = summary + self.drop(ds)
                summary = summary + self.drop(self.ff(self.norm2(summary)))
        return h + self.drop(self.ff(self.norm2(h))), summary


@dataclass(frozen=True)
class GnnConfig(BackboneConfig):
    """The k of the k-mer tokens (nodes), widths, the graph's overlap edges, the local layer
    (``gatv2`` or ``gine``) and the global attention (see the module docstring)."""

    k: int = 3
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    overlap_window: int = 16
    overlap_edges: bool = True
    local_layer: str = "gatv2"
    global_attention: bool = True
    attention_window: int | None = None
    ff_mult: int = 2
    dropout: float = 0.1
    # written only when used: the configs of earlier checkpoints stay as they were
    attention_dropout: float = written_when_set(0.0)
    global_tokens: int = written_when_set(0)

    def __post_init__(self) -> None:
        if self.attention_window is not None and self.attention_window < 1:
            raise ValueError(f"attention_window must be >= 1 or None, got {self.attention_window}")
        if self.global_tokens < 0 or (self.global_tokens and not self.global_attention):
            raise ValueError("global_tokens must be >= 0 and needs global_attention=True")
        if not 1 <= self.k <= 8:
            raise ValueError(f"k must lie in 1..8, got {self.k}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by n_heads {self.n_heads}")


PRESETS = {
    "tiny": {"d_model": 64, "n_layers": 2, "n_heads": 4},
    "small": {"d_model": 128, "n_layers": 4, "n_heads": 4},
    "base": {"d_model": 256, "n_layers": 6, "n_heads": 8},
}


def describe(config: dict[str, Any]) -> tuple[str, str]:
    local = str(config.get("local_layer", "gatv2")).upper()
    attention = f"{local} message passing"
    if config.get("global_attention", True):
        attention += " + " + self_attention_words(config.get("attention_window"))
    if config.get("global_tokens"):
        attention += f", {config['global_tokens']} summary tokens"
    return attention, (
        f"{config.get('k', 3)}-mer graph nodes + edge types, d_model {config.get('d_model')}"
    )


@register("gnn", config=GnnConfig, presets=PRESETS, describe=describe)
class GNNAttentionBackbone(StrandAveragedBackbone, nn.Module):
    """GPS-style graph transformer over k-mer sequence graphs; returns node states ``[B, L, D]``.

    ``encoding`` is ``"kmer{k}"`` (``"kmer3"`` for the default ``k=3``).
    """

    encoding: ClassVar[str] = "kmer3"

    @classmethod
    def encoding_for(cls, config: dict[str, Any]) -> str:
        """The k-mer encoding of the config's ``k``."""
        return f"kmer{int(config.get('k', GnnConfig.k))}"

    def __init__(self, config: GnnConfig | None = None, **fields: Any) -> None:
        super().__init__()
        self.config = cfg = make_config(GnnConfig, config, fields)
        self.encoding = f"kmer{cfg.k}"  # type: ignore[misc]  # instance value follows k
        self.k = cfg.k
        self.overlap_window = cfg.overlap_window
        self.overlap_edges = cfg.overlap_edges
        self.d_output = d_model = cfg.d_model
        self.embed = nn.Embedding(KMER_OFFSET + 4**cfg.k, d_model)
        self.edge_embed = nn.Embedding(NUM_EDGE_TYPES, EDGE_DIM)
        self.layers = nn.ModuleList(
            GPSLayer(
                d_model,
                cfg.n_heads,
                cfg.local_layer,
                cfg.global_attention,
                cfg.attention_window,
                cfg.ff_mult,
                cfg.dropout,
                cfg.attention_dropout,
            )  # fmt: skip
            for _ in range(cfg.n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.summary = (
            nn.Parameter(torch.randn(cfg.global_tokens, d_model) * 0.02)
            if cfg.global_tokens
            else None
        )

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        full_mask = input_ids != KMER_PAD_ID if attention_mask is None else attention_mask.bool()
        b, length = input_ids.shape
        # work on columns up to the last valid one: trailing padding costs nothing
        cols = torch.arange(length, device=input_ids.device)
        used = int((full_mask * (cols + 1)).max()) if full_mask.numel() else 0
        mask, ids = full_mask[:, :used], input_ids[:, :used]
        edge_index, edge_type = kmer_graph(
            ids, mask, self.k, self.overlap_window, self.overlap_edges
        )
        n = int(mask.sum())
        loops = torch.arange(n, device=ids.device)
        edge_index = torch.cat([edge_index, torch.stack([loops, loops])], dim=1)
        edge_attr = self.edge_embed(torch.cat([edge_type, torch.full_like(loops, EDGE_SELF)]))
        pos = cols[:used].expand(b, used)[mask]
        x = self.drop(self.embed(ids[mask].long()) + sinusoidal(pos, self.d_output))
        summary = None if self.summary is None else self.summary.expand(b, -1, -1)
        for layer in self.layers:
            x, summary = layer(x, edge_index, edge_attr, mask, summary)
        out = x.new_zeros(b, length, self.d_output)
        out[:, :used][mask] = self.norm(x)
        return out, full_mask


__all__ = ["GNNAttentionBackbone", "GPSLayer", "GnnConfig", "GraphAttention", "kmer_graph"]
