"""`dnaseq compare`: the paper's table in every format, measured tables from real run folders,
`--run` training two backbones, and the error paths."""

import json
from pathlib import Path

import pandas as pd
import pytest
from dnaseq_runner import run_in_process
from dnaseq_runner import run_subprocess as run_cli

from dnaseq_cli.errors import InputError
from dnaseq_cli.models import registry
from dnaseq_cli.models.checkpoint import read_spec
from dnaseq_cli.report.compare import MEASURED, read_run
from dnaseq_cli.report.paper_table import PAPER_COLUMNS

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PAPER_ACCURACIES = ("87.5", "91.2", "89.8", "89.2")


@pytest.fixture
def invoke():
    """The same entry point in this process: much faster for the many table-only calls."""
    return run_in_process


@pytest.fixture(scope="module")
def small_table(tmp_path_factory) -> Path:
    """60 Cohn enhancers cut to 100 bp: a few seconds per tiny backbone on CPU."""
    table = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t")
    table = pd.concat([table[table.label == 0].head(30), table[table.label == 1].head(30)])
    table["seq"] = table["seq"].str[200:300]
    path = tmp_path_factory.mktemp("table") / "small.tsv"
    table.to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture(scope="module")
def compared(small_table, tmp_path_factory):
    """One `dnaseq compare --run` with two backbones and a tiny budget: its output folder and stdout."""
    out = tmp_path_factory.mktemp("compare") / "out"
    result = run_cli(
        "compare", "--run", small_table, "-o", out, "--backbones", "cnn,hybrid", "--epochs", "2",
        "--max-steps-per-epoch", "2", "--batch-size", "16", "--seed", "5", "--device", "cpu",
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out, result.stdout


# --- part (a): the paper's table -------------------------------------------------------------


def test_paper_table_as_tsv_is_well_formed_and_holds_the_published_accuracies(invoke):
    result = invoke("compare", "--format", "tsv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.rstrip("\n").split("\n")
    header = lines[0].split("\t")
    assert header == [key for key, _ in PAPER_COLUMNS]
    assert len(lines) == 5
    assert all(len(line.split("\t")) == len(header) for line in lines)
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert [row["accuracy"] for row in rows] == list(PAPER_ACCURACIES)
    assert [row["dnaseq_backbone"] for row in rows] == ["caduceus", "bigbird", "gnn", "hybrid"]
    bigbird = rows[1]
    assert (bigbird["precision"], bigbird["recall"], bigbird["f1"]) == ("91", "90.8", "91")
    assert bigbird["longest_sequence"] == "131,000 tokens"
    assert rows[0]["longest_sequence"] == "512 tokens"


def test_paper_table_as_markdown_is_a_well_formed_pipe_table(invoke):
    result = invoke("compare", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.rstrip("\n").split("\n")
    assert len(lines) == 2 + 4
    assert set(lines[1]) <= set("|-:")
    pipes = {line.count("|") - line.count("\\|") for line in lines}
    assert pipes == {len(PAPER_COLUMNS) + 1}
    for accuracy in PAPER_ACCURACIES:
        assert sum(f"| {accuracy} |" in line for line in lines[2:]) == 1


def test_paper_table_as_json_parses_with_nulls_for_values_the_paper_does_not_give(invoke):
    result = invoke("compare", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["paper"]
    rows = data["paper"]
    assert [row["accuracy"] for row in rows] == [float(a) for a in PAPER_ACCURACIES]
    assert all(set(row) == {key for key, _ in PAPER_COLUMNS} for row in rows)
    assert rows[0]["f1"] == 87.5 and rows[2]["precision"] is None


def test_rich_table_names_every_model(invoke):
    result = invoke("compare")
    assert result.returncode == 0, result.stderr
    for name in ("Caduceus", "BigBird RC", "Hybrid CNN", "87.5", "91.2", "89.8", "89.2"):
        assert name in result.stdout


# --- part (b): measured from run folders ------------------------------------------------------


def test_run_writes_tsv_json_and_png_equal_to_the_run_folders(compared):
    out, stdout = compared
    assert (out / "comparison.png").read_bytes()[:8] == PNG_SIGNATURE
    table = pd.read_csv(out / "comparison.tsv", sep="\t")
    assert list(table.columns) == [column.key for column in MEASURED]
    assert list(table["backbone"]) == ["cnn", "hybrid"]
    saved = json.loads((out / "comparison.json").read_text())["measured"]
    printed = json.loads(stdout)["measured"]
    assert saved == printed
    for row, json_row in zip(table.to_dict("records"), saved, strict=True):
        folder = out / row["backbone"]
        metrics = json.loads((folder / "test_metrics.json").read_text())
        run_config = json.loads((folder / "run_config.json").read_text())
        assert run_config["train"]["seed"] == 5 and run_config["model"]["size"] == "tiny"
        for key in ("accuracy", "precision", "recall", "f1", "mcc", "auroc", "auprc",
                    "train_seconds", "peak_rss_mb", "inference_seqs_per_s"):  # fmt: skip
            assert row[key] == pytest.approx(metrics[key], rel=1e-5, abs=1e-9), key
            assert json_row[key] == pytest.approx(metrics[key], rel=1e-12), key
        assert row["parameters"] == metrics["parameters"] == run_config["parameters"] > 0
        epochs = pd.read_csv(folder / "metrics_per_epoch.tsv", sep="\t")
        assert row["train_seqs_per_s"] == pytest.approx(epochs["train_seqs_per_s"].mean(), 1e-5)
        assert row["window_length"] == 100 and row["representation"] == "char"
    assert table.loc[1, "parameters"] != table.loc[0, "parameters"]


def test_every_run_folder_holds_roc_pr_and_training_curve_pngs(compared):
    out, _ = compared
    for backbone in ("cnn", "hybrid"):
        for name in ("roc.png", "pr.png", "training_curve.png"):
            data = (out / backbone / name).read_bytes()
            assert data[:8] == PNG_SIGNATURE and len(data) > 2000, (backbone, name)


def test_compare_run_folders_given_on_the_command_line(compared, tmp_path, invoke):
    out, _ = compared
    runs = [out / "hybrid", out / "cnn"]
    result = invoke("compare", *runs, "--format", "tsv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.rstrip("\n").split("\n")
    assert len(lines) == 3 and all(line.count("\t") == len(MEASURED) - 1 for line in lines)
    assert [line.split("\t")[0] for line in lines[1:]] == ["hybrid", "cnn"]
    both = invoke("compare", *runs, "--with-paper", "--format", "json", "-o", tmp_path / "cmp")
    assert both.returncode == 0, both.stderr
    data = json.loads(both.stdout)
    assert len(data["paper"]) == 4
    auroc = json.loads((out / "cnn" / "test_metrics.json").read_text())["auroc"]
    assert data["measured"][1]["auroc"] == auroc
    assert (tmp_path / "cmp" / "comparison.png").read_bytes()[:8] == PNG_SIGNATURE
    markdown = invoke("compare", *runs, "--with-paper", "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.count("## ") == 2 and "| hybrid |" in markdown.stdout
    one_table = invoke("compare", *runs, "--with-paper", "--format", "tsv")
    assert one_table.returncode == 2 and "--with-paper" in one_table.stderr


def test_multiclass_runs_fall_back_to_macro_scores(tmp_path):
    (tmp_path / "run_config.json").write_text(json.dumps({"model": {"backbone": "cnn"}}))
    metrics = {"accuracy": 0.5, "precision_macro": 0.25, "recall_macro": 0.75, "f1_macro": 0.4,
               "auroc": float("nan"), "parameters": 10}  # fmt: skip
    (tmp_path / "test_metrics.json").write_text(json.dumps(metrics))
    row = read_run(tmp_path)
    assert (row["precision"], row["recall"], row["f1"]) == (0.25, 0.75, 0.4)
    assert row["auroc"] is None and row["parameters"] == 10 and row["train_seqs_per_s"] is None


# --- errors -----------------------------------------------------------------------------------


def test_missing_run_folder_exits_2_naming_it(tmp_path):
    result = run_cli("compare", tmp_path / "nope")
    assert result.returncode == 2
    assert "nope" in result.stderr and "not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_folder_without_test_metrics_exits_2_naming_folder_and_file(compared, tmp_path, invoke):
    out, _ = compared
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "run_config.json").write_text((out / "cnn" / "run_config.json").read_text())
    result = invoke("compare", out / "cnn", unfinished)
    assert result.returncode == 2
    assert "unfinished" in result.stderr and "test_metrics.json" in result.stderr
    with pytest.raises(InputError, match="test_metrics.json"):
        read_run(unfinished)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "--format"),
        (["--run", "x.tsv"], "--output"),
        (["--run", "x.tsv", "-o", "out", "--backbones", "cnn,transformer"], "transformer"),
        (["--run", "missing.tsv", "-o", "out", "--backbones", "cnn"], "missing.tsv"),
    ],
)
def test_usage_errors_exit_2(tmp_path, monkeypatch, invoke, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke("compare", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_existing_output_needs_force(compared, invoke):
    out, _ = compared
    result = invoke("compare", "--run", EXAMPLES / "enhancers_cohn.tsv", "-o", out)
    assert result.returncode == 2 and "--force" in result.stderr
    assert (out / "cnn" / "test_metrics.json").is_file()


def test_descriptive_columns_follow_what_each_run_used(compared):
    """attention/embeddings come from the run's full checkpoint config, the rest from its
    run_config.json: a row never claims a mechanism the run did not use."""
    out, _ = compared

    def checkpoint_config(folder):
        return read_spec(folder, check=False).raw

    cnn, hybrid = (
        read_run(out / name, registry.describe, checkpoint_config) for name in ("cnn", "hybrid")
    )
    assert cnn["attention"] == "none (convolutions)"
    assert hybrid["attention"].startswith("full self-attention over")
    assert "summed k-mer embeddings" in hybrid["embeddings"]
    for row in (cnn, hybrid):
        assert row["class_imbalance"] == "none"
        assert row["synthetic_data"] == "reverse-complement augmentation"
        assert (
            row["training_optimisation"].startswith("AdamW")
            and "fp32 on cpu" in row["training_optimisation"]
        )


def test_descriptions_of_every_backbone_and_training_option():
    from dnaseq_cli.models import factory
    from dnaseq_cli.report.run_description import describe_run

    expected = {"caduceus": "bidirectional Mamba", "bigbird": "block-sparse", "gnn": "GATV2",
                "hybrid": "self-attention", "cnn": "convolutions",
                "kmer": "composition only"}  # fmt: skip
    assert sorted(expected) == registry.available()  # every backbone describes itself
    for backbone, words in expected.items():
        config = factory.build_backbone(factory.model_spec(backbone, "tiny")).config_dict()
        run = {"model": {"backbone": backbone}}
        described = describe_run(run, {"config": config}, registry.describe)
        assert words in described["attention"], (backbone, described)
        assert describe_run(run, {"config": config})["attention"] == "n/r"  # no describer given
    assert registry.describe("transformer", {}) == ("n/r", "n/r")
    train = {"balanced_sampling": True, "loss": "focal", "rc_augment": False, "shift_augment": 25,
             "lr": 0.001, "weight_decay": 0.01, "warmup_fraction": 0.05, "grad_clip": 1.0,
             "batch_size": 32, "grad_accum": 2, "patience": 0}  # fmt: skip
    described = describe_run(
        {"model": {"backbone": "cnn"}, "train": train, "world_size": 2, "precision": "bf16",
         "device": "cuda:0", "synthetic": {"gan": 1200, "shuffled_negatives": 0}}, {}
    )  # fmt: skip
    assert described["class_imbalance"] == "weighted sampling, focal loss"
    assert described["synthetic_data"] == "1,200 GAN sequences, shift +-25 bp"
    assert "x 2 accumulated x 2 processes" in described["training_optimisation"]
    assert "no early stopping, bf16 autocast on cuda:0" in described["training_optimisation"]
