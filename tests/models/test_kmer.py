"""The k-mer spectrum backbone counts what a plain Python count gives, on both strands alike."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import torch

from dnaseq_cli.encode.tokens import encode_batch_chars
from dnaseq_cli.models import factory
from dnaseq_cli.models.kmer import KmerSpectrumBackbone, reverse_complement_index
from dnaseq_cli.models.rc import complement_ids_for, reverse_complement_ids

COMPLEMENT = str.maketrans("ACGT", "TGCA")


def reference_profile(seq: str, k: int) -> np.ndarray:
    """Frequencies of each k-mer plus its reverse complement, over windows of pure A/C/G/T."""
    counts: Counter[str] = Counter()
    for strand in (seq, seq.translate(COMPLEMENT)[::-1]):
        for i in range(len(strand) - k + 1):
            word = strand[i : i + k]
            if set(word) <= set("ACGT"):
                counts[word] += 1
    words = ["".join(p) for p in itertools.product("ACGT", repeat=k)]
    total = sum(counts.values())
    return np.array([counts[w] / max(total, 1) for w in words])


def ids_and_mask(seqs: list[str], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    chars, _ = encode_batch_chars(seqs, length)
    ids = torch.as_tensor(chars)
    return ids, ids != 4


def test_reverse_complement_index_of_3mers():
    words = ["".join(p) for p in itertools.product("ACGT", repeat=3)]
    index = reverse_complement_index(3)
    for value, word in enumerate(words):
        assert words[index[value]] == word.translate(COMPLEMENT)[::-1]


@pytest.mark.parametrize("k", [1, 2, 4])
def test_profile_matches_a_python_count_with_n_and_padding(k):
    seqs = ["ACGTTGCANNGGATCCAAGT", "GGGATTACA", "TTTT"]
    model = KmerSpectrumBackbone(kmer_sizes=[k])
    ids, mask = ids_and_mask(seqs, 24)  # right-padded to 24
    profile = model.profile(ids, mask).numpy()
    for row, seq in zip(profile, seqs, strict=True):
        np.testing.assert_allclose(row, reference_profile(seq, k), atol=1e-6)


def test_profile_and_logits_are_identical_on_both_strands():
    torch.manual_seed(0)
    model = factory.build_classifier(factory.model_spec("kmer", "base"), 2).eval()
    ids, mask = ids_and_mask(["ACGTTGCAAGGCTTAGGAC" * 5, "GATTACA" * 9])
    rc_ids, rc_mask = reverse_complement_ids(ids, mask, complement_ids_for("char"))
    assert torch.equal(model.backbone.profile(ids, mask), model.backbone.profile(rc_ids, rc_mask))
    assert torch.allclose(model(ids, mask), model(rc_ids, rc_mask), atol=1e-6)


def test_standardisation_uses_the_training_statistics_after_training():
    torch.manual_seed(0)
    model = KmerSpectrumBackbone(kmer_sizes=[1, 2])
    ids, mask = ids_and_mask(["ACGT" * 10, "GGCC" * 10, "AATT" * 10, "ACGGT" * 8])
    model.train()
    for _ in range(50):
        model(ids, mask)
    model.eval()
    hidden, hidden_mask = model(ids, mask)
    assert hidden.shape == (4, 1, 20) and hidden_mask.all()
    # features with training variance come out standardised (mean ~0, biased var ~1)
    varying = model.profile(ids, mask).var(0) > 1e-6
    assert torch.allclose(hidden[:, 0, varying].mean(0), torch.zeros(int(varying.sum())), atol=1e-3)


def test_a_single_training_row_does_not_break_batch_norm():
    model = KmerSpectrumBackbone().train()
    ids, mask = ids_and_mask(["ACGTAGGCTA"])
    hidden, _ = model(ids, mask)
    assert torch.isfinite(hidden).all()


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="kmer_sizes"):
        KmerSpectrumBackbone(kmer_sizes=[0, 3])
    with pytest.raises(ValueError, match="hidden_size"):
        KmerSpectrumBackbone(hidden_size=-1)
