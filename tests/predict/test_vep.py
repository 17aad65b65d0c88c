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


def test_position_past_the_contig_end_names_file_and_record(tiny_model, reference, tmp_path):
    path, seq = reference
    vcf = _vcf(
        tmp_path / "past.vcf", [(10, "ok", seq[9], "A"), (CONTIG_LENGTH + 5, "far", "A", "C")]
    )
    result = run_cli("vep", vcf, "-r", path, "--model", tiny_model, "-o", tmp_path / "p.tsv")
    assert result.returncode == 2, result.stderr
    assert "past.vcf" in result.stderr and "chr1:1005:A:C" in result.stderr
    assert f"{CONTIG_LENGTH + 5:,} is outside chr1" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "p.tsv").exists()


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


def test_cli_reads_a_vcf_from_stdin(tiny_model, reference, tmp_path):
    path, seq = reference
    vcf = _vcf(tmp_path / "in.vcf", [(250, "x", seq[249], "N")])
    result = run_cli("vep", "-", "-r", path, "--model", tiny_model, "-q", stdin=vcf.read_text())
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout), sep="\t")
    assert list(table.status) == ["ok"]
