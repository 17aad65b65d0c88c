"""JASPAR motif scanning: the bundled matrices, their log-odds, and best-match scores on both strands."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from dnaseq_cli.encode.motifs import Motif, best_score, log_odds, motif_set, read_jaspar
from dnaseq_cli.encode.tokens import encode_batch_chars
from dnaseq_cli.errors import InputError
from dnaseq_cli.models import checkpoint, factory
from dnaseq_cli.models.motif_scan import MotifScanner
from dnaseq_cli.models.rc import complement_ids_for, reverse_complement_ids

COMPLEMENT = str.maketrans("ACGT", "TGCA")


@pytest.fixture(scope="module")
def jaspar() -> list[Motif]:
    return motif_set("jaspar2024_vertebrates")


def ids_and_mask(seqs: list[str], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    chars, _ = encode_batch_chars(seqs, length)
    ids = torch.as_tensor(chars)
    return ids, ids != 4


def consensus(motif: Motif) -> str:
    return "".join("ACGT"[i] for i in motif.counts.argmax(0))


def reference_scan(seq: str, motif: Motif) -> float:
    """Best log-odds of any placement on either strand, columns off the sequence or on N adding 0
    (the scanner's zero padding), over the best possible score."""
    weights = log_odds(motif.counts)
    best = -np.inf
    for strand in (seq, seq.translate(COMPLEMENT)[::-1]):
        for start in range(-motif.width + 1, len(strand)):
            total = 0.0
            for j in range(motif.width):
                p = start + j
                if 0 <= p < len(strand) and strand[p] in "ACGT":
                    total += weights["ACGT".index(strand[p]), j]
            best = max(best, total)
    return best / best_score(weights)


def test_bundled_jaspar_set_is_read_whole(jaspar):
    assert len(jaspar) == 879
    assert len({m.id for m in jaspar}) == 879
    runx1 = next(m for m in jaspar if m.id == "MA0002.3")
    assert runx1.name == "Runx1" and runx1.width == 9
    assert runx1.counts[:, 0].tolist() == [123, 1072, 149, 656]  # A C G T of column 1


def test_log_odds_spreads_the_pseudocount_over_the_bases():
    counts = np.array([[8.0], [0.0], [0.0], [0.0]])
    weights = log_odds(counts, pseudocount=0.8, background=0.25)
    assert weights[0, 0] == pytest.approx(np.log2((8 + 0.2) / 8.8 / 0.25))
    assert weights[1, 0] == pytest.approx(np.log2(0.2 / 8.8 / 0.25))
    assert best_score(weights) == pytest.approx(weights[0, 0])


def test_scores_match_a_plain_python_scan_with_n_and_padding(jaspar):
    motifs = [jaspar[0], jaspar[100], jaspar[500], max(jaspar, key=lambda m: m.width)]
    scanner = MotifScanner(motifs)
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 60)), "ACGTNNNNGGATTACA", "TTGACN"]
    ids, mask = ids_and_mask(seqs, 64)  # right-padded
    scores = scanner(ids, mask).numpy()
    order = {m.id: i for i, m in enumerate(motifs)}
    for row, seq in zip(scores, seqs, strict=True):
        for column, motif_id in enumerate(scanner.motif_ids):
            expected = reference_scan(seq, motifs[order[motif_id]])
            assert row[column] == pytest.approx(expected, abs=1e-5), (seq, motif_id)


def test_a_consensus_site_scores_one_on_either_strand(jaspar):
    motif = next(m for m in jaspar if m.id == "MA0002.3")
    site = consensus(motif)
    flank = "AT" * 20
    scanner = MotifScanner([motif])
    for seq in (flank + site + flank, flank + site.translate(COMPLEMENT)[::-1] + flank):
        ids, mask = ids_and_mask([seq])
        assert scanner(ids, mask).item() == pytest.approx(1.0, abs=1e-6)
    ids, mask = ids_and_mask(["N" * 30])
    assert scanner(ids, mask).item() == 0.0


def test_kmer_backbone_with_motifs_is_strand_symmetric_and_reloads(tmp_path):
    torch.manual_seed(0)
    spec = factory.model_spec("kmer", "tiny", {"motifs": "jaspar2024_vertebrates"})
    model = factory.build_classifier(spec, 2)
    ids, mask = ids_and_mask(["ACGTTGCAAGGCTTAGGAC" * 5, "GATTACA" * 9 + "NN"])
    model.train()
    model(ids, mask)  # training statistics for the standardiser
    model.eval()
    rc_ids, rc_mask = reverse_complement_ids(ids, mask, complement_ids_for("char"))
    profile = model.backbone.profile(ids, mask)
    assert profile.shape == (2, 4 + 16 + 64 + 256 + 879)
    assert torch.allclose(profile, model.backbone.profile(rc_ids, rc_mask), atol=1e-6)
    checkpoint.save_checkpoint(model, tmp_path / "ckpt", data={"task": "binary"})
    again = checkpoint.load_checkpoint(tmp_path / "ckpt")
    assert torch.equal(model(ids, mask), again(ids, mask))
    assert again.backbone.config_dict()["motifs"] == "jaspar2024_vertebrates"


def test_unknown_motif_set_is_a_usage_error():
    with pytest.raises(InputError, match="unknown motif set 'hocomoco'"):
        factory.build_backbone(factory.model_spec("kmer", "tiny", {"motifs": "hocomoco"}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">MA1\tX\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 2 ]\n", "A, C, G and T rows"),
        (">MA1\tX\nA [ 1 2 ]\nC [ 1 ]\nG [ 1 2 ]\nT [ 1 2 ]\n", "A, C, G and T rows"),
        (">MA1\tX\nA [ 1 x ]\nC [ 1 2 ]\nG [ 1 2 ]\nT [ 1 2 ]\n", "line 2: counts must be numbers"),
        ("A [ 1 2 ]\n", "line 1: expected"),
        ("", "no motifs"),
    ],
)
def test_bad_jaspar_files_name_the_file_and_record(tmp_path, text, message):
    path = tmp_path / "bad.jaspar.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    with pytest.raises(InputError, match=message) as error:
        read_jaspar(path)
    assert str(path) in str(error.value)


def test_jaspar_rows_with_tabs_and_tight_brackets_are_read(tmp_path):
    path = tmp_path / "one.jaspar"
    path.write_text(">MA9.1 Foo\nA\t[1 2]\nC  [ 3 4 ]\nG [5 6 ]\nT[7 8]\n")
    (motif,) = read_jaspar(path)
    assert (motif.id, motif.name) == ("MA9.1", "Foo")
    assert motif.counts.tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]
