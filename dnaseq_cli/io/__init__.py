"""Readers for the inputs dnaseq accepts: FASTA, BED, VCF/BCF and labelled tables.

Each format has its own module; the names below are re-exported for convenience. Everything a user
can get wrong raises :class:`dnaseq_cli.errors.InputError` naming the file and line or record.
"""

from __future__ import annotations

from dnaseq_cli.io.bed import BedRecord, iter_bed, read_bed
from dnaseq_cli.io.contigs import ContigMapper, check_naming, naming_style
from dnaseq_cli.io.fasta import FastaReference, iter_fasta, read_fasta
from dnaseq_cli.io.sequence_utils import complement, reverse_complement
from dnaseq_cli.io.tables import read_labelled_table
from dnaseq_cli.io.vcf import Variant, VariantStats, iter_variants, read_variants

__all__ = [
    "BedRecord",
    "ContigMapper",
    "FastaReference",
    "Variant",
    "VariantStats",
    "check_naming",
    "complement",
    "iter_bed",
    "iter_fasta",
    "iter_variants",
    "naming_style",
    "read_bed",
    "read_fasta",
    "read_labelled_table",
    "read_variants",
    "reverse_complement",
]
