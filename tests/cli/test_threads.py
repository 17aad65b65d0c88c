"""``--threads`` and the default thread count: the affinity mask, OMP_NUM_THREADS, torchrun."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from dnaseq_runner import run_in_process

from dnaseq_cli import threads


@pytest.fixture(autouse=True)
def keep_torch_threads():
    saved = torch.get_num_threads()
    yield
    torch.set_num_threads(saved)


def test_default_is_the_affinity_mask_shared_among_local_processes(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert threads.default_threads() == 6
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert threads.default_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.default_threads() == 3


def test_use_threads_sizes_torch(monkeypatch):
    assert threads.use_threads(1) == 1 and torch.get_num_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert threads.use_threads(None) == threads.available_cores() == torch.get_num_threads()


def test_taskset_limits_the_default():
    """A process allowed one core runs one thread, whatever the machine has."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from dnaseq_cli.threads import use_threads; import torch; use_threads(None); "
        "print(torch.get_num_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", "import dnaseq_cli.cli; " + code],
                         capture_output=True, text=True, env=env, check=True).stdout  # fmt: skip
    assert out.split() == ["1"]


def test_threads_option_is_used_by_predict(tiny_model_for_threads):
    result = run_in_process("predict", "-", "-m", tiny_model_for_threads, "--threads", "1",
                            stdin=">a\nACGTACGTAC\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert torch.get_num_threads() == 1


@pytest.fixture
def tiny_model_for_threads(tmp_path):
    from dnaseq_cli.models import checkpoint, factory

    spec = factory.model_spec("cnn", "tiny")
    checkpoint.save_checkpoint(factory.build_classifier(spec, 2), tmp_path / "m", data={
        "task": "binary", "classes": ["0", "1"], "window_length": 50, "stored_encoding": "char",
        "model_encoding": factory.encoding_of("cnn")})  # fmt: skip
    return tmp_path / "m"


def test_every_command_that_runs_a_model_has_threads():
    import typer

    from dnaseq_cli.cli.app import app

    group = typer.main.get_command(app)
    runs_a_model = ("predict", "vep", "explain", "train", "compare", "ensemble")
    for name in runs_a_model:
        options = {opt for param in group.commands[name].params for opt in param.opts}
        assert "--threads" in options, name


def test_threads_option_is_used_by_vep(tiny_model_for_threads, tmp_path):
    reference = tmp_path / "ref.fa"
    reference.write_text(">chr1\n" + "ACGT" * 50 + "\n")
    vcf = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t10\t.\tT\tA\t.\t.\t.\n"
    result = run_in_process("vep", "-", "-r", reference, "-m", tiny_model_for_threads,
                            "--threads", "1", "-q", stdin=vcf)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert torch.get_num_threads() == 1
