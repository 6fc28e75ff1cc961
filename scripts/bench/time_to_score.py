"""Every shipped recipe run in full, as a user runs it (MLflow and progress bar at their
defaults): wall time from process start to the printed score, the score beside the same backbone
at random init, and peak RSS. Wav2CLIP runs its two steps (the MNIST image encoder first) and
reports both. Slow: ~25 min on 2 idle cores.

    .venv/bin/python scripts/bench/time_to_score.py [--recipes wav2vec2 graphcl ...]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

# The wav2clip recipe's step 1 (its header): an image encoder trained on MNIST with SimCLR.
WAV2CLIP_STEP1 = ["data=mnist", "views.hflip=0", "name=mnist_simclr", "data.batch_size=128",
                  "trainer.max_steps=100"]


def run(name: str, args: list) -> dict:
    run_dir = C.RESULTS / "time_to_score" / name
    result = C.timed_cli(args + ["seed=0", "trainer.resume=never", f"hydra.run.dir={run_dir}"],
                         timeout=3600)
    summary = json.loads((run_dir / "summary.json").read_text())
    print(f"[time_to_score] {name}: {result['wall_s']:.0f} s, {summary.get('metric')} "
          f"{summary.get('score')} vs {summary.get('baseline_score')}", flush=True)
    return {"wall_s": result["wall_s"], "peak_rss_mb": result["peak_rss_mb"], "run_dir": str(run_dir),
            "steps": summary.get("steps"), "metric": summary.get("metric"),
            "score": summary.get("score"), "baseline_score": summary.get("baseline_score")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="*", default=None)
    a = ap.parse_args()
    loadavg_start = C.loadavg()
    names = a.recipes or ["default"] + sorted(p.stem for p in (C.REPO / "recipes").glob("*.yaml"))
    results, rows = {}, []
    for name in names:
        if name == "default":
            results[name] = run(name, [])
        elif name == "wav2clip":
            results["wav2clip step 1 (mnist_simclr)"] = run("wav2clip_step1", WAV2CLIP_STEP1)
            results[name] = run(name, ["+recipe=wav2clip", "method.image_checkpoint="
                                       + results["wav2clip step 1 (mnist_simclr)"]["run_dir"]])
        else:
            results[name] = run(name, [f"+recipe={name}"])
    for name, r in results.items():
        score = f"{r['score']:.3f}" if isinstance(r["score"], float) else str(r["score"])
        base = f"{r['baseline_score']:.3f}" if isinstance(r["baseline_score"], float) else "-"
        rows.append([name, r["steps"], r["metric"], score, base, f"{r['wall_s'] / 60:.1f}",
                     f"{r['peak_rss_mb']:.0f}"])
    md = ("### Time to the stated score (full recipes, seed 0)\n\n"
          + C.table(["recipe", "steps", "metric", "trained", "random init", "wall min",
                     "peak RSS MB"], rows)
          + "\n\nWall time from process start to the printed summary (data decoding, training, "
            "evaluation of the trained and the random-init backbone), MLflow and progress bar on.")
    C.write_result("time_to_score", {"loadavg_start": loadavg_start, "recipes": results}, md)


if __name__ == "__main__":
    main()
