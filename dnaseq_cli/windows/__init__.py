"""Fixed-length windows over a reference: centred on intervals, tiled, or centred on variants.

Windows keep their length at contig ends by padding with N (mask False there) instead of failing.
"""

from __future__ import annotations

from dnaseq_cli.windows.centred import Window, centred_window, fetch_centred, fetch_window
from dnaseq_cli.windows.source import InMemorySource, SequenceSource, contig_length, fetch_padded
from dnaseq_cli.windows.tiling import Tiling, tile, tile_interval
from dnaseq_cli.windows.variants import VariantWindowPair, variant_windows

__all__ = [
    "InMemorySource",
    "SequenceSource",
    "Tiling",
    "VariantWindowPair",
    "Window",
    "centred_window",
    "contig_length",
    "fetch_centred",
    "fetch_padded",
    "fetch_window",
    "tile",
    "tile_interval",
    "variant_windows",
]
