"""Data path: samples/s of each modality's training loader alone (views applied per sample,
seeded as in training, 0 and 2 workers) vs the training step alone (forward, backward, optimizer
on a batch already in memory), so it is visible whether training is input-bound.

The loader is built exactly as prism_runner.app builds it (EpochSampler + ViewDataset +
train_loader); the step is the method's forward/backward and AdamW step.

    .venv/bin/python scripts/bench/datapath.py [--recipes default simclr ...]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

# name: (modality, overrides, batches to time)
CASES = {
    "default": ("image (digits 8x8)", [], 6),
    "simclr": ("image (CIFAR-10 32x32)", ["+recipe=simclr", "data.limit=1200", "data.batch_size=64"], 3),
    "wav2vec2": ("audio (FSDD 8 kHz)", ["+recipe=wav2vec2"], 3),
    "graphcl": ("graph (MUTAG)", ["+recipe=graphcl"], 3),
    "clip": ("pairs image-text (Twemoji)", ["+recipe=clip"], 3),
    "wav2clip": ("pairs audio-image (FSDD-MNIST)", ["+recipe=wav2clip", "method.image_checkpoint=null"], 3),
}


def loader_rate(experiment, seed: int, workers: int, batches: int) -> float:
    from prism_runner.loader import EpochSampler, ViewDataset, train_loader

    source = experiment.source
    sampler = EpochSampler(len(source.train), source.batch_size, seed)
    loader = train_loader(ViewDataset(source.train, experiment.views.train, seed), sampler,
                          source.collate, workers)
    if workers:  # time from the start (workers prefetch while the first batch is awaited)
        batches = max(batches, 4 * workers * 2)
        start, n = time.perf_counter(), 0
        it = iter(loader)
    else:
        it = iter(loader)
        next(it)  # the first batch is not steady state
        start, n = time.perf_counter(), 0
    for _ in range(batches):
        try:
            next(it)
        except StopIteration:
            sampler.set_epoch(sampler.epoch + 1)
            it = iter(loader)
            next(it)
        n += source.batch_size
    elapsed = time.perf_counter() - start
    del it, loader
    return n / elapsed


def step_rate(experiment, batches: int) -> float:
    import torch

    from prism_runner.loader import EpochSampler, ViewDataset, train_loader

    source, method = experiment.source, experiment.method
    sampler = EpochSampler(len(source.train), source.batch_size, 0)
    batch = next(iter(train_loader(ViewDataset(source.train, experiment.views.train, 0), sampler,
                                   source.collate, 0)))
    opt = experiment.make_optimizer(params=[p for p in method.parameters() if p.requires_grad])
    method.train()

    def step():
        loss = method(batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(batches):
        step()
    return batches * source.batch_size / (time.perf_counter() - start)


def seeding_comparison(rounds: int = 3, batches: int = 4):
    """Digits loader (0 workers) with the per-sample seeding before this suite's change
    (``torch.random.fork_rng`` + ``torch.manual_seed``) vs the current one (the CPU generator
    seeded and restored directly), interleaved."""
    import torch

    from prism_runner import loader as L
    from prism_runner.build import build_experiment

    class OldViewDataset(L.ViewDataset):
        def __getitem__(self, key):
            epoch, index = key
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed((self.seed * 1_000_003 + epoch) * 1_000_033 + index)
                return self.views(self.base[index])

    experiment = build_experiment(C.compose(["eval=none", "tracking=none"]))
    rates = {"fork_rng + torch.manual_seed (before)": [], "generator seeded directly (now)": []}
    classes = dict(zip(rates, (OldViewDataset, L.ViewDataset)))
    for r in range(rounds):
        for name in (list(rates) if r % 2 == 0 else list(rates)[::-1]):
            source = experiment.source
            sampler = L.EpochSampler(len(source.train), source.batch_size, 0)
            loader = L.train_loader(classes[name](source.train, experiment.views.train, 0), sampler,
                                    source.collate, 0)
            start, n = time.perf_counter(), 0
            for i, _ in enumerate(loader):
                n += source.batch_size
                if i + 1 >= batches:
                    break
            rates[name].append(n / (time.perf_counter() - start))
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="*", default=list(CASES))
    ap.add_argument("--workers", nargs="*", type=int, default=[0, 2])
    a = ap.parse_args()
    import torch

    from prism_runner.build import build_experiment

    loadavg_start = C.loadavg()
    results, rows = {}, []
    for name in a.recipes:
        modality, overrides, batches = CASES[name]
        cfg = C.compose(overrides + ["eval=none", "tracking=none"])
        torch.manual_seed(0)
        try:
            experiment = build_experiment(cfg)
        except Exception as error:  # e.g. wav2clip without its image encoder
            if name != "wav2clip":
                raise
            from hydra.utils import instantiate  # data and views alone: loader rate only
            from prism_runner.build import instantiate as build

            class Partial:
                source = build(cfg.data, "data")
                views = build(cfg.views, "views")
                method = None
            experiment = Partial()
        rates = {w: loader_rate(experiment, 0, w, batches) for w in a.workers}
        step = step_rate(experiment, batches) if experiment.method is not None else None
        best = max(rates, key=rates.get)
        bound = "-" if step is None else ("input-bound" if rates[0] < step else "compute-bound")
        results[name] = {"modality": modality, "overrides": overrides,
                         "batch": experiment.source.batch_size, "loader_samples_per_s": rates,
                         "step_samples_per_s": step}
        rows.append([name, modality, experiment.source.batch_size]
                    + [f"{rates[w]:.0f}" for w in a.workers]
                    + [f"{step:.1f}" if step else "- (needs an image checkpoint)",
                       bound + (f"; loader share of a 0-worker step {step / (rates[0] + step):.0%}"
                                if step else "")])
        print(f"[datapath] {name}: loader {rates}, step {step} (load {C.loadavg()})", flush=True)
    seeding = seeding_comparison()
    results["seeding"] = seeding
    seed_rows = [[k, C.spread(v)] for k, v in seeding.items()]
    md = ("### Data path: loader alone vs training step alone (samples/s)\n\n"
          + C.table(["recipe", "modality", "batch"] + [f"loader, {w} workers" for w in a.workers]
                    + ["train step (fwd+bwd+AdamW)", "verdict (0 workers)"], rows)
          + "\n\nWith 0 workers the loop runs loader and step in turn, so its rate is "
            "1 / (1/loader + 1/step); workers overlap them but share the same 2 cores. "
            "With workers the time runs from creating the iterator (start-up included) over at "
            "least 8 batches per worker, so prefetching cannot inflate it.\n\n"
          + "Per-sample augmentation seeding, digits loader alone (0 workers, samples/s, 3 interleaved rounds):\n\n"
          + C.table(["seeding", "loader samples/s median [min-max]"], seed_rows))
    C.write_result("datapath", {"loadavg_start": loadavg_start, "cases": results}, md)


if __name__ == "__main__":
    main()
