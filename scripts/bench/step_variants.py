"""What pays off in the step itself: the SimCLR training step of the heavy regime (ResNet-18,
CIFAR stem, 32x32) on one fixed batch of views, with the options the runner offers, interleaved.

Variants: ``fp32`` (the default), ``channels_last`` (model and input in NHWC), ``bf16``
(torch.autocast on CPU), ``fused_adamw`` (AdamW(fused=True)), ``foreach_off`` (for reference),
``two_forwards`` (each view through the backbone separately, as lightly's examples do, instead
of one forward over both), ``flush_denormal`` (torch.set_flush_denormal(True)).

    .venv/bin/python scripts/bench/step_variants.py [--batch 64] [--rounds 3] [--regime heavy]
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

REGIMES = {
    "heavy": ["+recipe=simclr", "data.limit=1200"],
    "light": [],
}
VARIANTS = ["fp32", "channels_last", "bf16", "fused_adamw", "two_forwards", "flush_denormal"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regime", default="heavy", choices=list(REGIMES))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variants", nargs="*", default=VARIANTS)
    a = ap.parse_args()
    import torch

    from prism_runner.build import build_experiment
    from prism_runner.loader import EpochSampler, ViewDataset, train_loader

    loadavg_start = C.loadavg()
    cfg = C.compose(REGIMES[a.regime] + [f"data.batch_size={a.batch}", "eval=none", "tracking=none"])
    torch.manual_seed(0)
    exp = build_experiment(cfg)
    sampler = EpochSampler(len(exp.source.train), a.batch, 0)
    batch = next(iter(train_loader(ViewDataset(exp.source.train, exp.views.train, 0), sampler,
                                   exp.source.collate, 0)))
    v1, v2 = batch["views"]

    arms = {}
    for name in a.variants:
        method = copy.deepcopy(exp.method)
        kwargs = {"fused": True} if name == "fused_adamw" else {}
        opt = torch.optim.AdamW(method.parameters(), lr=1e-3, weight_decay=1e-4, **kwargs)
        inputs = {"views": [v1, v2]}
        if name == "channels_last":
            method = method.to(memory_format=torch.channels_last)
            inputs = {"views": [v1.contiguous(memory_format=torch.channels_last),
                                v2.contiguous(memory_format=torch.channels_last)]}

        def step(method=method, opt=opt, inputs=inputs, name=name):
            if name == "two_forwards":
                z_a = method.projector(method.backbone(inputs["views"][0]))
                z_b = method.projector(method.backbone(inputs["views"][1]))
                loss = method.criterion(z_a, z_b)
            elif name == "bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    loss = method(inputs)["loss"]
            else:
                loss = method(inputs)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        arms[name] = step
    times = {k: [] for k in arms}
    for name, step in arms.items():  # warm-up
        if name == "flush_denormal":
            torch.set_flush_denormal(True)
        step()
        torch.set_flush_denormal(False)
    names = list(arms)
    for r in range(a.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        if r % 2:
            order = order[::-1]
        for name in order:
            if name == "flush_denormal":
                torch.set_flush_denormal(True)
            t0 = time.perf_counter()
            arms[name]()
            times[name].append(time.perf_counter() - t0)
            torch.set_flush_denormal(False)
        print(f"[variants] round {r}: " + ", ".join(f"{k}={times[k][-1]:.2f}s" for k in names)
              + f" (load {C.loadavg()})", flush=True)
    base = C.median(times["fp32"]) if "fp32" in times else None
    rows = [[name, f"{C.median(v):.3f} [{min(v):.3f}-{max(v):.3f}]", f"{a.batch / C.median(v):.1f}",
             f"{C.median(v) / base:.3f}" if base else "-"] for name, v in times.items()]
    md = (f"### Step variants ({a.regime} regime, batch {a.batch}, one fixed batch of views)\n\n"
          + C.table(["variant", "step s median [min-max]", "samples/s", "time vs fp32"], rows)
          + f"\n\n{a.rounds} rounds, arm order rotated each round; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads.")
    C.write_result(f"step_variants_{a.regime}", {"loadavg_start": loadavg_start, "times_s": times}, md)


if __name__ == "__main__":
    main()
