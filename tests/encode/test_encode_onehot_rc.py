"""One-hot and reverse complement: values, numpy/torch parity, padding, involution properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dnaseq_cli.encode.onehot import ids_from_one_hot, one_hot, one_hot_from_ids
from dnaseq_cli.encode.reverse_complement import (
    rc_char_ids,
    rc_encode_kmers,
    rc_kmer_ids,
    rc_one_hot,
    reverse_complement,
)
from dnaseq_cli.encode.tokens import encode_batch_chars, encode_chars, encode_kmers
from dnaseq_cli.encode.vocab import PAD_ID, KmerVocab

FAST = settings(deadline=None, max_examples=60)
bases = st.text(alphabet="ACGTNacgtRY", max_size=60)


def test_one_hot_values() -> None:
    x = one_hot("ACGTNaR-")
    assert x.dtype == np.float32 and x.shape == (8, 4)
    assert x[:4].tolist() == np.eye(4).tolist()
    assert x[4].tolist() == [0, 0, 0, 0] and x[5].tolist() == [1, 0, 0, 0]
    assert x[6:].sum() == 0
    q = one_hot("NU", n_value=0.25)
    assert q.tolist() == [[0.25] * 4, [0, 0, 0, 1]]
    assert one_hot("").shape == (0, 4)
    for dtype in (np.uint8, np.float16, np.float64, bool):
        y = one_hot("ACGTNaR-", dtype=dtype)
        assert y.dtype == dtype and np.array_equal(y, x.astype(dtype))


def test_one_hot_from_ids_numpy_and_torch() -> None:
    ids = encode_chars("ACGTN")
    assert np.array_equal(one_hot_from_ids(ids), one_hot("ACGTN"))
    padded, _ = encode_batch_chars(["ACN", "G"], 3)
    out = one_hot_from_ids(padded, n_value=0.25)
    assert out.shape == (2, 3, 4)
    assert out[1, 1].tolist() == [0, 0, 0, 0]  # padding is not a base
    assert out[0, 2].tolist() == [0.25] * 4
    tout = one_hot_from_ids(torch.from_numpy(padded), n_value=0.25)
    assert isinstance(tout, torch.Tensor) and torch.equal(tout, torch.from_numpy(out))
    assert ids_from_one_hot(one_hot("ACGTN")).tolist() == [7, 8, 9, 10, 11]
    assert ids_from_one_hot(torch.from_numpy(one_hot("GA"))).tolist() == [9, 7]
    with pytest.raises(ValueError):
        one_hot_from_ids(np.array([12]))


@FAST
@given(bases)
def test_one_hot_of_rc_is_rc_of_one_hot(seq: str) -> None:
    assert np.array_equal(one_hot(reverse_complement(seq)), rc_one_hot(one_hot(seq)))
    assert np.array_equal(rc_one_hot(rc_one_hot(one_hot(seq))), one_hot(seq))


def test_reverse_complement_strings() -> None:
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgRYKMBVDHSW") == "WSDHBVKMRYcgt"
    assert reverse_complement(b"AAC") == b"GTT"


@FAST
@given(bases)
def test_rc_char_ids_matches_string_rc(seq: str) -> None:
    ids = encode_chars(seq)
    assert np.array_equal(rc_char_ids(ids), encode_chars(reverse_complement(seq)))
    assert np.array_equal(rc_char_ids(rc_char_ids(ids)), ids)


@FAST
@given(st.lists(st.text(alphabet="ACGTN", max_size=12), min_size=1, max_size=5))
def test_rc_char_ids_padded_batch(seqs: list[str]) -> None:
    ids, mask = encode_batch_chars(seqs, 12)
    lengths = mask.sum(1)
    rc = rc_char_ids(ids, lengths=lengths)
    want, _ = encode_batch_chars([reverse_complement(s) for s in seqs], 12)
    assert np.array_equal(rc, want)  # padding stays at the end
    assert np.array_equal(rc_char_ids(rc, lengths=lengths), ids)
    trc = rc_char_ids(torch.from_numpy(ids), lengths=torch.from_numpy(lengths))
    assert torch.equal(trc, torch.from_numpy(want))
    assert torch.equal(rc_char_ids(torch.from_numpy(ids)), torch.from_numpy(rc_char_ids(ids)))


def test_rc_char_ids_keeps_dtype_and_checks_range() -> None:
    ids = encode_chars("ACGT", dtype=np.uint8)
    assert rc_char_ids(ids).dtype == np.uint8
    assert rc_char_ids(torch.tensor([7, PAD_ID], dtype=torch.int32)).dtype == torch.int32
    with pytest.raises(ValueError):
        rc_char_ids(np.array([13]))


@FAST
@given(st.text(alphabet="ACGTN", max_size=60), st.integers(1, 6))
def test_rc_kmer_ids_overlapping(seq: str, k: int) -> None:
    vocab = KmerVocab(k)
    ids = encode_kmers(seq, k)
    rc = rc_kmer_ids(ids, vocab)
    assert np.array_equal(rc, encode_kmers(reverse_complement(seq), k))
    assert np.array_equal(rc_kmer_ids(rc, k), ids)
    assert np.array_equal(rc_encode_kmers(seq, k), rc)


@FAST
@given(st.text(alphabet="ACGT", max_size=60), st.integers(1, 6))
def test_rc_kmer_ids_nonoverlapping(seq: str, k: int) -> None:
    ids = encode_kmers(seq, k, stride=k)
    rc = rc_kmer_ids(ids, k, k)
    assert np.array_equal(rc_kmer_ids(rc, k, k), ids)
    covered = seq[: len(ids) * k]
    assert np.array_equal(rc, encode_kmers(reverse_complement(covered), k, stride=k))
    if len(seq) % k == 0:
        assert np.array_equal(rc, rc_encode_kmers(seq, k, stride=k))


def test_rc_kmer_ids_rejects_phase_shift_and_pads() -> None:
    with pytest.raises(ValueError, match="rc_encode_kmers"):
        rc_kmer_ids(encode_kmers("ACGTACG", 3, stride=3), 3, 3, seq_length=7)
    rc_kmer_ids(encode_kmers("ACGTACGTA", 3, stride=3), 3, 3, seq_length=9)
    ids = torch.tensor([[11, 32, 0], [5, 0, 0]])
    rc = rc_kmer_ids(ids, 3, lengths=torch.tensor([2, 1]))
    vocab = KmerVocab(3)
    assert [vocab.token_to_kmer(t) for t in rc[0].tolist()] == ["ACG", "CGT", "[PAD]"]
    assert rc[1].tolist() == [vocab.kmer_to_token("TTT"), 0, 0]


def test_rc_one_hot_batched_and_padded() -> None:
    seqs = ["ACGTT", "GA"]
    x = np.zeros((2, 5, 4), np.float32)
    x[0] = one_hot(seqs[0])
    x[1, :2] = one_hot(seqs[1])
    rc = rc_one_hot(x, lengths=[5, 2])
    assert np.array_equal(rc[0], one_hot(reverse_complement(seqs[0])))
    assert np.array_equal(rc[1, :2], one_hot("TC")) and rc[1, 2:].sum() == 0
    assert rc.flags.c_contiguous
    t = rc_one_hot(torch.from_numpy(x), lengths=torch.tensor([5, 2]))
    assert torch.equal(t, torch.from_numpy(rc))
    assert torch.equal(rc_one_hot(rc_one_hot(torch.from_numpy(x))), torch.from_numpy(x))
