"""Learning-rate schedules as ``LambdaLR`` factories: ``factory(optimizer, total_steps)``."""
from __future__ import annotations

import math
from typing import Optional

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(optimizer: Optimizer, total_steps: int, warmup_steps: Optional[int] = None,
                  warmup_ratio: float = 0.05, min_lr_ratio: float = 0.0) -> LambdaLR:
    """Linear warmup from ~0 to the optimizer's lr, then cosine decay to ``min_lr_ratio * lr``."""
    warmup = int(warmup_steps if warmup_steps is not None else round(warmup_ratio * total_steps))
    warmup = max(0, min(warmup, total_steps - 1))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total_steps - warmup)
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return min_lr_ratio + (1.0 - min_lr_ratio) * cosine

    return LambdaLR(optimizer, factor)


def constant(optimizer: Optimizer, total_steps: int) -> LambdaLR:
    """The optimizer's lr throughout."""
    return LambdaLR(optimizer, lambda step: 1.0)
