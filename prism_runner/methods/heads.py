"""Projection and prediction heads."""
from __future__ import annotations

from torch import nn


class ProjectionHead(nn.Sequential):
    """MLP ``in -> hidden -> ... -> out`` with batch norm and ReLU between layers.

    ``num_layers=2`` is SimCLR's head; the last layer has no activation.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2,
                 last_bn: bool = False):
        layers = []
        dim = in_dim
        for _ in range(num_layers - 1):
            layers += [nn.Linear(dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim),
                       nn.ReLU(inplace=True)]
            dim = hidden_dim
        layers.append(nn.Linear(dim, out_dim, bias=not last_bn))
        if last_bn:
            layers.append(nn.BatchNorm1d(out_dim, affine=False))
        super().__init__(*layers)
