"""One picture per explained window: the ISM heatmap (4 x L) above a logo of the attributions.

Both panels share the x axis in sequence coordinates (1-based record positions, or genomic positions
for BED inputs), so a motif hit or a variant can be read off directly. Motif hits that overlap
high-attribution positions are drawn as shaded spans on the logo, the strongest of them named.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dnaseq_cli.explain.ism import BASES


def labelled_hits(
    hits: Sequence[tuple[int, int, str, str]], spacing: float, limit: int = 12
) -> list[tuple[int, int, str, str]]:
    """The hits that get a name on the picture: in the given order (strongest first), each at
    least ``spacing`` positions from every label already placed, at most ``limit``, so that names
    stay legible where many matrices match one site (every hit is still shaded)."""
    chosen: list[tuple[int, int, str, str]] = []
    for hit in hits:
        if len(chosen) == limit:
            break
        if all(abs(hit[0] - other[0]) >= spacing for other in chosen):
            chosen.append(hit)
    return chosen


def plot_window(
    path: Path,
    *,
    title: str,
    positions: np.ndarray,
    sequence: str,
    delta: np.ndarray | None,
    attribution: np.ndarray,
    method: str,
    hits: Sequence[tuple[int, int, str, str]] = (),
    xlabel: str = "position",
) -> None:
    """Write the PNG. ``positions`` are the coordinates of the rows shown; ``hits`` are
    ``(start, end, label, strand)`` in the same coordinates (inclusive)."""
    import matplotlib

    matplotlib.use("Agg")
    import logomaker
    import matplotlib.pyplot as plt
    import pandas as pd

    width = float(np.clip(len(positions) / 40.0, 6.0, 16.0))
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(width, 3.6),
        sharex=True,
        gridspec_kw={"height_ratios": [1, 1.3]},
        layout="constrained",
    )
    lo, hi = float(positions[0]) - 0.5, float(positions[-1]) + 0.5
    if delta is not None:
        bound = float(np.nanmax(np.abs(delta))) if np.isfinite(delta).any() else 1.0
        image = top.imshow(
            np.ma.masked_invalid(delta.T),
            aspect="auto",
            cmap="RdBu_r",
            vmin=-bound or -1.0,
            vmax=bound or 1.0,
            extent=(lo, hi, 3.5, -0.5),
            interpolation="nearest",
        )
        top.set_yticks(range(4), list(BASES))
        fig.colorbar(image, ax=[top, bottom], pad=0.01, fraction=0.02, label="ISM delta")
    else:
        top.text(0.5, 0.5, "ISM not computed", ha="center", va="center", transform=top.transAxes)
        top.set_yticks([])
    top.set_title(title, fontsize=9, loc="left")
    matrix = np.zeros((len(positions), 4))
    for i, base in enumerate(sequence):
        if base in BASES and np.isfinite(attribution[i]):
            matrix[i, BASES.index(base)] = attribution[i]
    frame = pd.DataFrame(matrix, columns=list(BASES), index=positions.astype(int))
    logomaker.Logo(frame, ax=bottom, color_scheme="classic", show_spines=False)
    bottom.axhline(0, color="grey", lw=0.5)
    for start, end, _, _ in hits:
        bottom.axvspan(start - 0.5, end + 0.5, color="gold", alpha=0.25, lw=0)
    for start, _, label, strand in labelled_hits(hits, spacing=max(len(positions) / 60.0, 1.0)):
        bottom.text(start, 1.0, f"{label}({strand})", fontsize=6, rotation=90, va="top",
                    transform=bottom.get_xaxis_transform())  # fmt: skip
    bottom.set_ylabel(method, fontsize=8)
    bottom.set_xlabel(xlabel)
    bottom.set_xlim(lo, hi)
    fig.savefig(path, dpi=80)
    plt.close(fig)
