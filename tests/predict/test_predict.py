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
    # stride = half a window, last tile aligned to the end: starts 0, 100, ..., 400 then 417.
    assert record["windows"] == len(windows) == 6
    assert list(windows.start) == [1, 101, 201, 301, 401, 418]
    assert windows.end.iloc[-1] == 3 * WINDOW + 17
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
