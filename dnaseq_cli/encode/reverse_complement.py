"""Reverse complement of strings, char ids, k-mer ids and one-hot arrays (numpy and torch, batched).

RC-equivariant models (Caduceus PS/PH) and strand averaging need the other strand of exactly the
tokens they were given, so every form here is an involution: applying it twice returns the input,
padding included. With ``lengths``, only the first ``lengths[b]`` positions of row ``b`` are
reversed and the right padding stays where it is.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np

from dnaseq_cli.encode.tokens import SequenceLike, encode_kmers
from dnaseq_cli.encode.vocab import CHAR_COMPLEMENT_IDS, KmerVocab
from dnaseq_cli.io.sequence_utils import reverse_complement as rc_str
from dnaseq_cli.io.sequence_utils import reverse_complement_bytes


@overload
def reverse_complement(seq: str) -> str: ...
@overload
def reverse_complement(seq: bytes) -> bytes: ...
def reverse_complement(seq: str | bytes) -> str | bytes:
    """Reverse complement keeping case and IUPAC codes (the readers' implementation)."""
    if isinstance(seq, str):
        return rc_str(seq)
    return reverse_complement_bytes(bytes(seq))


def _is_torch(x: Any) -> bool:
    return hasattr(x, "detach")


def _reverse_valid(x: Any, lengths: Any, axis: int) -> Any:
    """Reverse ``x`` along ``axis`` (-1 or -2); with ``lengths`` only each row's valid prefix."""
    if lengths is None:
        return x.flip(axis) if _is_torch(x) else np.flip(x, axis)
    length = x.shape[axis]
    if _is_torch(x):
        import torch

        lens = torch.as_tensor(lengths, device=x.device).long()
        steps = torch.arange(length, device=x.device)
        index = lens.unsqueeze(-1) - 1 - steps
        index = torch.where(index >= 0, index, steps.expand_as(index))
        if axis == -2:
            index = index.unsqueeze(-1).expand(*index.shape, x.shape[-1])
        return torch.gather(x, axis, index)
    lens_np = np.asarray(lengths, dtype=np.int64)
    steps_np = np.arange(length)
    index_np = lens_np[..., None] - 1 - steps_np
    index_np = np.where(index_np >= 0, index_np, steps_np)
    if axis == -2:
        index_np = index_np[..., None]
    return np.take_along_axis(x, index_np, axis=axis)


def _map_ids(ids: Any, table: np.ndarray) -> Any:
    """Look ids up in ``table`` keeping their dtype (and device for torch)."""
    if _is_torch(ids):
        import torch

        return torch.tensor(table, device=ids.device)[ids.long()].to(ids.dtype)
    arr = np.asarray(ids)
    if arr.size and (arr.min() < 0 or arr.max() >= table.shape[0]):
        raise ValueError(f"token ids must be in 0..{table.shape[0] - 1}")
    return table[arr].astype(arr.dtype, copy=False)


def rc_char_ids(ids: Any, lengths: Any = None) -> Any:
    """Reverse complement of char ids ``[..., L]`` (numpy or torch); specials complement to
    themselves.

    ``lengths`` (shape ``[...]``) marks right-padded rows: only the valid part is reversed.
    """
    return _rc_ids(ids, CHAR_COMPLEMENT_IDS, lengths)


def _rc_ids(ids: Any, table: np.ndarray, lengths: Any) -> Any:
    if lengths is None and not _is_torch(ids):
        return _map_ids(np.flip(np.asarray(ids), -1), table)  # one pass, contiguous result
    return _reverse_valid(_map_ids(ids, table), lengths, -1)


def rc_kmer_ids(
    ids: Any,
    vocab: KmerVocab | int,
    stride: int = 1,
    *,
    lengths: Any = None,
    seq_length: int | None = None,
) -> Any:
    """Reverse complement of k-mer ids ``[..., T]``: complement each k-mer and reverse the order.

    For tokens starting at 0, stride, ... this gives exactly the tokens of the reverse complement of
    the *covered* bases, for any stride. It equals ``encode_kmers(reverse_complement(seq))`` only if
    the tokens cover the whole sequence, i.e. ``(len(seq) - k) % stride == 0`` (always for stride
    1). A non-overlapping encoding of a length not divisible by k shifts phase on the other strand:
    pass ``seq_length`` to have that case rejected, and re-encode with :func:`rc_encode_kmers`
    instead.
    """
    vocab = vocab if isinstance(vocab, KmerVocab) else KmerVocab(vocab)
    if seq_length is not None and seq_length >= vocab.k and (seq_length - vocab.k) % stride:
        raise ValueError(
            f"{vocab.k}-mer tokens with stride {stride} do not cover all {seq_length} bases; "
            "re-encode the reverse complement with rc_encode_kmers"
        )
    return _rc_ids(ids, vocab.complement_ids, lengths)


def rc_encode_kmers(seq: SequenceLike, k: int, *, stride: int | None = None, **kwargs: Any) -> Any:
    """k-mer tokens of the reverse complement, by re-encoding (exact for any length and stride)."""
    if not isinstance(seq, str | bytes):
        seq = bytes(np.asarray(seq, dtype=np.uint8))
    return encode_kmers(reverse_complement(seq), k, stride=stride, **kwargs)


def rc_one_hot(x: Any, lengths: Any = None) -> Any:
    """Reverse complement of one-hot ``[..., L, 4]`` in ACGT order: flip the channels (A<->T, C<->G)
    and the length axis (only the valid part with ``lengths``). Returns a new contiguous array."""
    if _is_torch(x):
        return _reverse_valid(x.flip(-1), lengths, -2)
    out = _reverse_valid(np.flip(np.asarray(x), -1), lengths, -2)
    return np.ascontiguousarray(out)
