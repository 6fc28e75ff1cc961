"""GraphCL augmentations: sizes, validity, determinism under a seed, config errors."""
import pytest
import torch
from torch_geometric.data import Data

from prism_runner.data import graph_views as gv
from prism_runner.errors import UserError


def ring(n=10, features=3):
    a = torch.arange(n)
    b = (a + 1) % n
    edge_index = torch.cat([torch.stack([a, b]), torch.stack([b, a])], dim=1)
    x = torch.nn.functional.one_hot(a % features, features).float()
    return Data(x=x, edge_index=edge_index, y=torch.tensor([1]))


def valid(g):
    assert g.num_nodes >= 1 and g.x.shape[0] == g.num_nodes
    if g.edge_index.numel():
        assert int(g.edge_index.max()) < g.num_nodes and int(g.edge_index.min()) >= 0


def test_drop_nodes_removes_ratio_of_nodes_and_their_edges():
    torch.manual_seed(0)
    g = gv.drop_nodes(ring(10), 0.2)
    valid(g)
    assert g.num_nodes == 8 and g.edge_index.shape[1] < 20


def test_perturb_edges_keeps_nodes_and_symmetry():
    torch.manual_seed(0)
    g = gv.perturb_edges(ring(10), 0.2)
    valid(g)
    assert g.num_nodes == 10 and g.edge_index.shape[1] == 16    # 10 undirected - 2, both ways
    pairs = set(map(tuple, g.edge_index.t().tolist()))
    assert all((b, a) in pairs for a, b in pairs)
    g = gv.perturb_edges(ring(10), 0.2, add=True)
    assert g.edge_index.shape[1] == 20 and not (g.edge_index[0] == g.edge_index[1]).any()


def test_mask_attributes_changes_ratio_of_rows_only():
    torch.manual_seed(0)
    base = ring(10)
    g = gv.mask_attributes(base, 0.3)
    changed = (g.x != base.x).any(1).sum().item()
    assert changed == 3 and torch.equal(g.edge_index, base.edge_index)
    assert torch.equal(base.x, ring(10).x)         # the input is never modified
    z = gv.mask_attributes(base, 0.3, noise="zeros")
    assert (z.x.sum(1) == 0).sum() == 3


def test_subgraph_is_connected_and_sized():
    torch.manual_seed(0)
    g = gv.subgraph(ring(10), 0.2)
    valid(g)
    assert g.num_nodes == 8
    assert g.edge_index.shape[1] == 14              # a path of 8 nodes on a ring: 7 edges x 2


def test_views_from_config_and_seeded_determinism():
    views = gv.GraphViews(["none", "random4"], ratio=0.2)
    item = {"graph": ring(12), "label": 1}
    torch.manual_seed(3)
    a = views.train(item)["views"]
    torch.manual_seed(3)
    b = views.train(item)["views"]
    assert a[0] is item["graph"]                     # identity view
    assert torch.equal(a[1].x, b[1].x) and torch.equal(a[1].edge_index, b[1].edge_index)
    out = views.eval(item)
    assert out["input"] is item["graph"] and out["label"] == 1


def test_random_mixes_use_all_their_augmentations():
    views = gv.GraphViews(["random3", "random3"], ratio=0.2)
    torch.manual_seed(0)
    sizes = set()
    for _ in range(40):
        g = views.augment(ring(10), views.choices[0])
        valid(g)
        sizes.add((g.num_nodes, g.edge_index.shape[1]))
    assert (10, 16) in sizes and any(n == 8 for n, _ in sizes)


def test_single_node_graph_survives_everything():
    one = Data(x=torch.ones(1, 2), edge_index=torch.empty(2, 0, dtype=torch.long))
    for fn in (gv.drop_nodes, gv.perturb_edges, gv.mask_attributes, gv.subgraph):
        valid(fn(one, 0.9))


@pytest.mark.parametrize("kwargs, message", [
    ({"augmentations": ["shuffle", "none"]}, "unknown graph augmentation 'shuffle'"),
    ({"augmentations": ["none"]}, "one entry per view"),
    ({"ratio": 1.5}, r"views.ratio must be in \[0, 1\)"),
])
def test_config_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        gv.GraphViews(**kwargs)
