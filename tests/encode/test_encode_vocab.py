"""The vocabularies must match the Caduceus tokenizer and the documented k-mer numbering exactly."""

from __future__ import annotations

import numpy as np
import pytest

from dnaseq_cli.encode.vocab import (
    CHAR_COMPLEMENT_IDS,
    CHAR_LUT,
    CHAR_VOCAB,
    CLS_ID,
    MASK_ID,
    N_ID,
    PAD_ID,
    SEP_ID,
    UNK_ID,
    KmerVocab,
)

CADUCEUS = {
    "[CLS]": 0,
    "[SEP]": 1,
    "[BOS]": 2,
    "[MASK]": 3,
    "[PAD]": 4,
    "[RESERVED]": 5,
    "[UNK]": 6,
    "A": 7,
    "C": 8,
    "G": 9,
    "T": 10,
    "N": 11,
}


def test_char_vocab_is_caduceus() -> None:
    assert CHAR_VOCAB == CADUCEUS
    assert (CLS_ID, SEP_ID, MASK_ID, PAD_ID, UNK_ID, N_ID) == (0, 1, 3, 4, 6, 11)


def test_char_lut_rules() -> None:
    for text, token in [("ACGT", [7, 8, 9, 10]), ("acgt", [7, 8, 9, 10]), ("Uu", [10, 10])]:
        assert CHAR_LUT[np.frombuffer(text.encode(), np.uint8)].tolist() == token
    iupac = "NRYKMSWBDHVnrykmswbdhv"
    assert set(CHAR_LUT[np.frombuffer(iupac.encode(), np.uint8)].tolist()) == {N_ID}
    assert set(CHAR_LUT[np.frombuffer(b"-.X*0 E", np.uint8)].tolist()) == {UNK_ID}
    assert not CHAR_LUT.flags.writeable


def test_char_complement() -> None:
    assert CHAR_COMPLEMENT_IDS[[7, 8, 9, 10, 11]].tolist() == [10, 9, 8, 7, 11]
    assert CHAR_COMPLEMENT_IDS[:7].tolist() == list(range(7))
    assert (CHAR_COMPLEMENT_IDS[CHAR_COMPLEMENT_IDS] == np.arange(12)).all()


@pytest.mark.parametrize("k", range(1, 7))
def test_kmer_vocab_numbering(k: int) -> None:
    vocab = KmerVocab(k)
    assert vocab.size == 5 + 4**k
    assert vocab.dtype == (np.uint8 if k <= 3 else np.uint16)
    assert vocab.kmer_to_token("A" * k) == 5
    assert vocab.kmer_to_token("T" * k) == vocab.size - 1
    assert vocab.kmer_to_token("C" + "A" * (k - 1)) == 5 + 4 ** (
        k - 1
    )  # first base most significant
    assert vocab.kmer_to_token("N" * k) == vocab.unk_id == 2
    assert vocab.kmer_to_token("a" * k) == 5
    for token in (5, vocab.size // 2, vocab.size - 1):
        assert vocab.kmer_to_token(vocab.token_to_kmer(token)) == token


def test_kmer_specials_and_errors() -> None:
    vocab = KmerVocab(3)
    assert [vocab.token_to_kmer(i) for i in range(5)] == [
        "[PAD]",
        "[MASK]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
    ]
    assert (vocab.pad_id, vocab.mask_id, vocab.unk_id, vocab.cls_id, vocab.sep_id) == (
        0,
        1,
        2,
        3,
        4,
    )
    assert vocab.kmer_to_token("[SEP]") == 4
    assert vocab.kmer_to_token("ACU") == vocab.kmer_to_token("ACT")
    assert vocab.kmer_to_token("ARG") == 2
    with pytest.raises(ValueError):
        vocab.kmer_to_token("ACGT")
    with pytest.raises(ValueError):
        vocab.token_to_kmer(vocab.size)
    for bad_k in (0, 7, 2.0):
        with pytest.raises(ValueError):
            KmerVocab(bad_k)  # type: ignore[arg-type]
    assert KmerVocab(3) == vocab and hash(KmerVocab(3)) == hash(vocab) and KmerVocab(4) != vocab


@pytest.mark.parametrize("k", range(1, 7))
def test_kmer_complement_ids(k: int) -> None:
    vocab = KmerVocab(k)
    comp = vocab.complement_ids
    assert comp.shape == (vocab.size,)
    assert comp[:5].tolist() == [0, 1, 2, 3, 4]
    assert (comp[comp] == np.arange(vocab.size)).all()
    rng = np.random.default_rng(k)
    table = str.maketrans("ACGT", "TGCA")
    for token in rng.integers(5, vocab.size, 20):
        kmer = vocab.token_to_kmer(int(token))
        assert vocab.token_to_kmer(int(comp[token])) == kmer.translate(table)[::-1]
