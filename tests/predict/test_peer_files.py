"""`dnaseq predict` / `dnaseq vep` on the test inputs of Selene, kipoi-veff, gReLU and GPN.

The files live in data/examples/peers/<tool>/ (origins and licences in data/examples/SOURCE.md). Each
test runs the real command in-process on one file as shipped and checks what happens to the
specific records that make it odd. Target behaviour (issue 15): no record stops a vep run; a record
that cannot be scored gets a ``status`` saying why, and a ``flags`` column notes ``duplicate``,
``ref_eq_alt``, ``n_rich`` and the like.
"""

from __future__ import annotations

import pandas as pd
import pytest
from dnaseq_runner import run_in_process

from .conftest import EXAMPLES

PEERS = EXAMPLES / "peers"
KIPOI = PEERS / "kipoi-veff"
GRELU = PEERS / "grelu"
SELENE = PEERS / "selene"
GPN = PEERS / "gpn"

OFF_CONTIG = {"out_of_range", "ref_off_contig"}


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _vep(tmp_path, vcf, reference, model, *extra):
    out = tmp_path / "vep.tsv"
    result = run_in_process("vep", vcf, "-r", reference, "--model", model, "-o", out, *extra)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return _read(out)


def _predict(tmp_path, source, model, *extra):
    out = tmp_path / "predict.tsv"
    result = run_in_process("predict", source, "--model", model, "-o", out, *extra)
    assert result.returncode == 0, result.stderr
    return _read(out), result.stderr


def _flags(table: pd.DataFrame) -> list[set[str]]:
    assert "flags" in table.columns, f"no flags column (issue 15), columns: {list(table.columns)}"
    return [set(text.split(",")) - {".", ""} for text in table["flags"]]


def _one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- kipoi-veff ---------------------------------------------------------------------------------


def test_kipoi_variants_vcf_ref_dot_alt_dot_and_ref_eq_alt_do_not_stop_the_run(
    tmp_path, tiny_model
):
    """kipoi's rbp variants.vcf: 9 records; record 6 has REF '.', record 5 ALT '.', record 2 C>C.

    Record 6 (chr22:30630220 . > G) is ``invalid_allele``, record 5 (T > .) is not scored
    (``missing_alt``, the name dnaseq already uses for an ALT of '.'); the other 7, the deletion
    TAG>G included, are scored ``ok`` against the site reference. The last line has no newline.
    """
    table = _vep(tmp_path, KIPOI / "variants.vcf", KIPOI / "hg38_chr22_sites.fa.gz", tiny_model)
    assert list(table.POS) == [
        "21541590", "21541952", "30630220", "30630220", "30630220", "30630220", "30630701",
        "35503223", "36702137",
    ]  # fmt: skip
    assert list(zip(table.REF, table.ALT, strict=True)) == [
        ("A", "T"), ("C", "C"), ("T", "G"), ("TAG", "G"), ("T", "."), (".", "G"), ("A", "G"),
        ("C", "A"), ("C", "A"),
    ]  # fmt: skip
    assert table.status[5] == "invalid_allele"
    assert table.status[4] in {"missing_alt", "invalid_allele"}
    ok = [0, 1, 2, 3, 6, 7, 8]
    assert list(table.status[ok]) == ["ok"] * 7
    assert float(table.delta[1]) == 0.0  # C>C: the same window twice
    assert (table.delta[[4, 5]] == ".").all()  # never scored


def test_kipoi_variants_vcf_flags(tmp_path, tiny_model):
    """Record 2 (C>C) is flagged ``ref_eq_alt``; every scored window of the site reference is N
    but for the REF bases, so all scored rows carry ``n_rich``; no row is a ``duplicate`` (the four
    records at chr22:30630220 have four different allele pairs)."""
    table = _vep(tmp_path, KIPOI / "variants.vcf", KIPOI / "hg38_chr22_sites.fa.gz", tiny_model)
    flags = _flags(table)
    assert "ref_eq_alt" in flags[1]
    assert all("ref_eq_alt" not in flags[i] for i in (0, 2, 3, 6, 7, 8))
    assert all("n_rich" in flags[i] for i in (0, 1, 2, 3, 6, 7, 8))
    assert not any("duplicate" in f for f in flags)


def test_kipoi_expected_output_vcf_scores_all_six_and_agrees_with_the_site_reference(
    tmp_path, tiny_model
):
    """variants_ref_out.vcf (INFO IDs with ':' and '/', IDs left '.'): the 6 records kipoi scored
    all match the site reference (status ok), C>C has delta 0 and is flagged ``ref_eq_alt``."""
    table = _vep(
        tmp_path, KIPOI / "variants_ref_out.vcf", KIPOI / "hg38_chr22_sites.fa.gz", tiny_model
    )
    assert len(table) == 6
    assert (table.status == "ok").all()
    assert list(table.ALT) == ["T", "C", "G", "G", "A", "A"]
    assert float(table.delta[1]) == 0.0
    assert "ref_eq_alt" in _flags(table)[1]


def test_kipoi_clinvar_duplicate_and_ref_eq_alt(tmp_path, tiny_model):
    """419 unsorted ClinVar SNVs: all ``ok``, output in input order; chr22:19929231 G>A appears
    twice (IDs 11048 then 23840): only the second is flagged ``duplicate``; chr22:42523943 A>A
    (ID 12356) is flagged ``ref_eq_alt``."""
    table = _vep(
        tmp_path,
        KIPOI / "clinvar_donor_acceptor_chr22.vcf",
        KIPOI / "hg19_chr22_sites.fa.gz",
        tiny_model,
    )
    assert len(table) == 419
    assert (table.status == "ok").all()
    assert list(table.ID[:3]) == ["4", "9", "15"]
    flags = _flags(table)
    dup = table.index[table.POS == "19929231"].tolist()
    assert list(table.ID[dup]) == ["11048", "23840"]
    assert "duplicate" not in flags[dup[0]]
    assert "duplicate" in flags[dup[1]]
    assert sum("duplicate" in f for f in flags) == 1
    same = table.index[table.POS == "42523943"].tolist()
    assert len(same) == 1 and table.ID[same[0]] == "12356"
    assert "ref_eq_alt" in flags[same[0]]
    assert sum("ref_eq_alt" in f for f in flags) == 1


def test_kipoi_intervals_tsv_read_as_bed_keeps_coordinates_and_names(tmp_path, tiny_model):
    """intervals.tsv is a BED6 named .tsv: with ``--format bed`` its 14 rows are scored in order,
    the output keeps ``chrom start end name``, interval 11 (chr22:41-142) is flagged
    ``contig_edge`` and, on the N site reference, every row ``n_rich``."""
    table, _ = _predict(
        tmp_path,
        KIPOI / "intervals.tsv",
        tiny_model,
        "--format", "bed", "-r", KIPOI / "hg38_chr22_sites.fa.gz",
    )  # fmt: skip
    assert len(table) == 14
    assert list(table.name) == [str(i) for i in range(1, 15)]
    for column in ("chrom", "start", "end"):
        assert column in table.columns, f"BED columns not kept: {list(table.columns)}"
    assert list(table.chrom) == ["chr22"] * 14
    assert (table.start[0], table.end[0]) == ("4997", "5098")
    assert (table.start[10], table.end[10]) == ("41", "142")
    flags = _flags(table)
    assert "contig_edge" in flags[10]
    assert sum("contig_edge" in f for f in flags) == 1
    assert all("n_rich" in f for f in flags)


# --- gReLU --------------------------------------------------------------------------------------


def test_grelu_dash_alleles_are_invalid_not_fatal(tmp_path, tiny_model):
    """gReLU's filter_variants rows: AAAA>-, A>- and ->G (rows 2, 4, 5) are ``invalid_allele``;
    A>C and T>GG (rows 1, 3) are on chr1, which test_genome.fa (chr10, chr21) lacks:
    ``unknown_contig``; C>N (row 6) is one or the other but never scored."""
    table = _vep(tmp_path, GRELU / "filter_variants.vcf", GRELU / "test_genome.fa", tiny_model)
    assert list(table.POS) == ["1", "2", "3", "4", "5", "6"]
    assert list(table.REF) == ["A", "AAAA", "T", "A", "-", "C"]
    assert list(table.ALT) == ["C", "-", "GG", "-", "G", "N"]
    assert list(table.status[[1, 3, 4]]) == ["invalid_allele"] * 3
    assert list(table.status[[0, 2]]) == ["unknown_contig"] * 2
    assert table.status[5] in {"invalid_allele", "unknown_contig"}
    assert (table.delta == ".").all()


def test_grelu_three_base_records_with_a_blank_line(tmp_path, tiny_model):
    """test.fa: seq1 AAC, a blank line, seq2 ATG: both read, 3 bp, padded and flagged ``short``."""
    table, _ = _predict(tmp_path, GRELU / "test.fa", tiny_model)
    assert list(table.name) == ["seq1", "seq2"]
    assert list(table.length) == ["3", "3"]
    assert all("short" in f for f in _flags(table))


def test_grelu_test_genome_is_tiled(tmp_path, tiny_model):
    """test_genome.fa: two 2,000-bp contigs, 80 columns: 19 windows of 200 (stride 100), no flag."""
    table, _ = _predict(tmp_path, GRELU / "test_genome.fa", tiny_model)
    assert list(table.name) == ["chr10", "chr21"]
    assert list(table.length) == ["2000", "2000"]
    assert list(table.windows) == ["19", "19"]
    assert _flags(table) == [set(), set()]


# --- Selene -------------------------------------------------------------------------------------


def test_selene_small_fasta_u_read_as_t_with_a_warning(tmp_path, tiny_model):
    """small.fasta: chr3 is nNNnnUUAtC: its two U are read as T (one warning), so it scores the
    same as nNNnnTTAtC; chr4 (50 n) is ``n_rich``; chr1 (50 N of 100) and chr3 (5 of 10) sit at
    the 0.5 limit and are not; all four are shorter than the window (``short``)."""
    table, stderr = _predict(tmp_path, SELENE / "small.fasta", tiny_model)
    assert "2 U bases as T" in stderr and "WARNING" in stderr
    assert list(table.name) == ["chr1", "chr2", "chr3", "chr4"]
    assert list(table.length) == ["100", "100", "10", "50"]
    flags = _flags(table)
    assert all("short" in f for f in flags)
    assert ["n_rich" in f for f in flags] == [False, False, False, True]
    dna = tmp_path / "chr3_t.fa"
    dna.write_text(">chr3\nnNNnnTTAtC\n")
    (tmp_path / "t").mkdir()
    as_t, stderr_t = _predict(tmp_path / "t", dna, tiny_model)
    assert "U bases" not in stderr_t
    assert as_t.score[0] == table.score[2]


def test_selene_protein_fasta_is_a_one_line_error(tmp_path, tiny_model):
    """small.faa (protein): by name, dnaseq cannot tell the format and says to pass --format; as
    ``--format fasta`` it stops at line 2, record prot0, on the first non-nucleotide letter."""
    out = tmp_path / "p.tsv"
    line = _one_line_error(
        run_in_process("predict", SELENE / "small.faa", "--model", tiny_model, "-o", out)
    )
    assert "small.faa" in line and "--format" in line
    line = _one_line_error(
        run_in_process(
            "predict", SELENE / "small.faa", "--format", "fasta", "--model", tiny_model, "-o", out
        )
    )
    assert "small.faa, line 2" in line and "prot0" in line and "'E'" in line
    assert not out.exists()


# --- GPN ----------------------------------------------------------------------------------------


def test_gpn_headerless_table_without_format_names_the_option(tmp_path, tiny_model):
    """GPN's example.vcf has 5 columns and no header: read as a VCF it fails on one line that
    points to ``--format variants``."""
    args = ("vep", GPN / "example.vcf", "-r", EXAMPLES / "hg38_chr2_1-400000.fa.gz")
    line = _one_line_error(run_in_process(*args, "--model", tiny_model, "-o", tmp_path / "v.tsv"))
    assert "example.vcf" in line and "--format variants" in line


def test_gpn_headerless_table_with_format_variants(tmp_path, tiny_model):
    """With ``--format variants`` all 2,000 rows come out in order with GPN's IDs; against the
    400-kb chr2 slice, the 148 chromosome-2 rows (Ensembl name 2, from 3,388,524 on) lie past the
    contig end and the other 1,852 (1, 3..22, X, Y) are ``unknown_contig``; the two ALTs at
    20:63433807 are two rows, neither a duplicate."""
    table = _vep(
        tmp_path, GPN / "example.vcf", EXAMPLES / "hg38_chr2_1-400000.fa.gz", tiny_model,
        "--format", "variants",
    )  # fmt: skip
    assert len(table) == 2000
    assert list(table.ID[:2]) == ["Common_1501", "Pathogenic_1790"]
    assert (table.CHROM[0], table.POS[0], table.REF[0], table.ALT[0]) == ("1", "1180851", "T", "C")
    on_2 = table.CHROM == "2"
    assert on_2.sum() == 148
    assert set(table.status[on_2]) <= OFF_CONTIG and len(set(table.status[on_2])) == 1
    assert (table.status[~on_2] == "unknown_contig").all()
    site = table.index[(table.CHROM == "20") & (table.POS == "63433807")].tolist()
    assert list(table.ALT[site]) == ["G", "C"]
    flags = _flags(table)
    assert not any("duplicate" in flags[i] for i in site)


@pytest.mark.parametrize("vcf", ["variants.vcf", "clinvar_donor_acceptor_chr22.vcf"])
def test_kipoi_vcfs_run_strict_against_the_wrong_build_fails_on_one_line(vcf, tmp_path, tiny_model):
    """--strict still stops, on one line: kipoi's VCFs against gReLU's genome (no chr22)."""
    args = ("vep", KIPOI / vcf, "-r", GRELU / "test_genome.fa", "--strict")
    line = _one_line_error(run_in_process(*args, "--model", tiny_model, "-o", tmp_path / "v.tsv"))
    assert vcf in line
