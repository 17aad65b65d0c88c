"""`dnaseq train --task mlm` (masked-LM pretraining on FASTA) and `--init` fine-tuning."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from dnaseq_runner import run_in_process as run_cli
from safetensors.torch import load_file

from dnaseq_cli.checksums import file_sha256
from dnaseq_cli.encode.vocab import A_ID, CLS_ID, MASK_ID, N_ID, PAD_ID, T_ID
from dnaseq_cli.engine.init_weights import load_pretrained
from dnaseq_cli.engine.mlm import IGNORE, mask_tokens, masked_nll
from dnaseq_cli.models import checkpoint, factory

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
WINDOW = 64


def test_masking_statistics():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(A_ID, N_ID + 1, (64, 512), generator=generator)
    ids[:, 0] = CLS_ID  # special tokens and padding are never chosen
    ids[:, 400:] = PAD_ID
    mask = ids != PAD_ID
    masked = mask_tokens(ids, mask, torch.Generator().manual_seed(1))
    chosen = masked.targets != IGNORE
    valid = mask & (ids != CLS_ID)
    assert not chosen[~valid].any()
    assert torch.equal(masked.targets[chosen], ids[chosen])
    assert torch.equal(masked.input_ids[~chosen], ids[~chosen])  # the rest is untouched
    assert abs(chosen.sum().item() / valid.sum().item() - 0.15) < 0.01
    new = masked.input_ids[chosen]
    as_mask = (new == MASK_ID).float().mean().item()
    kept = (new == ids[chosen]).float().mean().item()  # 10% kept + random draws of the same base
    replaced = ((new != MASK_ID) & (new != ids[chosen])).float().mean().item()
    assert abs(as_mask - 0.8) < 0.02
    assert abs(kept - (0.1 + 0.1 / 4)) < 0.02 and abs(replaced - 0.1 * 3 / 4) < 0.02
    assert ((new == MASK_ID) | ((new >= A_ID) & (new <= T_ID)) | (new == ids[chosen])).all()
    again = mask_tokens(ids, mask, torch.Generator().manual_seed(1))
    assert torch.equal(again.input_ids, masked.input_ids)  # seeded: resume-reproducible


def test_masked_nll_counts_only_chosen_positions():
    log_probs = torch.log_softmax(torch.randn(2, 5, 16), -1)
    targets = torch.full((2, 5), IGNORE)
    targets[0, 1], targets[1, 3] = A_ID, T_ID
    total, correct, count = masked_nll(log_probs, targets)
    expected = -(log_probs[0, 1, A_ID] + log_probs[1, 3, T_ID])
    assert count == 2 and torch.isclose(total, expected)
    assert masked_nll(log_probs, torch.full((2, 5), IGNORE))[2] == 0


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """The first 3 kb of the bundled BRCA1 reference as a one-record FASTA."""
    lines = (EXAMPLES / "ref_brca1.fa").read_text().splitlines()
    seq = "".join(lines[1:])[:3000]
    path = tmp_path_factory.mktemp("genome") / "slice.fa"
    path.write_text(">ref_brca1\n" + "\n".join(seq[i : i + 60] for i in range(0, 3000, 60)) + "\n")
    return path, seq


@pytest.fixture(scope="module")
def pretrained(genome, tmp_path_factory):
    run = tmp_path_factory.mktemp("mlm") / "run"
    result = run_cli(
        "train", genome[0], "-o", run, "--task", "mlm", "--backbone", "caduceus", "--size", "tiny",
        "--window", WINDOW, "--stride", WINDOW // 2, "--epochs", "4", "--batch-size", "8",
        "--lr", "3e-3", "--patience", "0", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return run


def test_mlm_pretraining_on_fasta_lowers_the_masked_loss(pretrained):
    for name in ("run_config.json", "metrics_per_epoch.tsv", "test_metrics.json",
                 "checkpoint/config.json", "checkpoint/model.safetensors", "last_state.pt"):  # fmt: skip
        assert (pretrained / name).is_file(), name
    epochs = pd.read_csv(pretrained / "metrics_per_epoch.tsv", sep="\t")
    assert len(epochs) == 4
    assert {"val_loss", "val_accuracy", "val_perplexity"} <= set(epochs.columns)
    assert epochs["val_loss"].iloc[-1] < epochs["val_loss"].iloc[0]
    assert epochs["train_loss"].iloc[-1] < epochs["train_loss"].iloc[0]
    assert np.allclose(epochs["val_perplexity"], np.exp(epochs["val_loss"]), rtol=1e-4)
    test = json.loads((pretrained / "test_metrics.json").read_text())
    # better than guessing uniformly among the 16 output rows, and among the 5 bases
    assert test["loss"] < math.log(5) and test["masked_tokens"] > 0
    assert 0.25 < test["accuracy"] <= 1.0
    config = json.loads((pretrained / "checkpoint" / "config.json").read_text())
    assert config["task"] == "masked_lm"
    assert config["data"]["task"] == "masked_lm" and config["data"]["window_length"] == WINDOW
    run_config = json.loads((pretrained / "run_config.json").read_text())
    assert run_config["task"] == "masked_lm" and run_config["init"] is None
    records = pd.read_csv(pretrained / "dataset" / "records.tsv", sep="\t")
    assert len(records) == (3000 - WINDOW) // (WINDOW // 2) + 2  # tiled, last window end-aligned


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    table = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t")
    table = pd.concat([table[table.label == 0].head(20), table[table.label == 1].head(20)])
    table["seq"] = table["seq"].str[:WINDOW]
    path = tmp_path_factory.mktemp("labelled") / "t.tsv"
    table.to_csv(path, sep="\t", index=False)
    return path


def test_init_starts_the_classifier_from_the_pretrained_backbone(pretrained):
    source = checkpoint.load_checkpoint(pretrained / "checkpoint")
    spec = json.loads((pretrained / "checkpoint" / "config.json").read_text())
    torch.manual_seed(0)
    model = factory.build_classifier({"backbone": "caduceus", "config": spec["config"]}, n_out=2)
    fresh = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    record = load_pretrained(model, pretrained / "checkpoint")
    loaded = model.backbone.state_dict()
    assert loaded.keys() == source.backbone.state_dict().keys()
    assert any(not torch.equal(fresh[k], loaded[k]) for k in loaded)
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(loaded[key], value), key
    assert record["head"] == "reinitialised" and record["source"] == "MaskedLM"
    assert record["sha256"] == file_sha256(pretrained / "checkpoint" / "model.safetensors")


def test_fine_tuning_through_the_cli_keeps_the_backbone_at_step_0(pretrained, labelled, tmp_path):
    """With --lr 0 no step moves a weight, so the saved backbone is the pretrained one."""
    run = tmp_path / "ft"
    result = run_cli(
        "train", labelled, "-o", run, "--init", pretrained / "checkpoint", "--epochs", "1",
        "--batch-size", "8", "--lr", "0", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    before = load_file(pretrained / "checkpoint" / "model.safetensors")
    after = load_file(run / "checkpoint" / "model.safetensors")
    backbone = [k for k in after if k.startswith("backbone.")]
    assert backbone and any(k.startswith("head.") for k in after)
    for key in backbone:
        assert torch.equal(after[key], before[key]), key
    run_config = json.loads((run / "run_config.json").read_text())
    init = run_config["init"]
    assert Path(init["path"]) == (pretrained / "checkpoint").resolve()
    assert init["sha256"] == file_sha256(pretrained / "checkpoint" / "model.safetensors")
    assert run_config["model"]["backbone"] == "caduceus"
    config = json.loads((run / "checkpoint" / "config.json").read_text())
    assert config["task"] == "sequence_classification" and config["data"]["task"] == "binary"

    # a classifier checkpoint with the same classes passes its head on too
    again = run_cli(
        "train", labelled, "-o", tmp_path / "ft2", "--init", run / "checkpoint", "--epochs", "1",
        "--batch-size", "8", "--lr", "0", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "ft2" / "run_config.json").read_text())["init"]["head"] == (
        "loaded"
    )
    second = load_file(tmp_path / "ft2" / "checkpoint" / "model.safetensors")
    assert all(torch.equal(second[k], after[k]) for k in after)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--backbone", "cnn"], "disagrees"),
        (["--model-config", '{"d_model": 32}'], "disagrees"),
    ],
)
def test_mismatched_init_exits_2(pretrained, labelled, tmp_path, extra, message):
    result = run_cli(
        "train", labelled, "-o", tmp_path / "x", "--init", pretrained / "checkpoint",
        "--device", "cpu", "--quiet", *extra,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bad_mlm_and_init_arguments_exit_2(genome, tmp_path):
    no_head = run_cli("train", genome[0], "-o", tmp_path / "a", "--task", "mlm", "-b", "cnn",
                      "--window", WINDOW, "--device", "cpu")  # fmt: skip
    assert no_head.returncode == 2 and "caduceus" in no_head.stderr, no_head.stderr
    missing = run_cli("train", genome[0], "-o", tmp_path / "b", "--init", tmp_path / "nope")
    assert missing.returncode == 2 and "--init" in missing.stderr, missing.stderr
    unknown = run_cli("train", genome[0], "-o", tmp_path / "c", "--task", "lm")
    assert unknown.returncode == 2 and "--task" in unknown.stderr, unknown.stderr
    unlabelled = run_cli("train", genome[0], "-o", tmp_path / "d", "--window", WINDOW,
                         "--device", "cpu")  # fmt: skip
    assert unlabelled.returncode == 2 and "--task mlm" in unlabelled.stderr, unlabelled.stderr


def test_the_mlm_checkpoint_scores_variants_with_llr(pretrained, genome, tmp_path):
    path, seq = genome
    rows = [(pos, "ACGT"[("ACGT".index(seq[pos - 1]) + 1) % 4]) for pos in (500, 1200, 2001)]
    vcf = tmp_path / "v.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=ref_brca1,length=3000>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "".join(f"ref_brca1\t{p}\tv{p}\t{seq[p - 1]}\t{alt}\t.\tPASS\t.\n" for p, alt in rows)
    )
    out = tmp_path / "vep.tsv"
    result = run_cli("vep", vcf, "-r", path, "--model", pretrained / "checkpoint", "-o", out, "-q")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, sep="\t", na_values=".")
    assert list(table["status"]) == ["ok"] * 3
    assert "llr" in table and np.isfinite(table["llr"]).all()
    assert table["llr"].abs().sum() > 0
