"""The fault suite: every command against every bad value, bad file and dangerous output.

One table (:data:`CASES`) of a user's ordinary mistakes, each run as the real command in a fresh
copy of a small workspace. For each case the test checks the exit status; for a refused command
that stderr is one line naming the file or option, without a traceback or "internal error"; and
that the workspace tree (file types, sizes, sha256, symlink targets, device numbers) is unchanged
apart from the outputs the case expects. Numeric options of every command get their bad values
from the command's own parameter list (:func:`numeric_option_cases`), so a new option is covered
the day it is added. SIGTERM in the middle of ``predict`` and ``train`` is at the end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import typing
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
import typer
import typer.core
from dnaseq_runner import run_in_process

from dnaseq_cli.cli.app import app
from dnaseq_cli.data.preprocess import PreprocessOptions, preprocess
from dnaseq_cli.models import checkpoint, factory

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
WINDOW = 200

# ----------------------------------------------------------------------------------------------
# The workspace: what a user's folder holds when they make the mistake


def _write_model(folder: Path, n_out: int = 2) -> None:
    torch.manual_seed(0)
    spec = factory.model_spec("cnn", "tiny")
    model = factory.build_classifier(spec, n_out).eval()
    checkpoint.save_checkpoint(
        model,
        folder,
        data={
            "task": "binary",
            "classes": ["0", "1"],
            "window_length": WINDOW,
            "stored_encoding": "char",
            "model_encoding": factory.encoding_of("cnn"),
        },
    )


def _build_template(root: Path) -> Path:
    """x.fa, t.tsv, ref.fa(+.fai), v.vcf, model/, ds/ (a dataset), goodrun/, foreign/, notes.txt."""
    w = root / "template"
    w.mkdir()
    table = pd.read_csv(EXAMPLES / "enhancers_cohn.tsv", sep="\t")
    table = pd.concat([table[table.label == 0].head(30), table[table.label == 1].head(30)])
    table["seq"] = table["seq"].str[150:350]
    table.to_csv(w / "t.tsv", sep="\t", index=False)
    with open(w / "x.fa", "w") as fasta:
        for row in table.head(6).itertuples():
            fasta.write(f">{row.name}\n{row.seq}\n")
    shutil.copy(EXAMPLES / "ref_brca1.fa", w / "ref.fa")
    shutil.copy(EXAMPLES / "ref_brca1.fa.fai", w / "ref.fa.fai")
    (w / "v.vcf").write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=ref_brca1>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    _fill_vcf(w / "v.vcf", w / "ref.fa")
    _write_model(w / "model")
    preprocess(PreprocessOptions(inputs=[w / "t.tsv"], seed=1), w / "ds")
    shutil.copytree(w / "ds", w / "goodrun")  # a folder dnaseq wrote (it carries the marker)
    (w / "foreign").mkdir()
    (w / "foreign" / "thesis.txt").write_text("four years of work\n")
    (w / "notes.txt").write_text("unrelated user file\n")
    (w / "home").mkdir()
    (w / "home" / "bashrc").write_text("export PATH\n")
    return w


def _fill_vcf(vcf: Path, reference: Path) -> None:
    """Five SNVs whose REF matches the reference (so the run would succeed)."""
    sequence = "".join(reference.read_text().splitlines()[1:])
    lines = vcf.read_text()
    for pos in (1000, 1500, 2000, 2500, 3000):
        ref = sequence[pos - 1].upper()
        alt = "A" if ref != "A" else "C"
        lines += f"ref_brca1\t{pos}\tv{pos}\t{ref}\t{alt}\t.\t.\t.\n"
    vcf.write_text(lines)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return _build_template(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def workspace(template, tmp_path, monkeypatch) -> Path:
    w = tmp_path / "w"
    shutil.copytree(template, w, symlinks=True)
    monkeypatch.chdir(w)
    monkeypatch.setenv("HOME", str(w / "home"))
    return w


# ----------------------------------------------------------------------------------------------
# The tree snapshot


def _describe(path: Path) -> tuple:
    info = os.lstat(path)
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(mode):
        return ("dir",)
    if stat.S_ISREG(mode):
        return ("file", info.st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    if stat.S_ISFIFO(mode):
        return ("fifo",)
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return ("device", stat.S_IFMT(mode), info.st_rdev)
    return ("other", stat.S_IFMT(mode))


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (links not followed) with what identifies its content."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = _describe(path)
    return found


def changed(before: dict[str, tuple], after: dict[str, tuple]) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


# ----------------------------------------------------------------------------------------------
# Model-file faults (each edits model/ in the workspace)


def _config(w: Path) -> dict:
    return json.loads((w / "model" / "config.json").read_text())


def _set_config(w: Path, edit: Callable[[dict], object]) -> None:
    config = _config(w)
    edit(config)
    (w / "model" / "config.json").write_text(json.dumps(config))


def _truncate_weights(w: Path) -> None:
    weights = w / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _empty_weights(w: Path) -> None:
    (w / "model" / "model.safetensors").write_bytes(b"")


def _flip_weight_bits(w: Path) -> None:
    weights = w / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    for offset in range(len(data) - 400, len(data), 4):
        data[offset] ^= 0x7F
    weights.write_bytes(bytes(data))


def _garbage_weights_same_size(w: Path) -> None:
    weights = w / "model" / "model.safetensors"
    weights.write_bytes(os.urandom(weights.stat().st_size))


def _nested(key: str, value: object) -> Callable[[dict], None]:
    """Set ``value`` at the key wherever it is (top level or under the config's "data")."""

    def edit(config: dict) -> None:
        holder = config["data"] if key in config.get("data", {}) else config
        holder[key] = value

    return edit


def _three_classes(config: dict) -> None:
    data = config["data"] if "classes" in config.get("data", {}) else config
    data["classes"] = ["a", "b", "c"]
    data["task"] = "multiclass"


def _config_is_a_list(w: Path) -> None:
    (w / "model" / "config.json").write_text("[1, 2, 3]\n")


def _config_not_json(w: Path) -> None:
    (w / "model" / "config.json").write_text("{not json\n")


def _drop_config_field(field: str) -> Callable[[Path], None]:
    def setup(w: Path) -> None:
        config = _config(w)
        config.pop(field)
        (w / "model" / "config.json").write_text(json.dumps(config))

    return setup


# ----------------------------------------------------------------------------------------------
# Output targets that are not regular files


def _symlink_to_file(w: Path) -> None:
    (w / "real.tsv").write_text("old results\n")
    (w / "link.tsv").symlink_to("real.tsv")


def _dangling_symlink(w: Path) -> None:
    (w / "link.tsv").symlink_to("made_by_link.tsv")


def _device_node(w: Path) -> None:
    os.mknod(w / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))


def _fifo(w: Path) -> None:
    os.mkfifo(w / "pipe")


def _planted_resume_state(w: Path) -> None:
    """A run folder whose last_state.pt, if unpickled, would create w/pwned."""
    import pickle

    class WritesFile:
        def __reduce__(self):
            return (open, (str(w / "pwned"), "w"))

    run = w / "badrun"
    run.mkdir()
    (run / "last_state.pt").write_bytes(
        pickle.dumps({"format": 2, "model": {}, "state": WritesFile()}, protocol=2)
    )
    torch.save({"format": 2, "model": {}, "state": WritesFile()}, run / "zip_state.pt")


def _empty_splits_dataset(w: Path) -> None:
    """ds/ with every window moved into the train split (val and test empty)."""
    splits = w / "ds" / "records.tsv"
    if splits.exists():
        table = pd.read_csv(splits, sep="\t")
        table["split"] = "train"
        table.to_csv(splits, sep="\t", index=False)
        return
    raise AssertionError(f"dataset layout changed: {sorted(p.name for p in (w / 'ds').iterdir())}")


# ----------------------------------------------------------------------------------------------
# The table


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    mention: str = ""
    """A substring the one-line error must contain (the file or option at fault)."""
    code: int = 2
    setup: Callable[[Path], None] | None = None
    changes: frozenset[str] = frozenset()
    """Workspace entries the command may create or change (the outputs the user asked for)."""
    check: Callable[[Path, subprocess.CompletedProcess], None] | None = None
    needs_root: bool = False
    empty_stdout: bool = False


PREDICT = ("predict", "x.fa", "-m", "model", "--quiet")
VEP = ("vep", "v.vcf", "-r", "ref.fa", "-m", "model", "--quiet")
TRAIN = ("train", "--backbone", "cnn", "--epochs", "1", "--batch-size", "16", "--quiet",
         "--device", "cpu")  # fmt: skip


def _rows_written(path: str) -> Callable[[Path, subprocess.CompletedProcess], None]:
    def check(w: Path, result: subprocess.CompletedProcess) -> None:
        lines = (w / path).read_text().splitlines()
        assert lines[0].startswith("name") and len(lines) == 7, lines[:2]

    return check


def _link_kept(w: Path, result: subprocess.CompletedProcess) -> None:
    assert (w / "link.tsv").is_symlink()
    assert os.readlink(w / "link.tsv") in ("real.tsv", "made_by_link.tsv")


def _still_a_device(w: Path, result: subprocess.CompletedProcess) -> None:
    assert stat.S_ISCHR(os.lstat(w / "null").st_mode)


def _dev_null_kept(w: Path, result: subprocess.CompletedProcess) -> None:
    info = os.lstat("/dev/null")
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(1, 3)


def _nothing_unpickled(w: Path, result: subprocess.CompletedProcess) -> None:
    assert not (w / "pwned").exists()


CASES: list[Case] = [
    # --- outputs that are the command's own inputs ---------------------------------------------
    Case("predict-o-is-input", (*PREDICT, "-o", "x.fa"), "x.fa"),
    Case("predict-o-is-model-weights", (*PREDICT, "-o", "model/model.safetensors"), "model"),
    Case("predict-o-inside-model", (*PREDICT, "-o", "model/scores.tsv"), "model"),
    Case("vep-o-is-vcf", (*VEP, "-o", "v.vcf"), "v.vcf"),
    Case("vep-o-is-reference", (*VEP, "-o", "ref.fa"), "ref.fa"),
    Case("vep-o-is-reference-index", (*VEP, "-o", "ref.fa.fai"), "ref.fa.fai"),
    Case(
        "vep-output-vcf-is-reference", (*VEP, "-o", "out.tsv", "--output-vcf", "ref.fa"), "ref.fa"
    ),  # fmt: skip
    Case("vep-output-vcf-is-vcf", (*VEP, "-o", "out.tsv", "--output-vcf", "v.vcf"), "v.vcf"),
    Case("preprocess-o-is-input", ("preprocess", "x.fa", "-o", "x.fa", "--force"), "x.fa"),
    Case("train-dataset-onto-itself", (*TRAIN, "ds", "-o", "ds", "--force"), "ds"),
    Case("train-run-inside-dataset", (*TRAIN, "ds", "-o", "ds/run"), "ds"),
    Case(
        "ensemble-onto-member", ("ensemble", "model", "model", "-o", "model", "--force"), "model"
    ),  # fmt: skip
    # --- folders dnaseq must never replace -----------------------------------------------------
    Case("train-o-dot-force", (*TRAIN, "t.tsv", "-o", ".", "--force"), "the current folder"),
    Case(
        "train-o-parent-force", (*TRAIN, "t.tsv", "-o", "..", "--force"), "holds the current folder"
    ),
    Case("train-o-root-force", (*TRAIN, "t.tsv", "-o", "/", "--force"), "the root folder"),
    Case("train-o-home-force", (*TRAIN, "t.tsv", "-o", "home", "--force"), "the home folder"),
    Case("train-o-foreign-force", (*TRAIN, "t.tsv", "-o", "foreign", "--force"), "foreign"),
    Case(
        "train-missing-input-force",
        (*TRAIN, "nosuch.tsv", "-o", "goodrun", "--force"),
        "nosuch.tsv",
    ),  # fmt: skip
    Case("train-existing-no-force", (*TRAIN, "t.tsv", "-o", "goodrun"), "goodrun"),
    Case(
        "preprocess-o-dot-force",
        ("preprocess", "t.tsv", "-o", ".", "--force"),
        "the current folder",
    ),
    Case(
        "preprocess-o-foreign-force", ("preprocess", "t.tsv", "-o", "foreign", "--force"), "foreign"
    ),  # fmt: skip
    Case(
        "preprocess-o-is-file", ("preprocess", "t.tsv", "-o", "notes.txt", "--force"), "notes.txt"
    ),  # fmt: skip
    Case(
        "compare-run-foreign-force",
        (
            "compare",
            "--run",
            "ds",
            "--output",
            "foreign",
            "--force",
            "--backbones",
            "cnn",
            "--epochs",
            "1",
            "--quiet",
            "--device",
            "cpu",
        ),
        "foreign",
    ),  # fmt: skip
    Case(
        "compare-run-dot-force",
        (
            "compare",
            "--run",
            "ds",
            "--output",
            ".",
            "--force",
            "--backbones",
            "cnn",
            "--epochs",
            "1",
            "--quiet",
            "--device",
            "cpu",
        ),
        "the current folder",
    ),  # fmt: skip
    Case(
        "ensemble-foreign-force",
        ("ensemble", "model", "model", "-o", "foreign", "--force"),
        "foreign",
    ),  # fmt: skip
    Case(
        "ensemble-dot-force",
        ("ensemble", "model", "model", "-o", ".", "--force"),
        "the current folder",
    ),
    # --- output paths that cannot be written ---------------------------------------------------
    Case("predict-o-proc", (*PREDICT, "-o", "/proc/x"), "/proc/x"),
    Case("predict-o-existing-folder", (*PREDICT, "-o", "foreign"), "foreign"),
    Case("vep-o-existing-folder", (*VEP, "-o", "foreign"), "foreign"),
    # --- outputs that are streams, links or devices: written in place, never replaced ----------
    Case("predict-o-dev-null", (*PREDICT, "-o", "/dev/null"), code=0, check=_dev_null_kept),
    Case(
        "predict-o-device-node",
        (*PREDICT, "-o", "null"),
        code=0,
        setup=_device_node,
        check=_still_a_device,
        needs_root=True,
    ),  # fmt: skip
    Case(
        "predict-o-symlink",
        (*PREDICT, "-o", "link.tsv"),
        code=0,
        setup=_symlink_to_file,
        changes=frozenset({"real.tsv"}),
        check=_link_kept,
    ),  # fmt: skip
    Case(
        "predict-o-dangling-symlink",
        (*PREDICT, "-o", "link.tsv"),
        code=0,
        setup=_dangling_symlink,
        changes=frozenset({"made_by_link.tsv"}),
        check=_link_kept,
    ),  # fmt: skip
    Case(
        "predict-o-regular-file",
        (*PREDICT, "-o", "notes.txt"),
        code=0,
        changes=frozenset({"notes.txt"}),
        check=_rows_written("notes.txt"),
    ),  # fmt: skip
    # --- the wrong kind of input: nothing on stdout ---------------------------------------------
    Case(
        "predict-vcf-as-fasta",
        ("predict", "v.vcf", "-m", "model", "--format", "fasta"),
        "v.vcf",
        empty_stdout=True,
    ),  # fmt: skip
    Case(
        "predict-index-as-input",
        ("predict", "ref.fa.fai", "-m", "model"),
        "ref.fa.fai",
        empty_stdout=True,
    ),  # fmt: skip
    Case(
        "vep-fasta-as-vcf",
        ("vep", "x.fa", "-r", "ref.fa", "-m", "model"),
        "x.fa",
        empty_stdout=True,
    ),  # fmt: skip
    Case(
        "vep-vcf-as-reference",
        ("vep", "v.vcf", "-r", "t.tsv", "-m", "model"),
        "t.tsv",
        empty_stdout=True,
    ),  # fmt: skip
    Case(
        "predict-missing-input",
        ("predict", "nosuch.fa", "-m", "model"),
        "nosuch.fa",
        empty_stdout=True,
    ),  # fmt: skip
    # --- option values checked against the model -----------------------------------------------
    Case("predict-window-differs-from-model", (*PREDICT, "--window", "1000"), "--window"),
    Case("vep-window-differs-from-model", (*VEP, "--window", "1000"), "--window"),
    Case("predict-window-zero", (*PREDICT, "--window", "0"), "--window"),
    Case("predict-stride-zero", (*PREDICT, "--stride", "0"), "--stride"),
    Case("predict-bad-aggregate", (*PREDICT, "--aggregate", "median"), "--aggregate"),
    Case("predict-bad-format", (*PREDICT, "--format", "xml"), "--format"),
    Case("predict-bad-device", (*PREDICT, "--device", "tpu"), "--device"),
    Case("predict-bad-log-level", ("--log-level", "loud", *PREDICT), "--log-level"),
    Case("compare-bad-format", ("compare", "--format", "xml"), "--format"),
    Case(
        "train-bad-backbone", (*TRAIN, "t.tsv", "-o", "new", "--backbone", "resnet"), "resnet"
    ),  # fmt: skip
    Case(
        "train-bad-max-time", (*TRAIN, "t.tsv", "-o", "new", "--max-time", "soon"), "--max-time"
    ),  # fmt: skip
    # the values the first report named (also covered by the generated cases below)
    Case(
        "train-batch-size-zero", (*TRAIN, "t.tsv", "-o", "new", "--batch-size", "0"), "--batch-size"
    ),  # fmt: skip
    Case("train-epochs-zero", (*TRAIN, "t.tsv", "-o", "new", "--epochs", "0"), "--epochs"),
    Case("train-lr-negative", (*TRAIN, "t.tsv", "-o", "new", "--lr", "-1"), "--lr"),
    Case("train-window-negative", (*TRAIN, "t.tsv", "-o", "new", "--window", "-5"), "--window"),
    Case("train-stride-zero", (*TRAIN, "t.tsv", "-o", "new", "--stride", "0"), "--stride"),
    Case(
        "preprocess-stride-negative",
        ("preprocess", "t.tsv", "-o", "new", "--stride", "-3"),
        "--stride",
    ),  # fmt: skip
    Case(
        "preprocess-flank-negative",
        ("preprocess", "t.tsv", "-o", "new", "--flank", "-100"),
        "--flank",
    ),  # fmt: skip
    Case(
        "preprocess-window-zero", ("preprocess", "t.tsv", "-o", "new", "--window", "0"), "--window"
    ),  # fmt: skip
    Case("vep-batch-size-zero", (*VEP, "--batch-size", "0"), "--batch-size"),
    Case("train-lr-huge", (*TRAIN, "t.tsv", "-o", "new", "--lr", "1e38"), "--lr"),
    Case(
        "ensemble-bad-weights",
        ("ensemble", "model", "model", "-o", "e", "--weights", "1,x"),
        "--weights",
    ),  # fmt: skip
    # --- model folders: damaged, tampered or inconsistent --------------------------------------
    Case("model-weights-truncated", PREDICT, "model.safetensors", setup=_truncate_weights),
    Case("model-weights-empty", PREDICT, "model.safetensors", setup=_empty_weights),
    Case("model-weights-bit-flipped", PREDICT, "model.safetensors", setup=_flip_weight_bits),
    Case(
        "model-weights-garbage", PREDICT, "model.safetensors", setup=_garbage_weights_same_size
    ),  # fmt: skip
    Case(
        "model-config-extra-field",
        PREDICT,
        "config.json",
        setup=lambda w: _set_config(w, lambda c: c.update(surprise=1)),
    ),  # fmt: skip
    Case(
        "model-config-window-string",
        PREDICT,
        "window_length",
        setup=lambda w: _set_config(w, _nested("window_length", "500bp")),
    ),  # fmt: skip
    Case(
        "model-config-window-negative",
        PREDICT,
        "window_length",
        setup=lambda w: _set_config(w, _nested("window_length", -500)),
    ),  # fmt: skip
    Case(
        "model-config-three-classes-two-outputs",
        PREDICT,
        "classes",
        setup=lambda w: _set_config(w, _three_classes),
    ),  # fmt: skip
    Case(
        "model-config-missing-backbone", PREDICT, "backbone", setup=_drop_config_field("backbone")
    ),  # fmt: skip
    Case("model-config-list", PREDICT, "config.json", setup=_config_is_a_list),
    Case("model-config-not-json", PREDICT, "config.json", setup=_config_not_json),
    Case("vep-model-weights-truncated", VEP, "model.safetensors", setup=_truncate_weights),
    Case(
        "ensemble-member-config-list",
        ("ensemble", "model", "model", "-o", "e"),
        "config.json",
        setup=_config_is_a_list,
    ),  # fmt: skip
    # --- training inputs that cannot give an honest result --------------------------------------
    Case(
        "train-empty-val-and-test", (*TRAIN, "ds", "-o", "new"), "ds", setup=_empty_splits_dataset
    ),  # fmt: skip
    Case(
        "train-resume-planted-pickle",
        (*TRAIN, "ds", "-o", "badrun", "--resume"),
        "last_state.pt",
        setup=_planted_resume_state,
        check=_nothing_unpickled,
    ),  # fmt: skip
]

EXPLAIN = ("explain", "x.fa", "-m", "model", "--quiet")
CASES += [
    Case("explain-o-is-input", (*EXPLAIN, "-o", "x.fa"), "x.fa"),
    Case("explain-npz-is-model-weights", (*EXPLAIN, "--npz", "model/model.safetensors"), "model"),
    Case("explain-motif-bed-is-input", (*EXPLAIN, "--motif-bed", "x.fa"), "x.fa"),
    Case("explain-plot-dir-dot", (*EXPLAIN, "-o", "o.tsv", "--plot-dir", "."), "current folder"),
    Case("explain-method-bogus", (*EXPLAIN, "--method", "bogus"), "--method", empty_stdout=True),
    Case(
        "explain-gradient-on-kmer-member",
        ("explain", "x.fa", "--method", "saliency", "--quiet"),
        "kmer",
        empty_stdout=True,
    ),  # fmt: skip
    Case("explain-region-malformed", (*EXPLAIN, "--region", "ten-20"), "--region"),
]

# --- the model zoo: `dnaseq models` and --model NAME --------------------------------------------
CASES += [
    Case("models-bad-format", ("models", "--format", "xml"), "--format", empty_stdout=True),
    Case("models-bad-format-markdown", ("models", "--format", "markdown"), "--format"),
    Case(
        "predict-unknown-model-name",
        ("predict", "x.fa", "-m", "no_such_model"),
        "--model",
        empty_stdout=True,
    ),  # fmt: skip
    Case(
        "predict-unknown-bundled-name",
        ("predict", "x.fa", "-m", "bundled:no_such_model"),
        "--model",
        empty_stdout=True,
    ),  # fmt: skip
    Case(
        "vep-unknown-model-name",
        ("vep", "v.vcf", "-r", "ref.fa", "-m", "no_such_model"),
        "--model",
        empty_stdout=True,
    ),  # fmt: skip
    Case(
        "explain-unknown-model-name",
        ("explain", "x.fa", "-m", "no_such_model"),
        "--model",
        empty_stdout=True,
    ),  # fmt: skip
    Case(
        "predict-model-name-is-a-file",
        ("predict", "x.fa", "-m", "notes.txt"),
        "--model",
        empty_stdout=True,
    ),  # fmt: skip
]

# ----------------------------------------------------------------------------------------------
# Every numeric option of every command, from the commands themselves

VALID_INVOCATION = {
    "predict": (*PREDICT, "-o", "out.tsv"),
    "vep": (*VEP, "-o", "out.tsv"),
    "explain": (*EXPLAIN, "-o", "out.tsv"),
    "preprocess": ("preprocess", "t.tsv", "-o", "newds"),
    "train": (*TRAIN, "ds", "-o", "newrun"),
    "compare": ("compare", "--format", "tsv"),
    "ensemble": ("ensemble", "model", "model", "-o", "ens"),
    "fetch": ("fetch", "--list"),
    "models": ("models", "--format", "tsv"),
}


def _number_type(param: typer.core.TyperOption) -> type | None:
    """int or float for a numeric option (``int | None`` included), else None."""
    annotation = param.type_descriptor.annotation
    kinds = [kind for kind in typing.get_args(annotation) if kind is not type(None)] or [annotation]
    return kinds[0] if len(kinds) == 1 and kinds[0] in (int, float) else None


def _numeric_options() -> list[tuple[str, typer.core.TyperOption]]:
    group = typer.main.get_command(app)
    found = []
    for name, command in sorted(group.commands.items()):
        for param in command.params:
            if isinstance(param, typer.core.TyperOption) and _number_type(param) is not None:
                found.append((name, param))
    return found


def numeric_option_cases() -> list[Case]:
    """For each numeric option: a word, a negative number and (floats) nan and inf."""
    cases = []
    for command, param in _numeric_options():
        option = max(param.opts, key=len)
        floats = _number_type(param) is float
        bad = ["many", "-7"] + (["nan", "inf", "-1e-9"] if floats else ["0.5"])
        for value in bad:
            cases.append(
                Case(
                    f"{command}-{option.strip('-')}={value}",
                    (*VALID_INVOCATION[command], option, value),
                    option,
                )  # fmt: skip
            )
    return cases


def test_every_numeric_option_has_a_range_check():
    """A numeric option without a callback would take 0 or -1 silently."""
    unchecked = [f"{command} {max(p.opts, key=len)}" for command, p in _numeric_options()
                 if p.callback is None]  # fmt: skip
    assert not unchecked, unchecked


def test_every_command_has_a_valid_invocation_in_the_suite():
    assert set(typer.main.get_command(app).commands) == set(VALID_INVOCATION)


# ----------------------------------------------------------------------------------------------
# The test


def _reader(path: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as stream:
            into.append(stream.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


ALL_CASES = CASES + numeric_option_cases()


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.id for case in ALL_CASES])
def test_fault(case: Case, workspace: Path):
    if case.needs_root and not IS_ROOT:
        pytest.skip("device nodes need root (os.mknod)")
    if case.setup is not None:
        case.setup(workspace)
    before = snapshot(workspace)
    received: list[bytes] = []
    reader = _reader(workspace / "pipe", received) if (workspace / "pipe").exists() else None
    result = run_in_process(*case.args)
    if reader is not None:
        reader.join(timeout=30)
    after = snapshot(workspace)

    assert result.returncode == case.code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    if case.code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert case.mention in lines[0], lines[0]
    if case.empty_stdout:
        assert result.stdout == "", result.stdout[:200]
    assert changed(before, after) == set(case.changes), changed(before, after)
    assert not [name for name in after if name.endswith(".tmp")]
    if case.check is not None:
        case.check(workspace, result)


def test_fifo_output_is_streamed_not_replaced(workspace: Path):
    _fifo(workspace)
    before = snapshot(workspace)
    received: list[bytes] = []
    reader = _reader(workspace / "pipe", received)
    result = run_in_process(*PREDICT, "-o", "pipe")
    reader.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(workspace / "pipe").st_mode)
    assert changed(before, snapshot(workspace)) == set()
    rows = received[0].decode().splitlines()
    assert rows[0].startswith("name") and len(rows) == 7


def test_dev_fd_output_from_process_substitution(workspace: Path):
    """``-o >(gzip > x)`` hands dnaseq ``/dev/fd/N``: written to, never renamed onto."""
    read_end, write_end = os.pipe()
    received: list[bytes] = []

    def read() -> None:
        with os.fdopen(read_end, "rb") as stream:
            received.append(stream.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    before = snapshot(workspace)
    try:
        result = run_in_process(*PREDICT, "-o", f"/dev/fd/{write_end}")
    finally:
        os.close(write_end)
    thread.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert changed(before, snapshot(workspace)) == set()
    assert len(received[0].decode().splitlines()) == 7


# ----------------------------------------------------------------------------------------------
# SIGTERM (what batch schedulers send) in the middle of a run


def _start(workspace: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dnaseq_cli", *args],
        cwd=workspace,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the command finished before it could be terminated"
    assert condition(), "the command did not get going in time"


def test_sigterm_in_the_middle_of_predict(workspace: Path):
    with open(workspace / "big.fa", "w") as fasta:
        for i in range(20000):
            fasta.write(f">r{i}\n{'ACGTTGCA' * 100}\n")
    before = snapshot(workspace)
    process = _start(workspace, "predict", "big.fa", "-m", "model", "-o", "big.tsv",
                     "--device", "cpu")  # fmt: skip
    _wait_for(lambda: any(p.name.endswith(".tmp") for p in workspace.iterdir()), process, 120)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 143, stderr
    assert "terminated by SIGTERM" in stderr and "Traceback" not in stderr
    assert changed(before, snapshot(workspace)) == set()


def test_sigterm_in_the_middle_of_train(workspace: Path):
    before = snapshot(workspace)
    process = _start(workspace, *TRAIN[:4], "50", *TRAIN[5:], "ds", "-o", "run",
                     "--patience", "0")  # fmt: skip
    partial = workspace / ".run.partial"
    _wait_for(lambda: (partial / "metrics_per_epoch.tsv").exists(), process, 120)
    process.send_signal(signal.SIGTERM)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr
    after = snapshot(workspace)
    # only the unfinished run, kept for --resume; no run folder, no temporary file
    assert {name.split(os.sep)[0] for name in changed(before, after)} == {".run.partial"}
    assert not (workspace / "run").exists()
    assert not [name for name in after if name.endswith(".tmp")]
