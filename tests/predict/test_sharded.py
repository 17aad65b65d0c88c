"""`predict` and `vep` under torchrun: work split by process, one output byte-identical to one
process (2 gloo processes on CPU), and the round bookkeeping that makes it so."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from dnaseq_runner import torchrun

from dnaseq_cli.errors import InputError
from dnaseq_cli.shards import DEBUG_ENV, Shards, from_env

from .conftest import save_model


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 5, 6, 7])
def test_rounds_give_every_unit_to_exactly_one_process_in_input_order(world, n):
    owners: dict[int, list[int]] = {}
    for rank in range(world):
        rounds = list(Shards(rank=rank, world=world).rounds(range(n)))
        assert [unit for r in rounds for _, unit in r] == list(range(n))  # all see every unit
        assert all(len(r) == world for r in rounds[:-1])  # only the last round may be short
        for r in rounds:
            for mine, unit in r:
                if mine:
                    owners.setdefault(unit, []).append(rank)
    assert owners == {unit: [unit % world] for unit in range(n)}


def test_torchrun_environment_is_checked():
    assert from_env({}) == Shards()
    assert from_env({"RANK": "1", "WORLD_SIZE": "2"}) == Shards(rank=1, world=2, local_rank=1)
    with pytest.raises(InputError):
        from_env({"RANK": "2", "WORLD_SIZE": "2"})


def _dnaseq(*args, processes: int = 1, cwd) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "dnaseq_cli", *map(str, args)]
    if processes > 1:
        command = torchrun(processes, *args)
    env = {**os.environ, DEBUG_ENV: "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def _units_per_process(stderr: str) -> dict[int, int]:
    found = re.findall(r"\[dnaseq shard (\d)/2\] (\d+) of (\d+) units", stderr)
    return {int(rank): int(mine) for rank, mine, _ in found}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A tiny model, a FASTA of records from 30 bp to 7 windows long, a reference and a VCF with
    duplicates far apart, an unknown contig and a REF mismatch."""
    root = tmp_path_factory.mktemp("sharded")
    model = save_model(root / "cnn")
    rng = np.random.default_rng(3)
    lengths = [30, 199, 200, 201, 777, 1400, *rng.integers(50, 1500, 24)]
    with (root / "records.fa").open("w") as fasta:
        for i, n in enumerate(lengths):
            fasta.write(f">r{i}\n{''.join(rng.choice(list('ACGTN'), n, p=[0.24] * 4 + [0.04]))}\n")
    seq = "".join(rng.choice(list("ACGT"), 5000))
    (root / "ref.fa").write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, 5000, 60)))
    other = {b: c for b, c in zip("ACGT", "CGTA", strict=True)}
    rows = [(p, seq[p - 1], other[seq[p - 1]]) for p in range(20, 4980, 41)]
    rows += rows[:5] + [(30, "A" if seq[29] != "A" else "C", "G")]  # duplicates, a mismatch
    body = "".join(
        f"chr1\t{p}\tv{i}\t{r}\t{a}\t.\tPASS\tDP={i}\n" for i, (p, r, a) in enumerate(rows)
    )
    body += "chr7\t5\tx\tA\tC\t.\t.\t.\n"
    (root / "v.vcf").write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=5000>\n"
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="d">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + body
    )
    return root, model


@pytest.mark.parametrize("per_window", [False, True])
def test_two_processes_predict_writes_what_one_writes(inputs, per_window):
    root, model = inputs
    extra = ["--per-window"] if per_window else []
    common = ["predict", "records.fa", "-m", model, "--batch-size", "8", "-q", *extra]
    one = _dnaseq(*common, "-o", "one.tsv", cwd=root)
    assert one.returncode == 0, one.stderr
    two = _dnaseq(*common, "-o", "two.tsv", processes=2, cwd=root)
    assert two.returncode == 0, two.stderr
    assert (root / "two.tsv").read_bytes() == (root / "one.tsv").read_bytes()
    units = _units_per_process(two.stderr)
    assert sorted(units) == [0, 1] and min(units.values()) > 0, two.stderr  # both did work
    assert not list(root.glob(".*tmp*"))


def test_two_processes_vep_write_what_one_writes(inputs):
    root, model = inputs
    outputs = ("-o", "{}.tsv", "--output-vcf", "{}.vcf.gz", "--skipped", "{}.skipped.tsv")
    common = ["vep", "v.vcf", "-r", "ref.fa", "-m", model, "--batch-size", "16", "-q"]
    results = {}
    for name, processes in (("one", 1), ("two", 2)):
        named = [part.format(name) for part in outputs]
        results[name] = _dnaseq(*common, *named, processes=processes, cwd=root)
        assert results[name].returncode == 0, results[name].stderr
    for suffix in (".tsv", ".skipped.tsv"):
        assert (root / f"two{suffix}").read_bytes() == (root / f"one{suffix}").read_bytes()
    import gzip

    def records(name):  # the command line differs (file names): compare all else
        text = gzip.open(root / f"{name}.vcf.gz", "rt").read()
        return [line for line in text.splitlines() if not line.startswith("##dnaseq_command")]

    assert records("two") == records("one")
    assert (root / "two.vcf.gz.tbi").is_file() == (root / "one.vcf.gz.tbi").is_file()
    table = (root / "one.tsv").read_text()
    assert table.count("duplicate") == 5 and "unknown_contig" in table and "ref_mismatch" in table
    units = _units_per_process(results["two"].stderr)
    assert sorted(units) == [0, 1] and min(units.values()) > 0, results["two"].stderr


@pytest.mark.parametrize(
    "args",
    [
        ("predict", "--reference", "ref.fa"),
        ("predict", "-"),
        ("vep", "-", "-r", "ref.fa"),
    ],
)
def test_sharded_runs_refuse_stdin_and_genome_tracks(inputs, args):
    """Checked before the process group is joined: one line, exit 2, no hanging for peers."""
    root, model = inputs
    env = {**os.environ, "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "dnaseq_cli", *args, "-m", str(model), "-o", "x.tsv"],
        capture_output=True, text=True, env=env, cwd=root, timeout=60, input="",
    )  # fmt: skip
    assert result.returncode == 2 and "torchrun" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (root / "x.tsv").exists()
