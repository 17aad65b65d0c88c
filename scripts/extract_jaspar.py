"""Write the bundled JASPAR motif set (dnaseq_cli/resources/motifs/) from a JASPAR SQLite release.

    python scripts/extract_jaspar.py JASPAR2024.sqlite OUT.jaspar.gz [--collection CORE] [--tax-group vertebrates]

Why: motif-scan features need position frequency matrices at train and load time with no network.
The SQLite file ships inside the `pyjaspar` wheel (MIT; pyjaspar/data/JASPAR2024.sqlite). For every
matrix base ID of the collection and taxonomic group the latest version is kept, and written in the
plain JASPAR format (">ID NAME" then the A, C, G and T count rows), sorted by ID.
"""

from __future__ import annotations

import argparse
import gzip
import sqlite3
from pathlib import Path


def latest_matrices(
    db: Path, collection: str, tax_group: str
) -> list[tuple[str, str, list[list[float]]]]:
    connection = sqlite3.connect(db)
    rows = connection.execute(
        "SELECT m.ID, m.BASE_ID, m.VERSION, m.NAME FROM MATRIX m JOIN MATRIX_ANNOTATION a"
        " ON a.ID = m.ID WHERE m.COLLECTION = ? AND a.TAG = 'tax_group' AND a.VAL = ?",
        (collection, tax_group),
    ).fetchall()
    latest: dict[str, tuple[int, int, str]] = {}
    for matrix_id, base_id, version, name in rows:
        if base_id not in latest or version > latest[base_id][1]:
            latest[base_id] = (matrix_id, version, name)
    motifs = []
    for base_id, (matrix_id, version, name) in sorted(latest.items()):
        cells = connection.execute(
            "SELECT row, col, val FROM MATRIX_DATA WHERE ID = ?", (matrix_id,)
        ).fetchall()
        width = max(col for _, col, _ in cells)
        counts = [[0.0] * width for _ in range(4)]
        for base, col, value in cells:
            counts["ACGT".index(base.upper())][col - 1] = float(value)
        motifs.append((f"{base_id}.{version}", name, counts))
    return motifs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--collection", default="CORE")
    parser.add_argument("--tax-group", default="vertebrates")
    args = parser.parse_args()
    motifs = latest_matrices(args.database, args.collection, args.tax_group)
    with gzip.open(args.output, "wt", compresslevel=9) as handle:
        for motif_id, name, counts in motifs:
            handle.write(f">{motif_id}\t{name}\n")
            for base, row in zip("ACGT", counts, strict=True):
                handle.write(f"{base} [ " + " ".join(f"{v:g}" for v in row) + " ]\n")
    print(f"{len(motifs)} matrices written to {args.output}")


if __name__ == "__main__":
    main()
