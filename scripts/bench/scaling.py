"""Scaling: 1 process vs 2 processes (``accelerate launch --multi_gpu --num_processes 2`` with
ACCELERATE_USE_CPU=true, gloo) at the same global batch, the default recipe (digits, small CNN).
Each process gets torch's default thread count unless ``--threads`` is given; on 2 cores, 2
processes x 2 threads oversubscribe, so ``--threads`` 1 per process is measured too.

    .venv/bin/python scripts/bench/scaling.py [--steps 15] [--rounds 2]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    a = ap.parse_args()
    loadavg_start = C.loadavg()
    accelerate = str(Path(C.PY).with_name("accelerate"))
    launch = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no"]
    arms = {
        "1 process (torch default threads)": (None, []),
        "1 process x 1 thread": (None, ["trainer.num_threads=1"]),
        "2 processes x 1 thread": (launch, ["trainer.num_threads=1"]),
        "2 processes (torch default threads)": (launch, []),
    }
    base = ["eval=none", "trainer.resume=never", f"data.batch_size={a.batch}",
            f"trainer.max_steps={a.warmup + a.steps + 1}", "tracking=none"]
    rates = {k: [] for k in arms}
    rss = {k: [] for k in arms}
    for r in range(a.rounds):
        order = list(arms) if r % 2 == 0 else list(arms)[::-1]
        for name in order:
            launcher, extra = arms[name]
            run = C.timed_cli(base + extra + [f"hydra.run.dir={C.RESULTS / 'scaling' / str(r) / str(len(rates[name]))}"],
                              env={"ACCELERATE_USE_CPU": "true"}, launcher=launcher)
            rates[name].append(C.steady_rate(run["steps"], run["global_batch"], a.warmup))
            rss[name].append(run["peak_rss_mb"])
            print(f"[scaling] round {r} {name}: {rates[name][-1]:.1f} samples/s (load {C.loadavg()})", flush=True)
    one = C.median(rates["1 process (torch default threads)"])
    rows = [[name, C.spread(v), f"{C.median(v) / one:.2f}", f"{max(rss[name]):.0f}"]
            for name, v in rates.items()]
    md = ("### Scaling: 1 vs 2 CPU processes, same global batch\n\n"
          + C.table(["arm", "samples/s median [min-max]", "vs 1 process", "peak RSS MB (largest process)"], rows)
          + f"\n\nDefault recipe (digits, small CNN, SimCLR), global batch {a.batch}, {a.warmup} warm-up + "
            f"{a.steps} timed steps, {a.rounds} interleaved rounds, tracking=none. Launch as in "
            "tests/test_distributed.py: `ACCELERATE_USE_CPU=true accelerate launch --multi_gpu "
            "--num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no -m prism_runner ...`.")
    C.write_result("scaling", {"loadavg_start": loadavg_start, "samples_per_s": rates, "peak_rss_mb": rss}, md)


if __name__ == "__main__":
    main()
