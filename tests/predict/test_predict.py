"""`dnaseq predict`: inputs, tiling, flags, strands, outputs and errors."""

import io

import numpy as np
import pandas as pd
import pytest
from dnaseq_runner import run_in_process as run_cli

from dnaseq_cli.errors import InputError
from dnaseq_cli.io.fasta import FastaReference
from dnaseq_cli.io.sequence_utils import reverse_complement
from dnaseq_cli.predict.model import WindowScorer, bundled_model_dir
from dnaseq_cli.predict.sequences import PredictOptions, predict

from .conftest import EXAMPLES, WINDOW, save_model


def _predict(scorer, tmp_path, inputs, **kwargs) -> pd.DataFrame:
    out = tmp_path / "out.tsv"
    predict(scorer, PredictOptions(inputs=inputs, output=str(out), **kwargs))
    return pd.read_csv(out, sep="\t", dtype={"name": str})


@pytest.fixture(scope="module")
def scorer(tiny_model):
    return WindowScorer(tiny_model, device="cpu", batch_size=32)


def _write_fasta(path, records):
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in records))
    return path


def _random_seq(rng, n):
    return "".join(rng.choice(list("ACGT"), n))


def test_fasta_and_table_inputs_give_the_same_scores(scorer, tmp_path):
    fasta = _predict(scorer, tmp_path, [EXAMPLES / "enhancers_cohn.fa"])
    table = _predict(scorer, tmp_path, [EXAMPLES / "enhancers_cohn.tsv"])
    assert len(fasta) == len(table) == 300
    assert list(fasta.name) == list(table.name)
    np.testing.assert_allclose(fasta.score, table.score, rtol=1e-5)
    assert set(fasta.predicted) <= {0, 1}
    assert "label" in table.columns  # a label column is passed through


def test_long_records_are_tiled_and_aggregated(scorer, tmp_path):
    rng = np.random.default_rng(0)
    fasta = _write_fasta(tmp_path / "long.fa", [("long", _random_seq(rng, 3 * WINDOW + 17))])
    record = _predict(scorer, tmp_path, [fasta]).iloc[0]
    windows = _predict(scorer, tmp_path, [fasta], per_window=True)
    # 617 bp: 6 tiles from 0 to 417, the 417-bp gap spread evenly (steps 83/84, <= the stride 100).
    assert record["windows"] == len(windows) == 6
    assert list(windows.start) == [1, 84, 168, 251, 335, 418]
    assert list(windows.end - windows.start + 1) == [WINDOW] * 6
    assert windows.end.iloc[-1] == 3 * WINDOW + 17
    assert list(windows.window) == [
        f"long:{a}-{b}" for a, b in zip(windows.start, windows.end, strict=True)
    ]
    assert record.score_max == pytest.approx(windows.score.max(), rel=1e-5)
    assert record.score_mean == pytest.approx(windows.score.mean(), rel=1e-5)
    assert record.score == record.score_max  # --aggregate max is the default
    by_mean = _predict(scorer, tmp_path, [fasta], aggregate="mean").iloc[0]
    assert by_mean.score == pytest.approx(record.score_mean)


def test_short_and_n_rich_records_are_flagged(scorer, tmp_path):
    rng = np.random.default_rng(1)
    fasta = _write_fasta(
        tmp_path / "flags.fa",
        [("full", _random_seq(rng, WINDOW)), ("short", _random_seq(rng, 50)),
         ("nrich", "N" * 150 + _random_seq(rng, 50))],
    )  # fmt: skip
    table = _predict(scorer, tmp_path, [fasta]).set_index("name")
    assert table.loc["full", "flags"] == "."
    assert table.loc["short", "flags"] == "short"
    assert table.loc["nrich", "flags"] == "n_rich"


def test_padding_changes_nothing_for_short_records(scorer):
    """A short record is scored on its bases only: padded with N or with anything else alike."""
    rng = np.random.default_rng(2)
    seq = _random_seq(rng, 120)
    valid = np.zeros((2, WINDOW), bool)
    valid[:, :120] = True
    scores = scorer.score([seq + "N" * 80, seq + "A" * 80], valid)
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-6)


def test_both_strands_give_the_same_score(scorer, tmp_path):
    rng = np.random.default_rng(3)
    seqs = [_random_seq(rng, WINDOW) for _ in range(5)]
    forward = _predict(scorer, tmp_path, [_write_fasta(tmp_path / "f.fa", enumerate(seqs))])
    reverse = _predict(
        scorer, tmp_path,
        [_write_fasta(tmp_path / "r.fa", enumerate(reverse_complement(s) for s in seqs))],
    )  # fmt: skip
    np.testing.assert_allclose(forward.score, reverse.score, atol=1e-5)


@pytest.mark.parametrize("aggregate", ["max", "mean"])
def test_every_length_scores_the_same_on_both_strands(scorer, tmp_path, aggregate):
    """Records of 1 to 3 windows (every length, 1..600 bp): the tiling is its own mirror image,
    so a record and its reverse complement get the same score, to 1e-6, at any length."""
    rng = np.random.default_rng(4)
    seqs = [_random_seq(rng, n) for n in range(1, 3 * WINDOW + 1)]
    forward = _write_fasta(tmp_path / "f.fa", enumerate(seqs))
    reverse = _write_fasta(tmp_path / "r.fa", enumerate(reverse_complement(s) for s in seqs))
    a = _predict(scorer, tmp_path, [forward], aggregate=aggregate)
    b = _predict(scorer, tmp_path, [reverse], aggregate=aggregate)
    assert list(a.length) == list(range(1, 3 * WINDOW + 1)) and list(a.windows) == list(b.windows)
    for column in ("score", "score_mean", "score_max"):
        np.testing.assert_allclose(a[column], b[column], rtol=0, atol=1e-6)
    # The 1,234-bp record from the issue (0.469 vs 0.485 with tiles laid from the 5' end).
    long = _random_seq(rng, 1234)
    pair = [_write_fasta(tmp_path / f"{i}.fa", [("x", s)]) for i, s in
            enumerate([long, reverse_complement(long)])]  # fmt: skip
    one, other = (_predict(scorer, tmp_path, [f], aggregate=aggregate).iloc[0] for f in pair)
    assert one.windows == other.windows == 12  # 1 + ceil(1034 / 100)
    assert one.score == pytest.approx(other.score, abs=1e-6)


def test_stride_bounds_the_step_between_tiles(scorer, tmp_path):
    fasta = _write_fasta(tmp_path / "s.fa", [("x", _random_seq(np.random.default_rng(5), 500))])
    windows = _predict(scorer, tmp_path, [fasta], per_window=True, stride=60)
    assert list(windows.start) == [1, 61, 121, 181, 241, 301]  # gap 300 = 5 steps of 60
    assert windows.end.iloc[-1] == 500


def test_iupac_codes_count_as_unknown_for_n_rich(scorer, tmp_path):
    rng = np.random.default_rng(6)
    ambiguous = "RYSWKMBDHVNryswkmbdhvn"
    fasta = _write_fasta(
        tmp_path / "iupac.fa",
        [("iupac", (ambiguous * 10)[:150] + _random_seq(rng, 50)),
         ("dna", _random_seq(rng, 150).lower() + _random_seq(rng, 50))],
    )  # fmt: skip
    table = _predict(scorer, tmp_path, [fasta]).set_index("name")
    assert table.loc["iupac", "flags"] == "n_rich"  # 150 of 200 unknown, > 0.5
    assert table.loc["dna", "flags"] == "."  # soft-masked acgt are known bases
    # The model reads every ambiguity code as N, so swapping them for N changes nothing.
    seq = (ambiguous * 10)[:150] + _random_seq(rng, 50)
    scores = scorer.score([seq, "N" * 150 + seq[150:]])
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-6)


def test_u_is_read_as_t_with_one_warning(tiny_model, tmp_path):
    """FASTA and table inputs alike: U scores as T, and stderr gets one counted warning line."""
    rng = np.random.default_rng(7)
    dna = [_random_seq(rng, 150), _random_seq(rng, 250)]
    rna = [s.replace("T", "U") for s in dna]
    inputs = {
        "dna.fa": "".join(f">s{i}\n{s}\n" for i, s in enumerate(dna)),
        "rna.fa": "".join(f">s{i}\n{s}\n" for i, s in enumerate(rna)),
        "rna.tsv": "name\tsequence\n" + "".join(f"s{i}\t{s}\n" for i, s in enumerate(rna)),
    }
    results = {}
    for name, text in inputs.items():
        path = tmp_path / name
        path.write_text(text)
        out = tmp_path / f"{name}.scores.tsv"
        result = run_cli("predict", path, "--model", tiny_model, "-o", out, "--quiet")
        assert result.returncode == 0, result.stderr
        results[name] = (pd.read_csv(out, sep="\t"), result.stderr)
        if name.startswith("rna"):
            count = sum(s.count("U") for s in rna)
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and "warning" in lines[0].lower(), result.stderr
            assert f"read {count} U bases as T in 2 records of {path}" in lines[0]
        else:
            assert results[name][1] == ""
    for name in ("rna.fa", "rna.tsv"):
        np.testing.assert_allclose(results[name][0].score, results["dna.fa"][0].score, rtol=1e-6)


def test_peer_fasta_with_rna_and_masked_n(scorer, tmp_path, caplog):
    """Selene's small.fasta: chr3 is ``nNNnnUUAtC`` (U read as T), chr1/chr4 mostly N."""
    with caplog.at_level("WARNING"):
        table = _predict(scorer, tmp_path, [EXAMPLES / "peers/selene/small.fasta"])
    table = table.set_index("name")
    assert [r.getMessage() for r in caplog.records if "U bases" in r.getMessage()] == [
        f"read 2 U bases as T in 1 record of {EXAMPLES / 'peers/selene/small.fasta'}"
    ]
    assert table.loc["chr3", "flags"] == "short"  # 5 of 10 unknown: not above 0.5
    assert table.loc["chr4", "flags"] == "short,n_rich"


def test_bed_input_keeps_its_columns(scorer, tmp_path):
    bed = EXAMPLES / "hg38_chr2_enhancers.bed"
    reference = EXAMPLES / "hg38_chr2_1-400000.fa.gz"
    rows = [line.split("\t") for line in bed.read_text().splitlines() if line.startswith("chr")]
    table = _predict(scorer, tmp_path, [bed], reference=reference)
    assert list(table.columns[:6]) == ["chrom", "start", "end", "name", "length", "windows"]
    assert len(table) == len(rows) == 18
    assert list(table.chrom) == [r[0] for r in rows]
    assert list(table.start) == [int(r[1]) for r in rows]  # as in the BED: 0-based
    assert list(table.end) == [int(r[2]) for r in rows]
    assert list(table.name) == [r[3] for r in rows]
    assert list(table.length) == [int(r[2]) - int(r[1]) for r in rows]
    # Minus-strand copies of the same intervals: same tiles, same scores.
    minus = tmp_path / "minus.bed"
    minus.write_text("".join("\t".join([*r[:5], "-"]) + "\n" for r in rows))
    flipped = _predict(scorer, tmp_path, [minus], reference=reference)
    assert list(flipped.windows) == list(table.windows)
    np.testing.assert_allclose(flipped.score, table.score, rtol=0, atol=1e-6)
    # --per-window rows still carry each window's own coordinates (1-based closed).
    windows = _predict(scorer, tmp_path, [bed], reference=reference, per_window=True)
    assert len(windows) == table.windows.sum()
    assert (windows.end - windows.start + 1 == WINDOW).all()


def test_bed_regions_use_genomic_context(scorer, tmp_path):
    bed = tmp_path / "regions.bed"
    bed.write_text("chr2\t20000\t20100\tshort_region\nchr2\t30000\t30700\tlong_region\n")
    reference = EXAMPLES / "hg38_chr2_1-400000.fa.gz"
    table = _predict(scorer, tmp_path, [bed], reference=reference).set_index("name")
    assert table.loc["short_region", "windows"] == 1
    assert table.loc["short_region", "flags"] == "."  # flanks are real genome, not padding
    assert table.loc["long_region", "windows"] == 6  # 700 bp, window 200, stride 100
    centred = FastaReference(reference).fetch("chr2", 20050 - WINDOW // 2, 20050 + WINDOW // 2)
    expected = scorer.score([centred])[0, 1]
    assert table.loc["short_region", "score"] == pytest.approx(expected, rel=1e-5)


def test_cli_reads_stdin_and_writes_stdout(tiny_model):
    text = (EXAMPLES / "enhancers_cohn.fa").read_text()
    result = run_cli("predict", "-", "--model", tiny_model, "--quiet", stdin=text)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout), sep="\t")
    assert len(table) == 300 and result.stderr == ""


def test_bad_record_leaves_no_output(tiny_model, tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">ok\nACGTACGT\n>broken\nACGT!!ACGT\n")
    out = tmp_path / "scores.tsv"
    result = run_cli("predict", bad, "--model", tiny_model, "-o", out)
    assert result.returncode == 2
    assert "bad.fa" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".scores.tsv*"))


def test_missing_model_folder_is_a_usage_error(tmp_path):
    result = run_cli("predict", EXAMPLES / "enhancers_cohn.fa", "--model", tmp_path / "nope")
    assert result.returncode == 2
    assert "model folder not found" in result.stderr


def test_checkpoint_without_window_needs_window_option(tmp_path):
    import json

    folder = save_model(tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    del config["data"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="--window"):
        WindowScorer(folder)
    assert WindowScorer(folder, window=WINDOW).info.classes == ("0", "1")


def test_multiclass_model_writes_class_probabilities(tmp_path):
    scorer = WindowScorer(save_model(tmp_path / "three", n_out=3), device="cpu")
    table = _predict(scorer, tmp_path, [EXAMPLES / "enhancers_cohn.fa"])
    probs = table[["prob_0", "prob_1", "prob_2"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert (table.predicted.astype(str) == np.array(["0", "1", "2"])[probs.argmax(1)]).all()


def test_bundled_default_model_scores_the_examples(tmp_path):
    assert (bundled_model_dir() / "config.json").is_file()
    out = tmp_path / "default.tsv"
    result = run_cli("predict", EXAMPLES / "enhancers_cohn.fa", "-o", out, "--quiet")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 300 and table.score.between(0, 1).all()
    # These 300 sequences were part of the model's training data; this only checks it is sane.
    assert (table.predicted == table.label).mean() > 0.6


def test_score_split_scores_the_records_of_one_split(tiny_model, tmp_path):
    """scripts/split_metrics.py's scoring: one split's records and their class-1 probabilities."""
    from dnaseq_cli.data.preprocess import PreprocessOptions, preprocess
    from dnaseq_cli.predict.model import score_split
    from dnaseq_cli.report.metrics import binary_metrics, classification_metrics

    options = PreprocessOptions(inputs=[EXAMPLES / "enhancers_cohn.tsv"], window=WINDOW)
    dataset = preprocess(options, tmp_path / "dataset")
    records, probability = score_split(tiny_model, dataset.path, "test")
    assert records["name"].tolist() == dataset.records.loc[dataset.split("test"), "name"].tolist()
    sequences = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t").set_index("name")["seq"]
    windows = []
    for tile in records["name"]:  # 500-bp records tiled into 200-bp windows: NAME:START-END
        name, span = tile.rsplit(":", 1)
        start, end = map(int, span.split("-"))
        windows.append(sequences[name][start - 1 : end])
    expected = WindowScorer(tiny_model, device="cpu").score(windows)[:, 1]
    np.testing.assert_allclose(probability, expected, atol=1e-5)
    labels = records["label"].astype(int).to_numpy()
    metrics = binary_metrics(labels, probability)
    full = classification_metrics(labels, np.stack([1 - probability, probability], axis=1))
    assert metrics == {k: full[k] for k in metrics} and set(metrics) >= {"accuracy", "auroc"}
