"""Best-match scores of known TF motifs in a window, on both strands.

Why: see :mod:`dnaseq_cli.encode.motifs`. The scan is a fixed (not trained) convolution of the
one-hot window with every motif's log-odds matrix and with its reverse complement; the feature of a
motif is its best score anywhere in the window on either strand, divided by the best score the
motif can reach (so 1.0 is a perfect site). Motifs are grouped by width and each group is one
convolution with its own kernel size, which avoids padding every matrix to the longest one.
The window is zero-padded by ``width - 1`` on both sides, so that the features of a window and of
its reverse complement are the same: the scan is exactly strand-symmetric.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dnaseq_cli.encode.motifs import Motif, log_odds
from dnaseq_cli.encode.onehot import one_hot_from_ids


class MotifScanner(nn.Module):
    """``[B, n_motifs]`` relative best-match scores; feature ``i`` is motif ``motif_ids[i]``."""

    def __init__(self, motifs: list[Motif]) -> None:
        super().__init__()
        widths = sorted({m.width for m in motifs})
        self.widths = widths
        self.motif_ids: list[str] = []
        self.motif_names: list[str] = []
        for width in widths:
            group = [m for m in motifs if m.width == width]
            forward = np.stack([log_odds(m.counts) for m in group]).astype(np.float32)
            reverse = forward[:, ::-1, ::-1]  # complement (ACGT order reversed) and reverse
            weight = torch.from_numpy(np.concatenate([forward, reverse]).copy())
            # saved with the weights: a checkpoint records the exact matrices it was trained with,
            # and one made with a different release of the set fails to load instead of drifting
            self.register_buffer(f"weight_{width}", weight)
            self.motif_ids += [m.id for m in group]
            self.motif_names += [m.name for m in group]

    @property
    def n_motifs(self) -> int:
        return len(self.motif_ids)

    def forward(self, input_ids: Tensor, mask: Tensor) -> Tensor:
        # N and padding are all-zero columns: they add nothing to a placement's score
        x = (one_hot_from_ids(input_ids) * mask.bool()[..., None]).transpose(1, 2)
        scores = []
        for width in self.widths:
            weight = getattr(self, f"weight_{width}").to(x.dtype)
            both = F.conv1d(x, weight, padding=width - 1).amax(-1)
            n = weight.shape[0] // 2
            best = weight[:n].amax(1).sum(1)  # encode.motifs.best_score of each forward matrix
            scores.append(torch.maximum(both[:, :n], both[:, n:]) / best)
        return torch.cat(scores, dim=1)


__all__ = ["MotifScanner"]
