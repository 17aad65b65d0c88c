"""Sequence <-> token ids: char and k-mer tokens, for one sequence or a padded batch.

Everything is whole-array numpy work over the sequence bytes (byte lookup tables, base-4
multiply-ORs) run over cache-sized blocks, because per-base Python loops are ~100x too slow for
genome-scale preprocessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dnaseq_cli.encode.vocab import (
    A_ID,
    BASE_CODE_LUT,
    C_ID,
    CHAR_LUT,
    CHAR_VOCAB_SIZE,
    G_ID,
    KMER_OFFSET,
    KMER_PAD_ID,
    KMER_UNK_ID,
    MASK_ID,
    MAX_K,
    N_ID,
    PAD_ID,
    T_ID,
    UNK_ID,
    KmerVocab,
)

SequenceLike = str | bytes | bytearray | memoryview | np.ndarray

_BASE_BYTES = np.frombuffer(b"ACGT", dtype=np.uint8)


def as_bytes(seq: SequenceLike) -> np.ndarray:
    """View a sequence as a uint8 array, one byte per base (non-ASCII characters become ``?``).

    ``str.encode("ascii")`` is a memcpy for ASCII strings; the ``replace`` fallback keeps one byte
    per character so positions stay aligned with the input.
    """
    if isinstance(seq, str):
        try:
            data = seq.encode("ascii")
        except UnicodeEncodeError:
            data = seq.encode("ascii", "replace")
        return np.frombuffer(data, dtype=np.uint8)
    if isinstance(seq, bytes | bytearray | memoryview):
        return np.frombuffer(seq, dtype=np.uint8)
    if isinstance(seq, np.ndarray):
        if seq.dtype == np.uint8:
            return seq.reshape(-1)
        if seq.dtype.kind == "S":
            return np.frombuffer(seq.tobytes(), dtype=np.uint8)
    raise TypeError(f"expected str, bytes or a uint8 array, got {type(seq).__name__}")


def to_numpy(ids: Any) -> np.ndarray:
    """Accept numpy arrays, torch tensors (any device) and lists alike."""
    if hasattr(ids, "detach"):
        return ids.detach().cpu().numpy()
    return np.asarray(ids)


_CHAR_TABLE = CHAR_LUT.tobytes()
_BASE_CODE_TABLE = BASE_CODE_LUT.tobytes()


# Tokens are produced in blocks of this many: the block's temporaries stay in L2 cache instead of
# streaming several full-length arrays through memory (and page-faulting them in) per pass.
BLOCK = 1 << 16


def _raw(seq: SequenceLike) -> bytes:
    """The sequence as ``bytes``, one byte per base (non-ASCII characters become ``?``)."""
    if isinstance(seq, str):
        try:
            return seq.encode("ascii")
        except UnicodeEncodeError:
            return seq.encode("ascii", "replace")
    if isinstance(seq, bytes):
        return seq
    return as_bytes(seq).tobytes()


def _lookup(seq: SequenceLike, table: bytes) -> np.ndarray:
    """Map every byte through a 256-byte table; read-only uint8 result.

    ``bytes.translate`` is about twice as fast as ``np.take`` on a 256-entry table.
    """
    return np.frombuffer(_raw(seq).translate(table), dtype=np.uint8)


def encode_chars(seq: SequenceLike, *, dtype: npt.DTypeLike = np.int64) -> np.ndarray:
    """Caduceus char ids for each base (see :mod:`dnaseq_cli.encode.vocab` for the byte rules).

    ``dtype=np.uint8`` skips the widening; that is what preprocess stores. The result is writable.
    """
    raw = _raw(seq)
    out = np.empty(len(raw), dtype=dtype)
    for lo in range(0, len(raw), 16 * BLOCK):  # translated blocks stay in cache
        block = raw[lo : lo + 16 * BLOCK].translate(_CHAR_TABLE)
        out[lo : lo + len(block)] = np.frombuffer(block, dtype=np.uint8)
    return out


# id -> output byte; 0 means "drop" (framing tokens carry no sequence position).
_DECODE_CHAR = np.zeros(CHAR_VOCAB_SIZE, dtype=np.uint8)
_DECODE_CHAR[[A_ID, C_ID, G_ID, T_ID]] = np.frombuffer(b"ACGT", dtype=np.uint8)
_DECODE_CHAR[[N_ID, UNK_ID, MASK_ID]] = ord("N")


def decode_chars(ids: Any) -> str:
    """Char ids back to a DNA string.

    ACGTN decode to themselves; ``[UNK]`` and ``[MASK]`` stand for an unknown base and print as
    ``N``; ``[PAD]``, ``[CLS]``, ``[SEP]``, ``[BOS]`` and ``[RESERVED]`` are not positions and are
    dropped.
    """
    arr = to_numpy(ids).reshape(-1)
    if arr.size and (arr.min() < 0 or arr.max() >= CHAR_VOCAB_SIZE):
        raise ValueError(f"char ids must be in 0..{CHAR_VOCAB_SIZE - 1}")
    out = _DECODE_CHAR[arr.astype(np.intp, copy=False)]
    return out[out != 0].tobytes().decode("ascii")


def _check_k_stride(k: int, stride: int | None) -> int:
    if not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be an integer in 1..{MAX_K}, got {k!r}")
    stride = 1 if stride is None else stride
    if not isinstance(stride, int | np.integer) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    return int(stride)


def num_kmer_tokens(length: int, k: int, stride: int = 1) -> int:
    """Number of k-mer tokens for a sequence of ``length`` bases: ``(length - k) // stride + 1``.

    The trailing ``length - covered_length(...)`` bases that do not fill a whole k-mer are not
    encoded.
    """
    return 0 if length < k else (length - k) // stride + 1


def covered_length(num_tokens: int, k: int, stride: int = 1) -> int:
    """Bases spanned by ``num_tokens`` k-mer tokens starting at 0, stride apart."""
    return 0 if num_tokens == 0 else (num_tokens - 1) * stride + k


def _sliding_values(codes: np.ndarray, bad: np.ndarray | None, k: int) -> tuple[np.ndarray, Any]:
    """Base-4 value and "contains a bad base" flag of every length-k window (stride 1).

    Windows are built by doubling (1 -> 2 -> 4) and combining the binary parts of k, so k=6 costs
    three shift-OR passes instead of six; values stay uint8 while they fit (up to 4 bases).
    """
    length = codes.shape[0]

    def combine(
        a: tuple[np.ndarray, Any], wa: int, b: tuple[np.ndarray, Any], wb: int
    ) -> tuple[np.ndarray, Any]:
        n = length - wa - wb + 1
        dtype = np.uint8 if wa + wb <= 4 else np.uint16
        # multiply, not <<: numpy's small-int shifts are scalar loops, multiplies are SIMD (~10x)
        if a[0].dtype == dtype:
            value = np.multiply(a[0][:n], dtype(4**wb))
        else:
            value = a[0][:n].astype(dtype)
            np.multiply(value, dtype(4**wb), out=value)
        np.bitwise_or(value, b[0][wa : wa + n], out=value)
        flag = None if a[1] is None else np.logical_or(a[1][:n], b[1][wa : wa + n])
        return value, flag

    powers = {1: (codes, bad)}
    width = 1
    while width * 2 <= k:
        powers[width * 2] = combine(powers[width], width, powers[width], width)
        width *= 2
    result, have = powers[width], width
    for part in (4, 2, 1):
        if part <= k - have:
            result = combine(result, have, powers[part], part)
            have += part
    return result


def encode_kmers(
    seq: SequenceLike,
    k: int,
    *,
    stride: int | None = None,
    dtype: npt.DTypeLike = np.int64,
) -> np.ndarray:
    """k-mer token ids (:class:`KmerVocab` numbering) for windows starting at 0, stride, 2*stride...

    ``stride=1`` (default) gives overlapping k-mers, ``stride=k`` non-overlapping ones. Any k-mer
    that contains a non-ACGT(U) base is ``[UNK]``. Trailing bases that do not fill a k-mer are
    dropped (see :func:`num_kmer_tokens`). Pass ``dtype=KmerVocab(k).dtype`` for the compact stored
    form.
    """
    stride = _check_k_stride(k, stride)
    out_dtype = np.dtype(dtype)
    if out_dtype.kind in "iu" and np.iinfo(out_dtype).max < KMER_OFFSET + 4**k - 1:
        raise ValueError(f"{out_dtype} cannot hold {k}-mer ids; use {KmerVocab(k).dtype} or wider")
    raw = _raw(seq)
    n = num_kmer_tokens(len(raw), k, stride)
    out = np.empty(n, dtype=out_dtype)
    for first in range(0, n, BLOCK):  # blocks of tokens; each block is whole-array numpy work
        last = min(first + BLOCK, n)
        piece = raw[first * stride : (last - 1) * stride + k].translate(_BASE_CODE_TABLE)
        _kmer_block(np.frombuffer(piece, dtype=np.uint8), k, stride, out[first:last])
    return out


def _kmer_block(codes: np.ndarray, k: int, stride: int, out: np.ndarray) -> None:
    """Write the ids of all k-mers of one block of base codes (0..3 ACGT, 4 other) into ``out``."""
    work = np.uint8 if k <= 3 else np.uint16  # max id 5 + 4**k - 1 fits
    bad: np.ndarray | None = None  # the common case (no N): skip all flag work
    flagged = codes > 3
    if flagged.any():
        codes = codes & np.uint8(3)
        bad = flagged
    if stride == 1:
        value, flag = _sliding_values(codes, bad, k)
    else:
        span = (out.shape[0] - 1) * stride + 1
        value = codes[0:span:stride].astype(work)
        flag = None if bad is None else bad[0:span:stride].copy()
        for o in range(1, k):  # loop over offsets within a k-mer (Horner), each a whole-block pass
            np.multiply(value, work(4), out=value)
            np.bitwise_or(value, codes[o : o + span : stride], out=value)
            if flag is not None and bad is not None:  # both or neither
                np.logical_or(flag, bad[o : o + span : stride], out=flag)
    np.add(value, work(KMER_OFFSET), out=out, dtype=work, casting="unsafe")
    if flag is not None:
        np.copyto(out, KMER_UNK_ID, where=flag)


def decode_kmers(ids: Any, k: int, stride: int | None = None) -> str:
    """Rebuild the sequence spanned by k-mer tokens (overlapping, non-overlapping or any stride).

    Each base is taken from any known token that covers it; bases covered only by
    ``[UNK]``/``[MASK]`` tokens, or by none (stride > k), print as ``N``.
    ``[PAD]``/``[CLS]``/``[SEP]`` are dropped first. For ACGT input,
    ``decode_kmers(encode_kmers(s, k, stride=st), k, st) == s[:covered_length]``.
    """
    stride = _check_k_stride(k, stride)
    vocab = KmerVocab(k)
    arr = to_numpy(ids).reshape(-1).astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= vocab.size):
        raise ValueError(f"{k}-mer ids must be in 0..{vocab.size - 1}")
    arr = arr[(arr != vocab.pad_id) & (arr != vocab.cls_id) & (arr != vocab.sep_id)]
    n = arr.shape[0]
    out = np.full(covered_length(n, k, stride), ord("N"), dtype=np.uint8)
    known = arr >= KMER_OFFSET
    index = arr[known] - KMER_OFFSET
    shifts = 2 * np.arange(k - 1, -1, -1)
    digits = (index[:, None] >> shifts[None, :]) & 3
    positions = (np.flatnonzero(known) * stride)[:, None] + np.arange(k)[None, :]
    out[positions.reshape(-1)] = _BASE_BYTES[digits.reshape(-1)]
    return out.tobytes().decode("ascii")


def _pad_batch(
    parts: list[np.ndarray], length: int | None, pad_id: int, truncate: bool, dtype: npt.DTypeLike
) -> tuple[np.ndarray, np.ndarray]:
    """Left-align variable-length id arrays into ``[B, length]`` plus a validity mask."""
    lengths = np.fromiter((p.shape[0] for p in parts), dtype=np.int64, count=len(parts))
    if length is None:
        length = int(lengths.max()) if len(parts) else 0
    if (lengths > length).any():
        if not truncate:
            worst = int(np.argmax(lengths))
            raise ValueError(
                f"sequence {worst} has {int(lengths[worst])} tokens, more than length={length}; "
                "pass truncate=True to cut"
            )
        parts = [p[:length] for p in parts]
        lengths = np.minimum(lengths, length)
    mask = np.arange(length)[None, :] < lengths[:, None]
    ids = np.full((len(parts), length), pad_id, dtype=dtype)
    if len(parts):
        ids[mask] = np.concatenate(parts)
    return ids, mask


def encode_batch_chars(
    seqs: Sequence[SequenceLike],
    length: int | None = None,
    pad_id: int = PAD_ID,
    *,
    truncate: bool = False,
    dtype: npt.DTypeLike = np.int64,
) -> tuple[np.ndarray, np.ndarray]:
    """Encode sequences into ``ids [B, length]`` (right-padded with ``pad_id``) and ``mask [B,
    length]``.

    ``length=None`` uses the longest sequence. Longer sequences raise unless ``truncate=True``,
    because silently cutting a sequence changes what the model scores.
    """
    raw = [as_bytes(s) for s in seqs]
    if raw:
        flat = _lookup(np.concatenate(raw), _CHAR_TABLE)
        parts = np.split(flat, np.cumsum([r.shape[0] for r in raw])[:-1])
    else:
        parts = []
    return _pad_batch(parts, length, pad_id, truncate, dtype)


def encode_batch_kmers(
    seqs: Sequence[SequenceLike],
    k: int,
    length: int | None = None,
    *,
    stride: int | None = None,
    pad_id: int = KMER_PAD_ID,
    truncate: bool = False,
    dtype: npt.DTypeLike = np.int64,
) -> tuple[np.ndarray, np.ndarray]:
    """k-mer version of :func:`encode_batch_chars`; ``length`` counts tokens, not bases."""
    parts = [encode_kmers(s, k, stride=stride, dtype=dtype) for s in seqs]
    return _pad_batch(parts, length, pad_id, truncate, dtype)
