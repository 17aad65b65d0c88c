"""Training augmentations: random shift, dinucleotide shuffle, WGAN-GP augmenter, CLI wiring."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from dnaseq_runner import run_in_process as run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from dnaseq_cli.data.preprocess import PreprocessOptions, preprocess
from dnaseq_cli.encode.vocab import A_ID, PAD_ID
from dnaseq_cli.engine.augment import (
    dinucleotide_shuffle,
    item_labels,
    one_hot,
    random_shift,
    shuffle_valid,
    synthetic_training_rows,
)
from dnaseq_cli.engine.batches import WindowRows
from dnaseq_cli.engine.gan import sample_gan, train_gan


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """2 shared cores: the tiny GAN runs faster and steadier without intra-op threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pairs(seq) -> Counter:
    seq = list(seq)
    return Counter(zip(seq[:-1], seq[1:], strict=True))


# -- random shift ------------------------------------------------------------------------------


def test_shift_keeps_length_moves_tokens_and_masks_the_gap() -> None:
    ids = torch.arange(10, 30).view(2, 10)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 8:] = False
    ids[1, 8:] = PAD_ID
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(30):
        out, out_mask = random_shift(ids, mask, 3, PAD_ID, gen)
        assert out.shape == ids.shape and out_mask.shape == mask.shape
        for row in range(2):
            valid = out[row][out_mask[row]].tolist()
            assert (out[row][~out_mask[row]] == PAD_ID).all()
            # the kept tokens are a contiguous run of the original valid tokens, in order
            original = ids[row][mask[row]].tolist()
            start = original.index(valid[0])
            assert valid == original[start : start + len(valid)]
            shift = int(torch.nonzero(out[row] == valid[0])[0]) - start
            assert -3 <= shift <= 3
            seen.add(shift)
    assert len(seen) > 3  # offsets actually vary
    same, _ = random_shift(ids, mask, 0, PAD_ID, gen)
    assert torch.equal(same, ids)


# -- dinucleotide shuffle ----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ACGTN", min_size=0, max_size=120), st.integers(0, 2**32 - 1))
def test_dinucleotide_shuffle_preserves_pair_counts_exactly(text: str, seed: int) -> None:
    seq = np.frombuffer(text.encode(), dtype=np.uint8)
    out = dinucleotide_shuffle(seq, np.random.default_rng(seed))
    assert len(out) == len(seq) and out.dtype == seq.dtype
    assert pairs(out.tolist()) == pairs(seq.tolist())
    assert Counter(out.tolist()) == Counter(seq.tolist())
    if len(seq):
        assert out[0] == seq[0] and out[-1] == seq[-1]
    again = dinucleotide_shuffle(seq, np.random.default_rng(seed))
    assert np.array_equal(out, again)  # seeded


def test_dinucleotide_shuffle_actually_shuffles_and_varies_with_the_seed() -> None:
    rng = random.Random(0)
    seq = np.array([rng.choice("ACGT") for _ in range(200)])
    outs = {"".join(dinucleotide_shuffle(seq, np.random.default_rng(s))) for s in range(5)}
    assert len(outs) == 5 and "".join(seq) not in outs


def test_shuffle_valid_leaves_padding_in_place() -> None:
    row = np.array([A_ID, A_ID + 1, A_ID + 2, A_ID + 3, A_ID, A_ID + 2, PAD_ID, PAD_ID])
    out = shuffle_valid(row, PAD_ID, np.random.default_rng(3))
    assert (out[6:] == PAD_ID).all() and pairs(out[:6]) == pairs(row[:6])


# -- GAN ---------------------------------------------------------------------------------------


def test_gan_trains_a_few_steps_with_finite_critic_loss_and_valid_samples() -> None:
    rng = np.random.default_rng(0)
    minority = rng.integers(0, 4, size=(12, 24)) + A_ID
    minority[:, 5:9] = [A_ID + 2, A_ID, A_ID + 3, A_ID + 3]  # a shared motif
    real = one_hot(minority)
    assert real.shape == (12, 4, 24) and torch.equal(real.sum(1), torch.ones(12, 24))
    gen, history = train_gan(real, steps=3, seed=5, batch_size=8, channels=8)
    assert len(history) == 3 and all(np.isfinite(history))
    soft = gen(torch.randn(4, gen.latent))
    assert soft.shape == (4, 4, 24)
    torch.testing.assert_close(soft.sum(1), torch.ones(4, 24))
    codes = sample_gan(gen, 7, seed=5)
    assert codes.shape == (7, 24) and set(np.unique(codes)) <= {0, 1, 2, 3}
    assert np.array_equal(codes, sample_gan(gen, 7, seed=5))  # seeded
    gen2, history2 = train_gan(real, steps=3, seed=5, batch_size=8, channels=8)
    assert history2 == history  # training is reproducible too
    before = torch.get_rng_state()
    train_gan(real, steps=1, seed=9, batch_size=8, channels=8)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's RNG is untouched


# -- synthetic rows and the CLI ----------------------------------------------------------------


@pytest.fixture(scope="module")
def imbalanced(tmp_path_factory):
    """60 random 40-mers, 45 of class 0 and 15 of class 1 (which carries a motif)."""
    folder = tmp_path_factory.mktemp("aug")
    rng = random.Random(1)
    rows = []
    for i in range(60):
        seq = "".join(rng.choice("ACGT") for _ in range(40))
        label = int(i % 4 == 0)
        if label:
            seq = seq[:10] + "GATTACA" + seq[17:]
        rows.append({"name": f"s{i}", "seq": seq, "label": label})
    path = folder / "toy.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return preprocess(PreprocessOptions(inputs=[path], seed=1), folder / "dataset")


def test_synthetic_rows_counts_labels_and_composition(imbalanced) -> None:
    base = WindowRows(imbalanced, imbalanced.split("train"), "binary")
    labels = item_labels(base)
    per_class = np.bincount(labels, minlength=2)
    synth = synthetic_training_rows(
        base, encoding="char", task="binary", classes=["0", "1"], shuffled_fraction=0.5,
        augment="gan", gan_steps=2, gan_samples=None, seed=0, device=torch.device("cpu"),
    )  # fmt: skip
    n_shuffled = round(0.5 * len(base))
    n_gan = int(per_class.max() - per_class.min())
    assert synth.counts["shuffled_negatives"] == n_shuffled and synth.counts["gan"] == n_gan
    assert synth.counts["gan_class"] == "1" and synth.counts["train_rows"] == len(base)
    assert len(synth.tokens) == len(synth.labels) == n_shuffled + n_gan
    assert (synth.labels[:n_shuffled] == 0).all() and (synth.labels[n_shuffled:] == 1).all()
    # every shuffled negative has the pair counts of some positive training row
    positives = [pairs(base[i][0].tolist()) for i in np.flatnonzero(labels == 1)]
    assert all(pairs(row.tolist()) in positives for row in synth.tokens[:n_shuffled])
    assert np.isin(synth.tokens[n_shuffled:], np.arange(A_ID, A_ID + 4)).all()
    again = synthetic_training_rows(
        base, encoding="char", task="binary", classes=["0", "1"], shuffled_fraction=0.5,
        augment="gan", gan_steps=2, gan_samples=None, seed=0, device=torch.device("cpu"),
    )  # fmt: skip
    assert np.array_equal(again.tokens, synth.tokens)


@pytest.mark.parametrize(
    ("options", "expect"),
    [
        (["--shift-augment", "5"], {"shuffled_negatives": 0, "gan": 0}),
        (["--shuffled-negatives", "0.5"], {"shuffled_negatives": None, "gan": 0}),
        (["--augment", "gan", "--gan-steps", "2", "--gan-samples", "9"],
         {"shuffled_negatives": 0, "gan": 9}),
    ],
)  # fmt: skip
def test_cli_train_with_each_option_records_counts_and_keeps_val_test(
    imbalanced, tmp_path: Path, options: list[str], expect: dict
) -> None:
    run = tmp_path / "run"
    result = run_cli(
        "train", imbalanced.path, "-o", run, "--backbone", "cnn", "--epochs", "1",
        "--batch-size", "16", "--device", "cpu", *options,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "run_config.json").read_text())
    n_train = len(imbalanced.split("train"))
    if expect["shuffled_negatives"] is None:
        expect = {**expect, "shuffled_negatives": round(0.5 * n_train)}
    for key, value in expect.items():
        assert config["synthetic"][key] == value
    assert config["synthetic"]["train_rows"] == n_train
    assert config["train"]["shift_augment"] == (5 if "--shift-augment" in options else 0)
    if expect["gan"] or expect["shuffled_negatives"]:
        assert "synthetic training sequences" in result.stderr
    # validation and test rows are the dataset's own, untouched by augmentation
    test_names = imbalanced.records.loc[imbalanced.split("test"), "name"].tolist()
    predictions = pd.read_csv(run / "test_predictions.tsv", sep="\t")
    assert predictions["name"].tolist() == test_names
    assert json.loads((run / "test_metrics.json").read_text())["n"] == len(test_names)


def test_cli_rejects_bad_augmentation_options(imbalanced, tmp_path: Path) -> None:
    for bad in (["--augment", "vae"], ["--shift-augment", "-1"], ["--shuffled-negatives", "-0.5"]):
        result = run_cli("train", imbalanced.path, "-o", tmp_path / "x", *bad)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr


def test_run_result_carries_the_synthetic_counts(imbalanced, tmp_path: Path) -> None:
    """dnaseq train prints the synthetic rows from the RunResult, as run_config.json records them."""
    from dnaseq_cli.data.preprocess import PreprocessOptions
    from dnaseq_cli.engine import run
    from dnaseq_cli.engine.trainer import TrainConfig
    from dnaseq_cli.models import factory

    out = tmp_path / "run"
    result = run.train(
        PreprocessOptions(inputs=[imbalanced.path]), out,
        model_spec=factory.model_spec("cnn", "tiny"),
        config=TrainConfig(epochs=1, batch_size=16, shuffled_negatives=0.5), device="cpu",
    )  # fmt: skip
    assert result.run_dir == out and (out / "test_metrics.json").is_file()
    assert result.synthetic == json.loads((out / "run_config.json").read_text())["synthetic"]
    assert result.synthetic["shuffled_negatives"] == round(0.5 * len(imbalanced.split("train")))
