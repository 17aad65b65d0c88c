"""`dnaseq ensemble`: members averaged (weighted, Platt-calibrated) and used by predict and vep."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from dnaseq_runner import run_in_process as run_cli

from dnaseq_cli.data.preprocess import PreprocessOptions, preprocess
from dnaseq_cli.errors import InputError
from dnaseq_cli.predict.ensemble import fit_platt, make_ensemble, member_names
from dnaseq_cli.predict.model import WindowScorer, logit

from .conftest import EXAMPLES, WINDOW, save_model


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp("members")
    return [save_model(root / "cnn", "cnn"), save_model(root / "kmer", "kmer")]


@pytest.fixture(scope="module")
def windows():
    table = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t")
    return [seq[100 : 100 + WINDOW] for seq in table["seq"].head(40)]


@pytest.fixture(scope="module")
def calibration_set(tmp_path_factory):
    """60 real Cohn windows of the members' length, split so that 'val' holds both classes."""
    folder = tmp_path_factory.mktemp("calibration")
    table = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t")
    table = pd.concat([table[table.label == 0].head(30), table[table.label == 1].head(30)])
    table["seq"] = table["seq"].str[150 : 150 + WINDOW]
    table.to_csv(folder / "set.tsv", sep="\t", index=False)
    options = PreprocessOptions(inputs=[folder / "set.tsv"], seed=0, val_fraction=0.5)
    return preprocess(options, folder / "dataset")


def member_probabilities(members, windows) -> np.ndarray:
    return np.stack([WindowScorer(m, device="cpu").score(windows)[:, 1] for m in members])


def test_ensemble_scores_are_the_weighted_mean_of_its_members(members, windows, tmp_path):
    result = run_cli("ensemble", *members, "-o", tmp_path / "ens", "--weights", "3,1")
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "ens" / "config.json").read_text())
    assert config["format"] == "dnaseq-ensemble"
    assert [m["name"] for m in config["members"]] == ["cnn", "kmer"]
    for member in config["members"]:
        assert (tmp_path / "ens" / member["path"] / "model.safetensors").is_file()
    ensemble = WindowScorer(tmp_path / "ens", device="cpu").score(windows)[:, 1]
    each = member_probabilities(members, windows)
    assert not np.allclose(each[0], each[1])  # the members disagree, so the weights matter
    np.testing.assert_allclose(ensemble, 0.75 * each[0] + 0.25 * each[1], atol=1e-5)


def test_predict_takes_the_ensemble_folder_as_model(members, tmp_path):
    assert run_cli("ensemble", *members, "-o", tmp_path / "ens").returncode == 0
    out = tmp_path / "scores.tsv"
    result = run_cli(
        "predict", EXAMPLES / "enhancers_cohn.fa", "--model", tmp_path / "ens", "-o", out
    )
    assert result.returncode == 0, result.stderr
    assert "ensemble of cnn, kmer" in result.stderr
    scores = pd.read_csv(out, sep="\t")
    assert len(scores) == 300 and scores["score"].between(0, 1).all()


def test_vep_scores_variants_with_an_ensemble(members, tmp_path):
    assert run_cli("ensemble", *members, "-o", tmp_path / "ens").returncode == 0
    out = tmp_path / "vep.tsv"
    result = run_cli(
        "vep", EXAMPLES / "clinvar_brca1.refcoords.vcf.gz", "--reference",
        EXAMPLES / "ref_brca1.fa", "--model", tmp_path / "ens", "-o", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 209 and (table["status"] == "ok").all()
    assert np.isfinite(table["delta"]).all()


def test_platt_fit_recovers_known_scale_and_bias():
    rng = np.random.default_rng(0)
    margin = rng.normal(0, 2, 20_000)
    labels = rng.random(20_000) < 1 / (1 + np.exp(-(1.7 * margin - 0.4)))
    scale, bias = fit_platt(margin, labels)
    assert scale == pytest.approx(1.7, abs=0.08) and bias == pytest.approx(-0.4, abs=0.06)


def test_platt_fit_stays_finite_on_separable_and_shifted_margins():
    margin = np.concatenate([np.linspace(-9, -5, 50), np.linspace(-4, -1, 50)])
    labels = np.repeat([0, 1], 50)
    scale, bias = fit_platt(margin, labels)
    assert np.isfinite([scale, bias]).all() and scale > 0
    assert (1 / (1 + np.exp(-(scale * margin + bias))) > 0.5).tolist() == labels.astype(
        bool
    ).tolist()


def test_calibrated_ensemble_applies_each_members_platt_scaling(
    members, windows, calibration_set, tmp_path
):
    result = run_cli(
        "ensemble", *members, "-o", tmp_path / "ens", "--calibrate", calibration_set.path
    )
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "ens" / "config.json").read_text())
    assert config["calibration"]["split"] == "val"
    assert config["calibration"]["records"] == len(calibration_set.split("val"))
    fitted = [(m["calibration"]["scale"], m["calibration"]["bias"]) for m in config["members"]]
    each = member_probabilities(members, windows)
    calibrated = [
        1 / (1 + np.exp(-(a * logit(p, 1e-12) + b))) for (a, b), p in zip(fitted, each, strict=True)
    ]
    expected = np.mean(calibrated, axis=0)
    ensemble = WindowScorer(tmp_path / "ens", device="cpu").score(windows)[:, 1]
    np.testing.assert_allclose(ensemble, expected, atol=1e-4)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--weights", "1"], "gives 1 numbers for 2 members"),
        (["--weights", "1,-2"], "positive"),
        (["--weights", "a,b"], "comma-separated numbers"),
        (["--calibrate", "no_such_dataset"], "no_such_dataset"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(members, tmp_path, extra, message):
    result = run_cli("ensemble", *members, "-o", tmp_path / "ens", *extra)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ens").exists()


def test_members_must_agree_on_window_and_classes(members, tmp_path):
    other = save_model(tmp_path / "long", "cnn", window=WINDOW * 2)
    result = run_cli("ensemble", members[0], other, "-o", tmp_path / "ens")
    assert result.returncode == 2 and "window_length" in result.stderr
    assert str(other) in result.stderr and not (tmp_path / "ens").exists()
    regression = save_model(tmp_path / "reg", "cnn", n_out=1)
    result = run_cli("ensemble", members[0], regression, "-o", tmp_path / "ens")
    assert result.returncode == 2 and "classifiers" in result.stderr


def test_existing_output_needs_force(members, tmp_path):
    assert run_cli("ensemble", *members, "-o", tmp_path / "ens").returncode == 0
    result = run_cli("ensemble", *members, "-o", tmp_path / "ens")
    assert result.returncode == 2 and "--force" in result.stderr
    assert run_cli("ensemble", *members, "-o", tmp_path / "ens", "--force").returncode == 0
    assert (tmp_path / "ens" / "config.json").is_file()
    (tmp_path / "ens" / "notes.txt").write_text("mine")  # a file dnaseq did not write
    result = run_cli("ensemble", *members, "-o", tmp_path / "ens", "--force")
    assert result.returncode == 2 and "did not write" in result.stderr
    assert (tmp_path / "ens" / "notes.txt").read_text() == "mine"


def test_train_init_from_an_ensemble_names_its_members(members, tmp_path):
    assert run_cli("ensemble", *members, "-o", tmp_path / "ens").returncode == 0
    result = run_cli(
        "train", EXAMPLES / "enhancers_cohn.tsv", "-o", tmp_path / "run",
        "--init", tmp_path / "ens", "--quiet",
    )  # fmt: skip
    assert result.returncode == 2 and "members/NAME" in result.stderr
    assert not (tmp_path / "run").exists()


def test_members_are_named_by_backbone_and_numbered_when_one_repeats(members, tmp_path):
    assert member_names(members) == ["cnn", "kmer"]
    assert member_names([members[0], members[0], members[1]]) == ["cnn_0", "cnn_1", "kmer_2"]
    assert member_names([tmp_path]) == ["member"]  # no config.json: the loader says what is wrong


def test_make_ensemble_refuses_the_output_before_calibrating(members, tmp_path):
    """A refused output folder costs no calibration work (nor a look at the calibration set)."""
    (tmp_path / "ens").mkdir()
    (tmp_path / "ens" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="--force") as caught:
        make_ensemble(members, tmp_path / "ens", calibrate=tmp_path / "no_such_dataset")
    assert caught.value.exit_code == 2
    with pytest.raises(InputError, match="2 members"):
        make_ensemble(members, tmp_path / "other", weights=[1.0])
    config = make_ensemble(members, tmp_path / "other", weights=[3.0, 1.0])
    assert [(m["name"], m["weight"]) for m in config["members"]] == [("cnn", 3.0), ("kmer", 1.0)]
