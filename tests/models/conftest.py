"""Shared toy data for the backbone tests."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from dnaseq_cli.encode.reverse_complement import reverse_complement


def _motif_data(n: int, rng: random.Random, motif: str = "GATTACA") -> tuple[list[str], list[int]]:
    """Random 48-64-mers; label 1 iff the motif was planted (absent on both strands otherwise)."""
    seqs, labels = [], []
    while len(seqs) < n:
        s = "".join(rng.choice("ACGT") for _ in range(rng.randint(48, 64)))
        if motif in s or reverse_complement(motif) in s:
            continue
        label = rng.random() < 0.5
        if label:
            at = rng.randrange(len(s) - len(motif))
            s = s[:at] + motif + s[at + len(motif) :]
        seqs.append(s)
        labels.append(int(label))
    return seqs, labels


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The CI box is 2 shared cores: tiny models run faster without intra-op threading."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def motif_data() -> Callable[..., tuple[list[str], list[int]]]:
    return _motif_data


def _fit_motif(
    clf, batch: Callable, *, lr: float, max_steps: int, seed: int = 0
) -> tuple[list[float], float]:
    """Train ``clf`` on the motif task; stop early once held-out accuracy passes 0.92.

    ``batch(seqs)`` turns strings into ``(ids, mask)`` in the backbone's encoding. Returns the
    training losses and the last held-out accuracy.
    """
    import torch

    rng = random.Random(seed)
    train, y_train = _motif_data(512, rng)
    test, y_test = _motif_data(128, rng)
    test_ids, test_mask = batch(test)
    opt = torch.optim.AdamW(clf.parameters(), lr=lr)
    losses, acc = [], 0.0
    for step in range(1, max_steps + 1):
        clf.train()
        idx = [rng.randrange(len(train)) for _ in range(32)]
        logits = clf(*batch([train[i] for i in idx]))
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([y_train[i] for i in idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % 25 == 0:
            clf.eval()
            with torch.no_grad():
                pred = clf(test_ids, test_mask).argmax(-1)
            acc = (pred == torch.tensor(y_test)).float().mean().item()
            if acc > 0.92:
                break
    return losses, acc


@pytest.fixture
def fit_motif() -> Callable[..., tuple[list[float], float]]:
    return _fit_motif
