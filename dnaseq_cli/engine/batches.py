"""Batches of token windows from a dataset folder, for training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from dnaseq_cli.data.dataset import Dataset
from dnaseq_cli.encode.convert import convert_tokens, pad_id_for


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, L] long, in the backbone's encoding
    attention_mask: torch.Tensor  # [B, L] bool, True on real tokens
    labels: torch.Tensor  # [B] long (classes) or float (regression)
    rows: torch.Tensor  # [B] row numbers in the dataset, to write predictions back

    def to(self, device: torch.device) -> Batch:
        return Batch(
            *(
                t.to(device, non_blocking=True)
                for t in (self.input_ids, self.attention_mask, self.labels, self.rows)
            )
        )


class WindowRows(TorchDataset):
    """Rows of a dataset folder (a split); tokens are read from the memory map per item."""

    def __init__(self, dataset: Dataset, rows: np.ndarray, task: str) -> None:
        self.dataset = dataset
        self.rows = np.asarray(rows, dtype=np.int64)
        records = dataset.records
        if task == "regression":
            self.labels = records["label"].astype(float).to_numpy(np.float32)
        elif "label_index" in records:
            self.labels = records["label_index"].to_numpy(np.int64)
        else:
            self.labels = np.full(len(records), -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, item: int) -> tuple[np.ndarray, object, int]:
        row = int(self.rows[item])
        return np.asarray(self.dataset.tokens[row]), self.labels[row], row


def make_collate(stored_encoding: str, wanted_encoding: str):
    """Collate function: stack token rows, convert the encoding, and derive the padding mask."""
    pad = pad_id_for(wanted_encoding)

    def collate(items: list[tuple[np.ndarray, object, int]]) -> Batch:
        tokens = torch.from_numpy(np.stack([item[0] for item in items]).astype(np.int64))
        ids = convert_tokens(tokens, stored_encoding, wanted_encoding)
        labels = torch.as_tensor(np.array([item[1] for item in items]))
        rows = torch.as_tensor([item[2] for item in items], dtype=torch.long)
        return Batch(ids, ids != pad, labels, rows)

    return collate
