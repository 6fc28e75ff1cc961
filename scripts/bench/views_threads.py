"""Open check from docs/benchmarks.md: does applying a batch's views with one thread
(``ViewDataset.__getitems__``, which switches torch's thread count per batch) cost the light
regime's step? The runner arm of overhead.py (digits, small CNN) with and without it, interleaved.

    .venv/bin/python scripts/bench/views_threads.py [--rounds 4]
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import overhead as O  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    a = ap.parse_args()
    import prism_runner.loader as L

    loadavg_start = C.loadavg()
    batched = L.ViewDataset.__getitems__
    arms = {"one-thread batched views (now)": batched, "per-item views, torch threads": None}
    res = {k: [] for k in arms}
    for r in range(a.rounds):
        for arm in (list(arms) if r % 2 == 0 else list(arms)[::-1]):
            L.ViewDataset.__getitems__ = arms[arm]
            stamps: list = []
            cfg = C.compose(["data=digits", "backbone=small_cnn", "eval=none", "trainer.max_steps=19",
                             "trainer.resume=never"], run_dir=C.RESULTS / "views_threads" / f"{r}_{len(res[arm])}_{arm[:3]}")
            O.runner_arm(cfg, stamps, {})
            res[arm].append(C.steady_rate([w for w, _ in stamps], 256, 3))
            print(f"[views_threads] round {r} {arm}: {res[arm][-1]:.1f} samples/s (load {C.loadavg()})", flush=True)
    L.ViewDataset.__getitems__ = batched
    md = ("### Light regime: one-thread batched views vs per-item views (runner arm)\n\n"
          + C.table(["views", "samples/s median [min-max]"], [[k, C.spread(v)] for k, v in res.items()]))
    C.write_result("views_threads", {"loadavg_start": loadavg_start, "samples_per_s": res}, md)


if __name__ == "__main__":
    main()
