"""Char and k-mer tokens: values, edge cases, and encode/decode round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dnaseq_cli.encode.tokens import (
    covered_length,
    decode_chars,
    decode_kmers,
    encode_batch_chars,
    encode_batch_kmers,
    encode_chars,
    encode_kmers,
    num_kmer_tokens,
)
from dnaseq_cli.encode.vocab import PAD_ID, UNK_ID, KmerVocab

FAST = settings(deadline=None, max_examples=60)
acgt = st.text(alphabet="ACGT", max_size=80)
acgtn = st.text(alphabet="ACGTN", max_size=80)
messy = st.text(alphabet="ACGTNacgtnRYu-X", max_size=60)


def naive_kmers(seq: str, k: int, stride: int) -> list[int]:
    """Reference implementation: one k-mer at a time."""
    vocab = KmerVocab(k)
    return [vocab.kmer_to_token(seq[i : i + k]) for i in range(0, len(seq) - k + 1, stride)]


def test_encode_chars_values_and_inputs() -> None:
    expected = [7, 8, 9, 10, 11, 7, 10, 11, 6, 6]
    assert encode_chars("ACGTNaUR-X").tolist() == expected
    assert encode_chars(b"ACGTNaUR-X").tolist() == expected
    assert encode_chars(bytearray(b"ACGTNaUR-X")).tolist() == expected
    assert encode_chars(np.frombuffer(b"ACGTNaUR-X", np.uint8)).tolist() == expected
    assert encode_chars("ACGT").dtype == np.int64
    small = encode_chars("ACGT", dtype=np.uint8)
    assert small.dtype == np.uint8 and small.flags.writeable
    assert encode_chars("").shape == (0,)
    assert encode_chars("AéC").tolist() == [7, UNK_ID, 8]  # non-ASCII keeps positions
    with pytest.raises(TypeError):
        encode_chars(123)  # type: ignore[arg-type]


def test_decode_chars_rules() -> None:
    assert decode_chars([0, 7, 8, 3, 6, 11, 4, 4]) == "ACNNN"
    assert decode_chars(torch.tensor([9, 10])) == "GT"
    with pytest.raises(ValueError):
        decode_chars([12])


@FAST
@given(acgtn)
def test_char_round_trip(seq: str) -> None:
    assert decode_chars(encode_chars(seq)) == seq
    assert decode_chars(encode_chars(seq.lower())) == seq


@pytest.mark.parametrize("k", range(1, 7))
@pytest.mark.parametrize("stride_of", ["one", "two", "k", "k+1"])
def test_encode_kmers_matches_naive(k: int, stride_of: str) -> None:
    stride = {"one": 1, "two": 2, "k": k, "k+1": k + 1}[stride_of]
    rng = np.random.default_rng(k * 10 + stride)
    for alphabet in ("ACGT", "ACGTNacgtRX"):
        for length in (0, k - 1, k, k + 1, 37):
            seq = "".join(rng.choice(list(alphabet), length))
            got = encode_kmers(seq, k, stride=stride)
            assert got.dtype == np.int64
            assert got.tolist() == naive_kmers(seq, k, stride)
            assert len(got) == num_kmer_tokens(length, k, stride)
            compact = encode_kmers(seq, k, stride=stride, dtype=KmerVocab(k).dtype)
            assert compact.dtype == KmerVocab(k).dtype and compact.tolist() == got.tolist()


def test_encode_kmers_examples_and_errors() -> None:
    assert encode_kmers("AAAC", 3).tolist() == [5, 6]
    assert encode_kmers("ACGTNA", 2).tolist() == [5 + 1, 5 + 6, 5 + 11, 2, 2]
    assert encode_kmers("ACGTAC", 3, stride=3).tolist() == [5 + 6, 5 + 49]
    with pytest.raises(ValueError):
        encode_kmers("ACGT", 7)
    with pytest.raises(ValueError):
        encode_kmers("ACGT", 3, stride=0)
    with pytest.raises(ValueError):
        encode_kmers("ACGT", 4, dtype=np.uint8)  # 4-mer ids need uint16


@FAST
@given(acgt, st.integers(1, 6), st.sampled_from(["overlap", "nonoverlap"]))
def test_kmer_round_trip(seq: str, k: int, mode: str) -> None:
    stride = 1 if mode == "overlap" else k
    ids = encode_kmers(seq, k, stride=stride)
    covered = covered_length(len(ids), k, stride)
    assert decode_kmers(ids, k, stride) == seq[:covered]
    if len(seq) >= k and (stride == 1 or len(seq) % k == 0):
        assert decode_kmers(ids, k, stride) == seq


@FAST
@given(messy, st.integers(1, 6), st.integers(1, 7))
def test_kmer_decode_recovers_known_bases(seq: str, k: int, stride: int) -> None:
    ids = encode_kmers(seq, k, stride=stride)
    decoded = decode_kmers(ids, k, stride)
    assert len(decoded) == covered_length(len(ids), k, stride)
    for got, want in zip(decoded, seq.upper().replace("U", "T"), strict=False):
        assert got == want or got == "N"


def test_decode_kmers_specials() -> None:
    vocab = KmerVocab(3)
    ids = [vocab.cls_id, *encode_kmers("ACGTA", 3).tolist(), vocab.sep_id, vocab.pad_id]
    assert decode_kmers(ids, 3) == "ACGTA"
    assert decode_kmers([5, vocab.mask_id, 5], 3, 3) == "AAANNNAAA"
    assert decode_kmers(torch.tensor([5]), 3) == "AAA"
    with pytest.raises(ValueError):
        decode_kmers([vocab.size], 3)


def test_encode_batch_chars() -> None:
    ids, mask = encode_batch_chars(["ACG", "T", ""], 4)
    assert ids.tolist() == [[7, 8, 9, PAD_ID], [10, PAD_ID, PAD_ID, PAD_ID], [PAD_ID] * 4]
    assert mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    ids, mask = encode_batch_chars(["AC", "GTA"])
    assert ids.shape == (2, 3) and mask.sum() == 5
    with pytest.raises(ValueError):
        encode_batch_chars(["ACGT"], 2)
    ids, mask = encode_batch_chars(["ACGT"], 2, truncate=True, pad_id=0, dtype=np.uint8)
    assert ids.tolist() == [[7, 8]] and ids.dtype == np.uint8 and mask.all()
    ids, mask = encode_batch_chars([])
    assert ids.shape == (0, 0)


def test_encode_batch_kmers() -> None:
    ids, mask = encode_batch_kmers(["ACGT", "AC", "AAAAA"], 3, 3)
    assert ids.tolist() == [[11, 32, 0], [0, 0, 0], [5, 5, 5]]
    assert mask.sum(1).tolist() == [2, 0, 3]


@pytest.mark.parametrize("block", [1, 3, 7])
def test_block_boundaries(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """Encoding runs in cache-sized blocks; tiny blocks exercise every boundary case."""
    import dnaseq_cli.encode.tokens as tokens

    monkeypatch.setattr(tokens, "BLOCK", block)
    rng = np.random.default_rng(block)
    seq = "".join(rng.choice(list("ACGTACGTNa"), 101))
    assert decode_chars(encode_chars(seq)) == seq.upper()
    assert encode_chars(seq, dtype=np.uint8).tolist() == encode_chars(seq).tolist()
    for k in range(1, 7):
        for stride in (1, 2, k):
            assert encode_kmers(seq, k, stride=stride).tolist() == naive_kmers(seq, k, stride)
