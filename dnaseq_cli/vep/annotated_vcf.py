"""The annotated VCF of ``dnaseq vep --output-vcf``: the input's records with ``DNASEQ_*`` scores.

Sites-only, one record per ALT (multi-allelic records split, as they were scored), with the input's
QUAL, FILTER and INFO (``Number=A``/``R`` fields narrowed to the ALT) followed by the ``DNASEQ_*``
fields declared in the header. Records are spooled to an anonymous temporary file as they are
scored, so memory does not grow with the VCF; the header goes first but needs what is only known at
the end (the contigs used, when the input declares none), so the file is assembled on
:meth:`AnnotatedVcf.finish`: bgzipped through pysam and tabix-indexed for ``.gz``/``.bgz`` names
(an unsorted input keeps the bgzipped file without an index, with a warning), plain text otherwise.
"""

from __future__ import annotations

import logging
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from dnaseq_cli.output import atomic_path, is_stream

if TYPE_CHECKING:
    from dnaseq_cli.vep.scoring import VariantScore

logger = logging.getLogger(__name__)

INFO_FIELDS = {
    "DNASEQ_REF": ("Float", "model score of the reference window (positive-class probability)"),
    "DNASEQ_ALT": ("Float", "model score of the alternate window (positive-class probability)"),
    "DNASEQ_DELTA": ("Float", "DNASEQ_ALT - DNASEQ_REF"),
    "DNASEQ_LOR": ("Float", "log-odds ratio logit(ALT score) - logit(REF score)"),
    "DNASEQ_LLR": ("Float", "MLM log-likelihood ratio log p(ALT) - log p(REF), substitutions"),
    "DNASEQ_STATUS": ("String", "ok, ref_mismatch, unknown_contig or why the ALT was skipped"),
    "DNASEQ_FLAGS": ("String", "quality flags of the scored windows, '|'-separated (n_rich, ...)"),
}
COLUMNS_LINE = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
_COPY_CHUNK = 1 << 20


def _number(value: float | int | np.floating | np.integer) -> str:
    """A VCF number as htslib (bcftools) writes it back: floats, which htslib holds in single
    precision, with ``%g`` (six significant digits), integers unchanged."""
    if isinstance(value, bool | int | np.integer):
        return str(int(value))
    return f"{float(value):g}"


def _value(value: Any) -> str:
    if value is None:
        return "."
    if isinstance(value, tuple | list):
        return ",".join(_value(item) for item in value)
    if isinstance(value, float | int | np.floating | np.integer):
        return _number(value)
    return str(value)


def input_info_text(info: dict[str, Any]) -> list[str]:
    """The input's INFO fields as ``KEY=VALUE`` (flags as ``KEY``), in the input's order."""
    parts = []
    for key, value in info.items():
        if key.startswith("DNASEQ_"):
            continue  # an earlier dnaseq run's scores are replaced, not repeated
        if value is True:
            parts.append(key)
        elif value is not False:
            parts.append(f"{key}={_value(value)}")
    return parts


def dnaseq_info_text(row: VariantScore) -> list[str]:
    parts = []
    for key, value in (
        ("DNASEQ_REF", row.ref_score),
        ("DNASEQ_ALT", row.alt_score),
        ("DNASEQ_DELTA", row.delta),
        ("DNASEQ_LOR", row.log_odds_ratio),
        ("DNASEQ_LLR", row.llr),
    ):
        if value is not None:
            parts.append(f"{key}={value:.6g}")
    parts.append(f"DNASEQ_STATUS={row.status}")
    if row.flags:
        parts.append("DNASEQ_FLAGS=" + "|".join(row.flags))
    return parts


def record_line(row: VariantScore) -> str:
    """One VCF data line for one scored (or skipped) ALT."""
    v = row.variant
    qual = "." if v.qual is None else _number(v.qual)
    filters = ";".join(v.filters) or "."
    info = ";".join(input_info_text(v.info) + dnaseq_info_text(row))
    return f"{v.chrom}\t{v.pos}\t{v.id or '.'}\t{v.ref}\t{v.alt}\t{qual}\t{filters}\t{info}\n"


def meta_lines(header_text: str | None, contigs: list[tuple[str, int]]) -> list[str]:
    """The input's ``##`` lines (fileformat first), contigs when it declares none, dnaseq's INFO
    declarations (replacing an earlier run's) and the command line."""
    lines = [line for line in (header_text or "").splitlines() if line.startswith("##")]
    lines = [line for line in lines if not line.startswith("##INFO=<ID=DNASEQ_")]
    if not lines or not lines[0].startswith("##fileformat"):
        lines.insert(0, "##fileformat=VCFv4.2")
    if not any(line.startswith("##contig") for line in lines):
        lines += [f"##contig=<ID={name},length={length}>" for name, length in contigs]
    for key, (kind, text) in INFO_FIELDS.items():
        lines.append(f'##INFO=<ID={key},Number=A,Type={kind},Description="dnaseq: {text}">')
    lines.append("##dnaseq_command=" + shlex.join(sys.argv))
    return lines


class AnnotatedVcf:
    """Collects scored rows for ``path`` with constant memory; :meth:`finish` writes the file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._body: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")
        self._contigs: dict[str, None] = {}
        self.records = 0

    def add(self, row: VariantScore) -> None:
        self._contigs.setdefault(row.variant.chrom)
        self._body.write(record_line(row))
        self.records += 1

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> AnnotatedVcf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def finish(self, header_text: str | None, contig_length: Callable[[str], int | None]) -> bool:
        """Write the file (header, then the spooled records); returns whether it was indexed."""
        contigs = [(name, n) for name in self._contigs if (n := contig_length(name)) is not None]
        head = "\n".join([*meta_lines(header_text, contigs), COLUMNS_LINE]) + "\n"
        compressed = str(self.path).endswith((".gz", ".bgz"))
        if not compressed:
            with atomic_path(self.path) as tmp:
                with open(tmp, "w", encoding="utf-8") as out:
                    out.write(head)
                    self._copy_body(out.write)
            return False
        if is_stream(self.path):  # a device or pipe gets no index beside it
            with atomic_path(self.path) as tmp:
                self._write_bgzf(tmp, head)
            return False
        index = Path(str(self.path) + ".tbi")
        with atomic_path(self.path) as tmp, atomic_path(index) as tmp_index:
            self._write_bgzf(tmp, head)
            indexed = self._index(tmp, tmp_index)
        if not indexed:
            index.unlink(missing_ok=True)
        return indexed

    def _copy_body(self, write: Callable[[Any], object], encode: bool = False) -> None:
        self._body.flush()
        self._body.seek(0)
        while chunk := self._body.read(_COPY_CHUNK):
            write(chunk.encode() if encode else chunk)

    def _write_bgzf(self, tmp: Path | str, head: str) -> None:
        import pysam

        out = pysam.BGZFile(str(tmp), "wb")  # type: ignore[call-arg]  # pysam's stub omits index=None
        try:
            out.write(head.encode())
            self._copy_body(out.write, encode=True)
        finally:
            out.close()

    def _index(self, tmp: Path | str, tmp_index: Path | str) -> bool:
        import pysam

        try:
            pysam.tabix_index(str(tmp), preset="vcf", force=True, index=str(tmp_index))
            return True
        except (OSError, ValueError) as error:
            # Unsorted input: keep the bgzipped VCF and say why there is no index.
            Path(tmp_index).write_bytes(b"")
            logger.warning(
                "%s: not indexed (%s); sort the input VCF (bcftools sort) to get a .tbi",
                self.path,
                error,
            )
            return False
