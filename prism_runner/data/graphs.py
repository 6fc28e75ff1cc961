"""Graph data sets in the TU format (Morris et al., TUDataset), read offline into
torch_geometric ``Data`` objects.

A TU data set is a folder ``ROOT/NAME/raw/`` holding ``NAME_A.txt`` (one edge ``i, j`` a line,
1-based node ids), ``NAME_graph_indicator.txt`` (the graph id of every node),
``NAME_graph_labels.txt`` (one label a graph) and optionally ``NAME_node_labels.txt`` and
``NAME_node_attributes.txt``. The files are parsed and validated here, in memory: nothing is
written anywhere (torch_geometric's ``TUDataset`` would write a ``processed/`` cache next to
``raw/``, which fails on read-only data folders), and a broken file raises one
:class:`DataError` naming the file and line instead of failing deep inside a batch.

Node features follow torch_geometric's ``TUDataset`` (``use_node_attr=False``): one-hot node
labels (one block per label column), plus the continuous node attributes when
``use_node_attr`` is set. A data set with neither gets one-hot node degrees
(``OneHotDegree``), as in InfoGraph and GraphCL.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from prism_runner.data.source import DataSource, ListDataset, check_on_error
from prism_runner.errors import DataError

# Parsed data sets, keyed by the raw files' paths, sizes and modification times: the trained and
# random-init evaluations and repeated runs in one process parse each folder once.
_CACHE: Dict[Tuple, "TUGraphs"] = {}


class TUGraphs:
    """The parsed, validated content of one TU folder."""

    def __init__(self, graphs: List[Any], labels: np.ndarray, num_features: int,
                 feature_kind: str, skipped: List[str]):
        self.graphs, self.labels = graphs, labels
        self.num_features, self.feature_kind, self.skipped = num_features, feature_kind, skipped

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


def _read_rows(path: Path, kind: type, min_cols: int = 1,
               max_cols: Optional[int] = None) -> np.ndarray:
    """Comma- or whitespace-separated numbers, one row a line -> (rows, cols) array.

    Raises DataError naming the file and the first bad line (non-numeric, wrong column count).
    Blank lines at the end of a file are ignored; blank lines inside it are errors.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not a text file ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows: List[List[Any]] = []
    width = None
    for number, line in enumerate(lines, start=1):
        fields = [f for f in line.replace(",", " ").split()]
        if not fields:
            raise DataError(f"{path}, line {number}: empty line")
        try:
            values = [kind(f) for f in fields]
        except ValueError:
            what = "integers" if kind is int else "numbers"
            raise DataError(f"{path}, line {number}: expected {what}, got "
                            f"{line.strip()[:60]!r}") from None
        if width is None:
            width = len(values)
            if width < min_cols or (max_cols is not None and width > max_cols):
                want = f"{min_cols}" if max_cols == min_cols else f"{min_cols} or more"
                raise DataError(f"{path}, line {number}: expected {want} values, got {width}")
        elif len(values) != width:
            raise DataError(f"{path}, line {number}: expected {width} values like line 1, "
                            f"got {len(values)}")
        rows.append(values)
    if not rows:
        raise DataError(f"{path}: the file is empty")
    dtype = np.int64 if kind is int else np.float32
    return np.asarray(rows, dtype=dtype).reshape(len(rows), width)


def _raw_files(raw: Path, name: str) -> Dict[str, Path]:
    names = {"A": "A", "indicator": "graph_indicator", "graph_labels": "graph_labels",
             "node_labels": "node_labels", "node_attributes": "node_attributes"}
    return {key: raw / f"{name}_{suffix}.txt" for key, suffix in names.items()}


def _fingerprint(files: Sequence[Path]) -> Tuple:
    parts = []
    for path in files:
        if path.is_file():
            stat = path.stat()
            parts.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(parts)


def _one_hot_columns(values: np.ndarray) -> np.ndarray:
    """Integer columns -> concatenated one-hot blocks, each from its column's min to max."""
    blocks = []
    for col in values.T:
        col = col - col.min()
        block = np.zeros((len(col), int(col.max()) + 1), dtype=np.float32)
        block[np.arange(len(col)), col] = 1.0
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


def read_tu(root: str, name: str, *, use_node_attr: bool = False, on_error: str = "raise",
            max_degree: Optional[int] = None) -> TUGraphs:
    """Parse and validate ``root/name/raw/``; return torch_geometric graphs and labels.

    ``on_error=skip`` drops graphs with an edge that joins two different graphs (named in
    ``skipped``); every other inconsistency is a property of a whole file and always raises.
    """
    from torch_geometric.data import Data
    from torch_geometric.utils import coalesce, remove_self_loops

    check_on_error(on_error)
    folder = Path(str(root)).expanduser() / str(name)
    raw = folder / "raw"
    if not raw.is_dir():
        hint = ""
        if folder.is_dir() and any(folder.glob(f"{name}_A.txt")):
            hint = f" (the files are in {folder}: data.root must hold NAME/raw/, move them to {raw})"
        raise DataError(f"no TU data set at {raw}{hint}: set data.root to the folder that holds "
                        f"{name}/raw/ and data.name to the data set's name")
    files = _raw_files(raw, str(name))
    for key in ("A", "indicator", "graph_labels"):
        if not files[key].is_file():
            raise DataError(f"{files[key]} is missing: a TU data set needs {name}_A.txt, "
                            f"{name}_graph_indicator.txt and {name}_graph_labels.txt in {raw}")
    cache_key = (_fingerprint(files.values()), bool(use_node_attr), on_error, max_degree)
    if cache_key in _CACHE:
        return _CACHE[cache_key]

    indicator = _read_rows(files["indicator"], int, 1, 1)[:, 0]
    n_nodes = len(indicator)
    if indicator[0] != 1:
        raise DataError(f"{files['indicator']}, line 1: graph ids must start at 1, got "
                        f"{indicator[0]}")
    steps = np.diff(indicator)
    bad = np.flatnonzero((steps < 0) | (steps > 1))
    if len(bad):
        line = int(bad[0]) + 2
        raise DataError(f"{files['indicator']}, line {line}: graph ids must be sorted and "
                        f"contiguous (1, 1, 2, ...); got {indicator[line - 2]} then "
                        f"{indicator[line - 1]}")
    n_graphs = int(indicator[-1])

    graph_labels = _read_rows(files["graph_labels"], int, 1, 1)[:, 0]
    if len(graph_labels) != n_graphs:
        where = f"line {n_graphs + 1}" if len(graph_labels) > n_graphs else \
            f"line {len(graph_labels)} is the last"
        raise DataError(f"{files['graph_labels']}: {len(graph_labels)} labels but "
                        f"{files['indicator'].name} names {n_graphs} graphs ({where})")
    _, labels = np.unique(graph_labels, return_inverse=True)

    edges = _read_rows(files["A"], int, 2, 2) - 1
    out_of_range = np.flatnonzero((edges < 0).any(1) | (edges >= n_nodes).any(1))
    if len(out_of_range):
        line = int(out_of_range[0]) + 1
        raise DataError(f"{files['A']}, line {line}: edge {edges[line - 1, 0] + 1}, "
                        f"{edges[line - 1, 1] + 1} names a node outside 1..{n_nodes} (the nodes "
                        f"of {files['indicator'].name})")
    graph_of = indicator - 1
    cross = np.flatnonzero(graph_of[edges[:, 0]] != graph_of[edges[:, 1]])
    skipped_graphs: set = set()
    if len(cross):
        if on_error == "raise":
            line = int(cross[0]) + 1
            a, b = edges[line - 1]
            raise DataError(f"{files['A']}, line {line}: edge {a + 1}, {b + 1} joins graph "
                            f"{graph_of[a] + 1} and graph {graph_of[b] + 1} (per "
                            f"{files['indicator'].name}); set data.on_error=skip to drop such "
                            "graphs")
        skipped_graphs = set(graph_of[edges[cross, 0]].tolist()) | \
            set(graph_of[edges[cross, 1]].tolist())
        edges = np.delete(edges, cross, axis=0)

    features = []
    kind = []
    if files["node_attributes"].is_file() and use_node_attr:
        attrs = _read_rows(files["node_attributes"], float, 1)
        if len(attrs) != n_nodes:
            raise DataError(f"{files['node_attributes']}: {len(attrs)} lines but "
                            f"{files['indicator'].name} has {n_nodes} nodes")
        features.append(attrs)
        kind.append("node attributes")
    if files["node_labels"].is_file():
        node_labels = _read_rows(files["node_labels"], int, 1)
        if len(node_labels) != n_nodes:
            raise DataError(f"{files['node_labels']}: {len(node_labels)} lines but "
                            f"{files['indicator'].name} has {n_nodes} nodes")
        features.append(_one_hot_columns(node_labels))
        kind.append("one-hot node labels")

    # Per-graph slices (nodes are contiguous per graph, so a graph is a range of node ids).
    counts = np.bincount(graph_of, minlength=n_graphs)
    node_start = np.concatenate([[0], np.cumsum(counts)])
    order = np.argsort(graph_of[edges[:, 0]], kind="stable")
    edges = edges[order]
    edge_counts = np.bincount(graph_of[edges[:, 0]], minlength=n_graphs)
    edge_start = np.concatenate([[0], np.cumsum(edge_counts)])

    edge_lists = []
    for g in range(n_graphs):
        local = torch.from_numpy(edges[edge_start[g]:edge_start[g + 1]] - node_start[g]).t()
        local = local.contiguous().long()
        local, _ = remove_self_loops(local)
        edge_lists.append(coalesce(local, num_nodes=int(counts[g])))

    if features:
        x_all = np.concatenate(features, axis=1).astype(np.float32)
    else:
        degrees = [torch.bincount(e[0], minlength=int(c)) for e, c in zip(edge_lists, counts)]
        top = max(int(d.max()) if len(d) else 0 for d in degrees)
        if max_degree is not None:
            top = min(top, int(max_degree))
        deg = torch.cat(degrees).clamp(max=top).numpy()
        x_all = np.zeros((n_nodes, top + 1), dtype=np.float32)
        x_all[np.arange(n_nodes), deg] = 1.0
        kind.append(f"one-hot degree (0..{top})")
    x_all_t = torch.from_numpy(x_all)

    graphs, keep_labels, skipped = [], [], []
    for g in range(n_graphs):
        if g in skipped_graphs:
            skipped.append(f"{name}/graph_{g + 1}")
            continue
        x = x_all_t[node_start[g]:node_start[g + 1]]
        graphs.append(Data(x=x, edge_index=edge_lists[g], y=torch.tensor([int(labels[g])])))
        keep_labels.append(int(labels[g]))
    if not graphs:
        raise DataError(f"{raw}: no usable graphs")
    result = TUGraphs(graphs, np.asarray(keep_labels, dtype=np.int64), int(x_all.shape[1]),
                      " + ".join(kind), skipped)
    _CACHE[cache_key] = result
    return result


class GraphDataset(torch.utils.data.Dataset):
    """Items ``{"graph": Data, "label": int}``."""

    def __init__(self, graphs: Sequence[Any], labels: np.ndarray):
        self.graphs, self.labels = list(graphs), np.asarray(labels)

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, index: int) -> dict:
        return {"graph": self.graphs[index], "label": int(self.labels[index])}


def _collate_value(values: List[Any]) -> Any:
    from torch.utils.data._utils.collate import default_collate
    from torch_geometric.data import Batch, Data

    first = values[0]
    if isinstance(first, Data):
        return Batch.from_data_list(values)
    if isinstance(first, (list, tuple)) and first and isinstance(first[0], Data):
        return [Batch.from_data_list([v[i] for v in values]) for i in range(len(first))]
    return default_collate(values)


def collate_graphs(items: List[dict]) -> dict:
    """Item dicts -> one dict: ``Data`` fields become a pyg ``Batch``, lists of ``Data`` (the
    ``views``) a list of ``Batch``es, numbers a tensor."""
    return {key: _collate_value([item[key] for item in items]) for key in items[0]}


def tu(root: str, name: str, batch_size: int = 128, num_workers: int = 0,
       on_error: str = "raise", num_features: Optional[int] = None, use_node_attr: bool = False,
       max_degree: Optional[int] = None, **_: Any) -> DataSource:
    """Data factory for ``conf/data/tu.yaml``.

    Self-supervised training sees every graph (the GraphCL/InfoGraph protocol); ``probe_train``
    is the whole labelled set, which the SVM evaluator splits by cross-validation itself, and
    ``probe_test`` is None. ``num_features`` (read by the backbone) is checked against the data
    when set, so a wrong value fails here with the right one in the message.
    """
    found = read_tu(root, name, use_node_attr=use_node_attr, on_error=on_error,
                    max_degree=max_degree)
    if num_features is not None and int(num_features) != found.num_features:
        raise DataError(f"data.num_features={num_features}, but {name} has "
                        f"{found.num_features} node features ({found.feature_kind}): set "
                        f"data.num_features={found.num_features} (or null to let the backbone "
                        "infer it)")
    dataset = GraphDataset(found.graphs, found.labels)
    return DataSource(train=dataset, probe_train=dataset, probe_test=None,
                      collate=collate_graphs, batch_size=int(batch_size),
                      num_workers=int(num_workers), skipped=found.skipped, name=str(name))
