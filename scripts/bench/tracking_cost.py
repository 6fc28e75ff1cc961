"""Does MLflow tracking or the progress bar cost the light step anything? The runner arm of
overhead.py (digits, small CNN, batch 256) with MLflow + bar (defaults), with tracking=none, and
with MLflow but no bar, interleaved.

    .venv/bin/python scripts/bench/tracking_cost.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import overhead as O  # noqa: E402

ARMS = {"MLflow + progress bar (defaults)": [], "tracking=none": ["tracking=none"],
        "MLflow, trainer.progress=false": ["trainer.progress=false"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    loadavg_start = C.loadavg()
    res = {k: [] for k in ARMS}
    for r in range(a.rounds):
        for name in (list(ARMS) if r % 2 == 0 else list(ARMS)[::-1]):
            stamps: list = []
            cfg = C.compose(["data=digits", "backbone=small_cnn", "data.batch_size=256", "eval=none",
                             "trainer.max_steps=66", "seed=0", "trainer.resume=never"] + ARMS[name],
                            run_dir=C.RESULTS / "tracking_cost" / f"{r}_{len(res[name])}_{name[:6]}")
            O.runner_arm(cfg, stamps, {})
            res[name].append(C.steady_rate([w for w, _ in stamps], 256, 5))
    md = ("### Tracking and progress bar on the light step (runner arm, samples/s)\n\n"
          + C.table(["runner", "samples/s median [min-max]"], [[k, C.spread(v)] for k, v in res.items()])
          + f"\n\n5 warm-up + 60 timed steps, {a.rounds} interleaved rounds.")
    C.write_result("tracking_cost", {"loadavg_start": loadavg_start, "samples_per_s": res}, md)


if __name__ == "__main__":
    main()
