"""``dnaseq preprocess``: inputs -> fixed-length windows -> tokens -> a dataset folder."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from dnaseq_cli.data.dataset import MANIFEST_FILE, Dataset, load_dataset, write_dataset
from dnaseq_cli.data.inputs import SequenceWindow, detect_format
from dnaseq_cli.data.records import Record, RecordOptions, iter_records
from dnaseq_cli.data.splits import chromosome_split, stratified_split
from dnaseq_cli.errors import InputError
from dnaseq_cli.output import check_folder_output, output_directory

logger = logging.getLogger(__name__)

ENCODING_CHOICES = ("char", "kmer1", "kmer2", "kmer3", "kmer4", "kmer5", "kmer6")
#: where :func:`open_or_build` builds the dataset of FASTA/table/BED inputs, inside a work folder
BUILT_DATASET_DIR = "dataset"


@dataclass
class PreprocessOptions:
    """Everything that decides the content of a dataset folder (recorded in its manifest)."""

    inputs: list[Path]
    reference: Path | None = None
    input_format: str = "auto"
    label_column: str | None = None
    label: str | None = None
    sequence_column: str | None = None
    name_column: str | None = None
    window: int | None = None
    flank: int = 0
    stride: int | None = None
    encoding: str = "char"
    kmer_stride: int = 1
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    test_chroms: list[str] = field(default_factory=list)
    val_chroms: list[str] = field(default_factory=list)
    seed: int = 0
    harmonise_chroms: bool = False
    val_inputs: list[Path] = field(default_factory=list)
    """Files whose windows form the validation split as given (a benchmark's dev set)."""
    test_inputs: list[Path] = field(default_factory=list)
    """Files whose windows form the test split as given."""


@dataclass
class _Loaded:
    windows: list[SequenceWindow]
    inputs: list[tuple[str, Path]]
    given_splits: list[str | None] = field(default_factory=list)
    """Per window: "val"/"test" when it came from a --val-input/--test-input file, else None."""
    dropped_duplicates: int = 0


def _encoder(
    encoding: str, kmer_stride: int
) -> tuple[Callable[[SequenceWindow], np.ndarray], int, int]:
    """Return (encode function, token length for a window length of 1, k) for an encoding name."""
    from dnaseq_cli.encode.tokens import encode_chars, encode_kmers
    from dnaseq_cli.encode.vocab import PAD_ID, KmerVocab

    if encoding == "char":

        def encode_char(window: SequenceWindow) -> np.ndarray:
            ids = encode_chars(window.sequence)
            ids[~window.valid] = PAD_ID
            return ids

        return encode_char, 1, 1
    from dnaseq_cli.encode import ENCODINGS

    known = ENCODINGS.get(encoding)
    if known is None or known.kind != "kmer":
        raise InputError(
            f"unknown --encoding {encoding!r}; choose from {', '.join(ENCODING_CHOICES)}"
        )
    k = known.k
    if kmer_stride not in (1, k):
        raise InputError(f"--kmer-stride must be 1 (overlapping) or {k} (non-overlapping)")
    pad = KmerVocab(k).pad_id

    def encode_kmer(window: SequenceWindow) -> np.ndarray:
        ids = encode_kmers(window.sequence, k, stride=kmer_stride)
        if not window.valid.all():
            invalid = np.lib.stride_tricks.sliding_window_view(~window.valid, k)[::kmer_stride]
            # a 2-D array reduced along an axis (numpy's stubs allow a scalar)
            ids[cast(np.ndarray, invalid.any(axis=1))[: len(ids)]] = pad
        return ids

    return encode_kmer, kmer_stride, k


def token_length(window: int, k: int, kmer_stride: int) -> int:
    if k == 1 and kmer_stride == 1:
        return window
    return (window - k) // kmer_stride + 1


def _read_records(path: Path, kind: str, options: PreprocessOptions) -> list[Record]:
    """The records of one input, not yet cut (the window may depend on every input)."""
    label_column = options.label_column
    if kind == "table" and label_column is None:
        label_column = "label"
    read = RecordOptions(
        input_format=kind,
        reference=options.reference,
        harmonise_chroms=options.harmonise_chroms,
        sequence_column=options.sequence_column,
        name_column=options.name_column,
        label_column=label_column,
        label=options.label,
        flank=options.flank,
        index_min_bytes=None,  # preprocess leaves no new index beside a FASTA
    )
    return list(iter_records(path, read))


def _cut(records: list[Record], window: int, stride: int | None) -> list[SequenceWindow]:
    """Every window of ``records`` (default stride: one window, tiles side by side); a record's
    only window keeps the record's name (a BED interval's name rather than its window's region)."""
    out: list[SequenceWindow] = []
    for record in records:
        listed = record.tiled(window, stride or window).windows
        if record.length <= window:
            listed[0].name = record.name
        out.extend(listed)
    return out


def _given_inputs(options: PreprocessOptions) -> list[tuple[Path, str | None]]:
    """Every input with the split it was given for (None: split by fraction or chromosome)."""
    return [
        *((path, None) for path in options.inputs),
        *((path, "val") for path in options.val_inputs),
        *((path, "test") for path in options.test_inputs),
    ]


def load_windows(options: PreprocessOptions) -> _Loaded:
    """Read every input and cut it into windows of one common length."""
    windows: list[SequenceWindow] = []
    given_splits: list[str | None] = []
    inputs: list[tuple[str, Path]] = []
    sequence_batches: list[tuple[str | None, list[Record]]] = []
    bed_paths: list[tuple[Path, str | None]] = []
    for path, split in _given_inputs(options):
        kind = detect_format(path, options.input_format)
        role = kind if split is None else f"{split} {kind}"
        if kind == "bed":
            bed_paths.append((path, split))
        else:
            sequence_batches.append((split, _read_records(path, kind, options)))
        inputs.append((role, path))
    if bed_paths and options.reference is not None:
        inputs.append(("reference", options.reference))
    if bed_paths and sequence_batches:
        raise InputError(
            "mixing BED inputs with FASTA/table inputs in one dataset is not supported"
        )
    if sequence_batches:
        window = options.window or max(r.length for _, batch in sequence_batches for r in batch)
        for split, batch in sequence_batches:
            cut = _cut(batch, window, options.stride)
            windows.extend(cut)
            given_splits.extend([split] * len(cut))
    for path, split in bed_paths:
        located = _read_records(path, "bed", options)
        window = options.window or max(r.length for r in located)
        cut = _cut(located, window, options.stride)
        windows.extend(cut)
        given_splits.extend([split] * len(cut))
    lengths = {len(w.sequence) for w in windows}
    if len(lengths) > 1:
        raise InputError(
            "inputs give windows of different lengths "
            f"({', '.join(map(str, sorted(lengths)))}); pass --window N"
        )
    loaded = _Loaded(windows=windows, inputs=inputs, given_splits=given_splits)
    return _drop_train_copies_of_held_out(loaded) if any(given_splits) else loaded


def _drop_train_copies_of_held_out(loaded: _Loaded) -> _Loaded:
    """Remove split-free windows whose sequence is also in a given val/test file.

    Why: benchmarks ship train and dev files with exact duplicates between them (GUE's tf_4 has
    346); a model selected on a dev set that it was trained on is selected on memory.
    """
    held_out = {
        w.sequence.upper()
        for w, split in zip(loaded.windows, loaded.given_splits, strict=True)
        if split
    }
    keep = [
        split is not None or w.sequence.upper() not in held_out
        for w, split in zip(loaded.windows, loaded.given_splits, strict=True)
    ]
    dropped = keep.count(False)
    if dropped:
        logger.warning(
            "dropped %d training windows identical to a --val-input/--test-input window", dropped
        )
    return _Loaded(
        windows=[w for w, kept in zip(loaded.windows, keep, strict=True) if kept],
        inputs=loaded.inputs,
        given_splits=[s for s, kept in zip(loaded.given_splits, keep, strict=True) if kept],
        dropped_duplicates=dropped,
    )


def _splitter(
    options: PreprocessOptions, given_splits: list[str | None] | None = None
) -> Callable[[pd.DataFrame], np.ndarray]:
    """Rows from --val-input/--test-input keep their split; the rest are split as asked.

    A split that is given by a file is not also drawn from the other inputs.
    """
    given = list(given_splits or [])

    def assign(records: pd.DataFrame) -> np.ndarray:
        if not any(given):
            return assign_free(records)
        assignment = np.array(given, dtype=object)
        free = np.flatnonzero([split is None for split in given])
        if len(free):
            assignment[free] = assign_free(records.iloc[free].reset_index(drop=True))
        return assignment.astype(str)

    val_given, test_given = bool(options.val_inputs), bool(options.test_inputs)

    def assign_free(records: pd.DataFrame) -> np.ndarray:
        labels = [None if v == "" else v for v in records["label"]]
        if options.test_chroms:
            chroms = [c if c != "" else None for c in records["chrom"]]
            return chromosome_split(
                chroms,
                labels,
                test_chroms=options.test_chroms,
                val_chroms=options.val_chroms,
                val_fraction=options.val_fraction,
                seed=options.seed,
            )
        return stratified_split(
            labels,
            val_fraction=0.0 if val_given else options.val_fraction,
            test_fraction=0.0 if test_given else options.test_fraction,
            seed=options.seed,
        )

    return assign


def preprocess(
    options: PreprocessOptions,
    out_dir: Path,
    *,
    overwrite: bool = False,
    progress: Callable[[int], Callable[[int], None]] | None = None,
) -> Dataset:
    """Build the dataset folder atomically: on any error nothing is left at ``out_dir``.

    ``overwrite`` (``--force``) replaces an earlier dnaseq folder, never one holding other files
    or an input (:func:`dnaseq_cli.output.check_folder_output`, checked before any work).
    ``progress(total)`` returns a callback advanced once per encoded window.
    """
    inputs = [*options.inputs, *options.val_inputs, *options.test_inputs, options.reference]
    check_folder_output(out_dir, force=overwrite, inputs=inputs)
    if options.window is not None and options.window <= 0:
        raise InputError(f"--window must be positive, got {options.window}")
    encode, _, k = _encoder(options.encoding, options.kmer_stride)
    loaded = load_windows(options)
    window = len(loaded.windows[0].sequence) if loaded.windows else 0
    if window < k:
        raise InputError(f"window of {window} bases is shorter than k={k}")
    manifest = {
        "encoding": options.encoding,
        "k": k,
        "kmer_stride": options.kmer_stride,
        "window_length": window,
        "flank": options.flank,
        "tile_stride": options.stride,
        "split": {
            "method": "chromosome" if options.test_chroms else "stratified",
            "val_inputs": [str(path) for path in options.val_inputs],
            "test_inputs": [str(path) for path in options.test_inputs],
            "dropped_train_duplicates": loaded.dropped_duplicates,
            "seed": options.seed,
            "val_fraction": None if options.val_inputs else options.val_fraction,
            "test_fraction": None
            if options.test_chroms or options.test_inputs
            else options.test_fraction,
            "test_chroms": options.test_chroms,
            "val_chroms": options.val_chroms,
        },
    }
    from dnaseq_cli.encode import token_dtype

    advance = progress(len(loaded.windows)) if progress else None
    with output_directory(out_dir, force=overwrite, inputs=inputs) as tmp:
        write_dataset(
            loaded.windows,
            tmp,
            encode=encode,
            token_length=token_length(window, k, options.kmer_stride),
            token_dtype=np.dtype(token_dtype(options.encoding)),
            assign_splits=_splitter(options, loaded.given_splits),
            manifest=manifest,
            inputs=loaded.inputs,
            progress=advance,
        )
    return load_dataset(out_dir)


def is_dataset_folder(path: Path) -> bool:
    """Whether ``path`` is a dataset folder (from ``dnaseq preprocess``) rather than an input file."""
    return (Path(path) / MANIFEST_FILE).is_file()


def open_or_build(
    options: PreprocessOptions,
    work_dir: Path,
    *,
    resume: bool = False,
    is_main: bool = True,
    barrier: Callable[[], None] = lambda: None,
) -> Dataset:
    """The dataset to train on: ``options.inputs`` when it is one dataset folder, else one built
    from the FASTA/table/BED inputs into ``work_dir/dataset`` (character tokens, which every
    backbone reads) and opened.

    ``resume`` opens a dataset an interrupted run already built there. Several processes
    (torchrun): only the main one (``is_main``) preprocesses; every process then calls
    ``barrier`` and opens what it wrote.
    """
    inputs = options.inputs
    if len(inputs) == 1 and is_dataset_folder(inputs[0]):
        if options.val_inputs or options.test_inputs:
            raise InputError(
                "--val-input/--test-input split FASTA/table/BED inputs; a dataset folder already "
                "has its splits (give them to 'dnaseq preprocess')",
                path=inputs[0],
            )
        return load_dataset(inputs[0])
    dataset_dir = Path(work_dir) / BUILT_DATASET_DIR
    if resume and is_dataset_folder(dataset_dir):
        return load_dataset(dataset_dir)
    if is_main:
        preprocess(options, dataset_dir, overwrite=True)
    barrier()  # the other processes read the folder the main one wrote
    return load_dataset(dataset_dir)


@contextlib.contextmanager
def errors_named_after(inputs: Sequence[Path], work_dir: Path) -> Iterator[None]:
    """An input error about the dataset :func:`open_or_build` built in ``work_dir`` (a folder the
    user never named) names the user's inputs instead."""
    dataset_dir = Path(work_dir) / BUILT_DATASET_DIR
    try:
        yield
    except InputError as error:
        if error.path is None or not Path(error.path).resolve().is_relative_to(
            dataset_dir.resolve()
        ):
            raise
        named = ", ".join(map(str, inputs))
        raise InputError(error.reason, path=named, line=error.line, record=error.record) from None
