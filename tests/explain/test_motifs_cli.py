"""Motif p-values against brute force; the command's outputs (TSV, npz, PNG, hits, refusals)."""

import itertools

import numpy as np
import pandas as pd
from dnaseq_runner import run_in_process as run_cli

from dnaseq_cli.explain.motifs import SCALE, MotifScanner, score_survival

from .conftest import EXAMPLES, WINDOW


def test_dp_pvalues_match_brute_force_on_a_small_matrix():
    counts = np.array([[8, 1, 0, 3], [1, 6, 1, 3], [1, 2, 9, 0], [0, 1, 0, 4]], float)  # [4, w]
    scanner = MotifScanner([("M1", "toy", counts)])
    matrix = scanner.matrices[0]
    scores = np.array([
        matrix.integer[np.arange(4), list(word)].sum()
        for word in itertools.product(range(4), repeat=4)
    ])  # fmt: skip
    lowest, survival = score_survival(matrix.integer)
    for s in np.unique(scores):
        assert np.isclose(survival[s - lowest], (scores >= s).mean(), rtol=0, atol=1e-12)
    # the reported p-value of every 4-mer is the exact share of 4-mers scoring at least as high
    for word in ("ACGT", "AAGT", "TTTT"):
        codes = ["ACGT".index(c) for c in word]
        integer = matrix.integer[np.arange(4), codes].sum()
        assert np.isclose(matrix.pvalue(np.array([integer]))[0], (scores >= integer).mean())
    hits = scanner.scan("TTACGTTT", pvalue=1.0 / 256)
    # ACGT is its own reverse complement: the best word hits on both strands, nothing else does
    assert sorted((h.start, h.strand) for h in hits) == [(2, "+"), (2, "-")]
    assert abs(hits[0].score - matrix.weights[np.arange(4), [0, 1, 2, 3]].sum()) < 1e-12
    minus = scanner.scan("AAGGCTAA", pvalue=1.0 / 256)  # GGCT is the reverse complement of AGCC
    assert all(h.strand == "-" for h in minus) or not minus
    assert SCALE == 100


def test_bundled_jaspar_finds_a_planted_ctcf_site():
    scanner = MotifScanner.bundled()
    assert len(scanner.matrices) == 879
    background = "".join(np.random.default_rng(0).choice(list("ACGT"), 200))
    core = "CCGCGNGGNGGCAG".replace("N", "A")  # CTCF consensus (MA0139)
    seq = background[:90] + "TGGCCACCAGGGGGCGCTA" + background[90:]
    names = {h.motif_name.upper() for h in scanner.scan(seq, 1e-5)}
    assert "CTCF" in names, core


def _fasta(tmp_path, n=2):
    lines = open(EXAMPLES / "enhancers_cohn.fa").read().split(">")[1 : n + 1]
    out = tmp_path / "x.fa"
    records = []
    for chunk in lines:
        head, *body = chunk.strip().splitlines()
        records.append(f">{head.split()[0]}\n{''.join(body)[:WINDOW]}\n")
    out.write_text("".join(records))
    return out


def test_explain_writes_tsv_npz_plots_and_hits(cnn_model, tmp_path):
    fasta = _fasta(tmp_path)
    out, npz, plots = tmp_path / "o.tsv", tmp_path / "o.npz", tmp_path / "plots"
    hits, bed = tmp_path / "h.tsv", tmp_path / "h.bed"
    result = run_cli(
        "explain", fasta, "-m", cnn_model, "--method", "integrated-gradients", "--ig-steps", "8",
        "-o", out, "--npz", npz, "--plot-dir", plots, "--motif-hits", hits, "--motif-bed", bed,
        "--motif-pvalue", "1e-3", "--top-fraction", "0.3", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["name", "pos", "ref", "A", "C", "G", "T", "attribution"]
    assert len(table) == 2 * WINDOW and table.pos.min() == 1 and table.pos.max() == WINDOW
    arrays = np.load(npz)
    assert arrays["ism_delta"].shape == (2, WINDOW, 4) and arrays["attribution"].shape == (
        2,
        WINDOW,
    )
    assert np.allclose(arrays["attribution"][0], table.attribution[:WINDOW], rtol=1e-5, atol=1e-6)
    assert sorted(p.name for p in plots.glob("*.png")) == sorted(
        f"{n}.png" for n in table.name.unique()
    )
    hit_table = pd.read_csv(hits, sep="\t")
    assert {"motif_id", "motif", "start", "end", "strand", "pvalue"} <= set(hit_table.columns)
    assert (hit_table.pvalue <= 1e-3).all()
    assert len(bed.read_text().splitlines()) == len(hit_table)


def test_long_records_need_per_window_or_region(cnn_model, tmp_path):
    seq = "".join(np.random.default_rng(5).choice(list("ACGT"), 3 * WINDOW))
    fasta = tmp_path / "long.fa"
    fasta.write_text(f">long\n{seq}\n")
    result = run_cli("explain", fasta, "-m", cnn_model, "-o", tmp_path / "o.tsv")
    assert result.returncode == 2 and "--per-window" in result.stderr
    result = run_cli(
        "explain", fasta, "-m", cnn_model, "--region", "201-230", "-o", tmp_path / "r.tsv", "-q"
    )
    assert result.returncode == 0, result.stderr
    region = pd.read_csv(tmp_path / "r.tsv", sep="\t")
    assert region.pos.tolist() == list(range(201, 231))
    assert "".join(region.ref) == seq[200:230]
    result = run_cli(
        "explain", fasta, "-m", cnn_model, "--per-window", "-o", tmp_path / "w.tsv", "-q"
    )
    assert result.returncode == 0, result.stderr
    tiles = pd.read_csv(tmp_path / "w.tsv", sep="\t")
    assert set(tiles.pos) == set(range(1, 3 * WINDOW + 1)) and "window" in tiles.columns


def test_output_that_is_an_input_is_refused_before_work(cnn_model, tmp_path):
    fasta = _fasta(tmp_path, 1)
    before = fasta.read_text()
    result = run_cli("explain", fasta, "-m", cnn_model, "--npz", fasta)
    assert result.returncode == 2 and "refusing to overwrite" in result.stderr
    assert fasta.read_text() == before
    result = run_cli("explain", fasta, "-m", cnn_model, "--method", "bogus")
    assert result.returncode == 2 and "--method" in result.stderr


def test_picture_names_the_strongest_hits_that_do_not_crowd_each_other():
    from dnaseq_cli.explain.plots import labelled_hits

    hits = [(100, 110, "A", "+"), (102, 112, "B", "-"), (130, 140, "C", "+"), (95, 105, "D", "+")]
    assert [h[2] for h in labelled_hits(hits, spacing=8)] == ["A", "C"]
    assert [h[2] for h in labelled_hits(hits, spacing=1)] == ["A", "B", "C", "D"]
    many = [(i * 20, i * 20 + 9, f"m{i}", "+") for i in range(30)]
    assert len(labelled_hits(many, spacing=8)) == 12
