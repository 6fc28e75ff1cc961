"""Graph augmentations of GraphCL (You et al., "Graph Contrastive Learning with Augmentations",
NeurIPS 2020) on torch_geometric ``Data``: node dropping, edge perturbation, attribute masking,
subgraph sampling, and the random mixes ``random2`` / ``random3`` / ``random4``.

Every augmentation takes a ``ratio`` (the share of nodes or edges it touches, 0.2 in the paper)
and draws from torch's global RNG, which the loader seeds per sample. The input graph is never
modified; each call returns a new ``Data``. Every view keeps at least one node.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence

import torch

from prism_runner.errors import UserError


def _subgraph(data, keep: torch.Tensor):
    """The graph induced by the node ids in ``keep`` (relabelled 0..len(keep)-1)."""
    from torch_geometric.data import Data

    n = data.num_nodes
    keep = keep.sort().values
    new_id = torch.full((n,), -1, dtype=torch.long)
    new_id[keep] = torch.arange(len(keep))
    ei = data.edge_index
    mask = (new_id[ei[0]] >= 0) & (new_id[ei[1]] >= 0)
    out = Data(x=data.x[keep], edge_index=new_id[ei[:, mask]])
    if getattr(data, "y", None) is not None:
        out.y = data.y
    return out


def _n_changed(total: int, ratio: float) -> int:
    return int(total * ratio)


def identity(data, ratio: float):
    return data


def drop_nodes(data, ratio: float):
    """Remove ``ratio`` of the nodes, uniformly at random, with their edges."""
    n = data.num_nodes
    drop = min(_n_changed(n, ratio), n - 1)
    if drop <= 0:
        return data
    keep = torch.randperm(n)[drop:]
    return _subgraph(data, keep)


def perturb_edges(data, ratio: float, add: bool = False):
    """Remove ``ratio`` of the (undirected) edges at random; with ``add``, also add as many
    random new ones (GraphCL's semi-supervised variant). Both directions of an edge go together."""
    from torch_geometric.data import Data

    ei = data.edge_index
    n = data.num_nodes
    upper = ei[:, ei[0] < ei[1]]
    lower_only = ei[:, (ei[0] > ei[1])]
    # Edges stored in one direction only are kept as pairs too.
    lower_as_upper = lower_only.flip(0)
    pairs = torch.unique(torch.cat([upper, lower_as_upper], dim=1), dim=1) if ei.numel() else upper
    m = pairs.shape[1]
    k = _n_changed(m, ratio)
    if k <= 0:
        return data
    pairs = pairs[:, torch.randperm(m)[k:]]
    if add and n > 1:
        a = torch.randint(0, n, (k,))
        b = (a + torch.randint(1, n, (k,))) % n          # never a self loop
        pairs = torch.cat([pairs, torch.stack([a, b])], dim=1)
    edge_index = torch.cat([pairs, pairs.flip(0)], dim=1)
    out = Data(x=data.x, edge_index=edge_index)
    if getattr(data, "y", None) is not None:
        out.y = data.y
    return out


def mask_attributes(data, ratio: float, noise: str = "gaussian"):
    """Replace the features of ``ratio`` of the nodes: Gaussian noise (mean 0.5, std 0.5, as in
    GraphCL's code) or zeros."""
    from torch_geometric.data import Data

    n = data.num_nodes
    k = _n_changed(n, ratio)
    if k <= 0:
        return data
    idx = torch.randperm(n)[:k]
    x = data.x.clone()
    if noise == "gaussian":
        x[idx] = torch.randn(k, x.shape[1], dtype=x.dtype) * 0.5 + 0.5
    else:
        x[idx] = 0
    out = Data(x=x, edge_index=data.edge_index)
    if getattr(data, "y", None) is not None:
        out.y = data.y
    return out


def subgraph(data, ratio: float):
    """A connected-by-expansion subgraph of ``1 - ratio`` of the nodes: start from a random node
    and repeatedly add a random neighbour of the nodes taken so far (a random walk frontier);
    when the component is exhausted, jump to a random untaken node."""
    n = data.num_nodes
    target = max(1, n - _n_changed(n, ratio))
    if target >= n:
        return data
    ei = data.edge_index
    neighbours: List[List[int]] = [[] for _ in range(n)]
    for a, b in ei.t().tolist():
        neighbours[a].append(b)
    start = int(torch.randint(0, n, (1,)))
    taken = {start}
    frontier = set(neighbours[start]) - taken
    while len(taken) < target:
        if frontier:
            pool = sorted(frontier)
            node = pool[int(torch.randint(0, len(pool), (1,)))]
        else:
            rest = [v for v in range(n) if v not in taken]
            node = rest[int(torch.randint(0, len(rest), (1,)))]
        taken.add(node)
        frontier.discard(node)
        frontier.update(v for v in neighbours[node] if v not in taken)
    return _subgraph(data, torch.tensor(sorted(taken), dtype=torch.long))


RANDOM_MIXES: Dict[str, Sequence[str]] = {
    "random2": ("drop_nodes", "subgraph"),
    "random3": ("drop_nodes", "subgraph", "perturb_edges"),
    "random4": ("drop_nodes", "subgraph", "perturb_edges", "mask_attributes"),
}
ALIASES = {"none": "identity", "dnodes": "drop_nodes", "pedges": "perturb_edges",
           "mask_nodes": "mask_attributes", "subgraph": "subgraph"}
NAMES = ("identity", "drop_nodes", "perturb_edges", "mask_attributes", "subgraph")


class GraphViews:
    """Two (or more) GraphCL views per graph: ``train(item) -> {"views": [g1, g2]}``,
    ``eval(item) -> {"input": g, "label": y}``.

    Args:
        augmentations: one augmentation name per view: ``identity`` (alias ``none``),
            ``drop_nodes`` (``dnodes``), ``perturb_edges`` (``pedges``), ``mask_attributes``
            (``mask_nodes``), ``subgraph``, or a mix ``random2`` / ``random3`` / ``random4`` that
            picks one of the first 2/3/4 of (drop_nodes, subgraph, perturb_edges,
            mask_attributes) per sample.
        ratio: the strength: share of nodes / edges dropped, masked or left out.
        add_edges: edge perturbation also adds as many random edges as it removes.
        mask_noise: ``gaussian`` or ``zeros`` for masked node features.
    """

    def __init__(self, augmentations: Sequence[str] = ("random2", "random2"), ratio: float = 0.2,
                 add_edges: bool = False, mask_noise: str = "gaussian"):
        if not 0.0 <= float(ratio) < 1.0:
            raise UserError(f"views.ratio must be in [0, 1), got {ratio}")
        if mask_noise not in ("gaussian", "zeros"):
            raise UserError(f"views.mask_noise must be gaussian or zeros, got {mask_noise!r}")
        augmentations = list(augmentations)
        if len(augmentations) < 2:
            raise UserError("views.augmentations needs one entry per view (two for GraphCL), got "
                            f"{augmentations}")
        self.ratio, self.add_edges, self.mask_noise = float(ratio), bool(add_edges), mask_noise
        self.choices: List[Sequence[str]] = []
        for name in augmentations:
            name = ALIASES.get(str(name), str(name))
            if name in RANDOM_MIXES:
                self.choices.append(RANDOM_MIXES[name])
            elif name in NAMES:
                self.choices.append((name,))
            else:
                known = ", ".join(list(NAMES) + list(RANDOM_MIXES) + list(ALIASES))
                raise UserError(f"unknown graph augmentation {name!r} in views.augmentations; "
                                f"known: {known}")
        self.augmentations = augmentations

    def _apply(self, name: str, data):
        if name == "identity":
            return data
        if name == "drop_nodes":
            return drop_nodes(data, self.ratio)
        if name == "perturb_edges":
            return perturb_edges(data, self.ratio, add=self.add_edges)
        if name == "mask_attributes":
            return mask_attributes(data, self.ratio, noise=self.mask_noise)
        return subgraph(data, self.ratio)

    def augment(self, data, choices: Sequence[str]):
        name = choices[int(torch.randint(0, len(choices), (1,)))] if len(choices) > 1 else choices[0]
        return self._apply(name, data)

    def train(self, item: dict) -> dict:
        graph = item["graph"]
        return {"views": [self.augment(graph, choices) for choices in self.choices]}

    def eval(self, item: dict) -> dict:
        return {"input": item["graph"], "label": item["label"]}
