"""Rebuild the two synthetic "site" references of peers/kipoi-veff/ (run from the repository root).

kipoi-veff's VCFs were called against hg38 chr22 (``tests/models/rbp/example_files/hg38_chr22.fa``)
and hg19 chr22 (``notebooks/example_data/hg19_chr22.fa``), 50 MB each and not in the snapshot we
copied from. Each stand-in keeps the real contig name and length (from kipoi's own ``.fai``) and is
``N`` everywhere except the REF alleles of the VCF it pairs with, written at their positions; a
REF of ``.`` (not a base) is left out. For ``variants.vcf`` those bases agree with what kipoi's
expected output ``variants_ref_out.vcf`` records at every site it scored. Scores computed on these
references mean nothing (the flanks are ``N``); they exist so that statuses and flags can be tested
on the peer VCFs exactly as shipped. Output: bgzip FASTA, 60 columns, with ``.fai`` and ``.gzi``.

    python data/examples/peers/build_site_references.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pysam

HERE = Path(__file__).resolve().parent / "kipoi-veff"
PAIRS = [
    ("variants.vcf", "hg38_chr22.fa.fai", "hg38_chr22_sites.fa"),
    ("clinvar_donor_acceptor_chr22.vcf", "hg19_chr22.fa.fai", "hg19_chr22_sites.fa"),
]


def _sites(vcf: Path) -> dict[int, str]:
    bases: dict[int, str] = {}
    for line in vcf.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        _chrom, pos, _id, ref = line.split("\t")[:4]
        if ref == ".":
            continue
        for offset, base in enumerate(ref.upper()):
            at = int(pos) - 1 + offset
            if bases.setdefault(at, base) != base:
                sys.exit(f"{vcf.name}: conflicting REF bases at {at + 1}")
    return bases


def build(vcf_name: str, fai_name: str, out_name: str) -> None:
    name, length = (HERE / fai_name).read_text().split("\t")[:2]
    seq = bytearray(b"N" * int(length))
    for at, base in _sites(HERE / vcf_name).items():
        seq[at] = ord(base)
    plain = HERE / out_name
    with open(plain, "wb") as out:
        out.write(f">{name}\n".encode())
        for start in range(0, len(seq), 60):
            out.write(bytes(seq[start : start + 60]) + b"\n")
    target = HERE / (out_name + ".gz")
    pysam.tabix_compress(str(plain), str(target), force=True)
    plain.unlink()
    pysam.faidx(str(target))


if __name__ == "__main__":
    for pair in PAIRS:
        build(*pair)
