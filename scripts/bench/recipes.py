"""Every shipped recipe (recipes/*.yaml), shortened to a few optimizer steps: steady samples/s,
peak RSS of the process tree, time from process start to the first step, and the projected
training time of the full recipe (its steps x the measured step time), beside what the recipe's
header states. Full-length runs (time to the stated score) are not rerun here: see
docs/benchmarks.md for where those numbers come from.

    .venv/bin/python scripts/bench/recipes.py [--steps 6] [--recipes simclr graphcl ...]
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

# Per recipe: extra overrides that keep the short run short (none change the step itself).
SHORT = {
    "simclr": ["data.limit=1200"],      # fewer JPEGs to decode; batch and model unchanged
}
# Steps per epoch of the full recipe where SHORT changes the data size (5,000 images // 256).
FULL_STEPS_PER_EPOCH = {"simclr": 19}


def header_claims(path: Path) -> str:
    lines = [l.lstrip("# ").strip() for l in path.read_text().splitlines() if l.startswith("#")]
    keep = [l for l in lines if re.search(r"expected|measured|min\b|minutes|samples/s|~", l, re.I)]
    return " ".join(keep)[:220] or "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--recipes", nargs="*", default=None)
    a = ap.parse_args()
    loadavg_start = C.loadavg()
    names = a.recipes or sorted(p.stem for p in (C.REPO / "recipes").glob("*.yaml"))
    results, rows = {}, []
    image_ckpt = None
    for name in names:
        extra = list(SHORT.get(name, []))
        if name == "wav2clip":  # needs a frozen image encoder trained by this runner first
            if image_ckpt is None:
                pre = C.timed_cli(["data=mnist", "views.hflip=0", "name=mnist_simclr", "eval=none",
                                   "trainer.max_steps=2", "tracking=none", "trainer.progress=false",
                                   f"hydra.run.dir={C.RESULTS / 'recipes' / 'mnist_simclr'}"])
                image_ckpt = C.RESULTS / "recipes" / "mnist_simclr"
            extra.append(f"method.image_checkpoint={image_ckpt}")
        cfg = C.compose([f"+recipe={name}"])
        args = [f"+recipe={name}", "eval=none", f"trainer.max_steps={a.warmup + a.steps + 1}",
                "trainer.resume=never", f"hydra.run.dir={C.RESULTS / 'recipes' / name}"] + extra
        try:
            run = C.timed_cli(args)
        except RuntimeError as error:
            print(f"[recipes] {name} failed: {error}", flush=True)
            rows.append([name, "failed", "-", "-", "-", "-", header_claims(C.REPO / "recipes" / f"{name}.yaml")])
            results[name] = {"error": str(error)[-2000:]}
            continue
        batch = run["global_batch"]
        rate = C.steady_rate(run["steps"], batch, a.warmup)
        per_epoch = FULL_STEPS_PER_EPOCH.get(name, run.get("steps_per_epoch"))
        full_steps = cfg.trainer.max_steps if cfg.trainer.max_steps is not None else \
            (cfg.trainer.max_epochs * per_epoch if per_epoch else None)
        projected = full_steps * batch / rate if full_steps else None
        results[name] = {"args": args, "batch": batch, "samples_per_s": rate,
                         "peak_rss_mb": run["peak_rss_mb"],
                         "first_step_s": run["steps"][0] - run["start"],
                         "full_steps": full_steps, "projected_train_s": projected,
                         "wall_s": run["wall_s"]}
        rows.append([name, batch, f"{rate:.1f}", f"{run['peak_rss_mb']:.0f}",
                     f"{run['steps'][0] - run['start']:.1f}",
                     (f"{full_steps} steps -> {projected / 60:.1f} min" if projected >= 120 else
                      f"{full_steps} steps -> {projected:.0f} s") if projected else "-",
                     header_claims(C.REPO / "recipes" / f"{name}.yaml")])
        print(f"[recipes] {name}: {rate:.1f} samples/s, first step {results[name]['first_step_s']:.1f} s "
              f"(load {C.loadavg()})", flush=True)
    md = ("### Recipes (short runs: a few optimizer steps each, eval=none)\n\n"
          + C.table(["recipe", "batch", "samples/s (steady)", "peak RSS MB", "start -> first step s",
                     "projected training time of the full recipe", "recipe header says"], rows)
          + f"\n\n{a.warmup} warm-up + {a.steps} timed steps per recipe; MLflow tracking and progress bar "
            f"at defaults. simclr reads 1,200 of its 6,000 images (decode time only). Peak RSS: "
            "max over the run's process tree (wait4).")
    C.write_result("recipes", {"loadavg_start": loadavg_start, "recipes": results}, md)


if __name__ == "__main__":
    main()
