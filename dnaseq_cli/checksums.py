"""The one checksum of the project: a file's sha256, read in chunks.

Used where a file must be the one that was meant: downloads are checked against the catalogue,
checkpoint weights against the hash their ``config.json`` records, and a dataset or a pretrained
checkpoint named in a run's records against what was read then.
"""

from __future__ import annotations

import hashlib
import os

CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str], chunk: int = CHUNK) -> str:
    """Hex sha256 of a file, read ``chunk`` bytes at a time (weights and genomes can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
