"""In-silico mutagenesis: every position x the 3 other bases, scored against the unmutated window.

Scores go through :meth:`WindowScorer.score_ids`, the path ``predict`` and ``vep`` use, so a mutant's
score is exactly the score ``predict`` gives that mutated window (both strands averaged, same
padding) and the ISM value of a single-base change equals ``vep``'s ``delta`` on the same window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dnaseq_cli.encode.vocab import A_ID, T_ID
from dnaseq_cli.predict.model import WindowScorer, logit

BASES = "ACGT"
BASE_IDS = np.arange(A_ID, T_ID + 1)  # A C G T character ids, in BASES order


@dataclass
class IsmResult:
    """ISM of one window: ``delta[pos, base]`` = score(mutant) - score(window); NaN where not scored.

    The reference base's own column is 0. ``log_odds`` is logit(mutant) - logit(window) (NaN for
    regression models). ``reference`` is the window's own score.
    """

    delta: np.ndarray  # [L, 4]
    log_odds: np.ndarray  # [L, 4]
    reference: float

    @property
    def attribution(self) -> np.ndarray:
        """Per-position importance of the observed base: minus the mean effect of replacing it."""
        scored = np.isfinite(self.delta).all(axis=1)
        out = np.full(self.delta.shape[0], np.nan)
        out[scored] = -self.delta[scored].sum(axis=1) / 3.0  # the ref column is 0
        return out


def target_column(scorer: WindowScorer, target: str | None) -> int:
    """Column of the scorer's output that is explained: the positive (last) class by default."""
    from dnaseq_cli.errors import InputError

    info = scorer.info
    if info.task == "regression":
        return 0
    if target is None:
        return len(info.classes) - 1
    if target not in info.classes:
        raise InputError(
            f"--target {target!r} is not a class of the model (classes: {', '.join(info.classes)})"
        )
    return info.classes.index(target)


def mutants(char_ids: torch.Tensor, positions: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """Every single-base mutant of a window ``[L]`` at ``positions`` whose base is A/C/G/T.

    Returns the mutant ids ``[M, L]`` and their ``(position, base index)`` pairs ``[M, 2]``.
    """
    ids = char_ids.numpy()
    chosen = [int(p) for p in positions if A_ID <= ids[p] <= T_ID]
    pairs = [(p, b) for p in chosen for b in range(4) if BASE_IDS[b] != ids[p]]
    where = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    out = char_ids.unsqueeze(0).repeat(len(where), 1)
    if len(where):
        out[np.arange(len(where)), where[:, 0]] = torch.from_numpy(BASE_IDS[where[:, 1]])
    return out, where


def ism_windows(
    scorer: WindowScorer,
    char_ids: torch.Tensor,
    positions: list[np.ndarray],
    column: int,
) -> list[IsmResult]:
    """ISM of several windows ``[W, L]`` in one batched pass (the scorer batches by its size)."""
    blocks, pairs = [], []
    for row, chosen in zip(char_ids, positions, strict=True):
        ids, where = mutants(row, chosen)
        blocks += [row.unsqueeze(0), ids]
        pairs.append(where)
    scores = scorer.score_ids(torch.cat(blocks))[:, column].astype(np.float64)
    regression = scorer.info.task == "regression"
    results, offset = [], 0
    length = char_ids.shape[1]
    for where in pairs:
        ref = scores[offset]
        mutated = scores[offset + 1 : offset + 1 + len(where)]
        offset += 1 + len(where)
        delta = np.full((length, 4), np.nan)
        odds = np.full((length, 4), np.nan)
        scored = np.unique(where[:, 0])
        delta[scored] = 0.0
        delta[where[:, 0], where[:, 1]] = mutated - ref
        if not regression:
            odds[scored] = 0.0
            odds[where[:, 0], where[:, 1]] = logit(mutated) - logit(np.array([ref]))[0]
        results.append(IsmResult(delta=delta, log_odds=odds, reference=float(ref)))
    return results
