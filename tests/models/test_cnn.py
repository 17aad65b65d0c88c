"""CNN baseline, and the shared RC helpers of dnaseq_cli.models.rc."""

from __future__ import annotations

import pytest
import torch

from dnaseq_cli.encode.reverse_complement import reverse_complement
from dnaseq_cli.encode.tokens import encode_batch_chars, encode_batch_kmers
from dnaseq_cli.models.cnn import CNNBaseline
from dnaseq_cli.models.heads import SequenceClassifier
from dnaseq_cli.models.layers import masked_max_pool
from dnaseq_cli.models.rc import (
    complement_ids_for,
    reverse_complement_ids,
    special_ids_for,
)

SEQS = ["ACGTACGGTTCAGGATNNACGTTAGCAT", "GGCATTACAGCTA", "TTTAACCGGA" * 5, ""]


def batch(seqs: list[str], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask = encode_batch_chars(seqs, length)
    return torch.from_numpy(ids), torch.from_numpy(mask)


# ----------------------------------------------------------------------------- rc helpers


def test_complement_tables() -> None:
    char = complement_ids_for("char")
    assert char[7:11].tolist() == [10, 9, 8, 7] and char[[0, 1, 4, 11]].tolist() == [0, 1, 4, 11]
    kmer = complement_ids_for("kmer2")
    ac, gt = 5 + 1, 5 + 11  # AC <-> GT
    assert kmer[ac] == gt and kmer[gt] == ac and kmer[:5].tolist() == list(range(5))
    assert torch.equal(kmer[kmer], torch.arange(5 + 16))
    assert special_ids_for("kmer6") == (0, 3, 4) and special_ids_for("char") == (4, 0, 1)
    with pytest.raises(ValueError):
        complement_ids_for("onehot")


@pytest.mark.parametrize("encoding", ["char", "kmer3"])
def test_reverse_complement_ids_matches_strings_and_is_an_involution(encoding: str) -> None:
    def enc(seqs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if encoding == "char":
            ids, mask = encode_batch_chars(seqs, 60)
        else:
            ids, mask = encode_batch_kmers(seqs, 3, 60)
        return torch.from_numpy(ids), torch.from_numpy(mask)

    ids, mask = enc(SEQS + [""])
    table = complement_ids_for(encoding)
    rc, rc_mask = reverse_complement_ids(ids, mask, table)
    want, want_mask = enc([reverse_complement(s) for s in SEQS] + [""])
    assert torch.equal(rc, want) and torch.equal(rc_mask, want_mask)
    assert torch.equal(reverse_complement_ids(rc, rc_mask, table)[0], ids)


def test_reverse_complement_ids_keeps_cls_and_sep() -> None:
    table = complement_ids_for("char")
    ids = torch.tensor([[0, 7, 7, 8, 1, 4], [0, 9, 1, 4, 4, 4], [7, 8, 1, 4, 4, 4]])
    mask = ids != 4
    rc, _ = reverse_complement_ids(ids, mask, table, cls_id=0, sep_id=1)
    assert rc.tolist() == [[0, 9, 10, 10, 1, 4], [0, 8, 1, 4, 4, 4], [9, 10, 1, 4, 4, 4]]
    assert torch.equal(reverse_complement_ids(rc, mask, table, cls_id=0, sep_id=1)[0], ids)
    lone = torch.tensor([[0, 4], [1, 4]])  # a lone [CLS] / [SEP] stays put
    assert torch.equal(reverse_complement_ids(lone, lone != 4, table, cls_id=0, sep_id=1)[0], lone)


def test_masked_max_pool_ignores_padding() -> None:
    x = torch.tensor([[[1.0, -5.0, -3.0, 9.0, 9.0]]])
    mask = torch.tensor([[True, True, True, False, False]])
    pooled, pmask = masked_max_pool(x, mask, 2)
    assert pooled.tolist() == [[[1.0, -3.0, 0.0]]] and pmask.tolist() == [[True, True, False]]


# ----------------------------------------------------------------------------- CNN


def tiny(**kw: object) -> CNNBaseline:
    torch.manual_seed(0)
    model = CNNBaseline(**kw)
    with torch.no_grad():  # non-trivial running stats, so eval-mode BatchNorm is exercised
        for norm in model.norms:
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("opts", [{}, {"kernel_size": 5, "n_layers": 2}, {"pool": 3}])
def test_shapes_padding_and_rc(opts: dict) -> None:
    model = tiny(**opts)
    ids, mask = batch(SEQS)
    hidden, valid = model(ids, mask)
    factor = opts.get("pool", 2) ** opts.get("n_layers", 3)
    out_len = -(-ids.shape[1] // factor)
    assert hidden.shape == (4, out_len, model.d_output) and valid.shape == (4, out_len)
    assert valid.sum(1).tolist() == (-(-mask.sum(1) // factor)).tolist()
    assert torch.isfinite(hidden).all() and not hidden[~valid].any()
    clf = SequenceClassifier.create(model, 2, conjoin_train=True).eval()
    out = clf(ids, mask)
    ids_p, mask_p = batch(SEQS, length=ids.shape[1] + 21)
    torch.testing.assert_close(clf(ids_p, mask_p), out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model(ids_p, mask_p)[0][:, :out_len], hidden, atol=1e-5, rtol=1e-5)
    rc_ids, rc_mask = batch([reverse_complement(s) for s in SEQS])
    torch.testing.assert_close(clf(rc_ids, rc_mask), out, atol=1e-5, rtol=1e-5)


def test_empty_and_all_padding_inputs() -> None:
    model = tiny()
    for ids in (torch.zeros(2, 0, dtype=torch.long), torch.full((2, 9), 4)):
        hidden, valid = model(ids)
        assert hidden.shape[0] == 2 and not valid.any() and torch.isfinite(hidden).all()


def test_tiny_model_learns_motif(fit_motif) -> None:
    torch.manual_seed(0)
    clf = SequenceClassifier.create(CNNBaseline(n_filters=32), 2, conjoin_train=True)
    losses, acc = fit_motif(clf, batch, lr=1e-2, max_steps=300)
    assert sum(losses[-10:]) < 0.6 * sum(losses[:10])
    assert acc > 0.85, acc
