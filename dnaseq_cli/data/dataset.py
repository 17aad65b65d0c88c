"""The preprocessed dataset folder: a records table, a memory-mappable token array and a manifest.

Layout (``format_version`` 1)::

    records.tsv     one row per window: name chrom start end strand label label_index split ...
    tokens.npy      (n_windows, token_length) unsigned ints, np.load(..., mmap_mode="r") friendly
    manifest.json   encoding, window length, vocabulary, task/classes, split settings, input checksums

Training streams rows out of ``tokens.npy`` without loading it, so datasets larger than memory work.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from dnaseq_cli import __version__
from dnaseq_cli.checksums import file_sha256
from dnaseq_cli.data.inputs import SequenceWindow
from dnaseq_cli.errors import InputError

FORMAT_VERSION = 1
RECORDS_FILE = "records.tsv"
TOKENS_FILE = "tokens.npy"
MANIFEST_FILE = "manifest.json"
_NPY_HEADER_BYTES = 128
_HASH_ELEMENTS = 1 << 22  # token values hashed per chunk (32 MiB as uint64)


@dataclass
class Dataset:
    """A loaded dataset folder; ``tokens`` is a read-only memory map."""

    path: Path
    records: pd.DataFrame
    tokens: np.ndarray
    manifest: dict[str, Any]

    def split(self, name: str) -> np.ndarray:
        """Row indices of one split."""
        return np.flatnonzero(self.records["split"].to_numpy() == name)


def window_keys(tokens: np.ndarray) -> np.ndarray:
    """A 64-bit hash per token row: equal rows (identical windows) get equal keys.

    Why: finding windows shared between splits must not load a larger-than-memory ``tokens.npy``;
    rows are hashed in chunks of the memory map. The hash is a sum of tokens times fixed random
    odd 64-bit multipliers (wrapping), so two different rows collide with probability ~2**-57:
    good enough for a warning.
    """
    rows, width = tokens.shape[0], int(np.prod(tokens.shape[1:], dtype=np.int64))
    multipliers = np.random.default_rng(0x5EED).integers(0, 2**63, width, dtype=np.uint64) * 2 + 1
    keys = np.empty(rows, dtype=np.uint64)
    step = max(1, _HASH_ELEMENTS // max(width, 1))
    with np.errstate(over="ignore"):
        for start in range(0, rows, step):
            chunk = np.asarray(tokens[start : start + step]).reshape(-1, width)
            keys[start : start + len(chunk)] = (chunk.astype(np.uint64) * multipliers).sum(axis=1)
    return keys


def infer_task(labels: Iterable[object]) -> tuple[str, list[str]]:
    """Decide classification vs regression from the label values.

    Integers and text are classes; any non-integer number makes the task a regression. Returns the task
    (``binary``, ``multiclass``, ``regression`` or ``unlabelled``) and the sorted class names.
    """
    values = [label for label in labels if label is not None and str(label) != ""]
    if not values:
        return "unlabelled", []
    numbers = pd.to_numeric(pd.Series([str(v) for v in values]), errors="coerce")
    if numbers.notna().all() and not np.allclose(numbers, np.round(numbers)):
        return "regression", []
    if numbers.notna().all():
        classes = [str(int(v)) for v in sorted(set(np.round(numbers).astype(int)))]
    else:
        classes = sorted({str(v) for v in values})
    return ("binary" if len(classes) == 2 else "multiclass"), classes


def _class_key(label: str | float, numeric: bool) -> str:
    return str(int(round(float(label)))) if numeric else str(label)


def _write_npy_header(handle: BinaryIO, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """A fixed-size .npy v1 header, so it can be rewritten once the row count is known."""
    body = repr(
        {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    )
    magic = b"\x93NUMPY\x01\x00"
    pad = _NPY_HEADER_BYTES - len(magic) - 2 - len(body) - 1
    header = body + " " * pad + "\n"
    handle.write(magic + len(header).to_bytes(2, "little") + header.encode("latin1"))


def write_dataset(
    windows: Iterable[SequenceWindow],
    out_dir: Path,
    *,
    encode: Callable[[SequenceWindow], np.ndarray],
    token_length: int,
    token_dtype: np.dtype,
    assign_splits: Callable[[pd.DataFrame], np.ndarray],
    manifest: dict[str, Any],
    inputs: list[tuple[str, Path]],
    progress: Callable[[int], None] | None = None,
) -> Dataset:
    """Encode ``windows`` into ``out_dir`` (which must exist and be empty, e.g. a temporary folder).

    Tokens are streamed to disk as they are encoded; the records table and manifest are written last.
    """
    rows: list[dict[str, Any]] = []
    dtype = np.dtype(token_dtype)
    tokens_path = out_dir / TOKENS_FILE
    with open(tokens_path, "wb") as handle:
        _write_npy_header(handle, dtype, (0, token_length))
        for window in windows:
            ids = encode(window)
            if ids.shape != (token_length,):
                raise InputError(
                    f"window encodes to {ids.shape[0]} tokens, expected {token_length}",
                    record=window.name,
                )
            handle.write(np.ascontiguousarray(ids, dtype=dtype).tobytes())
            valid = int(window.valid.sum())
            upper = window.sequence.upper()
            rows.append(
                {
                    "name": window.name,
                    "chrom": window.chrom if window.chrom is not None else "",
                    "start": window.start if window.start is not None else "",
                    "end": window.end if window.end is not None else "",
                    "strand": window.strand,
                    "label": "" if window.label is None else window.label,
                    "source_length": window.source_length,
                    "valid_bases": valid,
                    "n_fraction": round(upper.count("N") / max(len(upper), 1), 4),
                }
            )
            if progress is not None:
                progress(1)
        if not rows:
            raise InputError("no records to write: the input is empty")
        handle.seek(0)
        _write_npy_header(handle, dtype, (len(rows), token_length))

    records = pd.DataFrame(rows)
    task, classes = infer_task(records["label"])  # "" (no label) is skipped by infer_task
    numeric = (
        task != "unlabelled"
        and pd.to_numeric(records["label"].replace("", np.nan), errors="coerce").notna().all()
    )
    if task in ("binary", "multiclass"):
        index = {name: i for i, name in enumerate(classes)}
        records["label_index"] = [
            index[_class_key(label, numeric)] if label != "" else -1 for label in records["label"]
        ]
    records["split"] = assign_splits(records)
    records.to_csv(out_dir / RECORDS_FILE, sep="\t", index=False)

    split_counts: dict[str, dict[str, int]] = {}
    for split_name, group in records.groupby("split"):
        counter = Counter(str(v) for v in group["label"])
        split_counts[str(split_name)] = {"total": int(len(group)), **dict(sorted(counter.items()))}
    full_manifest = {
        "format_version": FORMAT_VERSION,
        "dnaseq_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        **manifest,
        "token_length": token_length,
        "token_dtype": dtype.name,
        "n_records": len(records),
        "task": task,
        "classes": classes,
        "split_counts": split_counts,
        "inputs": [
            {
                "role": role,
                "path": str(path),
                "bytes": Path(path).stat().st_size,
                "sha256": file_sha256(path),
            }
            for role, path in inputs
        ],
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(full_manifest, indent=2) + "\n")
    return load_dataset(out_dir)


def load_dataset(path: str | Path) -> Dataset:
    """Open a dataset folder written by :func:`write_dataset` (tokens memory-mapped, read-only)."""
    folder = Path(path)
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InputError("not a dnaseq dataset folder (no manifest.json)", path=folder)
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"manifest.json is not valid JSON ({error})", path=manifest_path) from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise InputError(
            f"dataset format version {version} is not supported (expected {FORMAT_VERSION})",
            path=manifest_path,
        )
    records = pd.read_csv(
        folder / RECORDS_FILE, sep="\t", dtype={"label": str}, keep_default_na=False
    )
    try:  # allow_pickle=False: an object array would unpickle (run) code; numbers only
        tokens = np.load(folder / TOKENS_FILE, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise InputError(
            f"tokens.npy is not a readable token array ({error})", path=folder / TOKENS_FILE
        ) from None
    if tokens.shape[0] != len(records):
        raise InputError(
            f"tokens.npy has {tokens.shape[0]} rows but records.tsv has {len(records)}", path=folder
        )
    return Dataset(path=folder, records=records, tokens=tokens, manifest=manifest)
