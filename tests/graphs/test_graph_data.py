"""TU reading: features, labels, collate, read-only folders, and validation errors that name the
file and line."""
import os
import stat

import numpy as np
import pytest
import torch

from prism_runner.data.graphs import collate_graphs, read_tu, tu
from prism_runner.errors import DataError

from graph_helpers import tu_files, write_tu

REPO_TU = os.path.join(os.path.dirname(__file__), "..", "..", "data", "tu")


def test_toy_dataset_parses(toy_root):
    source = tu(str(toy_root), "TOY", batch_size=4, num_features=3)
    assert len(source.train) == 20 and source.probe_test is None
    item = source.train[0]
    g = item["graph"]
    assert g.num_nodes == 4 and g.x.shape == (4, 3) and g.edge_index.shape == (2, 8)
    assert item["label"] == 0          # labels -1/1 remapped to 0/1
    assert sorted(set(source.train.labels.tolist())) == [0, 1]


def test_bundled_mutag_matches_torch_geometric_layout():
    found = read_tu(REPO_TU, "MUTAG")
    assert len(found.graphs) == 188 and found.num_features == 7
    assert found.graphs[0].num_nodes == 17 and found.graphs[0].edge_index.shape[1] == 38
    assert np.bincount(found.labels).tolist() == [63, 125]


def test_degree_features_without_node_labels(tmp_path):
    root = write_tu(tmp_path, tu_files(), drop="TOY_node_labels.txt")
    found = read_tu(str(root), "TOY")
    assert found.num_features == 3            # degrees 0..2 (rings: every node has degree 2)
    assert torch.all(found.graphs[0].x[:, 2] == 1)
    assert "degree" in found.feature_kind


def test_wrong_num_features_names_the_right_value(toy_root):
    with pytest.raises(DataError, match="data.num_features=3"):
        tu(str(toy_root), "TOY", num_features=5)


def test_collate_batches_views_and_eval_items(toy_root):
    from prism_runner.data.graph_views import GraphViews

    source = tu(str(toy_root), "TOY")
    views = GraphViews(["drop_nodes", "subgraph"], ratio=0.25)
    batch = collate_graphs([views.train(source.train[i]) for i in range(5)])
    assert [b.num_graphs for b in batch["views"]] == [5, 5]
    batch = collate_graphs([views.eval(source.train[i]) for i in range(5)])
    assert batch["input"].num_graphs == 5 and batch["label"].tolist() == [0, 1, 0, 0, 1]


def test_read_only_data_folder_is_never_written(tmp_path):
    root = write_tu(tmp_path, tu_files(graphs=12, name="RO"), name="RO")
    paths = [p for p in tmp_path.rglob("*")]
    for p in sorted(paths, key=lambda p: -len(p.parts)):
        p.chmod(stat.S_IRUSR | stat.S_IXUSR if p.is_dir() else stat.S_IRUSR)
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        source = tu(str(root), "RO")
        assert len(source.train) == 12
        assert sorted(p.name for p in (tmp_path / "RO").iterdir()) == ["raw"]
    finally:
        for p in [tmp_path] + paths:
            p.chmod(stat.S_IRWXU)


def _broken(tmp_path, fname, edit):
    files = tu_files()
    edit(files[fname])
    return str(write_tu(tmp_path, files))


@pytest.mark.parametrize("fname, edit, message", [
    ("TOY_A.txt", lambda lines: lines.__setitem__(6, "3, 999"),
     r"TOY_A.txt, line 7: edge 3, 999 names a node outside 1\.\.\d+"),
    ("TOY_A.txt", lambda lines: lines.__setitem__(2, "3; x"), r"TOY_A.txt, line 3: expected integers"),
    ("TOY_A.txt", lambda lines: lines.__setitem__(0, "1, 9"), r"TOY_A.txt, line 1: edge 1, 9 joins graph 1 and graph 2"),
    ("TOY_A.txt", lambda lines: lines.__setitem__(4, "1"), r"TOY_A.txt, line 5: expected 2 values"),
    ("TOY_graph_indicator.txt", lambda lines: lines.__setitem__(9, "abc"),
     r"TOY_graph_indicator.txt, line 10: expected integers, got 'abc'"),
    ("TOY_graph_indicator.txt", lambda lines: lines.__setitem__(5, "1"),
     r"TOY_graph_indicator.txt, line 6: graph ids must be sorted"),
    ("TOY_graph_labels.txt", lambda lines: lines.pop(), r"TOY_graph_labels.txt: 19 labels but .* names 20 graphs"),
    ("TOY_graph_labels.txt", lambda lines: lines.append("1"), r"TOY_graph_labels.txt: 21 labels .*line 21"),
    ("TOY_node_labels.txt", lambda lines: lines.pop(), r"TOY_node_labels.txt: \d+ lines but .* has \d+ nodes"),
    ("TOY_node_labels.txt", lambda lines: lines.__setitem__(3, "1.5"), r"TOY_node_labels.txt, line 4: expected integers"),
])
def test_broken_files_raise_data_error_naming_file_and_line(tmp_path, fname, edit, message):
    root = _broken(tmp_path, fname, edit)
    with pytest.raises(DataError, match=message):
        tu(root, "TOY")


def test_skip_drops_graphs_with_cross_graph_edges(tmp_path):
    root = _broken(tmp_path, "TOY_A.txt", lambda lines: lines.__setitem__(0, "1, 9"))
    source = tu(root, "TOY", on_error="skip")
    assert source.skipped == ["TOY/graph_1", "TOY/graph_2"] and len(source.train) == 18


def test_missing_folder_says_what_to_set(tmp_path):
    with pytest.raises(DataError, match="data.root"):
        tu(str(tmp_path), "NOPE")
    write_tu(tmp_path, tu_files(), drop="TOY_graph_labels.txt")
    with pytest.raises(DataError, match="TOY_graph_labels.txt is missing"):
        tu(str(tmp_path), "TOY")
