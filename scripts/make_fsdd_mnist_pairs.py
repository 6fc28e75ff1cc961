"""Write data/pairs/fsdd_mnist.csv: each FSDD spoken digit paired with an MNIST image of that digit.

Run once from the repository root (the output is committed; rerunning gives the same file):

    python scripts/make_fsdd_mnist_pairs.py

Pairing: for each digit d, the FSDD recordings of d (sorted by speaker, then index) are matched,
in order, with distinct MNIST images of d from data/mnist/t10k-shared-*.gz, drawn without
replacement by ``numpy.random.default_rng(0)`` (one permutation per digit). No MNIST image is
used twice. ``split`` is ``test`` for recordings with index 0-4 (FSDD's official test portion,
all five speakers) and ``train`` otherwise. Paths are relative to data/pairs/.
"""
from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prism_runner.data.images import _read_idx  # noqa: E402

FSDD = ROOT / "data" / "fsdd" / "recordings"
MNIST_LABELS = ROOT / "data" / "mnist" / "t10k-shared-labels-idx1-ubyte.gz"
MNIST_IMAGES = "../mnist/t10k-shared-images-idx3-ubyte.gz"
OUT = ROOT / "data" / "pairs" / "fsdd_mnist.csv"
NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def main() -> None:
    recordings = []
    for path in FSDD.iterdir():
        m = NAME.match(path.name)
        if m:
            recordings.append((int(m.group(1)), m.group(2), int(m.group(3)), path.name))
    recordings.sort(key=lambda r: (r[0], r[1], r[2]))
    labels = _read_idx(MNIST_LABELS)
    rng = np.random.default_rng(0)
    rows = []
    for digit in range(10):
        clips = [r for r in recordings if r[0] == digit]
        pool = rng.permutation(np.flatnonzero(labels == digit))
        if len(pool) < len(clips):
            raise SystemExit(f"digit {digit}: {len(clips)} recordings but {len(pool)} images")
        for (d, speaker, index, name), image in zip(clips, pool):
            rows.append({"audio": f"../fsdd/recordings/{name}", "image": f"{MNIST_IMAGES}#{image}",
                         "digit": d, "speaker": speaker,
                         "split": "test" if index < 5 else "train"})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["audio", "image", "digit", "speaker", "split"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} pairs to {OUT} "
          f"({sum(r['split'] == 'test' for r in rows)} test)")


if __name__ == "__main__":
    main()
