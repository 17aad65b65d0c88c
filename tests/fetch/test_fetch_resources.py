"""Catalogue resources end to end through a mirror on 127.0.0.1: a gzip genome becomes an indexed
bgzip FASTA, Genomic Benchmarks coordinates become labelled BED and sequences that match the genome."""

import csv
import gzip
import hashlib
import io
import json
import random

import pytest

from dnaseq_cli.errors import InputError
from dnaseq_cli.fetch import FetchError, FetchOptions, fetch
from dnaseq_cli.fetch.catalogue import load_catalogue
from dnaseq_cli.io.bed import read_bed
from dnaseq_cli.io.fasta import FastaReference
from dnaseq_cli.io.tables import read_labelled_table

GENOME_URL = "https://hgdownload.soe.ucsc.edu/goldenPath/toy1/bigZips/toy1.fa.gz"
GB_URL = "https://raw.githubusercontent.com/ML-Bioinfo-CEITEC/genomic_benchmarks/abc/datasets/toy"
COMPLEMENT = str.maketrans("ACGTacgtN", "TGCAtgcaN")


def make_genome(names=("chr1", "chr2"), lengths=(5000, 3001)) -> dict[str, str]:
    rng = random.Random(7)
    genome = {}
    for name, length in zip(names, lengths, strict=True):
        seq = "".join(rng.choice("ACGT") for _ in range(length))
        genome[name] = seq[:100] + seq[100:400].lower() + seq[400:]  # soft-masked stretch
    return genome


def fasta_text(genome: dict[str, str], width: int = 60) -> bytes:
    lines = []
    for name, seq in genome.items():
        lines.append(f">{name} toy chromosome")
        lines += [seq[i : i + width] for i in range(0, len(seq), width)]
    return ("\n".join(lines) + "\n").encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def coords_csv(rows) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["id", "region", "start", "end", "strand"])
    writer.writerows(rows)
    return gzip.compress(text.getvalue().encode(), mtime=0)


COORDS = {
    ("train", "positive"): [("train_positive_0", "chr1", 90, 190, "+"),
                            ("train_positive_1", "chr2", 2900, 3001, "-")],
    ("train", "negative"): [("train_negative_0", "chr1", 0, 50, "-"),
                            ("train_negative_1", "chr2", 10, 60, "")],
    ("test", "positive"): [("test_positive_0", "chr1", 4900, 5000, "+")],
    ("test", "negative"): [("test_negative_0", "chr2", 500, 700, "-")],
}  # fmt: skip
METADATA = b"""classes:
  negative:
    type: fa.gz
    url: http://example.org/toy1.fa.gz
  positive:
    type: fa.gz
    url: http://example.org/toy1.fa.gz
version: 0
"""


def mirror_path(url: str) -> str:
    return "/" + url.split("://", 1)[1]


@pytest.fixture
def served(http_server, write_catalogue):
    """Genome + dataset on the fixture server under their mirror paths, and a catalogue naming
    them by their upstream URLs with the right sizes and checksums."""
    genome = make_genome()
    genome_gz = gzip.compress(fasta_text(genome), mtime=0)
    http_server.add(mirror_path(GENOME_URL), genome_gz)
    files = [{"path": "metadata.yaml", "url": f"{GB_URL}/metadata.yaml",
              "size": len(METADATA), "sha256": sha(METADATA)}]  # fmt: skip
    http_server.add(mirror_path(f"{GB_URL}/metadata.yaml"), METADATA)
    for (split, label), rows in COORDS.items():
        data = coords_csv(rows)
        rel = f"{split}/{label}.csv.gz"
        http_server.add(mirror_path(f"{GB_URL}/{rel}"), data)
        files.append(
            {"path": rel, "url": f"{GB_URL}/{rel}", "size": len(data), "sha256": sha(data)}
        )
    write_catalogue(
        {"name": "toy1", "kind": "genome", "assembly": "TOY1", "naming": "ucsc",
         "files": [{"url": GENOME_URL, "size": len(genome_gz), "sha256": sha(genome_gz)}]},
        {"name": "other1", "kind": "genome", "assembly": "OTHER",
         "files": [{"url": "https://example.org/other.fa.gz"}]},
        {"name": "genomic-benchmarks/toy", "kind": "gb-dataset", "assembly": "TOY1",
         "default_genome": "toy1", "classes": ["negative", "positive"], "files": files},
    )  # fmt: skip
    return genome


def options(tmp_path, http_server, **kwargs):
    return FetchOptions(cache_dir=tmp_path / "cache", mirror=http_server.base, backoff=0, **kwargs)


def expected_sequence(genome, chrom, start, end, strand):
    seq = genome[chrom][start:end]
    return seq.translate(COMPLEMENT)[::-1] if strand == "-" else seq


def test_genome_is_stored_as_indexed_bgzip_readable_at_random(served, http_server, tmp_path):
    result = fetch("toy1", options(tmp_path, http_server))
    path = tmp_path / "cache" / "genomes" / "toy1" / "toy1.fa.gz"
    assert result.path == path and result.downloaded
    assert path.read_bytes()[12:14] == b"BC"  # BGZF extra field, not plain gzip
    assert {p.name for p in path.parent.iterdir()} == {
        "toy1.fa.gz", "toy1.fa.gz.fai", "toy1.fa.gz.gzi", "fetch.json"}  # fmt: skip
    with FastaReference(path) as reference:
        assert not reference.in_memory
        assert reference.lengths == {"chr1": 5000, "chr2": 3001}
        assert reference.fetch("chr1", 95, 410) == served["chr1"][95:410]
        assert reference.fetch("chr2", 2990, 3001) == served["chr2"][2990:]
    provenance = json.loads((path.parent / "fetch.json").read_text())
    assert provenance["files"][0]["url"] == GENOME_URL
    again = fetch("toy1", options(tmp_path, http_server))
    assert not again.downloaded and len(http_server.requests) == 1


def test_plain_fasta_download_is_compressed_and_indexed_too(http_server, tmp_path, write_catalogue):
    genome = make_genome(("1",), (777,))
    url = http_server.add("/plain.fa", fasta_text(genome, width=50))
    write_catalogue({"name": "plain", "kind": "genome", "files": [{"url": url}]})
    result = fetch("plain", FetchOptions(cache_dir=tmp_path))
    with FastaReference(result.path) as reference:
        assert reference.fetch("1", 0, 777) == genome["1"]


def test_a_download_that_is_not_fasta_is_rejected_and_removed(
    http_server, tmp_path, write_catalogue, files_under
):
    url = http_server.add("/notfasta.gz", gzip.compress(b"<html>sorry</html>\n"))
    write_catalogue({"name": "broken", "kind": "genome", "files": [{"url": url}]})
    with pytest.raises(InputError, match="not an indexable FASTA|neither FASTA|no FASTA"):
        fetch("broken", FetchOptions(cache_dir=tmp_path / "c"))
    assert files_under(tmp_path / "c") == []


def test_genome_checksum_mismatch_leaves_the_cache_empty(
    served, http_server, tmp_path, files_under
):
    with pytest.raises(FetchError, match="sha256 mismatch"):
        fetch("toy1", options(tmp_path, http_server, sha256="0" * 64))
    assert files_under(tmp_path / "cache") == []


def test_gb_dataset_gives_labelled_bed_and_matching_sequences(served, http_server, tmp_path):
    result = fetch("genomic-benchmarks/toy", options(tmp_path, http_server, genome="toy1"))
    folder = tmp_path / "cache" / "genomic-benchmarks" / "toy"
    assert result.path == folder
    for split in ("train", "test"):
        rows = [r for (s, _), rs in COORDS.items() if s == split for r in rs]
        beds = read_bed(folder / f"{split}.bed", label_column="label")
        assert len(beds) == len(rows)
        by_name = {b.name: b for b in beds}
        table = read_labelled_table(
            folder / "toy1" / f"{split}.sequences.tsv", label_column="label"
        )
        sequences = {r.name: r for r in table}
        for (s, label), group in COORDS.items():
            for ident, chrom, start, end, strand in group if s == split else []:
                bed = by_name[ident]
                assert (bed.interval.chrom, bed.interval.start, bed.interval.end) == (
                    chrom,
                    start,
                    end,
                )
                assert bed.label == label and bed.fields[5] == (strand or ".")
                record = sequences[ident]
                assert record.label == label
                assert record.sequence == expected_sequence(served, chrom, start, end, strand)
    # the genome was fetched on the way, through the mirror
    assert (tmp_path / "cache" / "genomes" / "toy1" / "toy1.fa.gz.gzi").is_file()


def test_gb_dataset_without_genome_writes_bed_only(served, http_server, tmp_path):
    result = fetch("genomic-benchmarks/toy", options(tmp_path, http_server))
    assert (result.path / "train.bed").is_file() and (result.path / "test.bed").is_file()
    assert not list(result.path.glob("*/*.sequences.tsv"))
    assert any("--genome" in note for note in result.notes)
    assert all(not path.startswith("/hgdownload") for path, _ in http_server.requests)


def test_gb_dataset_maps_chr_names_onto_an_ensembl_style_fasta(served, http_server, tmp_path):
    ensembl = {name.removeprefix("chr"): seq for name, seq in served.items()}
    fasta = tmp_path / "ens.fa"
    fasta.write_bytes(fasta_text(ensembl))
    out = tmp_path / "out"
    fetch("genomic-benchmarks/toy", options(tmp_path, http_server, genome=str(fasta), output=out))
    table = read_labelled_table(out / "test.sequences.tsv", label_column="label")
    assert table[1].name == "test_positive_0"
    assert table[1].sequence == served["chr1"][4900:5000]
    assert (out / "train.bed").is_file()


def test_gb_dataset_refuses_a_genome_of_another_assembly(served, http_server, tmp_path):
    with pytest.raises(InputError, match="TOY1 coordinates but other1 is OTHER; use toy1"):
        fetch("genomic-benchmarks/toy", options(tmp_path, http_server, genome="other1"))


def test_gb_dataset_outside_the_catalogue_learns_classes_from_metadata(http_server, tmp_path):
    base = "/raw.githubusercontent.com/ML-Bioinfo-CEITEC/genomic_benchmarks/main/datasets/extra"
    http_server.add(f"{base}/metadata.yaml", METADATA)
    for (split, label), rows in COORDS.items():
        http_server.add(f"{base}/{split}/{label}.csv.gz", coords_csv(rows))
    result = fetch("genomic-benchmarks/extra", options(tmp_path, http_server))
    labels = {b.label for b in read_bed(result.path / "train.bed", label_column=7)}
    assert labels == {"negative", "positive"}


def test_malformed_coordinates_name_the_file_and_line(http_server, tmp_path):
    base = "/raw.githubusercontent.com/ML-Bioinfo-CEITEC/genomic_benchmarks/main/datasets/bad"
    http_server.add(f"{base}/metadata.yaml", METADATA)
    for (split, label), rows in COORDS.items():
        http_server.add(f"{base}/{split}/{label}.csv.gz", coords_csv(rows))
    http_server.add(f"{base}/test/negative.csv.gz", coords_csv([("x", "chr1", "10", "5", "+")]))
    with pytest.raises(InputError, match=r"negative\.csv\.gz, line 2: invalid interval 10-5"):
        fetch("genomic-benchmarks/bad", options(tmp_path, http_server))


def test_builtin_catalogue_is_well_formed():
    catalogue = load_catalogue(extra=None)
    kinds = {r.kind for r in catalogue.values()}
    assert kinds == {"genome", "gb-dataset", "hf-checkpoint"}
    for name in ("hg38", "hg19", "mm10", "dm6", "genomic-benchmarks/human_enhancers_cohn",
                 "caduceus/ps-131k", "caduceus/ph-131k"):  # fmt: skip
        assert name in catalogue, name
    for resource in catalogue.values():
        if resource.kind == "gb-dataset":
            assert resource.default_genome in catalogue
            assert catalogue[resource.default_genome].assembly == resource.assembly
            paths = {f.path for f in resource.files}
            for split in ("train", "test"):
                for label in resource.classes:
                    assert f"{split}/{label}.csv.gz" in paths
            assert all(f.sha256 and len(f.sha256) == 64 and f.size for f in resource.files)
