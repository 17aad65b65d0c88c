"""ISM is exactly predict(mutant) - predict(window), strand-symmetric, and vep's delta."""

import numpy as np
import pandas as pd
import pytest
from dnaseq_runner import run_in_process as run_cli

from dnaseq_cli.explain.ism import BASES, ism_windows
from dnaseq_cli.predict.model import WindowScorer

from .conftest import WINDOW

COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def _random(n: int, seed: int = 0) -> str:
    return "".join(np.random.default_rng(seed).choice(list(BASES), n))


@pytest.fixture(scope="module")
def scorer(cnn_model):
    return WindowScorer(cnn_model, device="cpu", batch_size=97)


def _ism(scorer, seq, positions=None):
    ids = scorer.encode([seq])
    rows = np.arange(len(seq)) if positions is None else positions
    return ism_windows(scorer, ids, [rows], 1)[0]


def test_ism_is_predict_of_the_mutant_minus_predict_of_the_window(scorer):
    seq = _random(WINDOW)
    result = _ism(scorer, seq)
    reference = scorer.score([seq])[0, 1]
    mutants, where = [], []
    for pos in range(0, WINDOW, 7):
        for b, base in enumerate(BASES):
            if base != seq[pos]:
                mutants.append(seq[:pos] + base + seq[pos + 1 :])
                where.append((pos, b))
    scores = scorer.score(mutants)[:, 1]
    for (pos, b), score in zip(where, scores, strict=True):
        assert abs(result.delta[pos, b] - (score - reference)) <= 1e-6
    assert result.delta[np.arange(WINDOW), [BASES.index(c) for c in seq]].tolist() == [0] * WINDOW
    assert abs(result.reference - reference) <= 1e-6


def test_ism_of_the_reverse_complement_is_the_mirrored_complemented_map(scorer):
    seq = _random(WINDOW, 1)
    rc = "".join(COMPLEMENT[c] for c in reversed(seq))
    forward, reverse = _ism(scorer, seq).delta, _ism(scorer, rc).delta
    mirrored = reverse[::-1][:, [BASES.index(COMPLEMENT[b]) for b in BASES]]
    assert np.allclose(forward, mirrored, atol=1e-6)


def test_short_record_is_padded_and_only_its_bases_are_mutated(scorer):
    seq = _random(50, 2)
    padded = seq + "N" * (WINDOW - 50)
    valid = np.zeros(WINDOW, bool)
    valid[:50] = True
    ids = scorer.encode([padded], valid[None])
    result = ism_windows(scorer, ids, [np.arange(50)], 1)[0]
    assert np.isfinite(result.delta[:50]).all() and np.isnan(result.delta[50:]).all()
    mutant = "A" if seq[10] != "A" else "C"
    expected = scorer.score([seq[:10] + mutant + seq[11:]])[0, 1] - scorer.score([seq])[0, 1]
    assert abs(result.delta[10, BASES.index(mutant)] - expected) <= 1e-6


def test_ism_at_a_snv_equals_vep_delta_on_the_same_window(cnn_model, tmp_path):
    contig = _random(1000, 3)
    ref = tmp_path / "ref.fa"
    ref.write_text(">chr1\n" + "\n".join(contig[i : i + 60] for i in range(0, 1000, 60)) + "\n")
    pos = 437  # 1-based
    alt = "G" if contig[pos - 1] != "G" else "T"
    vcf = tmp_path / "v.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t{pos}\tsnv\t{contig[pos - 1]}\t{alt}\t.\tPASS\t.\n"
    )
    result = run_cli("vep", vcf, "-r", ref, "-m", cnn_model, "-o", tmp_path / "vep.tsv", "-q")
    assert result.returncode == 0, result.stderr
    delta = pd.read_csv(tmp_path / "vep.tsv", sep="\t").delta[0]
    start = (pos - 1) - WINDOW // 2  # vep centres the window on the variant (windows/variants.py)
    bed = tmp_path / "w.bed"
    bed.write_text(f"chr1\t{start}\t{start + WINDOW}\twin\n")
    out = tmp_path / "explain.tsv"
    result = run_cli("explain", bed, "-r", ref, "-m", cnn_model, "-o", out, "-q")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, sep="\t")
    row = table[table.pos == pos].iloc[0]
    assert row.ref == contig[pos - 1] and row.chrom == "chr1"
    assert abs(row[alt] - delta) <= 1e-6
    assert len(table) == WINDOW and table.pos.min() == start + 1


def test_ensemble_ism_goes_through_the_ensemble():
    """The bundled model (an ensemble with a k-mer member) explains by ISM."""
    seq = _random(500, 4)
    scorer = WindowScorer(None, device="cpu", batch_size=512)
    result = _ism(scorer, seq, np.arange(200, 205))
    mutant = "A" if seq[201] != "A" else "C"
    expected = scorer.score([seq[:201] + mutant + seq[202:]])[0, 1] - scorer.score([seq])[0, 1]
    assert abs(result.delta[201, BASES.index(mutant)] - expected) <= 1e-6
    assert np.isnan(result.delta[:200]).all()
