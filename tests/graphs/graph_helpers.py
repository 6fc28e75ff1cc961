"""Helpers for the graph tests: small TU folders written to tmp_path (imported by name, as
scale_helpers is; conftest.py keeps only fixtures)."""
from pathlib import Path
from typing import Dict, List, Optional

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def tu_files(graphs: int = 20, name: str = "TOY") -> Dict[str, List[str]]:
    """Lines of a valid TU data set: graph g is a ring of 4 + g % 3 nodes, labelled by ring
    size parity; node labels cycle 0,1,2."""
    A, indicator, labels, node_labels = [], [], [], []
    first = 1
    for g in range(graphs):
        n = 4 + g % 3
        for i in range(n):
            a, b = first + i, first + (i + 1) % n
            A += [f"{a}, {b}", f"{b}, {a}"]
            indicator.append(str(g + 1))
            node_labels.append(str(i % 3))
        labels.append("1" if n % 2 else "-1")
        first += n
    return {f"{name}_A.txt": A, f"{name}_graph_indicator.txt": indicator,
            f"{name}_graph_labels.txt": labels, f"{name}_node_labels.txt": node_labels}


def write_tu(root: Path, files: Dict[str, List[str]], name: str = "TOY",
             drop: Optional[str] = None) -> Path:
    raw = root / name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for fname, lines in files.items():
        if fname != drop:
            (raw / fname).write_text("\n".join(lines) + "\n")
    return root
