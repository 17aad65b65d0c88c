"""The encode() dispatcher and token dtypes that preprocess relies on."""

from __future__ import annotations

import numpy as np
import pytest

import dnaseq_cli.encode as enc
from dnaseq_cli.errors import InputError


def test_registry_names_and_dtypes() -> None:
    for name in ("char", "kmer3", "kmer6", "onehot"):
        assert name in enc.ENCODINGS
    assert enc.token_dtype("char") == np.uint8
    assert enc.token_dtype("kmer3") == np.uint8
    assert enc.token_dtype("kmer4") == np.uint16 and enc.token_dtype("kmer6") == np.uint16
    assert enc.token_dtype("onehot") == np.uint8
    assert enc.ENCODINGS["kmer6"].vocab_size == 5 + 4**6
    with pytest.raises(InputError, match="unknown encoding"):
        enc.token_dtype("kmer9")


def test_encode_dispatch() -> None:
    seq = "ACGTNACGTA"
    chars = enc.encode(seq, "char")
    assert chars.dtype == np.uint8 and chars.tolist() == enc.encode_chars(seq).tolist()
    k6 = enc.encode(seq, "kmer6")
    assert k6.dtype == np.uint16 and len(k6) == 5
    assert len(enc.encode(seq, "kmer3", stride=3)) == 3
    assert enc.encode(seq, "onehot").shape == (10, 4)
    assert enc.encode_tokens(seq, "onehot").tolist() == chars.tolist()


def test_there_is_no_graph_encoding() -> None:
    """The GNN backbone reads kmer3 ids and builds its graph itself; no command ever stored graphs
    (its per-sequence oracle is tests/models/graph_oracle.py)."""
    assert "graph" not in enc.ENCODINGS
    with pytest.raises(InputError, match="unknown encoding 'graph'") as caught:
        enc.encode("ACGTACGT", "graph")
    assert caught.value.exit_code == 2
    assert not hasattr(enc, "sequence_graph")
