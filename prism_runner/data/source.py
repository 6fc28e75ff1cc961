"""The contract between a data factory and the runner.

A data factory (the ``_target_`` of a ``conf/data/*.yaml``) returns a :class:`DataSource`: the
items to train on, optional labelled splits for evaluation, the collate function of its
modality and the loader settings. Items are dicts with named fields (``image``, ``audio``,
``graph``, ``text``, ``label`` ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

import numpy as np
from torch.utils.data import Dataset
from torch.utils.data._utils.collate import default_collate

from prism_runner.errors import DataError


def require_path(value, key: str = "data.root", example: str = "/path/to/data",
                 what: str = "your data") -> Path:
    """``value`` as a Path that exists, or a DataError naming ``key`` and an example override."""
    if value is None or str(value) in ("", "???"):
        raise DataError(f"{key} is not set: add {key}={example} to the command line")
    path = Path(str(value)).expanduser()
    if not path.exists():
        raise DataError(f"{key}={path} does not exist; point {key} at {what} "
                        f"(e.g. {key}={example})")
    return path


@dataclass
class DataSource:
    train: Dataset                              # items for self-supervised training
    probe_train: Optional[Dataset] = None       # labelled items the probe is fitted on
    probe_test: Optional[Dataset] = None        # labelled held-out items the probe is scored on
    collate: Callable[[List[Any]], Any] = default_collate
    batch_size: int = 256                       # global batch size
    num_workers: int = 0
    skipped: List[str] = field(default_factory=list)  # items dropped under on_error=skip
    name: str = ""

    def describe(self) -> str:
        parts = [f"{len(self.train)} training items"]
        if self.probe_train is not None and self.probe_test is not None:
            parts.append(f"probe {len(self.probe_train)} train / {len(self.probe_test)} test")
        if self.skipped:
            parts.append(f"{len(self.skipped)} unreadable items skipped")
        return ", ".join(parts)


class ListDataset(Dataset):
    """A dataset over a list of ready-made item dicts."""

    def __init__(self, items: Sequence[dict]):
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


def check_on_error(on_error: str) -> str:
    if on_error not in ("raise", "skip"):
        raise DataError(f"data.on_error must be 'raise' or 'skip', got {on_error!r}")
    return on_error


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int):
    """Indices (train, test) with every class split in the same proportion."""
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"data.test_fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_test = int(round(len(idx) * test_fraction))
        n_test = min(max(n_test, 1), len(idx) - 1) if len(idx) > 1 else 0
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(test, dtype=int))


def stratified_subset(labels: np.ndarray, limit: Optional[int], seed: int) -> np.ndarray:
    """At most ``limit`` indices, keeping class proportions (all indices when limit is None)."""
    n = len(labels)
    if limit is None or limit >= n:
        return np.arange(n)
    if limit <= 0:
        raise DataError(f"data.limit must be positive, got {limit}")
    _, keep = stratified_split(labels, limit / n, seed)
    return keep
