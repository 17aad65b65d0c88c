"""`dnaseq predict` on long records: windows cut a batch at a time, scores aggregated as they come,
progress inside a record, and the FASTA read from its index or streamed once."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from dnaseq_cli.errors import InputError
from dnaseq_cli.io import fasta as fasta_module
from dnaseq_cli.io.fasta import iter_fasta, scan_fasta
from dnaseq_cli.predict.model import WindowScorer
from dnaseq_cli.predict.sequences import ExactSum, PredictOptions, predict, predict_records
from dnaseq_cli.windows.tiling import symmetric_count, symmetric_starts, tile_symmetric

from .conftest import WINDOW

STRIDE = WINDOW // 2
#: 1, 2.5 and 7 windows' worth of bases, plus one shorter than a window.
LENGTHS = {"one": WINDOW, "two_half": 5 * WINDOW // 2, "seven": 7 * WINDOW, "short": 77}


@pytest.fixture(scope="module")
def scorer(tiny_model):
    return WindowScorer(tiny_model, device="cpu", batch_size=4)


def _random_seq(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


@pytest.fixture(scope="module")
def records() -> dict[str, str]:
    rng = np.random.default_rng(11)
    return {name: _random_seq(rng, n) for name, n in LENGTHS.items()}


def _write_fasta(path: Path, records: dict[str, str], width: int = 60) -> Path:
    with path.open("w") as handle:
        for name, seq in records.items():
            handle.write(f">{name}\n")
            handle.writelines(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
    return path


def _run(scorer, inputs, out: Path, **kwargs) -> pd.DataFrame:
    summary = predict(scorer, PredictOptions(inputs=inputs, output=str(out), **kwargs))
    table = pd.read_csv(out, sep="\t", dtype={"name": str})
    assert summary.windows == (len(table) if kwargs.get("per_window") else table.windows.sum())
    return table


def _direct(scorer, seq: str) -> tuple[list[int], np.ndarray]:
    """Window starts and scores of a record, cut and scored at once, without predict()."""
    if len(seq) <= WINDOW:
        valid = np.zeros((1, WINDOW), bool)
        valid[0, : len(seq)] = True
        return [0], scorer.score([seq + "N" * (WINDOW - len(seq))], valid)[:, -1]
    starts = tile_symmetric(len(seq), WINDOW, STRIDE).starts.tolist()
    return starts, scorer.score([seq[s : s + WINDOW] for s in starts])[:, -1]


@pytest.mark.parametrize("indexed", [False, True], ids=["streamed", "indexed"])
@pytest.mark.parametrize("group_windows", [3, 4096])
def test_lazy_windows_give_the_rows_of_scoring_them_directly(
    scorer, records, tmp_path, indexed, group_windows
):
    """Records of 1, 2.5 and 7 windows (and a short one), read from the index or streamed, and cut
    into groups smaller than a record or larger than all: the same windows and scores as scoring
    each record's tiles directly, and record rows that aggregate exactly those."""
    fasta = _write_fasta(tmp_path / "records.fa", records)
    if indexed:
        pysam.faidx(str(fasta))
    options = {"group_windows": group_windows}
    windows = _run(scorer, [fasta], tmp_path / "w.tsv", per_window=True, **options)
    table = _run(scorer, [fasta], tmp_path / "r.tsv", **options).set_index("name")
    means = _run(scorer, [fasta], tmp_path / "m.tsv", aggregate="mean", **options)
    assert list(means.name) == list(records)
    for name, seq in records.items():
        starts, scores = _direct(scorer, seq)
        rows = windows[windows.name == name]
        assert list(rows.start) == [s + 1 for s in starts]
        if len(seq) > WINDOW:
            assert list(rows.window) == [f"{name}:{s + 1}-{s + WINDOW}" for s in starts]
        np.testing.assert_allclose(rows.score, scores, rtol=1e-5, atol=1e-7)
        row = table.loc[name]
        assert row.windows == len(starts) == symmetric_count(len(seq), WINDOW, STRIDE)
        assert row.score_max == pytest.approx(scores.max(), rel=1e-5)
        assert row.score_mean == pytest.approx(scores.astype(np.float64).mean(), rel=1e-5)
        assert row["flags"] == ("short" if len(seq) < WINDOW else ".")
    assert list(table.windows) == [1, 4, 13, 1]  # 200, 500, 1400 and 77 bp, stride 100
    if not indexed:
        assert not Path(f"{fasta}.fai").exists()  # a small FASTA gets no index built beside it


def test_a_long_record_reports_progress_as_it_is_scored(scorer, records, tmp_path):
    """Progress moves within one record (batch by batch), and an indexed FASTA gives a total."""
    fasta = _write_fasta(tmp_path / "seven.fa", {"seven": records["seven"]})
    pysam.faidx(str(fasta))
    calls: list[int] = []
    totals: list[int] = []

    def progress(n: int) -> None:
        calls.append(n)

    progress.set_total = totals.append  # type: ignore[attr-defined]
    out = tmp_path / "out.tsv"
    predict(scorer, PredictOptions(inputs=[fasta], output=str(out)), progress=progress)
    assert totals == [13] and sum(calls) == 13
    assert len(calls) > 1 and max(calls) <= scorer.batch_size
    # Streamed (stdin-like: no index), the count still moves within the record, with no total.
    calls.clear()
    totals.clear()
    plain = _write_fasta(tmp_path / "plain.fa", {"seven": records["seven"]})
    predict(scorer, PredictOptions(inputs=[plain], output=str(out)), progress=progress)
    assert totals == [] and sum(calls) == 13 and len(calls) > 1


def test_bed_tiles_of_a_long_interval_are_cut_across_groups(scorer, tmp_path):
    bed = tmp_path / "long.bed"
    bed.write_text("chr2\t20000\t23000\tlong\t0\t+\nchr2\t20000\t23000\tflip\t0\t-\n")
    reference = Path(__file__).resolve().parents[2] / "data/examples/hg38_chr2_1-400000.fa.gz"
    whole = _run(scorer, [bed], tmp_path / "a.tsv", reference=reference)
    pieces = _run(scorer, [bed], tmp_path / "b.tsv", reference=reference, group_windows=4)
    assert list(whole.windows) == list(pieces.windows) == [29, 29]
    np.testing.assert_allclose(pieces.score_mean, whole.score_mean, rtol=1e-6)
    np.testing.assert_allclose(pieces.score_max, whole.score_max, rtol=1e-6)
    # strand-symmetric tiling: both strands' means agree to the last printed digit
    assert pieces.score_mean[0] == pieces.score_mean[1]
    windows = _run(scorer, [bed], tmp_path / "c.tsv", reference=reference, per_window=True)
    plus, minus = windows[windows.name == "long"], windows[windows.name == "flip"]
    assert list(minus.start) == list(plus.start)[::-1]


def test_exact_sum_is_the_correctly_rounded_mean_in_any_order():
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [rng.random((500, 3)), rng.random((50, 3)) * 1e-30, -rng.random((50, 3)) * 1e20]
    )
    values[7, 1] = 5e-324  # a subnormal
    values[8, 2] = 0.0
    exact = [
        float(sum(Fraction(v) for v in values[:, c]) / len(values)) for c in range(values.shape[1])
    ]
    for order, step in ((np.arange(len(values)), len(values)), (rng.permutation(600), 7)):
        total = ExactSum(3)  # all at once in order, or shuffled and added 7 rows at a time
        for begin in range(0, len(values), step):
            total.add(values[order][begin : begin + step])
        assert total.mean().tolist() == exact
    special = ExactSum(1)
    special.add(np.array([[1.0], [np.inf]]))
    assert special.mean()[0] == np.inf
    special.add(np.array([[-np.inf]]))
    assert np.isnan(special.mean()[0])


def test_symmetric_starts_cut_any_range_of_the_tiling():
    for length in (1, 199, 200, 201, 617, 1234, 10_007):
        tiling = tile_symmetric(length, WINDOW, 60)
        count = symmetric_count(length, WINDOW, 60)
        assert count == len(tiling)
        for first, last in ((0, count), (0, 1), (count // 3, count - count // 4), (count, count)):
            assert symmetric_starts(length, WINDOW, 60, first, last).tolist() == (
                tiling.starts[first:last].tolist()
            )
    with pytest.raises(ValueError):
        symmetric_starts(617, WINDOW, 60, 0, 99)


def test_scan_fasta_reads_as_iter_fasta_does(tmp_path, monkeypatch):
    monkeypatch.setattr(fasta_module, "_SCAN_BLOCK", 7)  # many blocks per record
    rng = np.random.default_rng(3)
    seqs = {"a": _random_seq(rng, 95) + "uuN", "b": "acgtU" * 9, "c": "ACGT"}
    path = _write_fasta(tmp_path / "x.fa", seqs, width=11)
    path.write_text(path.read_text().replace(">a\n", ">a label=1 first one\n"))
    kept = list(scan_fasta(path, keep=True))
    dropped = list(scan_fasta(path, keep=False))
    expected = list(iter_fasta(path))
    assert [r.name for r in kept] == [r.name for r in dropped] == ["a", "b", "c"]
    assert [bytes(r.sequence).decode() for r in kept] == [r.sequence for r in expected]
    assert [r.length for r in dropped] == [len(r.sequence) for r in expected]
    assert all(r.sequence is None for r in dropped)
    assert [r.u_bases for r in kept] == [2, 9, 0]
    assert kept[0].label == "1" and kept[0].description == "label=1 first one"
    bad = tmp_path / "bad.fa"
    bad.write_text(">ok\nACGT\n>broken\nACGTACGTAC\nACGTAC!GTA\n")
    with pytest.raises(InputError) as scanned:
        list(scan_fasta(bad, keep=False))
    with pytest.raises(InputError) as read:
        list(iter_fasta(bad))
    assert str(scanned.value) == str(read.value)
    assert "line 5" in str(scanned.value) and "column 7" in str(scanned.value)
    for text in (">x\n\n>y\nAC\n", ">x\nAC\n>x\nAC\n", "AC\n", ""):
        bad.write_text(text)
        with pytest.raises(InputError) as scanned:
            list(scan_fasta(bad, keep=True))
        with pytest.raises(InputError) as read:
            list(iter_fasta(bad))
        assert str(scanned.value) == str(read.value)


def test_a_large_fasta_gets_an_index_and_a_wrong_one_is_refused(scorer, records, tmp_path):
    fasta = _write_fasta(tmp_path / "big.fa", records)
    streamed = _run(scorer, [fasta], tmp_path / "a.tsv")
    indexed = _run(scorer, [fasta], tmp_path / "b.tsv", index_min_bytes=0)
    assert Path(f"{fasta}.fai").exists()  # built, as for a large file
    pd.testing.assert_frame_equal(streamed, indexed)
    Path(f"{fasta}.fai").write_text("one\t5\t6\t60\t61\n")  # fresh but wrong
    with pytest.raises(InputError, match="does not match"):
        _run(scorer, [fasta], tmp_path / "c.tsv")


def test_u_bases_read_from_the_index_score_as_t(scorer, records, tmp_path):
    dna = {"seven": records["seven"]}
    rna = _write_fasta(tmp_path / "rna.fa", {k: v.replace("T", "U") for k, v in dna.items()})
    pysam.faidx(str(rna))
    a = _run(scorer, [_write_fasta(tmp_path / "dna.fa", dna)], tmp_path / "a.tsv")
    b = _run(scorer, [rna], tmp_path / "b.tsv")
    pd.testing.assert_frame_equal(a, b)


def test_iter_records_still_lists_every_window(records, tmp_path):
    """explain reads records' windows as a list: the lazy records still give them."""
    fasta = _write_fasta(tmp_path / "r.fa", records)
    listed = list(predict_records(PredictOptions(inputs=[fasta]), WINDOW))
    seven = listed[2].windows
    assert [w.start for w in seven] == tile_symmetric(7 * WINDOW, WINDOW, STRIDE).starts.tolist()
    assert seven[0].sequence == records["seven"][:WINDOW] and seven[0].end == WINDOW
    short = listed[3].windows
    assert len(short) == 1 and short[0].start is None and int(short[0].valid.sum()) == 77
