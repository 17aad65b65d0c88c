"""Training-only augmentation: random shifts of batches and synthetic training sequences.

* :func:`random_shift` moves each window by up to ``±N`` positions inside its own length. Dataset
  folders store one fixed window per record (``preprocess --flank`` widens that window, it does not
  keep separate flanks), so there is nothing outside the window to shift in: the bases pushed out
  are dropped and the vacated positions become padding, masked like any other padding.
* :func:`dinucleotide_shuffle` (Altschul & Erickson 1985, Euler-path method) makes a random sequence
  with exactly the dinucleotide counts (and first and last letters) of its input: negatives with the
  composition of real positives but without their motif order.
* :func:`synthetic_training_rows` adds shuffled negatives and WGAN-GP samples
  (:mod:`dnaseq_cli.engine.gan`) of the minority class to the train split only; validation and test
  rows are never touched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset as TorchDataset

from dnaseq_cli.encode.onehot import one_hot_from_ids
from dnaseq_cli.encode.vocab import A_ID, PAD_ID
from dnaseq_cli.engine.batches import WindowRows
from dnaseq_cli.errors import InputError

AUGMENTERS = ("none", "gan")


def random_shift(
    ids: Tensor, mask: Tensor, max_shift: int, pad_id: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Shift each row by a uniform offset in ``[-max_shift, max_shift]``; vacated places = padding.

    Length is kept; tokens shifted past either end are dropped. A positive offset moves the
    sequence right (padding appears at the start).
    """
    if max_shift <= 0 or ids.shape[1] == 0:
        return ids, mask
    b, length = ids.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (b, 1), generator=generator)
    source = torch.arange(length)[None, :] - offsets  # column read for each output column
    inside = (source >= 0) & (source < length)
    source = source.clamp(0, length - 1).to(ids.device)
    inside = inside.to(ids.device)
    shifted = torch.where(inside, ids.gather(1, source), torch.full_like(ids, pad_id))
    return shifted, inside & mask.gather(1, source)


def dinucleotide_shuffle(seq: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random permutation of ``seq`` (any symbols) with the same count of every adjacent pair.

    Euler-path method: the sequence is a walk through the multigraph whose edges are its
    dinucleotides. A random spanning arborescence of "last exits" towards the final letter is drawn
    (Wilson's loop-erased walks along out-edges), the other out-edges of each letter are shuffled and
    put before its last exit, and the walk from the first letter through those edge lists uses every
    edge once: an Eulerian path with the original pair counts.
    """
    seq = np.asarray(seq)
    if len(seq) < 3:
        return seq.copy()
    out_edges: dict[Any, list[Any]] = defaultdict(list)
    for a, b in zip(seq[:-1].tolist(), seq[1:].tolist(), strict=True):
        out_edges[a].append(b)
    last = seq[-1].item()
    # last[v]: the edge by which the walk leaves v for the final time; they form a tree to `last`
    in_tree = {last}
    last_exit: dict[Any, int] = {}
    for start in out_edges:
        walk_next: dict[Any, int] = {}
        v = start
        while v not in in_tree:  # random walk along out-edges, loops erased by overwriting
            walk_next[v] = int(rng.integers(len(out_edges[v])))
            v = out_edges[v][walk_next[v]]
        v = start
        while v not in in_tree:
            in_tree.add(v)
            last_exit[v] = walk_next[v]
            v = out_edges[v][walk_next[v]]
    order: dict[Any, list[Any]] = {}
    for v, targets in out_edges.items():
        targets = list(targets)
        final = targets.pop(last_exit[v]) if v in last_exit else None
        rng.shuffle(targets)
        order[v] = targets + ([final] if v in last_exit else [])
    position = dict.fromkeys(order, 0)
    result = [seq[0].item()]
    for _ in range(len(seq) - 1):
        v = result[-1]
        result.append(order[v][position[v]])
        position[v] += 1
    return np.asarray(result, dtype=seq.dtype)


def shuffle_valid(tokens: np.ndarray, pad_id: int, rng: np.random.Generator) -> np.ndarray:
    """Dinucleotide-shuffle the non-padding tokens of one row; padding stays where it was."""
    out = np.array(tokens, copy=True)
    valid = out != pad_id
    out[valid] = dinucleotide_shuffle(out[valid], rng)
    return out


class AugmentedRows(TorchDataset):
    """The train split's rows followed by synthetic token rows (row number -1: not in the dataset)."""

    def __init__(self, base: WindowRows, tokens: np.ndarray, labels: np.ndarray) -> None:
        self.base = base
        self.tokens = tokens
        self.extra_labels = labels

    def __len__(self) -> int:
        return len(self.base) + len(self.tokens)

    def __getitem__(self, item: int) -> tuple[np.ndarray, object, int]:
        if item < len(self.base):
            return self.base[item]
        index = item - len(self.base)
        return self.tokens[index], self.extra_labels[index], -1


def item_labels(rows: WindowRows | AugmentedRows) -> np.ndarray:
    """Labels in item order (what a sampler or a class-weighted loss must see)."""
    if isinstance(rows, AugmentedRows):
        return np.concatenate([item_labels(rows.base), rows.extra_labels])
    return rows.labels[rows.rows]


@dataclass
class Synthetic:
    """Synthetic training rows (stored encoding) and the report that goes into the run folder."""

    tokens: np.ndarray
    labels: np.ndarray
    counts: dict[str, Any] = field(default_factory=dict)


def synthetic_training_rows(
    base: WindowRows,
    *,
    encoding: str,
    task: str,
    classes: list[str],
    shuffled_fraction: float,
    augment: str,
    gan_steps: int,
    gan_samples: int | None,
    seed: int,
    device: torch.device,
) -> Synthetic:
    """Shuffled negatives and GAN samples for the train split (``base``), reproducible by ``seed``.

    Shuffled negatives get the first class (e.g. ``0``) and are shuffles of training rows of the
    other classes; GAN samples imitate the class with the fewest training rows and by default
    number enough to match the largest class.
    """
    width = int(base.dataset.tokens.shape[1])
    counts: dict[str, Any] = {"train_rows": len(base), "shuffled_negatives": 0, "gan": 0}
    empty = Synthetic(
        np.zeros((0, width), base.dataset.tokens.dtype), np.zeros(0, np.int64), counts
    )
    if shuffled_fraction <= 0 and augment == "none":
        return empty
    if augment not in AUGMENTERS:
        raise InputError(f"unknown --augment {augment!r}; choose from {', '.join(AUGMENTERS)}")
    if task not in ("binary", "multiclass"):
        raise InputError("--shuffled-negatives and --augment gan need class labels, not " + task)
    if encoding != "char":
        raise InputError(
            f"synthetic sequences need a dataset of char tokens, this one holds {encoding}; "
            "re-run dnaseq preprocess with --encoding char"
        )
    labels = item_labels(base)
    parts: list[np.ndarray] = [empty.tokens]
    part_labels: list[np.ndarray] = [empty.labels]
    if shuffled_fraction > 0:
        n = int(round(shuffled_fraction * len(base)))
        sources = np.flatnonzero(labels != 0)
        rng = np.random.default_rng([seed, 1])
        picks = rng.choice(sources, size=n, replace=True) if len(sources) else sources[:0]
        rows = [shuffle_valid(np.asarray(base[int(i)][0]), PAD_ID, rng) for i in picks]
        parts.append(np.stack(rows) if rows else empty.tokens)
        part_labels.append(np.zeros(len(rows), np.int64))
        counts.update(shuffled_negatives=len(rows), shuffled_class=classes[0])
    if augment == "gan":
        from dnaseq_cli.engine.gan import sample_gan, train_gan

        per_class = np.bincount(labels, minlength=len(classes))
        minority = int(np.argmin(per_class))
        n = gan_samples if gan_samples is not None else int(per_class.max() - per_class[minority])
        real = np.stack([np.asarray(base[int(i)][0]) for i in np.flatnonzero(labels == minority)])
        gan, history = train_gan(one_hot(real), steps=gan_steps, seed=seed, device=device)
        codes = sample_gan(gan, n, seed=seed, device=device)
        parts.append((codes + A_ID).astype(empty.tokens.dtype))
        part_labels.append(np.full(n, minority, np.int64))
        counts.update(
            gan=n, gan_class=classes[minority], gan_steps=gan_steps,
            gan_trained_on=len(real), gan_final_critic_loss=history[-1] if history else None,
        )  # fmt: skip
    return Synthetic(np.concatenate(parts), np.concatenate(part_labels), counts)


def one_hot(tokens: np.ndarray) -> Tensor:
    """Char token rows ``[N, L]`` as channels-first one-hot ``[N, 4, L]`` (the GAN's layout) over
    A/C/G/T; N, padding and special tokens are all zero."""
    ids = torch.as_tensor(np.asarray(tokens, dtype=np.int64))
    return one_hot_from_ids(ids).permute(0, 2, 1).contiguous()
