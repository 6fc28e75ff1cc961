"""Frozen embeddings for evaluators: eval mode, no gradients, the whole split, in order."""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Dict

import numpy as np
import torch

from prism_runner.loader import ViewDataset, eval_loader, to_device


def make_embedder(method: torch.nn.Module, eval_view: Callable, collate: Callable,
                  batch_size: int, device: torch.device) -> Callable[..., Dict[str, np.ndarray]]:
    """``embed(dataset) -> {"embedding": (N, D), "label": (N,)}`` with ``method.embed``.

    When ``method.embed`` returns a dict, each of its entries becomes an array of the result.
    """

    def embed(dataset) -> Dict[str, np.ndarray]:
        loader = eval_loader(ViewDataset(dataset, eval_view), collate, batch_size)
        was_training = method.training
        method.eval()
        parts = defaultdict(list)
        try:
            with torch.no_grad():
                for batch in loader:
                    batch = to_device(batch, device)
                    out = method.embed(batch)
                    out = out if isinstance(out, dict) else {"embedding": out}
                    for key, value in out.items():
                        parts[key].append(value.float().cpu())
                    if isinstance(batch, dict) and "label" in batch:
                        parts["label"].append(torch.as_tensor(batch["label"]).cpu())
        finally:
            method.train(was_training)
        return {key: torch.cat(values).numpy() for key, values in parts.items()}

    return embed
