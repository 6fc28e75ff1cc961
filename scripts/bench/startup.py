"""Start-up: wall time of ``--help`` and ``--cfg job``, which heavy modules composition imports
(Hydra's plugin scan included: hydra_plugins/prism_optuna_pruning, prism_runner_recipes), and
time from process start to the first training step.

    .venv/bin/python scripts/bench/startup.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

HEAVY = ("torch", "torchvision", "torchaudio", "torch_geometric", "mlflow", "optuna", "accelerate",
         "sklearn", "sqlalchemy", "numpy")
PROBE = ("import sys, runpy, atexit\n"
         "atexit.register(lambda: print('HEAVY=' + ','.join(sorted(m for m in sys.modules "
         "if m in %r)), file=sys.stderr))\n"
         "sys.argv = ['prism_runner'] + sys.argv[1:]\n"
         "runpy.run_module('prism_runner', run_name='__main__')\n") % (HEAVY,)


def wall(cmd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=C.RESULTS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def heavy_imported(args) -> str:
    out = subprocess.run([C.PY, "-c", PROBE, *args], cwd=C.RESULTS, capture_output=True, text=True)
    line = [l for l in out.stderr.splitlines() if l.startswith("HEAVY=")]
    return line[-1][6:] if line else "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--first-step-repeats", type=int, default=2)
    a = ap.parse_args()
    C.RESULTS.mkdir(parents=True, exist_ok=True)
    loadavg_start = C.loadavg()
    cases = {
        "python -m prism_runner --help": ["--help"],
        "python -m prism_runner --cfg job +recipe=simclr": ["--cfg", "job", "+recipe=simclr"],
        "python -m prism_runner --info plugins": ["--info", "plugins"],
    }
    ref = {"python -c 'import torch' (reference)": [C.PY, "-c", "import torch"],
           "python -c 'import torch, mlflow, accelerate' (reference)":
               [C.PY, "-c", "import torch, mlflow, accelerate"]}
    times = {k: [] for k in list(cases) + list(ref)}
    wall([C.PY, "-m", "prism_runner", "--help"])  # warm the file cache
    for _ in range(a.repeats):
        for name, args in cases.items():
            times[name].append(wall([C.PY, "-m", "prism_runner", *args]))
        for name, cmd in ref.items():
            times[name].append(wall(cmd))
    heavy = {name: heavy_imported(args) for name, args in cases.items()}
    rows = [[f"`{k}`", f"{C.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]", heavy.get(k, "-") or "none"]
            for k, v in times.items()]
    # time to first step: the default recipe, fresh process, tracking and progress at defaults
    first = []
    for _ in range(a.first_step_repeats):
        run = C.timed_cli(["eval=none", "trainer.max_steps=3", "trainer.resume=never"])
        first.append({"first_step_s": run["steps"][0] - run["start"],
                      "fit_start_s": run["fit_start"] - run["start"],
                      "imports_s": run["app_imported"] - run["start"], "wall_s": run["wall_s"],
                      "mlflow_start_s": run.get("tracker_ready", 0) - run.get("tracker_start", 0),
                      "mlflow_wait_s": run.get("tracker_wait_s", 0)})
    med = lambda key: C.median([f[key] for f in first])  # noqa: E731
    rows.append(["`python -m prism_runner eval=none` (digits): process start -> first optimizer step",
                 f"{med('first_step_s'):.2f} (interpreter + torch/app imports {med('imports_s'):.2f}, "
                 f"opening the MLflow store {med('mlflow_start_s'):.2f} on its thread, of which "
                 f"the main thread waited {med('mlflow_wait_s'):.2f}, "
                 f"training loop entered at {med('fit_start_s'):.2f})", "(training: all needed)"])
    md = ("### Start-up\n\n" + C.table(["command", "wall s, median [min-max]",
                                          "heavy modules imported"], rows)
          + f"\n\n{a.repeats} repeats; heavy modules checked: {', '.join(HEAVY)} (sys.modules at exit, "
            "Hydra's plugin scan included).")
    C.write_result("startup", {"loadavg_start": loadavg_start, "times_s": times, "heavy": heavy,
                               "first_step": first}, md)


if __name__ == "__main__":
    main()
