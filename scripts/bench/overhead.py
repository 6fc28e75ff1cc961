"""Runner overhead: a hand-written PyTorch SimCLR loop vs prism_runner's app, same process.

Two regimes, each with the same data, model, loss, optimizer, batch and seed in both arms:

* heavy: ResNet-18 (CIFAR stem) on the bundled CIFAR-10 subset (32x32), batch 64;
* light: the small CNN on scikit-learn digits (8x8), batch 256 (milliseconds of compute).

Arm ``bare``: a minimal loop written here (Dataset calling the same per-sample torchvision v2
views, DataLoader, backbone + 2-layer head, hand NT-Xent, AdamW, the same warmup-cosine LambdaLR).
Arm ``runner``: ``prism_runner.app.run(cfg)`` itself (``method.joint_forward=true``: one forward
over both views, the bare loop's work; the shipped default of one forward per view is faster, see
step_variants.py) with MLflow tracking, progress bar, log and
checkpoint cadence at their defaults (eval=none: evaluation comes after training). Both record a
timestamp after every optimizer step; steady-state samples/s is measured after ``--warmup`` steps.
Arms alternate (ABAB, BABA, ...) so drift in machine load cancels; medians are reported.
The runner's periodic checkpoint (every 200 steps by default) is outside short windows, so its
measured cost is added back amortised over ``checkpoint_every`` steps in a second ratio.

    .venv/bin/python scripts/bench/overhead.py [--regimes heavy light] [--rounds 3]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

REGIMES = {
    # name: (overrides, warmup steps, timed steps)
    "heavy": (["data=cifar10", "backbone=resnet18_cifar", "data.batch_size=64", "data.limit=1200",
               "method.joint_forward=true"], 2, 10),
    "light": (["data=digits", "backbone=small_cnn", "data.batch_size=256", "method.joint_forward=true"],
              5, 60),
}


def bare_arm(cfg, total_steps: int, stamps: list) -> None:
    """The hand-written loop. Everything it needs is built here from the same config values."""
    import torch
    import torch.nn.functional as F
    from hydra.utils import instantiate
    from torch import nn

    torch.manual_seed(int(cfg.seed))
    data_cfg = {k: v for k, v in cfg.data.items() if not k.startswith("_") or k == "_target_"}
    source = instantiate(data_cfg)
    views = instantiate({k: v for k, v in cfg.views.items() if not k.startswith("_") or k == "_target_"})
    backbone = instantiate({k: v for k, v in cfg.backbone.items() if not k.startswith("_") or k == "_target_"})
    m = cfg.method
    model = nn.Sequential(backbone, nn.Linear(backbone.out_dim, m.hidden_dim, bias=False),
                          nn.BatchNorm1d(m.hidden_dim), nn.ReLU(inplace=True),
                          nn.Linear(m.hidden_dim, m.projection_dim))
    temperature = float(m.temperature)

    class TwoViews(torch.utils.data.Dataset):
        def __len__(self):
            return len(source.train)

        def __getitem__(self, i):
            return tuple(views.train(source.train[i])["views"])

    loader = torch.utils.data.DataLoader(TwoViews(), batch_size=source.batch_size, shuffle=True,
                                         drop_last=True, num_workers=source.num_workers,
                                         persistent_workers=source.num_workers > 0)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                            betas=tuple(cfg.optim.betas))
    warm = max(1, int(round(cfg.sched.warmup_ratio * total_steps)))

    def lr_lambda(step):
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total_steps - warm))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)

    def nt_xent(z1, z2):
        n = z1.shape[0]
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        sim = z @ z.T / temperature
        sim.fill_diagonal_(float("-inf"))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
        return F.cross_entropy(sim, target)

    model.train()
    step = 0
    while step < total_steps:
        for v1, v2 in loader:
            z1, z2 = model(torch.cat([v1, v2])).chunk(2)
            loss = nt_xent(z1, z2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            stamps.append((time.time(), time.process_time()))
            if step >= total_steps:
                break


def runner_arm(cfg, stamps: list, record: dict) -> None:
    """``prism_runner.app.run(cfg)``, with a timestamp appended after each optimizer step."""
    import prism_runner.app as app

    real_fit = app.fit

    def fit(*, method, **kwargs):
        method.on_step_end = lambda step, total: stamps.append((time.time(), time.process_time()))
        try:
            return real_fit(method=method, **kwargs)
        finally:
            record["fit_end"] = time.time()
            record["checkpoint_every"] = kwargs["settings"].checkpoint_every
            del method.on_step_end

    app.fit = fit
    try:
        app.run(cfg)
    finally:
        app.fit = real_fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regimes", nargs="+", default=list(REGIMES), choices=list(REGIMES))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runner-extra", nargs="*", default=[],
                    help="extra overrides for the runner arm only (e.g. trainer.channels_last=true)")
    a = ap.parse_args()
    import torch

    loadavg_start = C.loadavg()
    results, rows = {}, []
    for regime in a.regimes:
        overrides, warmup, timed = REGIMES[regime]
        total = warmup + timed + 1
        rates = {"bare": [], "runner": []}
        ckpt_costs, ratios, cpu_ratios = [], [], []
        cpu_rates = {"bare": [], "runner": []}
        for r in range(a.rounds):
            order = ["bare", "runner"] if r % 2 == 0 else ["runner", "bare"]
            current = {}
            for arm in order:
                stamps: list = []
                run_dir = C.RESULTS / "overhead" / f"{regime}_{arm}_{r}"
                cfg = C.compose(overrides + ["eval=none", f"trainer.max_steps={total}", "seed=0",
                                             "trainer.resume=never"]
                                + (a.runner_extra if arm == "runner" else []), run_dir=run_dir)
                if arm == "bare":
                    bare_arm(cfg, total, stamps)
                else:
                    record: dict = {}
                    runner_arm(cfg, stamps, record)
                    # time from the last step to the end of fit: final metric log + checkpoint
                    ckpt_costs.append(record["fit_end"] - stamps[-1][0])
                batch = int(cfg.data.batch_size)
                current[arm] = C.steady_rate([w for w, _ in stamps], batch, warmup)
                rates[arm].append(current[arm])
                cpu_rate = C.steady_rate([c for _, c in stamps], batch, warmup)
                cpu_rates[arm].append(cpu_rate)
                current["cpu_" + arm] = cpu_rate
                print(f"[overhead] {regime} round {r} {arm}: {current[arm]:.1f} samples/s "
                      f"(load {C.loadavg()})", flush=True)
            ratios.append(current["bare"] / current["runner"])
            cpu_ratios.append(current["cpu_bare"] / current["cpu_runner"])
        bare, runner = C.median(rates["bare"]), C.median(rates["runner"])
        ratio = C.median(ratios)
        step_s = int(cfg.data.batch_size) / runner
        every = 200
        ratio_ckpt = ratio * (1 + C.median(ckpt_costs) / (every * step_s))
        results[regime] = {"overrides": overrides, "warmup": warmup, "timed_steps": timed,
                           "samples_per_s": rates, "ratios_bare_over_runner": ratios,
                           "final_checkpoint_s": ckpt_costs, "ratio": ratio,
                           "cpu_samples_per_s": cpu_rates, "cpu_ratios": cpu_ratios,
                           "cpu_ratio": C.median(cpu_ratios),
                           "ratio_with_amortised_checkpoint": ratio_ckpt}
        rows.append([regime, " ".join(overrides), f"{warmup}+{timed}", C.spread(rates["bare"]),
                     C.spread(rates["runner"]), f"{ratio:.3f}",
                     f"{C.median(cpu_rates['bare']):.1f} / {C.median(cpu_rates['runner']):.1f} -> "
                     f"{C.median(cpu_ratios):.3f}",
                     f"{C.median(ckpt_costs):.2f} s / {every} steps -> {ratio_ckpt:.3f}"])
    md = ("### Runner overhead (bare PyTorch loop vs prism_runner, same process, interleaved)\n\n"
          + C.table(["regime", "config", "warm-up+timed steps", "bare samples/s",
                     "runner samples/s", "bare/runner wall (median of rounds)",
                     "per CPU-second: bare / runner -> ratio",
                     "final log+checkpoint, amortised -> ratio"], rows)
          + f"\n\nsamples/s: median [min-max] over {a.rounds} interleaved rounds; 'per CPU-second' "
            "divides by the process's CPU time (time.process_time) instead of wall time, which "
            "is less sensitive to other load on the machine; torch threads "
            f"{torch.get_num_threads()}; runner extra overrides: {a.runner_extra or 'none'}.")
    C.write_result("overhead" + ("_" + "_".join(x.replace("=", "-") for x in a.runner_extra) if a.runner_extra else ""),
                   {"loadavg_start": loadavg_start, "regimes": results}, md)


if __name__ == "__main__":
    main()
