"""Reference/alternate window pairs centred on a VCF variant, both exactly ``length`` bases long.

Layout (``p0 = pos1 - 1`` is the 0-based position of the first REF base, ``c = length // 2``):

* ref window: reference ``[p0 - c, p0 - c + length)``; the first REF base is at offset ``c`` (the
  middle base for odd ``length``, the right-hand middle one for even ``length``; the same rule as
  :func:`dnaseq_cli.windows.centred.centred_window` on the 1-bp interval ``[p0, p0 + 1)``).
* alt window: the same ``c`` left-flank bases, then ALT at offset ``c``, then the reference from
  ``p0 + len(REF)`` onwards until the window is full. A deletion thus pulls in extra right-flank
  bases and an insertion trims the right flank; ALT longer than ``length - c`` is cut at the window
  end.
* Flanks that run off the contig are N, with mask False; ALT bases always have mask True. The
  number of such padding bases is ``ref_padding`` / ``alt_padding`` (computed from coordinates, so
  callers need not sum masks), and ``truncated`` says that REF or ALT is longer than the
  ``length - c`` bases right of the centre, so the window cannot show the whole change.

``ref_matches`` compares REF case-insensitively with the reference at ``[p0, p0 + len(REF))`` (a REF
running past the contig end never matches); callers report mismatches instead of scoring them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnaseq_cli.errors import InputError
from dnaseq_cli.windows.source import SequenceSource, contig_length, fetch_padded

_ALLELE = re.compile(r"[ACGTUNRYKMSWBDHV]+", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class VariantWindowPair:
    """Ref and alt windows of one variant; ``start`` is the 0-based genome position of offset 0."""

    ref_seq: str
    alt_seq: str
    ref_mask: np.ndarray
    alt_mask: np.ndarray
    variant_offset: int
    ref_matches: bool
    observed_ref: str
    start: int
    ref_padding: int = 0
    alt_padding: int = 0
    truncated: bool = False


def _check_allele(allele: str, what: str, record: str, path: str | Path | None) -> None:
    if not _ALLELE.fullmatch(allele):
        hint = " (split multi-allelic records first)" if "," in allele else ""
        raise InputError(
            f"{what} allele {allele!r} is not a plain base sequence; symbolic, breakend, '*' and "
            f"empty alleles cannot be windowed{hint}",
            path=path,
            record=record,
        )


def variant_windows(
    source: SequenceSource,
    chrom: str,
    pos1: int,
    ref: str,
    alt: str,
    length: int,
    *,
    pad_char: str = "N",
    path: str | Path | None = None,
    record: str | None = None,
) -> VariantWindowPair:
    """Build the ref/alt window pair for a variant at 1-based ``pos1`` (layout: module doc).

    ``path`` and ``record`` (default ``chrom:pos``) name the variant's file and record in errors.
    """
    record = record or f"{chrom}:{pos1}"
    if length < 1:
        raise ValueError(f"window length must be >= 1, got {length}")
    _check_allele(ref, "REF", record, path)
    _check_allele(alt, "ALT", record, path)
    size = contig_length(source, chrom)
    if not 1 <= pos1 <= size:
        raise InputError(
            f"position {pos1:,} is outside {chrom} (length {size:,})", path=path, record=record
        )
    p0 = pos1 - 1
    centre = length // 2
    start = p0 - centre
    ref_seq, ref_mask = fetch_padded(source, chrom, start, start + length, pad_char=pad_char)
    observed = source.fetch(chrom, p0, min(p0 + len(ref), size))
    alt_part = alt[: length - centre]
    right_start = p0 + len(ref)
    right_len = length - centre - len(alt_part)
    right, right_mask = fetch_padded(
        source, chrom, right_start, right_start + right_len, pad_char=pad_char
    )
    alt_seq = ref_seq[:centre] + alt_part + right
    alt_mask = np.concatenate([ref_mask[:centre], np.ones(len(alt_part), bool), right_mask])
    left_pad = max(-start, 0)
    right_real = max(min(right_start + right_len, size) - right_start, 0)
    return VariantWindowPair(
        ref_seq=ref_seq,
        alt_seq=alt_seq,
        ref_mask=ref_mask,
        alt_mask=alt_mask,
        variant_offset=centre,
        ref_matches=observed.upper() == ref.upper(),
        observed_ref=observed,
        start=start,
        ref_padding=left_pad + max(start + length - size, 0),
        alt_padding=min(left_pad, centre) + right_len - right_real,
        truncated=max(len(ref), len(alt)) > length - centre,
    )
