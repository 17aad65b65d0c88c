"""One-hot encoding, channels in A, C, G, T order (the convention of Basset/Enformer-style models).

N, IUPAC ambiguity codes and any other non-ACGT(U) byte become a row of ``n_value`` (0 by default,
so an unknown base contributes nothing; 0.25 is the "uniform prior" alternative).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from dnaseq_cli.encode.tokens import SequenceLike, as_bytes
from dnaseq_cli.encode.vocab import A_ID, BASE_CODE_LUT, CHAR_VOCAB_SIZE, MASK_ID, N_ID, UNK_ID

_ROW_SCALAR = {4: np.uint32, 8: np.uint64, 16: np.complex128}


@lru_cache(maxsize=16)
def _byte_table(n_value: float, dtype: np.dtype) -> np.ndarray:
    """256 one-hot rows, packed as one scalar per row (where a scalar that wide exists) so a 1-D
    ``np.take`` copies each row in one go."""
    table = np.full((256, 4), n_value, dtype=dtype)
    valid = BASE_CODE_LUT < 4
    table[valid] = np.eye(4, dtype=dtype)[BASE_CODE_LUT[valid]]
    scalar = _ROW_SCALAR.get(table.itemsize * 4)
    packed = table if scalar is None else table.view(scalar).reshape(256)
    packed.flags.writeable = False
    return packed


def one_hot(
    seq: SequenceLike, *, n_value: float = 0.0, dtype: npt.DTypeLike = np.float32
) -> np.ndarray:
    """``[L, 4]`` one-hot of a sequence (case-insensitive, U as T), float32 by default.

    Writing 16 bytes per base makes float32 one-hot memory-bound; ``dtype=np.uint8`` (or float16) is
    4x (2x) less to write when the consumer casts anyway.
    """
    raw = as_bytes(seq)
    dtype = np.dtype(dtype)
    table = _byte_table(float(n_value), dtype)
    if table.ndim == 2:
        return np.take(table, raw, axis=0)
    return np.take(table, raw).view(dtype).reshape(raw.shape[0], 4)


@lru_cache(maxsize=8)
def _id_table(n_value: float) -> np.ndarray:
    table = np.zeros((CHAR_VOCAB_SIZE, 4), dtype=np.float32)
    table[A_ID : A_ID + 4] = np.eye(4, dtype=np.float32)
    table[[N_ID, UNK_ID, MASK_ID]] = n_value
    table.flags.writeable = False
    return table


def one_hot_from_ids(ids: Any, *, n_value: float = 0.0) -> Any:
    """One-hot ``[..., L, 4]`` from char ids ``[..., L]``; numpy in -> numpy out, torch in -> torch
    out.

    N, ``[UNK]`` and ``[MASK]`` rows get ``n_value`` (unknown base); ``[PAD]`` and the framing
    tokens get zeros because they are not bases at all.
    """
    table = _id_table(float(n_value))
    if hasattr(ids, "detach"):
        import torch

        lut = torch.tensor(table, device=ids.device)
        return lut[ids.long()]
    arr = np.asarray(ids)
    if arr.size and (arr.min() < 0 or arr.max() >= CHAR_VOCAB_SIZE):
        raise ValueError(f"char ids must be in 0..{CHAR_VOCAB_SIZE - 1}")
    return table[arr.astype(np.intp, copy=False)]


def ids_from_one_hot(x: Any) -> Any:
    """Char ids back from a one-hot ``[..., L, 4]`` (rows that are not exactly one-hot -> N)."""
    if hasattr(x, "detach"):
        import torch

        hot = (x == 1).sum(-1) == 1
        return torch.where(hot, x.argmax(-1) + A_ID, torch.full_like(hot, N_ID, dtype=torch.long))
    arr = np.asarray(x)
    hot = (arr == 1).sum(-1) == 1
    return np.where(hot, arr.argmax(-1) + A_ID, N_ID).astype(np.int64)
