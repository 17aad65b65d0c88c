"""k-mer spectrum backbone: the strand-symmetric k-mer composition of a whole window.

Why: on 500-bp enhancer windows much of the signal is composition (GC, CpG, dinucleotide and short
motif frequencies). A linear model on standardised 1..4-mer frequencies reaches about the accuracy
of the deep backbones on a few thousand sequences, and its errors differ from theirs, which makes it
a cheap, strong ensemble member (``dnaseq ensemble``) and a sanity baseline (in the spirit of
gkm-SVM / k-mer logistic regression baselines in regulatory genomics).

For every ``k`` in ``kmer_sizes`` the k-mers that lie wholly inside the valid part of the window and
hold only A/C/G/T are counted on the given strand, the counts of each k-mer and of its reverse
complement are added (so the profile is identical for both strands: exactly RC-invariant, no strand
averaging needed) and divided by the number of counted k-mers. The ``sum(4**k)`` frequencies are
standardised by a BatchNorm without affine terms (its cumulative mean/variance are the training
set's statistics, saved with the weights) and, when ``hidden_size > 0``, passed through one GELU layer.
The shared head's linear layer then makes it a (regularised) logistic regression or a small MLP.
With ``motifs`` set to a bundled motif set (``jaspar2024_vertebrates``) the profile also holds every
motif's best-match score in the window (:class:`~dnaseq_cli.models.motif_scan.MotifScanner`, also
strand-symmetric), standardised with the k-mer frequencies.

Returns ``[B, 1, F]`` and a one-position mask, like the backbones that pool along the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from dnaseq_cli.encode.motifs import motif_set
from dnaseq_cli.encode.vocab import PAD_ID, reverse_complement_values
from dnaseq_cli.models.layers import char_kmer_levels
from dnaseq_cli.models.motif_scan import MotifScanner
from dnaseq_cli.models.registry import BackboneConfig, make_config, register, written_when_set


def reverse_complement_index(k: int) -> Tensor:
    """``index[v]``: the base-4 value of the reverse complement of the k-mer with value ``v``."""
    return torch.as_tensor(reverse_complement_values(k))


def kmer_frequencies(levels: Tensor, rc_index: Tensor) -> Tensor:
    """Strand-summed frequencies ``[B, 4**k]`` from centred k-mer ids ``levels`` (``1 + value``,
    0 = not counted) and :func:`reverse_complement_index` of the same k."""
    counts = torch.zeros(levels.shape[0], len(rc_index) + 1, device=levels.device)
    counts.scatter_add_(1, levels, torch.ones_like(levels, dtype=counts.dtype))
    counts = counts[:, 1:]
    counts = counts + counts[:, rc_index]
    return counts / counts.sum(1, keepdim=True).clamp(min=1.0)


@dataclass(frozen=True)
class KmerConfig(BackboneConfig):
    """k-mer sizes counted (sorted, each once), the GELU layer's width (0: none), its dropout and
    the bundled motif set whose best-match scores join the profile (none by default)."""

    kmer_sizes: tuple[int, ...] = (1, 2, 3, 4)
    hidden_size: int = 0
    dropout: float = 0.0
    motifs: str | None = written_when_set(None)

    def __post_init__(self) -> None:
        if not self.kmer_sizes or any(not 1 <= k <= 8 for k in self.kmer_sizes):
            raise ValueError(
                f"kmer_sizes must be a non-empty list of k in 1..8, got {self.kmer_sizes}"
            )
        if self.hidden_size < 0:
            raise ValueError(f"hidden_size must be >= 0, got {self.hidden_size}")
        self._set(kmer_sizes=tuple(sorted(set(self.kmer_sizes))))


PRESETS = {
    "tiny": {"kmer_sizes": [1, 2, 3, 4], "hidden_size": 0},
    "small": {"kmer_sizes": [1, 2, 3, 4, 5], "hidden_size": 0},
    "base": {"kmer_sizes": [1, 2, 3, 4, 5, 6], "hidden_size": 64, "dropout": 0.2},
}


def describe(config: dict[str, Any]) -> tuple[str, str]:
    ks = ", ".join(map(str, config.get("kmer_sizes", [])))
    return "none (composition only)", f"strand-symmetric k-mer frequencies (k = {ks})"


# Not one of the paper's models: `dnaseq compare --run` trains it only when --backbones names it.
@register("kmer", config=KmerConfig, presets=PRESETS, describe=describe, compared=False)
class KmerSpectrumBackbone(nn.Module):
    """Standardised strand-symmetric k-mer frequencies of the window: ``[B, 1, F]``."""

    encoding: ClassVar[str] = "char"
    rc_mode: ClassVar[str] = "none"  # invariant by construction: one pass, no strand averaging

    def __init__(self, config: KmerConfig | None = None, **fields: Any) -> None:
        super().__init__()
        self.config = cfg = make_config(KmerConfig, config, fields)
        self.kmer_sizes = list(cfg.kmer_sizes)
        motifs = cfg.motifs
        self.motif_scanner = MotifScanner(motif_set(motifs)) if motifs is not None else None
        n_features = sum(4**k for k in self.kmer_sizes)
        n_features += self.motif_scanner.n_motifs if self.motif_scanner is not None else 0
        # momentum=None: a cumulative average of the batch statistics. The profile has no learned
        # parameters before this layer, so that average is the training set's own mean/variance.
        self.standardise = nn.BatchNorm1d(n_features, affine=False, momentum=None)
        self.hidden = (
            nn.Sequential(
                nn.Linear(n_features, cfg.hidden_size), nn.GELU(), nn.Dropout(cfg.dropout)
            )
            if cfg.hidden_size
            else nn.Identity()
        )
        self.d_output = cfg.hidden_size or n_features
        for k in self.kmer_sizes:  # fixed tables, built once (not saved: they follow from k)
            self.register_buffer(f"rc_index_{k}", reverse_complement_index(k), persistent=False)

    @property
    def hidden_size(self) -> int:
        return self.d_output

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def profile(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Raw (unstandardised) frequencies ``[B, F]``, levels concatenated in increasing k."""
        mask = input_ids != PAD_ID if attention_mask is None else attention_mask.bool()
        levels = char_kmer_levels(input_ids.long(), mask, self.kmer_sizes)
        parts = [
            kmer_frequencies(levels[k], getattr(self, f"rc_index_{k}")) for k in self.kmer_sizes
        ]
        if self.motif_scanner is not None:
            parts.append(self.motif_scanner(input_ids, mask))
        return torch.cat(parts, dim=1)

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        x = self.profile(input_ids, attention_mask).float()
        if self.training and x.shape[0] == 1:  # BatchNorm cannot estimate a variance from one row
            mean, var = self.standardise.running_mean, self.standardise.running_var
            assert mean is not None and var is not None  # track_running_stats (the default)
            x = (x - mean) / (var + 1e-5).sqrt()
        else:
            x = self.standardise(x)
        x = self.hidden(x)
        return x[:, None, :], torch.ones(x.shape[0], 1, dtype=torch.bool, device=x.device)


__all__ = ["KmerConfig", "KmerSpectrumBackbone", "kmer_frequencies", "reverse_complement_index"]
