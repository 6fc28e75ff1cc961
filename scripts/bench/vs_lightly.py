"""prism_runner vs lightly on the same SimCLR work: ResNet-18 (CIFAR stem), the same CIFAR-10
images, batch, epochs, views, temperature, AdamW and constant learning rate.

* ``prism``: ``python -m prism_runner +recipe=simclr ...`` (MLflow, progress bar, checkpoints
  at their defaults; its linear probe without the random-init baseline);
* ``lightly``: scripts/bench/lightly_arm.py in a separate environment with lightly
  (``--lightly-python``, default /tmp/benchenv/bin/python), a plain loop of lightly's parts.

The images are exported once from prism_runner's own data factory (the same training items and
probe splits) to an .npz that the lightly arm reads; its embeddings are scored here with
prism_runner's linear-probe function, so both arms share one probe. Arms alternate over
``--rounds``; reported: steady samples/s, peak RSS of the process tree, probe accuracy.

    .venv/bin/python scripts/bench/vs_lightly.py [--limit 1200 --batch 128 --epochs 2 --rounds 1]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def export(cfg, path: Path) -> None:
    import numpy as np
    import torch

    from prism_runner.build import instantiate

    source = instantiate(cfg.data, "data")
    stack = lambda ds: torch.stack([ds[i]["image"] for i in range(len(ds))]).numpy()  # noqa: E731
    labels = lambda ds: np.array([int(ds[i]["label"]) for i in range(len(ds))])  # noqa: E731
    np.savez(path, x_train=stack(source.train), probe_train_x=stack(source.probe_train),
             probe_train_y=labels(source.probe_train), probe_test_x=stack(source.probe_test),
             probe_test_y=labels(source.probe_test), mean=np.array(cfg.data.mean),
             std=np.array(cfg.data.std))


def run_lightly(python: str, data: Path, out: Path, a) -> dict:
    cmd = [python, str(C.BENCH / "lightly_arm.py"), "--data", str(data), "--out", str(out),
           "--epochs", str(a.epochs), "--batch", str(a.batch), "--temperature", str(a.temperature),
           "--lr", "1e-3", "--weight-decay", "1e-4", "--workers", "0"]
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"lightly arm failed: {output[-3000:]}")
    record = json.loads(Path(str(out) + ".json").read_text())
    record.update(wall_s=time.time() - start, start=start, peak_rss_mb=usage.ru_maxrss / 1024.0)
    import numpy as np

    from prism_runner.evaluation.probe import linear_probe_accuracy

    emb, d = np.load(out), np.load(data)
    record["probe_acc"] = linear_probe_accuracy(emb["probe_train"], d["probe_train_y"],
                                                emb["probe_test"], d["probe_test_y"],
                                                C=1.0, max_iter=2000)
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--lightly-python", default=os.environ.get("LIGHTLY_PYTHON", "/tmp/benchenv/bin/python"))
    ap.add_argument("--prism-extra", nargs="*", default=[])
    a = ap.parse_args()
    loadavg_start = C.loadavg()
    if not Path(a.lightly_python).exists():
        print(f"[vs_lightly] {a.lightly_python} missing: create it with\n  uv venv /tmp/benchenv --python 3.11 && "
              "uv pip install --python /tmp/benchenv/bin/python torch==2.9.1 torchvision==0.24.1 lightly\n"
              "skipping the lightly comparison", flush=True)
        C.write_result("vs_lightly", {"skipped": True}, "### prism_runner vs lightly\n\nskipped: no lightly environment")
        return
    overrides = ["+recipe=simclr", f"data.limit={a.limit}", f"data.batch_size={a.batch}",
                 f"trainer.max_epochs={a.epochs}", "sched=constant", f"method.temperature={a.temperature}",
                 "eval.baseline=false", "trainer.resume=never"]
    cfg = C.compose(overrides)
    C.RESULTS.mkdir(parents=True, exist_ok=True)
    data = C.RESULTS / f"lightly_data_{a.limit}.npz"
    if not data.exists():
        export(cfg, data)
    runs = {"prism": [], "lightly": []}
    for r in range(a.rounds):
        for arm in (["prism", "lightly"] if r % 2 == 0 else ["lightly", "prism"]):
            if arm == "prism":
                run = C.timed_cli(overrides + a.prism_extra + [f"hydra.run.dir={C.RESULTS / 'vs_lightly' / f'prism_{r}'}"])
                summary = json.loads((C.RESULTS / "vs_lightly" / f"prism_{r}" / "summary.json").read_text())
                run["probe_acc"] = summary["metrics"]["probe_acc"]
            else:
                run = run_lightly(a.lightly_python, data, C.RESULTS / f"lightly_emb_{r}.npz", a)
            run["samples_per_s"] = C.steady_rate(run["steps"], run["global_batch"], a.warmup)
            run["train_s"] = run["steps"][-1] - run["fit_start"]
            run.pop("output_tail", None)
            runs[arm].append(run)
            print(f"[vs_lightly] round {r} {arm}: {run['samples_per_s']:.1f} samples/s, "
                  f"RSS {run['peak_rss_mb']:.0f} MB, probe {run['probe_acc']:.3f} (load {C.loadavg()})", flush=True)
    rows = []
    for arm, label in (("prism", "prism_runner (`+recipe=simclr`, app as shipped)"),
                       ("lightly", "lightly 1.6 parts in a plain loop (`lightly_arm.py`)")):
        v = runs[arm]
        rows.append([label, C.spread([x["samples_per_s"] for x in v]),
                     f"{C.median([x['train_s'] for x in v]):.0f}",
                     f"{C.median([x['peak_rss_mb'] for x in v]):.0f}",
                     ", ".join(f"{x['probe_acc']:.3f}" for x in v),
                     f"{C.median([x['wall_s'] for x in v]):.0f}"])
    ratio = C.median([x["samples_per_s"] for x in runs["prism"]]) / C.median([x["samples_per_s"] for x in runs["lightly"]])
    md = ("### prism_runner vs lightly (same SimCLR work)\n\n"
          + C.table(["arm", "samples/s (steady)", "training s", "peak RSS MB", "probe acc",
                     "process wall s"], rows)
          + f"\n\nprism/lightly samples/s: **{ratio:.3f}**. ResNet-18 CIFAR stem, {a.limit} CIFAR-10 images "
            f"of the bundled subset (1/6 held out for the probe), batch {a.batch}, {a.epochs} epochs, "
            f"T={a.temperature}, AdamW 1e-3 / wd 1e-4 constant, 0 loader workers, "
            f"{a.rounds} round(s) alternating. Probe: prism_runner's linear probe for both; "
            "prism's process also runs MLflow, checkpoints and its evaluation.")
    C.write_result("vs_lightly", {"loadavg_start": loadavg_start, "runs": runs, "ratio": ratio,
                                  "overrides": overrides}, md)


if __name__ == "__main__":
    main()
