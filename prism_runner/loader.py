"""Batches for the loop and for evaluation: view application, deterministic order, devices.

Augmentation randomness is seeded per sample from (seed, epoch, index), so a run's batches do
not depend on the number of loader workers or processes, and a resumed run sees exactly the
batches the uninterrupted run would have seen.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, Tuple

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class ViewDataset(Dataset):
    """Applies a views function to each item of ``base``.

    Indexed by ``(epoch, index)`` pairs from :class:`EpochSampler` (seeded augmentation) or by
    plain ints (evaluation, where views are deterministic).
    """

    def __init__(self, base: Dataset, views: Callable[[dict], dict], seed: int = 0):
        self.base, self.views, self.seed = base, views, seed

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            epoch, index = key
            # Seed and restore the CPU generator itself: torch.manual_seed / fork_rng would also
            # queue a CUDA re-seed with a captured stack trace (~0.5 ms per sample on CPU).
            generator = torch.default_generator
            state = generator.get_state()
            generator.manual_seed((self.seed * 1_000_003 + epoch) * 1_000_033 + index)
            try:
                return self.views(self.base[index])
            finally:
                generator.set_state(state)
        return self.views(self.base[key])

    def __getitems__(self, keys):
        """A batch of items (the DataLoader's batched fetch), augmented with one intra-op
        thread: per-sample views on small tensors run several times slower with more threads,
        whose synchronisation costs more than the work (DataLoader workers use one already)."""
        threads = torch.get_num_threads()
        if threads == 1:
            return [self[key] for key in keys]
        torch.set_num_threads(1)
        try:
            return [self[key] for key in keys]
        finally:
            torch.set_num_threads(threads)


class EpochSampler(Sampler):
    """This process's share of a seeded per-epoch permutation, as ``(epoch, index)`` pairs.

    ``drop_last`` trims the permutation to whole global batches, so every process gets the
    same number of full batches. ``start_batch`` skips batches already trained on (resume).
    """

    def __init__(self, size: int, global_batch: int, seed: int, rank: int = 0,
                 world_size: int = 1, shuffle: bool = True):
        self.size, self.global_batch, self.seed = size, global_batch, seed
        self.rank, self.world_size, self.shuffle = rank, world_size, shuffle
        self.epoch, self.start_batch = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.size // self.global_batch

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def _order(self) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.size)
        generator = torch.Generator().manual_seed(self.seed * 7919 + self.epoch)
        return torch.randperm(self.size, generator=generator)

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        order = self._order()[: self.batches_per_epoch * self.global_batch]
        per_rank = self.global_batch // self.world_size
        for b in range(self.start_batch, self.batches_per_epoch):
            batch = order[b * self.global_batch:(b + 1) * self.global_batch]
            for index in batch[self.rank * per_rank:(self.rank + 1) * per_rank].tolist():
                yield (self.epoch, index)

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * (self.global_batch // self.world_size)


def train_loader(dataset: ViewDataset, sampler: EpochSampler, collate: Callable,
                 num_workers: int, pin_memory: bool = False) -> DataLoader:
    per_rank = sampler.global_batch // sampler.world_size
    return DataLoader(dataset, batch_size=per_rank, sampler=sampler, collate_fn=collate,
                      num_workers=num_workers, pin_memory=pin_memory, drop_last=True,
                      persistent_workers=num_workers > 0,
                      prefetch_factor=4 if num_workers > 0 else None)


def eval_loader(dataset: ViewDataset, collate: Callable, batch_size: int,
                num_workers: int = 0) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate,
                      num_workers=num_workers)


def to_device(batch: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move tensors (and objects with ``.to``, e.g. graph batches) in nested dicts/lists."""
    if device.type == "cpu":
        return batch  # everything is built on the CPU already
    if isinstance(batch, dict):
        return {k: to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, non_blocking) for v in batch)
    if hasattr(batch, "to"):
        return batch.to(device, non_blocking=non_blocking)
    return batch


def batch_size_of(batch: Any) -> Optional[int]:
    """Number of items in a collated batch (first tensor's length, or ``num_graphs``)."""
    if hasattr(batch, "num_graphs"):
        return int(batch.num_graphs)
    if torch.is_tensor(batch):
        return batch.shape[0]
    if isinstance(batch, dict):
        for value in batch.values():
            n = batch_size_of(value)
            if n is not None:
                return n
    if isinstance(batch, (list, tuple)) and batch:
        return batch_size_of(batch[0])
    return None
