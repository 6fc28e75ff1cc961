"""The cost of one training batch's views, four ways, interleaved: per item with torch's threads
and no seeding (a bare loop), per item seeded (ViewDataset), the runner's batched fetch
(ViewDataset.__getitems__: seeded, one thread), and unseeded with one thread.

    .venv/bin/python scripts/bench/views_cost.py [--regime light|heavy] [--rounds 6]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

REGIMES = {"light": ["data=digits", "backbone=small_cnn", "data.batch_size=256"],
           "heavy": ["data=cifar10", "backbone=resnet18_cifar", "data.batch_size=64", "data.limit=300"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regime", default="light", choices=list(REGIMES))
    ap.add_argument("--rounds", type=int, default=6)
    a = ap.parse_args()
    import time

    import torch

    from prism_runner.build import build_experiment
    from prism_runner.loader import ViewDataset

    loadavg_start = C.loadavg()
    cfg = C.compose(REGIMES[a.regime] + ["tracking=none", "eval=none"])
    ex = build_experiment(cfg)
    src, n = ex.source, ex.source.batch_size
    dataset = ViewDataset(src.train, ex.views.train, 0)
    keys = [(0, i) for i in range(n)]
    threads = torch.get_num_threads()

    def one_thread_unseeded():
        torch.set_num_threads(1)
        try:
            return [ex.views.train(src.train[i]) for i in range(n)]
        finally:
            torch.set_num_threads(threads)

    arms = {"per item, torch threads, unseeded (bare loop)": lambda: [ex.views.train(src.train[i]) for i in range(n)],
            "per item, torch threads, seeded": lambda: [dataset[k] for k in keys],
            "ViewDataset.__getitems__ (seeded, 1 thread; the runner)": lambda: dataset.__getitems__(keys),
            "per item, 1 thread, unseeded": one_thread_unseeded}
    res = {k: [] for k in arms}
    for r in range(a.rounds):
        for name in (list(arms) if r % 2 == 0 else list(arms)[::-1]):
            t0 = time.perf_counter()
            arms[name]()
            res[name].append((time.perf_counter() - t0) * 1000)
    md = (f"### Views of one batch ({a.regime}: {' '.join(REGIMES[a.regime])}), ms\n\n"
          + C.table(["views", "ms per batch, median [min-max]"], [[k, C.spread(v)] for k, v in res.items()])
          + f"\n\n{a.rounds} interleaved rounds; torch threads {threads}.")
    C.write_result(f"views_cost_{a.regime}", {"loadavg_start": loadavg_start, "ms": res}, md)


if __name__ == "__main__":
    main()
