"""A SimCLR whose loss turns NaN on chosen forward calls: drives the NaN-handling tests."""
import torch

from prism_runner.methods.simclr import SimCLR


class NaNAtCalls(SimCLR):
    def __init__(self, backbone, nan_calls=(), **kwargs):
        super().__init__(backbone, **kwargs)
        self.nan_calls = set(nan_calls)
        self.calls = 0

    def forward(self, batch):
        out = super().forward(batch)
        self.calls += 1
        if self.calls in self.nan_calls:
            out["loss"] = out["loss"] * torch.tensor(float("nan"))
        return out
