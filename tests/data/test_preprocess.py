"""End-to-end dataset folders from the bundled example data, through the library and the CLI."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dnaseq_runner import run_in_process as run_cli
from dnaseq_runner import run_subprocess

from dnaseq_cli.data.dataset import load_dataset
from dnaseq_cli.data.preprocess import PreprocessOptions, preprocess
from dnaseq_cli.encode.tokens import decode_chars
from dnaseq_cli.encode.vocab import PAD_ID
from dnaseq_cli.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


def test_table_input_gives_stratified_dataset(tmp_path):
    out = tmp_path / "cohn"
    options = PreprocessOptions(inputs=[EXAMPLES / "enhancers_cohn.tsv"], seed=3)
    dataset = preprocess(options, out)
    assert dataset.tokens.shape == (300, 500)
    assert dataset.manifest["task"] == "binary"
    assert dataset.manifest["classes"] == ["0", "1"]
    counts = dataset.records.groupby(["split", "label"]).size().to_dict()
    assert counts[("test", "1")] == 15 and counts[("test", "0")] == 15
    assert counts[("val", "1")] == 15 and counts[("train", "0")] == 120
    table = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t")
    first = dataset.records.index[dataset.records["name"] == table["name"][0]][0]
    assert decode_chars(np.asarray(dataset.tokens[first])) == table["seq"][0].upper()
    reloaded = load_dataset(out)
    assert isinstance(reloaded.tokens, np.memmap)
    assert reloaded.manifest["inputs"][0]["sha256"] == dataset.manifest["inputs"][0]["sha256"]


def test_fasta_and_table_give_the_same_tokens(tmp_path):
    from_table = preprocess(
        PreprocessOptions(inputs=[EXAMPLES / "enhancers_cohn.tsv"]), tmp_path / "t"
    )
    from_fasta = preprocess(
        PreprocessOptions(inputs=[EXAMPLES / "enhancers_cohn.fa"]), tmp_path / "f"
    )
    assert (from_fasta.records["label"] == from_table.records["label"]).all()
    assert np.array_equal(np.asarray(from_fasta.tokens), np.asarray(from_table.tokens))
    assert (from_fasta.records["split"] == from_table.records["split"]).all()


def test_bed_with_reference_extracts_expected_sequences(tmp_path):
    """Every Genomic Benchmarks row in the hg38 slice appears, strand-aware, inside its window."""
    options = PreprocessOptions(
        inputs=[EXAMPLES / "hg38_chr2_gb_rows.bed"],
        reference=EXAMPLES / "hg38_chr2_1-400000.fa.gz",
        label_column="name",
    )
    dataset = preprocess(options, tmp_path / "bed")
    expected = pd.read_csv(EXAMPLES / "hg38_chr2_gb_rows.sequences.csv")
    expected["name"] = expected[["dataset", "split", "cls", "id"]].astype(str).agg("|".join, axis=1)
    expected = expected.set_index("name")
    window = int((expected["end"] - expected["start"]).max())
    assert dataset.manifest["window_length"] == window
    records = dataset.records
    assert len(records) == len(expected) == 108
    for row in records.itertuples():
        want = expected.loc[row.name]
        decoded = decode_chars(np.asarray(dataset.tokens[row.Index]))
        if want["strand"] == "-":
            offset = int(row.end) - int(want["end"])
        else:
            offset = int(want["start"]) - int(row.start)
        size = int(want["end"] - want["start"])
        assert decoded[offset : offset + size] == want["sequence"].upper(), row.name


def test_bed_label_column_and_chromosome_split(tmp_path):
    options = PreprocessOptions(
        inputs=[EXAMPLES / "hg38_chr2_enhancers.bed"],
        reference=EXAMPLES / "hg38_chr2_1-400000.fa.gz",
        label_column="7",
        window=256,
        encoding="kmer3",
    )
    dataset = preprocess(options, tmp_path / "kmer")
    # 7 intervals fit the window (one centred window each); the 11 longer ones (270-500 bp) are
    # tiled by the one rule of data/records.py, 2 tiles each, as predict tiles them (before issue
    # 17 item 5 preprocess cut one centred 256-bp window out of each: 18 windows)
    assert dataset.tokens.shape == (29, 254)
    assert sorted(dataset.records["label"].unique()) == ["0", "1"]
    assert dataset.manifest["encoding"] == "kmer3"
    with pytest.raises(InputError, match="chr8"):
        options.test_chroms = ["chr8"]
        preprocess(options, tmp_path / "chrom")
    assert not (tmp_path / "chrom").exists()


def test_window_padding_off_the_contig_start_is_masked(tmp_path):
    bed = tmp_path / "edge.bed"
    bed.write_text("chr2\t0\t10\tedge\t0\t+\n")
    reference = EXAMPLES / "hg38_chr2_1-400000.fa.gz"
    dataset = preprocess(
        PreprocessOptions(
            inputs=[bed],
            reference=reference,
            window=100,
            label="1",
            val_fraction=0,
            test_fraction=0,
        ),
        tmp_path / "edge",
    )
    tokens = np.asarray(dataset.tokens[0])
    assert (tokens[:45] == PAD_ID).all()
    assert (tokens[45:] != PAD_ID).all()


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "cohn"
    preprocess(PreprocessOptions(inputs=[EXAMPLES / "enhancers_cohn.tsv"]), out)
    with pytest.raises(InputError, match="--force"):
        preprocess(PreprocessOptions(inputs=[EXAMPLES / "enhancers_cohn.tsv"]), out)
    preprocess(
        PreprocessOptions(inputs=[EXAMPLES / "enhancers_cohn.tsv"], seed=9), out, overwrite=True
    )
    assert json.loads((out / "manifest.json").read_text())["split"]["seed"] == 9


def test_cli_preprocess_table_and_bed(tmp_path):
    result = run_cli("preprocess", EXAMPLES / "enhancers_cohn.tsv", "-o", tmp_path / "a")
    assert result.returncode == 0, result.stderr
    assert "300 windows of 500 bp" in result.stderr
    result = run_cli(
        "preprocess",
        EXAMPLES / "hg38_chr2_enhancers.bed",
        "-r",
        EXAMPLES / "hg38_chr2_1-400000.fa.gz",
        "--label-column",
        "7",
        "-w",
        "500",
        "-o",
        tmp_path / "b",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert load_dataset(tmp_path / "b").tokens.shape == (18, 500)


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("", ".fa", "empty"),
        ("ACGT\n>x\nACGT\n", ".fa", "line 1"),
        (">x\nACGTZ\n", ".fa", "line 2"),
        ("chr2\t10\n", ".bed", "line 1"),
        ("chr2\tten\t20\tx\n", ".bed", "line 1"),
        ("chr9\t10\t20\tx\n", ".bed", "chr9"),
        ("chr2\t399990\t400100\tx\n", ".bed", "past the end"),
        ("2\t100\t200\tx\n", ".bed", "harmonise"),
    ],
)
def test_cli_bad_inputs_exit_2_without_traceback(tmp_path, content, suffix, message):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    out = tmp_path / "out"
    args = ["preprocess", path, "-o", out, "--label", "1"]
    if suffix == ".bed":
        args += ["-r", EXAMPLES / "hg38_chr2_1-400000.fa.gz"]
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(path.name) in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir())


def test_cli_missing_label_column_and_debug_traceback(tmp_path):
    """In a real process: exit status 2 and one message; with --debug, the Python traceback."""
    table = tmp_path / "t.tsv"
    table.write_text("seq\tclass\nACGT\t1\n")
    result = run_subprocess("preprocess", table, "-o", tmp_path / "o")
    assert result.returncode == 2
    assert "label" in result.stderr and "class" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_subprocess("--debug", "preprocess", table, "-o", tmp_path / "o")
    assert "Traceback" in result.stderr


def test_cli_version_and_unknown_commands():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("dnaseq ")
    result = run_cli("annotate", "x.vcf")
    assert result.returncode == 2
    assert "No such command" in result.stderr


def test_open_or_build_opens_a_dataset_folder_or_builds_one_from_inputs(tmp_path):
    from dnaseq_cli.data.preprocess import errors_named_after, open_or_build

    table = EXAMPLES / "enhancers_cohn.tsv"
    built = open_or_build(PreprocessOptions(inputs=[table], seed=3), tmp_path / "work")
    assert built.path == tmp_path / "work" / "dataset" and built.tokens.shape == (300, 500)
    opened = open_or_build(PreprocessOptions(inputs=[built.path]), tmp_path / "other")
    assert opened.path == built.path and not (tmp_path / "other").exists()
    with pytest.raises(InputError, match="--val-input"):
        open_or_build(PreprocessOptions(inputs=[built.path], val_inputs=[table]), tmp_path)
    stamp = (built.path / "manifest.json").stat().st_mtime_ns
    again = open_or_build(PreprocessOptions(inputs=[table]), tmp_path / "work", resume=True)
    assert (again.path / "manifest.json").stat().st_mtime_ns == stamp  # resumed: not rebuilt
    # an error about the dataset built in the work folder names the user's inputs
    with pytest.raises(InputError) as error, errors_named_after([table], tmp_path / "work"):
        raise InputError("bad", path=built.path / "records.tsv")
    assert error.value.path == str(table)
