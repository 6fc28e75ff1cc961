"""SimCLR (Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
ICML 2020). Modality-agnostic: it needs two views that the backbone can encode, whatever they are.
"""
from __future__ import annotations

import torch
from torch import nn

from prism_runner.methods.heads import ProjectionHead
from prism_runner.methods.losses import NTXentLoss


class SimCLR(nn.Module):
    """Backbone + projection head trained with NT-Xent between two views of each item.

    Batch fields: ``views`` (a pair of inputs) for training, ``input`` for :meth:`embed`.

    Args:
        joint_forward: ``True`` encodes both views in one forward (batch-norm statistics over
            both views); ``False`` (default) runs one forward per view (statistics per view, as
            lightly's examples do), which measured 1.14-1.16x faster per step on the 2-core CPU
            of docs/benchmarks.md for both ResNet-18 (batch 128) and the small CNN (batch 256).
    """

    def __init__(self, backbone: nn.Module, temperature: float = 0.2, projection_dim: int = 128,
                 hidden_dim: int = 512, gather_distributed: bool = True,
                 joint_forward: bool = False):
        super().__init__()
        self.joint_forward = bool(joint_forward)
        self.backbone = backbone
        self.projector = ProjectionHead(backbone.out_dim, hidden_dim, projection_dim)
        self.criterion = NTXentLoss(temperature, gather_distributed=gather_distributed)

    def forward(self, batch: dict) -> dict:
        view_a, view_b = batch["views"]
        if self.joint_forward and torch.is_tensor(view_a) and view_a.shape == view_b.shape:
            # One pass over both views: one set of batch-norm statistics, fewer kernel launches.
            z_a, z_b = self.projector(self.backbone(torch.cat([view_a, view_b]))).chunk(2)
        else:
            z_a = self.projector(self.backbone(view_a))
            z_b = self.projector(self.backbone(view_b))
        return {"loss": self.criterion(z_a, z_b)}

    @torch.no_grad()
    def embed(self, batch: dict) -> torch.Tensor:
        return self.backbone(batch["input"])
