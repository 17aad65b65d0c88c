"""Dinucleotide-preserving shuffles: random sequences with a sequence's exact pair composition.

Why: a reference sequence for attributions (integrated-gradient baselines) or for motif
enrichment should look like real DNA of the same composition, without the arrangement under test;
shuffling single bases destroys CpG and other dinucleotide structure that models learn. The method is
Altschul & Erickson's (1985): a uniformly random Eulerian path through the multigraph whose edges are
the sequence's neighbouring pairs, so first and last symbol and every dinucleotide count are kept.
The last exit edge of each symbol is drawn as a random arborescence towards the final symbol
(loop-erased random walks, Wilson's algorithm); the other exits are shuffled and walked in order.
"""

from __future__ import annotations

import numpy as np


def dinucleotide_shuffle(ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A shuffle of the 1-D token array ``ids`` (any alphabet: character ids with N included)
    with the same neighbouring-pair counts, first and last token."""
    ids = np.asarray(ids)
    if len(ids) < 3:
        return ids.copy()
    exits: dict[int, list[int]] = {}
    for a, b in zip(ids[:-1].tolist(), ids[1:].tolist(), strict=True):
        exits.setdefault(a, []).append(b)
    in_tree = {int(ids[-1])}
    last_exit: dict[int, int] = {}
    for start in exits:
        node = start
        while node not in in_tree:  # a walk to the tree; revisits overwrite, erasing loops
            last_exit[node] = exits[node][int(rng.integers(len(exits[node])))]
            node = last_exit[node]
        node = start
        while node not in in_tree:
            in_tree.add(node)
            node = last_exit[node]
    order: dict[int, list[int]] = {}
    for node, targets in exits.items():
        rest = list(targets)
        if node in last_exit:
            rest.remove(last_exit[node])
        rng.shuffle(rest)
        order[node] = rest + ([last_exit[node]] if node in last_exit else [])
    out = [int(ids[0])]
    used = dict.fromkeys(order, 0)
    while len(out) < len(ids):
        node = out[-1]
        out.append(order[node][used[node]])
        used[node] += 1
    return np.array(out, dtype=ids.dtype)
