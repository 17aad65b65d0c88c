"""``dnaseq predict --reference GENOME.fa`` with no input: a genome-wide bedGraph/bigWig track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dnaseq_runner import run_in_process as run_cli

from dnaseq_cli.predict.genome import Span, bins, window_starts
from dnaseq_cli.predict.model import WindowScorer
from dnaseq_cli.windows import InMemorySource, fetch_padded

from .conftest import WINDOW, save_model


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """chrA: 1,050 bp with a 450-bp N block; chrB: 333 bp (shorter than one window)."""
    rng = np.random.default_rng(5)
    seqs = {
        "chrA": "".join(rng.choice(list("ACGT"), 300)) + "N" * 450
        + "".join(rng.choice(list("acgt"), 300)),
        "chrB": "".join(rng.choice(list("ACGT"), 333)),
    }  # fmt: skip
    path = tmp_path_factory.mktemp("genome") / "genome.fa"
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in seqs.items()))
    return path, seqs


def read_track(path: Path) -> pd.DataFrame:
    lines = path.read_text().splitlines()
    assert lines[0].startswith("track type=bedGraph")
    rows = [line.split("\t") for line in lines[1:]]
    table = pd.DataFrame(rows, columns=["chrom", "start", "end", "value"])
    return table.astype({"start": int, "end": int, "value": float})


@pytest.mark.parametrize("stride", [WINDOW, 50])
def test_track_bins_tile_each_contig_and_hold_the_window_scores(tiny_model, genome, tmp_path,
                                                                stride):  # fmt: skip
    reference, seqs = genome
    out = tmp_path / "track.bedgraph"
    result = run_cli("predict", "-r", reference, "-m", tiny_model, "--stride", stride, "-o", out,
                     "--device", "cpu")  # fmt: skip
    assert result.returncode == 0, result.stderr
    track = read_track(out)
    scorer = WindowScorer(str(tiny_model), device="cpu")
    source = InMemorySource(seqs)
    skipped = 0
    for chrom, seq in seqs.items():
        span = Span(chrom, 0, len(seq))
        starts = window_starts(span, WINDOW, stride)
        lefts, rights = bins(span, starts, WINDOW, stride)
        assert lefts[0] == 0 and rights[-1] == len(seq)
        assert (lefts[1:] == rights[:-1]).all() and (rights > lefts).all()  # no gap, no overlap
        rows = track[track.chrom == chrom]
        expected = []
        for start, left, right in zip(starts, lefts, rights, strict=True):
            window, valid = fetch_padded(source, chrom, int(start), int(start) + WINDOW)
            if not set(window.upper()) - {"N"}:
                skipped += 1
                continue
            expected.append((left, right, scorer.score([window], valid[None])[0, -1]))
        assert list(zip(rows.start, rows.end, strict=True)) == [(a, b) for a, b, _ in expected]
        assert np.allclose(rows.value, [v for _, _, v in expected], atol=1e-5)
    assert skipped >= 1  # the N block leaves a gap
    assert f"{skipped:,} all-N windows left out" in result.stderr


def test_contigs_and_regions_choose_what_is_tiled(tiny_model, genome, tmp_path):
    reference, seqs = genome
    out = tmp_path / "b.bedgraph"
    assert run_cli("predict", "-r", reference, "-m", tiny_model, "--contigs", "chrB", "-o", out,
                   "--quiet").returncode == 0  # fmt: skip
    track = read_track(out)
    assert set(track.chrom) == {"chrB"} and (track.start.iloc[0], track.end.iloc[-1]) == (0, 333)
    bed = tmp_path / "r.bed"
    bed.write_text("chrA\t700\t900\nchrA\t850\t1000\nchrB\t10\t20\n")  # overlapping: merged
    out = tmp_path / "r.bedgraph"
    assert run_cli("predict", "-r", reference, "-m", tiny_model, "--regions", bed, "-o", out,
                   "--quiet").returncode == 0  # fmt: skip
    track = read_track(out)
    spans = track.groupby("chrom").agg(start=("start", "min"), end=("end", "max"))
    assert spans.loc["chrA"].tolist() == [700, 1000]  # one span: 700-900 and 900-1100 windows
    assert spans.loc["chrB"].tolist() == [10, 20]


def test_bigwig_holds_the_same_values(tiny_model, genome, tmp_path):
    pyBigWig = pytest.importorskip("pyBigWig")
    reference, _ = genome
    bedgraph, bigwig = tmp_path / "t.bedgraph", tmp_path / "t.bw"
    result = run_cli("predict", "-r", reference, "-m", tiny_model, "-o", bedgraph, "--bigwig",
                     bigwig, "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    track = read_track(bedgraph)
    with pyBigWig.open(str(bigwig)) as handle:
        assert handle.chroms() == {"chrA": 1050, "chrB": 333}
        entries = [(c, s, e, v) for c in ("chrA", "chrB") for s, e, v in handle.intervals(c)]
    assert [(c, s, e) for c, s, e, _ in entries] == list(
        zip(track.chrom, track.start, track.end, strict=True)
    )
    assert np.allclose([v for *_, v in entries], track.value, atol=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("predict", "-m", "{model}"), "--reference GENOME.fa alone"),
        (("predict", "-r", "{genome}", "-m", "{model}", "--contigs", "chrZ"), "chrZ"),
        (("predict", "{genome}", "-m", "{model}", "--bigwig", "x.bw"), "--bigwig"),
        (("predict", "-r", "{genome}", "-m", "{three}"), "class probabilities"),
        (("predict", "-r", "{genome}", "-m", "{model}", "-o", "{genome}"), "genome.fa"),
    ],
)
def test_bad_genome_track_requests_exit_2(tiny_model, genome, tmp_path, args, message):
    three = save_model(tmp_path / "three", n_out=3)
    values = {"model": tiny_model, "genome": genome[0], "three": three}
    before = genome[0].read_bytes()
    result = run_cli(*(str(a).format(**values) for a in args))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert genome[0].read_bytes() == before
