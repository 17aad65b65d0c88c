"""Write the shared Cohn TSV (seq, label; gzipped) as a named table for `dnaseq preprocess`.

    python scripts/cohn_table.py SHARED/gb_cohn_test_sequences/cohn_dev.tsv.gz OUT.tsv

Names are cohn_0000, cohn_0001, ... in file order, so runs built from it share record names.
"""

import gzip
import sys


def main(source: str, target: str) -> None:
    with gzip.open(source, "rt") as src, open(target, "w") as out:
        header = next(src)
        if header.strip().split("\t") != ["seq", "label"]:
            sys.exit(f"{source}: expected the header 'seq<TAB>label', got {header.strip()!r}")
        out.write("name\tseq\tlabel\n")
        for i, line in enumerate(src):
            out.write(f"cohn_{i:04d}\t{line}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
