"""One input path (data/records.py): one tiling rule, and predict and preprocess cut the same
windows from the same FASTA, table and BED input."""

import numpy as np
import pytest

from dnaseq_cli.data.preprocess import PreprocessOptions, load_windows
from dnaseq_cli.data.records import RecordOptions, iter_records, window_count
from dnaseq_cli.errors import InputError
from dnaseq_cli.predict.sequences import PredictOptions, predict_records

rng = np.random.default_rng(17)


def _dna(n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


# (length, window, stride) -> 0-based tile starts
RULE = {
    (7, 10, 5): [0],  # shorter than the window: one padded window
    (10, 10, 5): [0],  # exactly one window
    (20, 10, 5): [0, 5, 10],  # gap a multiple of the stride: regular tiles
    (30, 10, 10): [0, 10, 20],
    (23, 10, 5): [0, 4, 9, 13],  # gap 13 not a multiple of 5: spread evenly, last end-aligned
    (25, 10, 10): [0, 5, 10, 15],  # an odd count over an odd gap cannot centre: one more tile
    (31, 10, 10): [0, 7, 14, 21],
    (11, 10, 1): [0, 1],
}


@pytest.mark.parametrize(("length", "window", "stride"), list(RULE))
def test_one_tiling_rule(tmp_path, length, window, stride):
    sequence = _dna(length)
    fasta = tmp_path / "r.fa"
    fasta.write_text(f">r\n{sequence}\n")
    (record,) = iter_records(fasta, RecordOptions(window=window, stride=stride))
    windows = record.windows
    starts = [0 if w.start is None else w.start for w in windows]
    assert starts == RULE[(length, window, stride)]
    assert record.count == window_count(length, window, stride) == len(starts)
    assert all(len(w.sequence) == window for w in windows)
    if length <= window:
        (only,) = windows
        assert only.name == "r" and only.start is None
        assert only.sequence == sequence + "N" * (window - length)
        assert only.valid.tolist() == [True] * length + [False] * (window - length)
        return
    # every base covered, no step longer than the stride, the set of tiles its own mirror image
    assert starts[0] == 0 and starts[-1] + window == length
    assert all(0 < b - a <= stride for a, b in zip(starts, starts[1:], strict=False))
    assert sorted(length - window - s for s in starts) == starts
    assert all(w.sequence == sequence[w.start : w.start + window] for w in windows)
    assert [w.name for w in windows] == [f"r:{s + 1}-{s + window}" for s in starts]
    # a batch of windows cut on its own is the same windows
    part = record.cut(1, len(starts))
    assert part.starts == starts[1:]


def test_stride_longer_than_the_window_is_refused(tmp_path):
    fasta = tmp_path / "r.fa"
    fasta.write_text(">r\nACGTACGTACGT\n")
    with pytest.raises(InputError, match="--stride"):
        list(iter_records(fasta, RecordOptions(window=4, stride=5)))


def _key(window):
    return (window.sequence, window.valid.tolist(), window.chrom, window.start, window.end)


@pytest.mark.parametrize("stride", [3, 10])
@pytest.mark.parametrize("kind", ["fasta", "table"])
def test_predict_and_preprocess_cut_the_same_windows(tmp_path, kind, stride):
    window = 10
    records = [("a", _dna(7)), ("b", _dna(10)), ("c", _dna(23)), ("d", _dna(31)), ("e", _dna(40))]
    if kind == "fasta":
        path = tmp_path / "in.fa"
        path.write_text("".join(f">{n} label=1\n{s}\n" for n, s in records))
    else:
        path = tmp_path / "in.tsv"
        path.write_text("name\tsequence\tlabel\n" + "".join(f"{n}\t{s}\t1\n" for n, s in records))
    predicted = [
        w
        for record in predict_records(PredictOptions(inputs=[path], stride=stride), window)
        for w in record.windows
    ]
    loaded = load_windows(PreprocessOptions(inputs=[path], window=window, stride=stride)).windows
    assert [_key(w) for w in predicted] == [_key(w) for w in loaded]
    assert [w.name for w in predicted] == [w.name for w in loaded]
    assert (
        [str(w.label) for w in predicted] == [str(w.label) for w in loaded] == ["1"] * len(loaded)
    )


def test_predict_and_preprocess_cut_the_same_bed_windows(tmp_path):
    window, stride = 10, 4
    reference = tmp_path / "ref.fa"
    reference.write_text(f">chr1\n{_dna(120)}\n")
    bed = tmp_path / "in.bed"
    # short (centred, real flanks), short at the contig start (N-padded), long on + and -
    bed.write_text(
        "chr1\t50\t56\tshort\t0\t+\n"
        "chr1\t0\t4\tedge\t0\t+\n"
        "chr1\t20\t43\tlong\t0\t+\n"
        "chr1\t60\t91\tminus\t0\t-\n"
    )
    predicted = [
        w
        for record in predict_records(
            PredictOptions(inputs=[bed], reference=reference, stride=stride), window
        )
        for w in record.windows
    ]
    loaded = load_windows(
        PreprocessOptions(inputs=[bed], reference=reference, window=window, stride=stride)
    ).windows
    assert [_key(w) for w in predicted] == [_key(w) for w in loaded]
    assert [w.strand for w in predicted] == [w.strand for w in loaded]
    # a short interval's only window keeps the BED name in a dataset; predict names it by region
    assert [w.name for w in loaded][:2] == ["short", "edge"]
    assert [w.name for w in predicted][:2] == ["chr1:49-58", "chr1:-2-7"]
    # long intervals are tiled inside them by the one rule (strand -: listed from its 5' end)
    assert [w.start for w in loaded[2:]] == [20, 23, 25, 28, 30, 33, 81, 78, 75, 72, 69, 66, 63, 60]
