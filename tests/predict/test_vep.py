"""`dnaseq vep`: statuses, naming, indels, multi-allelic sites, contig ends, annotated VCF."""

import io

import numpy as np
import pandas as pd
import pysam
import pytest
from dnaseq_runner import run_in_process as run_cli

from dnaseq_cli.errors import InputError
from dnaseq_cli.predict.model import WindowScorer
from dnaseq_cli.vep.output import run_vep
from dnaseq_cli.vep.scoring import VariantEffectScorer

from .conftest import EXAMPLES, WINDOW

CONTIG_LENGTH = 1000


@pytest.fixture(scope="module")
def scorer(tiny_model):
    return WindowScorer(tiny_model, device="cpu", batch_size=64)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    rng = np.random.default_rng(7)
    seq = "".join(rng.choice(list("ACGT"), CONTIG_LENGTH))
    path = tmp_path_factory.mktemp("ref") / "ref.fa"
    path.write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    return path, seq


def _vcf(path, rows, contig="chr1"):
    header = (
        "##fileformat=VCFv4.2\n"
        f"##contig=<ID={contig},length={CONTIG_LENGTH}>\n"
        '##INFO=<ID=SRC,Number=1,Type=String,Description="test">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    body = "".join(
        f"{contig}\t{pos}\t{vid}\t{ref}\t{alt}\t.\tPASS\t.\n" for pos, vid, ref, alt in rows
    )
    path.write_text(header + body)
    return path


def _run(scorer, ref_path, vcf, tmp_path, **kwargs):
    out = tmp_path / "vep.tsv"
    effect = VariantEffectScorer(scorer, ref_path, **kwargs)
    summary = run_vep(effect, vcf, str(out), kwargs.pop("output_vcf", None))
    return pd.read_csv(out, sep="\t", dtype={"ID": str}, na_values="."), summary


def test_brca1_clinvar_all_reference_alleles_match(scorer, tmp_path):
    table, summary = _run(
        scorer, EXAMPLES / "ref_brca1.fa", EXAMPLES / "clinvar_brca1.refcoords.vcf.gz", tmp_path
    )
    assert len(table) == summary.variants == 209
    assert (table.status == "ok").all()
    assert np.allclose(table.delta, table.alt_score - table.ref_score, atol=2e-6)


def test_ref_score_is_the_score_of_the_centred_reference_window(scorer, reference, tmp_path):
    path, seq = reference
    table, _ = _run(
        scorer,
        path,
        _vcf(tmp_path / "a.vcf", [(500, "snv", seq[499], "A" if seq[499] != "A" else "C")]),
        tmp_path,
    )
    window = seq[499 - WINDOW // 2 : 499 + WINDOW // 2]  # the variant base at offset WINDOW // 2
    expected = scorer.score([window])[0, 1]
    assert table.ref_score[0] == pytest.approx(expected, rel=1e-5)
    alt = window[: WINDOW // 2] + table.ALT[0] + window[WINDOW // 2 + 1 :]
    assert table.alt_score[0] == pytest.approx(scorer.score([alt])[0, 1], rel=1e-5)


def test_wrong_ref_is_reported_not_scored_and_strict_fails(scorer, reference, tmp_path, tiny_model):
    path, seq = reference
    wrong = "A" if seq[99] != "A" else "C"
    vcf = _vcf(tmp_path / "wrong.vcf", [(100, "bad", wrong, "G" if wrong != "G" else "T"),
                                        (200, "good", seq[199], "N")])  # fmt: skip
    table, summary = _run(scorer, path, vcf, tmp_path)
    assert list(table.status) == ["ref_mismatch", "ok"]
    assert table.ref_score.isna()[0] and not table.ref_score.isna()[1]
    assert summary.statuses == {"ref_mismatch": 1, "ok": 1}
    result = run_cli(
        "vep", vcf, "-r", path, "--model", tiny_model, "--strict", "-o", tmp_path / "s.tsv"
    )
    assert result.returncode == 2 and "chr1:100" in result.stderr and "wrong.vcf" in result.stderr
    assert not (tmp_path / "s.tsv").exists()


def test_position_past_the_contig_end_is_a_status_not_an_error(tiny_model, reference, tmp_path):
    path, seq = reference
    vcf = _vcf(
        tmp_path / "past.vcf", [(10, "ok", seq[9], "A"), (CONTIG_LENGTH + 5, "far", "A", "C")]
    )
    result = run_cli("vep", vcf, "-r", path, "--model", tiny_model, "-o", tmp_path / "p.tsv")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "p.tsv", sep="\t", dtype={"ID": str})
    assert list(table.status) == ["ok", "out_of_range"]
    assert "1 out_of_range" in result.stderr
    result = run_cli(
        "vep", vcf, "-r", path, "--model", tiny_model, "--strict", "-o", tmp_path / "s.tsv"
    )
    assert result.returncode == 2, result.stderr
    assert "past.vcf" in result.stderr and "chr1:1005" in result.stderr
    assert f"{CONTIG_LENGTH + 5:,} is outside chr1" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "s.tsv").exists()


def test_numeric_chromosome_names_are_harmonised(scorer, reference, tmp_path):
    path, seq = reference
    vcf = _vcf(
        tmp_path / "one.vcf", [(300, "x", seq[299], "A" if seq[299] != "A" else "C")], contig="1"
    )
    table, summary = _run(scorer, path, vcf, tmp_path)
    assert list(table.status) == ["ok"] and table.CHROM[0] == 1
    assert summary.renamed_contigs == {"1": "chr1"}
    with pytest.raises(InputError, match="harmonise"):
        _run(scorer, path, vcf, tmp_path, harmonise_chroms=False)


def test_indels_multiallelic_sites_and_contig_ends(scorer, reference, tmp_path):
    path, seq = reference
    other = {b: next(c for c in "ACGT" if c != b) for b in "ACGT"}
    rows = [
        (400, "del", seq[399:405], seq[399]),  # 5-bp deletion
        (450, "ins", seq[449], seq[449] + "GATTACA"),  # insertion
        (600, "multi", seq[599], ",".join(c for c in "ACGT" if c != seq[599])),
        (3, "start", seq[2], other[seq[2]]),  # 3 bp from the contig start
        (CONTIG_LENGTH - 2, "end", seq[-3], other[seq[-3]]),  # 3 bp from the end
        (700, "sym", seq[699], "<DEL>"),
    ]
    table, _ = _run(scorer, path, _vcf(tmp_path / "mix.vcf", rows), tmp_path)
    assert list(table.ID) == ["del", "ins", "multi", "multi", "multi", "start", "end", "sym"]
    assert list(table.status) == ["ok"] * 7 + ["symbolic"]
    flags = list(_read(tmp_path / "vep.tsv")["flags"])
    assert flags == [".", ".", ".", ".", ".", "contig_edge", "contig_edge", "."]
    multi = table[table.ID == "multi"]
    assert multi.ref_score.nunique() == 1  # one shared reference window
    assert multi.alt_score.nunique() == 3
    assert table.delta[:2].abs().gt(0).all()


def test_annotated_vcf_carries_the_tsv_scores(scorer, tmp_path):
    out_vcf = tmp_path / "annotated.vcf.gz"
    effect = VariantEffectScorer(scorer, EXAMPLES / "ref_brca1.fa")
    run_vep(effect, EXAMPLES / "clinvar_brca1.refcoords.vcf.gz", str(tmp_path / "v.tsv"), out_vcf)
    table = pd.read_csv(tmp_path / "v.tsv", sep="\t", dtype={"ID": str})
    assert (tmp_path / "annotated.vcf.gz.tbi").is_file()
    with pysam.VariantFile(str(out_vcf)) as vcf:
        assert "DNASEQ_DELTA" in vcf.header.info
        records = list(vcf)
        assert len(list(vcf.fetch("ref_brca1", 0, 10**9))) == len(records)
    assert len(records) == len(table)
    for record, (_, row) in zip(records, table.iterrows(), strict=True):
        assert (record.pos, record.ref, record.alts[0]) == (row.POS, row.REF, row.ALT)
        assert record.info["DNASEQ_DELTA"][0] == pytest.approx(row.delta, rel=1e-5, abs=1e-6)
        assert record.info["DNASEQ_STATUS"][0] == row.status


def test_annotated_vcf_keeps_the_input_info_qual_and_filter(scorer, tmp_path):
    """ClinVar's INFO (CLNSIG among them) comes through unchanged, DNASEQ_* fields appended."""
    out_vcf = tmp_path / "annotated.vcf"
    effect = VariantEffectScorer(scorer, EXAMPLES / "ref_brca1.fa")
    source = EXAMPLES / "clinvar_brca1.refcoords.vcf.gz"
    run_vep(effect, source, str(tmp_path / "v.tsv"), out_vcf)
    with pysam.VariantFile(str(source)) as given:
        originals = {(r.pos, r.ref, r.alts[0]): str(r).split("\t")[5:8] for r in given}
    written = [line.split("\t") for line in out_vcf.read_text().splitlines() if line[0] != "#"]
    assert len(written) == len(originals) == 209
    for fields in written:
        qual, filters, info = originals[(int(fields[1]), fields[3], fields[4])]
        assert fields[5:7] == [qual, filters]
        kept = ";".join(p for p in fields[7].strip().split(";") if not p.startswith("DNASEQ_"))
        assert kept == info.strip()  # every input field, values as written
        assert "DNASEQ_DELTA=" in fields[7] and "DNASEQ_STATUS=ok" in fields[7]
    with pysam.VariantFile(str(out_vcf)) as vcf:  # and htslib reads it back with its types
        clnsig = {r.info["CLNSIG"][0] for r in vcf}
    assert {"Pathogenic", "Likely_benign"} <= clnsig


def test_annotated_vcf_narrows_per_allele_info_of_split_records(scorer, reference, tmp_path):
    path, seq = reference
    b = seq[299]
    alts = [c for c in "ACGT" if c != b][:2]
    vcf = tmp_path / "multi.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n"
        f"##contig=<ID=chr1,length={CONTIG_LENGTH}>\n"
        '##FILTER=<ID=LowQ,Description="low">\n'
        '##INFO=<ID=AF,Number=A,Type=Float,Description="per ALT">\n'
        '##INFO=<ID=AD,Number=R,Type=Integer,Description="per allele">\n'
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">\n'
        '##INFO=<ID=DB,Number=0,Type=Flag,Description="known">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t300\tm\t{b}\t{alts[0]},{alts[1]}\t37.5\tLowQ\tAF=0.25,0.125;AD=10,4,2;DP=16;DB\n"
    )
    out_vcf = tmp_path / "out.vcf.gz"
    run_vep(VariantEffectScorer(scorer, path), vcf, str(tmp_path / "v.tsv"), out_vcf)
    with pysam.VariantFile(str(out_vcf)) as annotated:
        records = list(annotated)
    assert [r.alts for r in records] == [(alts[0],), (alts[1],)]
    assert [r.info["AF"] for r in records] == [(0.25,), (0.125,)]
    assert [r.info["AD"] for r in records] == [(10, 4), (10, 2)]
    assert all(r.info["DP"] == 16 and r.info["DB"] for r in records)
    assert all(r.qual == 37.5 and list(r.filter.keys()) == ["LowQ"] for r in records)


def test_annotated_vcf_replaces_an_earlier_runs_scores(scorer, tmp_path):
    """Annotating dnaseq's own output again gives one set of DNASEQ_* fields, not two."""
    effect = VariantEffectScorer(scorer, EXAMPLES / "ref_brca1.fa")
    first, second = tmp_path / "first.vcf", tmp_path / "second.vcf"
    run_vep(effect, EXAMPLES / "clinvar_brca1.refcoords.vcf.gz", str(tmp_path / "a.tsv"), first)
    run_vep(effect, first, str(tmp_path / "b.tsv"), second)
    lines = [line for line in second.read_text().splitlines() if not line.startswith("#")]
    assert all(line.count("DNASEQ_DELTA=") == 1 for line in lines)
    head = [line for line in second.read_text().splitlines() if line.startswith("##INFO")]
    assert sum("ID=DNASEQ_DELTA," in line for line in head) == 1


def test_cli_reads_a_vcf_from_stdin(tiny_model, reference, tmp_path):
    path, seq = reference
    vcf = _vcf(tmp_path / "in.vcf", [(250, "x", seq[249], "N")])
    result = run_cli("vep", "-", "-r", path, "--model", tiny_model, "-q", stdin=vcf.read_text())
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout), sep="\t")
    assert list(table.status) == ["ok"]


# -- issue 15: odd records, quality columns, filters, --skipped, --format variants --------------

HEADER_TWO_CONTIGS = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=chr1,length=1000>\n"
    "##contig=<ID=chr9,length=1000>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def _vcf_lines(path, rows):
    """A VCF of (chrom, pos, id, ref, alt) rows, written as given (odd alleles included)."""
    body = "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\t.\t.\n" for c, p, i, r, a in rows)
    path.write_text(HEADER_TWO_CONTIGS + body)
    return path


def _read(path):
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _flags(table):
    return [set(text.split(",")) - {"."} for text in table["flags"]]


def _odd_rows(seq):
    other = {b: next(c for c in "ACGT" if c != b) for b in "ACGT"}
    return [
        ("chr1", 100, "good", seq[99], other[seq[99]]),
        ("chr1", 110, "dotref", ".", "G"),  # kipoi-veff
        ("chr1", 120, "iupac", seq[119], "R"),
        ("chr1", 130, "dashalt", seq[129:133], "-"),  # gReLU
        ("chr1", 140, "dashref", "-", "G"),
        ("chr1", CONTIG_LENGTH + 1, "past", "A", "C"),
        ("chr1", CONTIG_LENGTH - 1, "offend", seq[-2:] + "A", seq[-2]),
        ("chr9", 10, "nocontig", "A", "C"),
        ("chr1", 150, "sym", seq[149], "<DEL>"),
        ("chr1", 160, "last", seq[159], other[seq[159]]),
    ]


ODD_STATUSES = [
    "ok", "invalid_allele", "invalid_allele", "invalid_allele", "invalid_allele",
    "out_of_range", "ref_off_contig", "unknown_contig", "symbolic", "ok",
]  # fmt: skip


def test_odd_records_get_a_status_and_the_rest_is_scored(scorer, reference, tmp_path):
    path, seq = reference
    vcf = _vcf_lines(tmp_path / "odd.vcf", _odd_rows(seq))
    table, summary = _run(scorer, path, vcf, tmp_path)
    assert list(table.status) == ODD_STATUSES
    assert summary.statuses == {
        "ok": 2, "invalid_allele": 4, "out_of_range": 1, "ref_off_contig": 1,
        "unknown_contig": 1, "symbolic": 1,
    }  # fmt: skip
    assert summary.scored == 2 and summary.variants == 10
    scored = table.status == "ok"
    assert table.ref_score[scored].notna().all() and table.ref_score[~scored].isna().all()
    assert table.n_fraction[~scored].isna().all() and table.padding[~scored].isna().all()


def test_strict_names_the_first_unscored_record(tiny_model, reference, tmp_path):
    path, seq = reference
    vcf = _vcf_lines(tmp_path / "odd.vcf", _odd_rows(seq))
    out = tmp_path / "s.tsv"
    result = run_cli("vep", vcf, "-r", path, "--model", tiny_model, "--strict", "-o", out)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    first_data_line = HEADER_TWO_CONTIGS.count("\n") + 1
    assert f"odd.vcf, line {first_data_line + 1}, record 'chr1:110'" in lines[0]
    assert "invalid_allele (record 2)" in lines[0] and "--strict" in lines[0]
    assert not out.exists()


def test_skipped_file_lists_unscored_and_filtered_variants(tiny_model, reference, tmp_path):
    path, seq = reference
    vcf = _vcf_lines(tmp_path / "odd.vcf", _odd_rows(seq))
    bed = tmp_path / "keep.bed"
    bed.write_text("chr1\t0\t155\nchr9\t0\t1000\n")  # drops "offend" (999) and "last" (160)
    out, skipped = tmp_path / "v.tsv", tmp_path / "skipped.tsv"
    args = ("vep", vcf, "-r", path, "--model", tiny_model, "-o", out)
    result = run_cli(*args, "--skipped", skipped, "--regions", bed)
    assert result.returncode == 0, result.stderr
    assert "filtered out 3 filtered_region" in result.stderr
    table, rest = _read(out), _read(skipped)
    assert list(table.ID) == ["good", "dotref", "iupac", "dashalt", "dashref", "nocontig", "sym"]
    assert list(rest.columns) == ["CHROM", "POS", "ID", "REF", "ALT", "status"]
    assert list(zip(rest.ID, rest.status, strict=True)) == [
        ("dotref", "invalid_allele"), ("iupac", "invalid_allele"), ("dashalt", "invalid_allele"),
        ("dashref", "invalid_allele"), ("past", "filtered_region"),
        ("offend", "filtered_region"), ("nocontig", "unknown_contig"), ("sym", "symbolic"),
        ("last", "filtered_region"),
    ]  # fmt: skip
    assert (rest.REF[0], rest.ALT[0]) == (".", "G") and rest.POS[4] == str(CONTIG_LENGTH + 1)


@pytest.mark.parametrize("target", ["vcf", "reference", "regions", "output"])
def test_skipped_output_is_refused_on_an_input_or_the_other_output(
    tiny_model, reference, tmp_path, target
):
    path, seq = reference
    vcf = _vcf(tmp_path / "a.vcf", [(100, "x", seq[99], "N")])
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t1000\n")
    out = tmp_path / "v.tsv"
    chosen = {"vcf": vcf, "reference": path, "regions": bed, "output": out}[target]
    before = chosen.read_bytes() if chosen.exists() else None
    result = run_cli(
        "vep", vcf, "-r", path, "--model", tiny_model, "-o", out, "--regions", bed,
        "--skipped", chosen,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert (chosen.read_bytes() if chosen.exists() else None) == before
    if target != "output":
        assert not out.exists()


def test_skipped_and_output_cannot_both_be_stdout(tiny_model, reference, tmp_path):
    path, seq = reference
    vcf = _vcf(tmp_path / "a.vcf", [(100, "x", seq[99], "N")])
    result = run_cli("vep", vcf, "-r", path, "--model", tiny_model, "--skipped", "-")
    assert result.returncode == 2 and "both write to stdout" in result.stderr
    assert result.stdout == ""


@pytest.fixture(scope="module")
def odd_reference(tmp_path_factory):
    """chr1: random ACGT with an N block at 400-700 and IUPAC codes at 850-860 (1-based 851..)."""
    rng = np.random.default_rng(11)
    seq = list(rng.choice(list("ACGT"), CONTIG_LENGTH))
    seq[400:700] = "N" * 300
    seq[850:860] = "RYKMSWBDHV"
    text = "".join(seq)
    path = tmp_path_factory.mktemp("oddref") / "odd.fa"
    path.write_text(">chr1\n" + "\n".join(text[i : i + 60] for i in range(0, len(text), 60)) + "\n")
    return path, text


def test_quality_columns_and_flags(scorer, odd_reference, tmp_path):
    from dnaseq_cli.io.sequence_utils import count_unknown

    path, seq = odd_reference
    half = WINDOW // 2
    rows = [
        (550, "nblock", "N", "A"),  # inside the N block: the window is all N
        (3, "edge", seq[2], "T" if seq[2] != "T" else "G"),  # 98 bases of padding
        (200, "altn", seq[199], "N"),
        (210, "same", seq[209], seq[209]),
        (820, "iupac", seq[819], "T" if seq[819] != "T" else "G"),  # window holds RYKMSWBDHV
        (250, "del", seq[249 : 249 + 150], seq[249]),  # longer than the window's right half
        (300, "ins", seq[299], seq[299] + "A" * 150),
        (320, "short", seq[319:322], seq[319]),
        (200, "altn2", seq[199], "N"),  # the same CHROM POS REF ALT again
    ]
    _, summary = _run(scorer, path, _vcf(tmp_path / "q.vcf", rows), tmp_path)
    table = _read(tmp_path / "vep.tsv")
    assert (table.status == "ok").all()
    flags = dict(zip(table.ID, _flags(table), strict=True))
    assert flags["nblock"] == {"n_rich", "n_allele"}
    assert flags["edge"] == {"contig_edge"}
    assert flags["altn"] == {"n_allele"}
    assert flags["same"] == {"ref_eq_alt"}
    assert flags["iupac"] == set()
    assert flags["del"] == {"indel_truncated"} and flags["ins"] == {"indel_truncated"}
    assert flags["short"] == set()
    assert flags["altn2"] == {"n_allele", "duplicate"}
    assert list(table["flags"][:2]) == ["n_rich,n_allele", "contig_edge"]
    n_fraction = dict(zip(table.ID, table.n_fraction.astype(float), strict=True))
    assert n_fraction["nblock"] == 1.0
    start = 819 - half
    window = seq[start : start + WINDOW]
    assert n_fraction["iupac"] == pytest.approx(count_unknown(window) / WINDOW, abs=1e-4)
    assert n_fraction["iupac"] == pytest.approx(10 / WINDOW, abs=1e-4)
    edge_real = WINDOW - (half - 2)
    assert n_fraction["edge"] == pytest.approx(count_unknown(seq[:edge_real]) / edge_real, abs=1e-4)
    padding = dict(zip(table.ID, table.padding.astype(int), strict=True))
    assert padding["edge"] == half - 2 and padding["altn"] == 0
    assert float(table.delta[table.ID == "same"].iloc[0]) == 0.0
    assert summary.flags == {
        "n_rich": 1, "contig_edge": 1, "n_allele": 3, "ref_eq_alt": 1, "indel_truncated": 2,
        "duplicate": 1,
    }  # fmt: skip


def test_max_n_fraction_sets_the_n_rich_threshold(scorer, odd_reference, tmp_path):
    path, seq = odd_reference
    rows = [(380, "nearn", seq[379], "T" if seq[379] != "T" else "G")]  # 79 of 200 bases are N
    vcf = _vcf(tmp_path / "n.vcf", rows)
    for limit, expected in ((0.5, "."), (0.3, "n_rich")):
        out = tmp_path / f"n{limit}.tsv"
        effect = VariantEffectScorer(scorer, path, max_n_fraction=limit)
        run_vep(effect, vcf, str(out))
        table = _read(out)
        assert table["flags"][0] == expected
        assert float(table.n_fraction[0]) == pytest.approx(79 / WINDOW)


def test_duplicates_are_scored_and_flagged_once_per_repeat(scorer, reference, tmp_path):
    path, seq = reference
    alt = "A" if seq[299] != "A" else "C"
    rows = [(300, "a", seq[299], alt), (300, "b", seq[299], alt), (300, "c", seq[299], alt)]
    table, _ = _run(scorer, path, _vcf(tmp_path / "d.vcf", rows), tmp_path)
    assert list(_read(tmp_path / "vep.tsv")["flags"]) == [".", "duplicate", "duplicate"]
    assert table.delta.nunique() == 1


def test_filters_snvs_only_and_max_indel_length(tiny_model, reference, tmp_path):
    path, seq = reference
    rows = [
        (100, "snv", seq[99], "A" if seq[99] != "A" else "C"),
        (200, "del2", seq[199:202], seq[199]),
        (300, "ins5", seq[299], seq[299] + "ACGTA"),
        (400, "mnv", seq[399:401], "".join("A" if b != "A" else "C" for b in seq[399:401])),
        (500, "sym", seq[499], "<DEL>"),
    ]
    vcf = _vcf(tmp_path / "f.vcf", rows)
    out, skipped = tmp_path / "f.tsv", tmp_path / "fs.tsv"
    base = ("vep", vcf, "-r", path, "--model", tiny_model, "-o", out, "--skipped", skipped)
    result = run_cli(*base, "--snvs-only")
    assert result.returncode == 0, result.stderr
    assert list(_read(out).ID) == ["snv", "sym"]  # a symbolic ALT keeps its own status
    assert list(_read(skipped).status) == ["filtered_not_snv"] * 3 + ["symbolic"]
    assert "filtered out 3 filtered_not_snv" in result.stderr
    result = run_cli(*base, "--max-indel-length", "2")
    assert result.returncode == 0, result.stderr
    assert list(_read(out).ID) == ["snv", "del2", "mnv", "sym"]
    assert list(_read(skipped).ID) == ["ins5", "sym"]
    result = run_cli(*base, "--max-indel-length", "0")
    assert list(_read(out).ID) == ["snv", "mnv", "sym"]
    for bad in ("-1", "1.5", "x"):
        result = run_cli(*base, "--max-indel-length", bad)
        assert result.returncode == 2 and "--max-indel-length" in result.stderr


def test_regions_bed_is_matched_across_chromosome_naming(scorer, reference, tmp_path):
    path, seq = reference
    rows = [(100, "in", seq[99], "N"), (300, "out", seq[299], "N"), (501, "edge", seq[500], "N")]
    bed = tmp_path / "r.bed"
    bed.write_text("track name=x\n1\t50\t150\n1\t500\t501\nchr1\t140\t160\n")
    effect = VariantEffectScorer(scorer, path, regions=bed)
    out = tmp_path / "r.tsv"
    summary = run_vep(effect, _vcf(tmp_path / "r.vcf", rows), str(out))
    assert list(_read(out).ID) == ["in", "edge"]
    assert summary.filtered == {"filtered_region": 1} and summary.variants == 2
    empty = tmp_path / "empty.bed"
    empty.write_text("chr1\t5\t5\n")
    with pytest.raises(InputError, match="no non-empty interval"):
        VariantEffectScorer(scorer, path, regions=empty)


def test_nothing_scored_writes_the_rows_and_warns_once(tiny_model, reference, tmp_path):
    path, seq = reference
    rows = [(CONTIG_LENGTH + 10, "a", "A", "C"), (CONTIG_LENGTH + 20, "b", "A", "C")]
    vcf = _vcf(tmp_path / "none.vcf", rows)
    out = tmp_path / "none.tsv"
    result = run_cli("vep", vcf, "-r", path, "--model", tiny_model, "-o", out, "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "dnaseq: WARNING: no variant was scored: 2 out_of_range"
    ]
    assert list(_read(out).status) == ["out_of_range"] * 2


def test_every_contig_unknown_is_one_line_exit_2(tiny_model, reference, tmp_path):
    path, _ = reference
    rows = [("chr5", 10, "a", "A", "C"), ("chr7", 20, "b", "A", "C"), ("chr5", 30, "c", "G", "T")]
    body = "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\t.\t.\n" for c, p, i, r, a in rows)
    vcf = tmp_path / "elsewhere.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + body)
    out = tmp_path / "e.tsv"
    result = run_cli("vep", vcf, "-r", path, "--model", tiny_model, "-o", out)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "elsewhere.vcf" in lines[0] and "no variant was scored: 3 unknown_contig" in lines[0]
    assert "VCF contigs chr5, chr7; reference has chr1" in lines[0]
    assert not out.exists()


def test_format_variants_reads_a_headerless_table(tiny_model, reference, tmp_path):
    path, seq = reference
    table_file = tmp_path / "example.vcf"
    table_file.write_text(
        f"chr1\t100\tv1\t{seq[99]}\tN\nchr1\t200\tv2\t{seq[199]}\tA,C\textra\n1\t300\tv3\t.\tG\n"
    )
    out = tmp_path / "t.tsv"
    result = run_cli("vep", table_file, "-r", path, "--model", tiny_model, "-o", out)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "example.vcf" in result.stderr and "--format variants" in result.stderr
    assert not out.exists()
    args = ("vep", table_file, "-r", path, "--model", tiny_model, "--format", "variants")
    result = run_cli(*args, "-o", out, "--output-vcf", tmp_path / "t.vcf")
    assert result.returncode == 0, result.stderr
    table = _read(out)
    assert list(table.ID) == ["v1", "v2", "v2", "v3"]
    assert list(table.status) == ["ok", "ok", "ok", "invalid_allele"]
    with pysam.VariantFile(str(tmp_path / "t.vcf")) as annotated:
        assert len(list(annotated)) == 4
    result = run_cli(
        "vep", "-", "-r", path, "--model", tiny_model, "--format", "variants", "-q",
        stdin=table_file.read_text(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(io.StringIO(result.stdout), sep="\t")) == 4
    result = run_cli(*args, "--format", "bed", "-o", out)
    assert result.returncode == 2 and "--format" in result.stderr


def test_reference_u_is_read_as_t_with_one_counted_warning(tiny_model, reference, tmp_path):
    path, seq = reference
    rna = seq[:150] + seq[150:250].replace("T", "U") + seq[250:]
    u_count = seq[100:300].count("T") - seq[100:150].count("T") - seq[250:300].count("T")
    rna_path = tmp_path / "rna.fa"
    rna_path.write_text(
        ">chr1\n" + "\n".join(rna[i : i + 60] for i in range(0, len(rna), 60)) + "\n"
    )
    alt = "A" if seq[199] != "A" else "C"
    vcf = _vcf(tmp_path / "u.vcf", [(200, "x", seq[199], alt), (900, "y", seq[899], alt)])
    outs = {}
    for name, ref in (("dna", path), ("rna", rna_path)):
        outs[name] = tmp_path / f"{name}.tsv"
        result = run_cli("vep", vcf, "-r", ref, "--model", tiny_model, "-o", outs[name], "-q")
        assert result.returncode == 0, result.stderr
        if name == "rna":
            warnings = result.stderr.strip().splitlines()
            assert len(warnings) == 1 and "WARNING" in warnings[0], result.stderr
            assert f"read {u_count} U bases as T" in warnings[0] and "of 1 variant" in warnings[0]
        else:
            assert result.stderr == ""
    dna, rna_table = _read(outs["dna"]), _read(outs["rna"])
    assert list(rna_table.status) == ["ok", "ok"]
    assert list(rna_table.ref_score) == list(dna.ref_score)
    assert list(rna_table.alt_score) == list(dna.alt_score)
