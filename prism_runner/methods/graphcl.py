"""GraphCL (You et al., "Graph Contrastive Learning with Augmentations", NeurIPS 2020).

GraphCL is SimCLR's objective (NT-Xent between two augmented views) on graphs, so it reuses
:class:`~prism_runner.methods.simclr.SimCLR` (which encodes non-tensor views, such as graph
batches, with one backbone pass each) and changes only the projection head to GraphCL's:
``Linear(d, d) - ReLU - Linear(d, d)`` without batch norm, ``d`` the backbone's ``out_dim``.
"""
from __future__ import annotations

from typing import Optional

from torch import nn

from prism_runner.methods.simclr import SimCLR


class GraphCL(SimCLR):
    """Backbone + GraphCL projection head trained with NT-Xent between two graph views.

    Batch fields: ``views`` (two graph batches) for training, ``input`` (a graph batch) for
    :meth:`embed`, which returns the backbone's graph embeddings (the head is dropped).

    Args:
        temperature: NT-Xent temperature (0.2 in GraphCL's code).
        projection_dim / hidden_dim: head widths; ``null`` = the backbone's ``out_dim``.
    """

    def __init__(self, backbone: nn.Module, temperature: float = 0.2,
                 projection_dim: Optional[int] = None, hidden_dim: Optional[int] = None,
                 gather_distributed: bool = True):
        dim = backbone.out_dim
        hidden, out = int(hidden_dim or dim), int(projection_dim or dim)
        super().__init__(backbone, temperature=temperature, projection_dim=out,
                         hidden_dim=hidden, gather_distributed=gather_distributed)
        self.projector = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(inplace=True),
                                       nn.Linear(hidden, out))
