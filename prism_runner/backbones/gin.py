"""GIN graph encoder (Xu et al., "How Powerful are Graph Neural Networks?", ICLR 2019) as used by
InfoGraph and GraphCL: ``layers`` GINConv blocks (MLP Linear-ReLU-Linear, then ReLU and batch
norm), each layer's node embeddings pooled per graph and the poolings concatenated.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from prism_runner.errors import UserError

READOUTS = ("sum", "mean", "max")


class GIN(nn.Module):
    """``forward(batch) -> (num_graphs, out_dim)`` for a torch_geometric ``Batch`` (or one
    ``Data``) with node features ``x`` and ``edge_index``.

    Args:
        in_features: node feature dimension (``${data.num_features}``). ``null`` builds the first
            layer lazily (``nn.LazyLinear``) from the first batch it sees.
        hidden: width of every layer (32 in GraphCL).
        layers: number of GIN layers (3 in GraphCL).
        readout: per-layer graph pooling: sum (GraphCL), mean or max.
        concat: concatenate every layer's pooling (``out_dim = hidden * layers``, GraphCL) or
            keep only the last layer's (``out_dim = hidden``).
        batch_norm: batch norm after each layer.
    """

    def __init__(self, in_features: Optional[int] = None, hidden: int = 32, layers: int = 3,
                 readout: str = "sum", concat: bool = True, batch_norm: bool = True,
                 train_eps: bool = False):
        super().__init__()
        from torch_geometric.nn import GINConv

        if readout not in READOUTS:
            raise UserError(f"backbone.readout must be one of {', '.join(READOUTS)}, got "
                            f"{readout!r}")
        if int(layers) < 1 or int(hidden) < 1:
            raise UserError(f"backbone.layers and backbone.hidden must be positive, got "
                            f"{layers} and {hidden}")
        self.readout, self.concat = readout, bool(concat)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i in range(int(layers)):
            if i == 0:
                first = nn.Linear(int(in_features), hidden) if in_features else nn.LazyLinear(hidden)
            else:
                first = nn.Linear(hidden, hidden)
            mlp = nn.Sequential(first, nn.ReLU(), nn.Linear(hidden, hidden))
            self.convs.append(GINConv(mlp, train_eps=train_eps))
            self.norms.append(nn.BatchNorm1d(hidden) if batch_norm else nn.Identity())
        self.out_dim = int(hidden) * int(layers) if self.concat else int(hidden)

    def _pool(self, x: torch.Tensor, batch: torch.Tensor, size: int) -> torch.Tensor:
        from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

        pool = {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}
        return pool[self.readout](x, batch, size=size)

    def forward(self, graph) -> torch.Tensor:
        x, edge_index = graph.x, graph.edge_index
        batch = getattr(graph, "batch", None)
        if batch is None:
            batch = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        size = int(getattr(graph, "num_graphs", 1) or 1)
        x = x.float()
        pooled = []
        for conv, norm in zip(self.convs, self.norms):
            x = norm(torch.relu(conv(x, edge_index)))
            pooled.append(self._pool(x, batch, size))
        return torch.cat(pooled, dim=1) if self.concat else pooled[-1]
