"""``run(cfg) -> score``: build, train, evaluate, track, summarise."""
from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from prism_runner import resolvers
from prism_runner.build import (
    build_experiment, call_hooks, check_combination, check_complete, instantiate,
)
from prism_runner.checkpoint import (
    CheckpointManager, check_compatible, load_checkpoint, rng_state, set_rng_state,
)
from prism_runner.errors import UserError
from prism_runner.evaluate import make_embedder
from prism_runner.loader import EpochSampler, ViewDataset, train_loader
from prism_runner.loop import Interrupted, LoopSettings, TrainState, fit
from prism_runner.settings import TrainerSettings, parse_settings


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def hydra_context() -> Dict[str, Any]:
    """Run folder, recipe name and command line when running under Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    from hydra.types import RunMode
    from omegaconf.errors import MissingMandatoryValue

    hc = HydraConfig.get()
    try:
        context = {"run_dir": hc.runtime.output_dir, "recipe": hc.runtime.choices.get("recipe"),
                   "overrides": list(hc.overrides.task)}
    except MissingMandatoryValue:  # a Hydra config composed outside a run (API use, tests)
        return {}
    if hc.mode == RunMode.MULTIRUN:  # group a sweep's runs in MLflow
        context["sweep"] = {"sweep_dir": hc.sweep.dir, "trial": str(hc.job.num)}
    return context


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(resolvers.REPO_ROOT), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        commit = out.stdout.strip()
        dirty = subprocess.run(["git", "-C", str(resolvers.REPO_ROOT), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True, timeout=5)
        return commit + ("-dirty" if dirty.stdout.strip() else "") if commit else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> Dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in ("prism_runner", "torch", "torchvision", "torchaudio", "torch_geometric",
                 "hydra-core", "omegaconf", "accelerate", "mlflow", "scikit-learn", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def flatten(tree: Any, prefix: str = "") -> Dict[str, Any]:
    if isinstance(tree, dict):
        out: Dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}


def make_accelerator(settings: TrainerSettings):
    from accelerate import Accelerator

    cuda = torch.cuda.is_available()
    if settings.device == "cuda" and not cuda:
        raise UserError("trainer.device=cuda but no GPU is visible; use trainer.device=auto")
    use_cpu = settings.device == "cpu" or not cuda
    if settings.mixed_precision == "fp16" and use_cpu:
        raise UserError("trainer.mixed_precision=fp16 needs a GPU (on CPU it would be silently "
                        "ignored); use trainer.mixed_precision=bf16 or no")
    return Accelerator(cpu=use_cpu, mixed_precision=settings.mixed_precision)


def optimizer_options(make_optimizer, settings: TrainerSettings) -> Dict[str, Any]:
    """``fused=True`` when trainer.fused_optimizer is set and the optimizer takes it."""
    if not settings.fused_optimizer:
        return {}
    import inspect

    function = getattr(make_optimizer, "func", make_optimizer)
    try:
        takes = "fused" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        takes = False
    if not takes:
        raise UserError(f"trainer.fused_optimizer=true, but {getattr(function, '__name__', function)} "
                        "has no fused option; use trainer.fused_optimizer=false")
    return {} if "fused" in getattr(make_optimizer, "keywords", {}) else {"fused": True}


def resolve_run_dir(cfg: DictConfig, context: Dict[str, Any], accelerator) -> Path:
    run_dir = cfg.get("run_dir") or context.get("run_dir")  # an explicit run_dir wins
    if not run_dir:
        raise UserError("no run folder: run through `python -m prism_runner`, or set run_dir=PATH")
    if accelerator.num_processes > 1:  # every rank must use the main process's folder
        from accelerate.utils import broadcast_object_list

        holder = [str(run_dir)]
        broadcast_object_list(holder, from_process=0)
        run_dir = holder[0]
    return Path(run_dir)


def find_resume_checkpoint(resume: str, checkpoints: CheckpointManager) -> Optional[Path]:
    if resume == "never":
        return None
    if resume == "auto":
        return checkpoints.latest()
    path = Path(resume).expanduser()
    if path.is_dir():
        found = CheckpointManager(path / "checkpoints").latest() or CheckpointManager(path).latest()
        if found is None:
            raise UserError(f"trainer.resume={path}: no checkpoints in that folder")
        return found
    if not path.is_file():
        raise UserError(f"trainer.resume={path} does not exist; give a run folder, a checkpoint "
                        "file, auto or never")
    return path


def write_json(path: Path, data: Dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def save_weights(module: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(tensors, str(path))


def save_backbone(method: torch.nn.Module, path: Path) -> Dict[str, str]:
    """The backbone's weights at ``path``, and beside it those of any further encoder the method
    exports (``method.exported_encoders()``, e.g. CLIP's text encoder as text_encoder.safetensors).
    Returns {name: path} of every file written."""
    save_weights(method.backbone, path)
    written = {"backbone": str(path)}
    exported = getattr(method, "exported_encoders", None)
    for name, module in (exported() if callable(exported) else {}).items():
        extra = path.with_name(f"{name}.safetensors")
        save_weights(module, extra)
        written[name] = str(extra)
    return written


def print_summary(summary: Dict[str, Any], run_dir: Path, tracker_uri: Optional[str]) -> None:
    trained, baseline = summary["metrics"], summary.get("baseline") or {}
    lines = ["", f"== {summary['name']}: {summary['steps']} steps in {summary['wall_time_s']:.1f} s =="]
    if trained:
        lines.append(f"{'metric':<22}{'trained':>10}{'random init':>14}")
        for key, value in trained.items():
            base = baseline.get(key)
            base_s = f"{base:>14.4f}" if isinstance(base, (int, float)) else f"{'-':>14}"
            lines.append(f"{key:<22}{value:>10.4f}{base_s}")
    lines.append(f"score ({summary['metric']}): {summary['score']:.4f}")
    lines.append(f"run folder: {run_dir}")
    lines.append(f"summary:    {run_dir / 'summary.json'}")
    if summary.get("mlflow_run_id"):
        lines.append(f"mlflow:     run {summary['mlflow_run_id']} in {tracker_uri}")
        if tracker_uri and tracker_uri.startswith("sqlite:"):
            lines.append(f"            mlflow ui --backend-store-uri {tracker_uri}")
    print("\n".join(lines), flush=True)


def run(cfg: DictConfig) -> float:
    """Train and evaluate the experiment in ``cfg``; return the evaluation score."""
    started = time.time()
    check_combination(cfg)
    check_complete(cfg)
    settings = parse_settings(TrainerSettings, OmegaConf.to_container(cfg.trainer, resolve=True),
                              "trainer")
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    context = hydra_context()
    accelerator = make_accelerator(settings)
    main = accelerator.is_main_process
    run_dir = resolve_run_dir(cfg, context, accelerator)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed = int(cfg.seed)
    seed_everything(seed)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    checkpoints = CheckpointManager(run_dir / "checkpoints", keep=settings.keep_checkpoints)
    identity = {"method": str(cfg.method.get("_target_")),
                "backbone": str(cfg.backbone.get("_target_"))}

    resume_from = find_resume_checkpoint(str(settings.resume), checkpoints)
    resume_state = None
    if resume_from is not None:
        resume_state = load_checkpoint(resume_from)
        check_compatible(resume_state, identity, resume_from)

    tracker = instantiate(cfg.tracking, "tracking") if main else None
    environment = {"git_commit": git_commit(), "versions": package_versions(),
                   "recipe": context.get("recipe"), "overrides": context.get("overrides", []),
                   "command": " ".join(sys.argv)}
    if main:
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(resolved))
        write_json(run_dir / "environment.json", environment)
        tags = {"recipe": environment["recipe"] or "default", "git_commit": environment["git_commit"],
                "run_dir": str(run_dir), **context.get("sweep", {}),
                **{f"version.{k}": v for k, v in environment["versions"].items()}}
        tracker.start(run_name=f"{cfg.name}-{run_dir.name}", params=flatten(resolved), tags=tags,
                      run_id=(resume_state or {}).get("mlflow_run_id"))
    status = "FAILED"
    try:
        score = _train_and_evaluate(cfg, settings, accelerator, run_dir, checkpoints, identity,
                                    resume_state, resume_from, tracker, started, seed)
        status = "FINISHED"
        return score
    except Interrupted as stop:
        status = "KILLED"
        if main:
            print(f"[prism_runner] stopped by {stop.signal_name} at step {stop.step}; checkpoint "
                  f"{stop.checkpoint}.\nResume with the same command plus "
                  f"hydra.run.dir={run_dir}", flush=True)
        code = 130 if stop.signal_name == "SIGINT" else 143
        raise SystemExit(code) from None
    except BaseException as error:
        # An exception may say how its run ended (e.g. a pruned sweep trial: KILLED).
        status = getattr(error, "run_status", "FAILED")
        raise
    finally:
        if tracker is not None:
            tracker.finish(status)


def _train_and_evaluate(cfg, settings, accelerator, run_dir, checkpoints, identity, resume_state,
                        resume_from, tracker, started, seed) -> float:
    main = accelerator.is_main_process
    experiment = build_experiment(cfg)
    source, method = experiment.source, experiment.method
    if main:
        print(f"[prism_runner] data: {source.describe()}", flush=True)
    world = accelerator.num_processes
    if source.batch_size % world:
        raise UserError(f"data.batch_size={source.batch_size} must be divisible by the "
                        f"{world} processes")
    if len(source.train) < source.batch_size:
        raise UserError(f"the training set holds {len(source.train)} items, fewer than one batch "
                        f"(data.batch_size={source.batch_size}); lower data.batch_size")
    initial_method = copy.deepcopy(method) if experiment.evaluator is not None else None

    sampler = EpochSampler(len(source.train), source.batch_size, seed,
                           rank=accelerator.process_index, world_size=world)
    loader = train_loader(ViewDataset(source.train, experiment.views.train, seed), sampler,
                          source.collate, source.num_workers,
                          pin_memory=accelerator.device.type == "cuda")
    steps_per_epoch = sampler.batches_per_epoch // settings.grad_accum_steps
    total_steps = settings.max_steps if settings.max_steps is not None else \
        settings.max_epochs * steps_per_epoch
    method.to(accelerator.device)
    if settings.channels_last:
        method.to(memory_format=torch.channels_last)
    optimizer = experiment.make_optimizer(params=[p for p in method.parameters() if p.requires_grad],
                                          **optimizer_options(experiment.make_optimizer, settings))
    scheduler = experiment.make_scheduler(optimizer, total_steps=max(1, total_steps))
    model, optimizer = accelerator.prepare(method, optimizer)
    if settings.compile:
        if accelerator.device.type == "cpu":
            import importlib.util

            if importlib.util.find_spec("setuptools") is None:  # inductor builds C++ with it
                raise UserError("trainer.compile=true on CPU needs setuptools and a C++ compiler "
                                "(torch inductor): pip install setuptools, or "
                                "trainer.compile=false")
        model = torch.compile(model)

    state = TrainState()
    if resume_state is not None:
        method.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        if resume_state.get("scaler") is not None and accelerator.scaler is not None:
            accelerator.scaler.load_state_dict(resume_state["scaler"])
        set_rng_state(resume_state["rng"])
        for key in ("step", "epoch", "batch_in_epoch", "samples_seen"):
            setattr(state, key, int(resume_state["state"][key]))
        if main:
            print(f"[prism_runner] resumed from {resume_from} at step {state.step}", flush=True)

    def save_checkpoint(current: TrainState) -> Path:
        return checkpoints.save({
            "model": method.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": accelerator.scaler.state_dict() if accelerator.scaler is not None else None,
            "state": current.as_dict(), "rng": rng_state(), "identity": identity,
            "mlflow_run_id": tracker.run_id if tracker is not None else None,
            "total_steps": total_steps,
        }, current.step)

    metrics_file = run_dir / "metrics.jsonl"

    def log_metrics(values: Dict[str, float], step: int) -> None:
        """Metrics go to metrics.jsonl in the run folder (for scripts) and to the tracker."""
        with open(metrics_file, "a") as f:
            f.write(json.dumps({"step": step, **values}) + "\n")
        if tracker is not None:
            tracker.log_metrics(values, step)

    def evaluate(target: torch.nn.Module) -> Dict[str, Any]:
        evaluator = experiment.evaluator
        embed = make_embedder(target, experiment.views.eval, source.collate,
                              getattr(evaluator, "batch_size", 256), accelerator.device)
        return evaluator(embed, source)

    def periodic_eval(current: TrainState) -> None:
        result = evaluate(method)
        log_metrics({f"eval/{k}": v for k, v in result["metrics"].items()}, current.step)
        call_hooks(experiment.callbacks, "on_eval", current.step, result["score"],
                   result["metrics"])

    if tracker is not None:
        tracker.wait()  # the store opened while data and model were built; report a bad one now
    call_hooks(experiment.callbacks, "on_train_start",
               {"run_dir": str(run_dir), "total_steps": total_steps, "start_step": state.step,
                "is_main_process": main})
    loop_settings = LoopSettings(
        total_steps=total_steps, global_batch=source.batch_size,
        grad_accum_steps=settings.grad_accum_steps, clip_grad_norm=settings.clip_grad_norm,
        log_every=settings.log_every, checkpoint_every=settings.checkpoint_every,
        progress=settings.progress, eval_every=settings.eval_every,
        nan_policy=settings.nan_policy, max_skipped_batches=settings.max_skipped_batches)
    if main:
        print(f"[prism_runner] training {type(method).__name__} for {total_steps} steps "
              f"({steps_per_epoch} per epoch) on {accelerator.device}, run folder {run_dir}",
              flush=True)
    train_started = time.time()
    state = fit(model=model, method=method, optimizer=optimizer, scheduler=scheduler,
                loader=loader, sampler=sampler, accelerator=accelerator, settings=loop_settings,
                state=state, save_checkpoint=save_checkpoint,
                log_metrics=log_metrics,
                periodic_eval=periodic_eval if experiment.evaluator is not None else None)
    train_time = time.time() - train_started
    if not main:
        return float("nan")

    metrics: Dict[str, float] = {}
    baseline: Dict[str, float] = {}
    if experiment.evaluator is not None:
        result = evaluate(method)
        metrics, score, metric_name = result["metrics"], result["score"], result["metric"]
        call_hooks(experiment.callbacks, "on_eval", state.step, score, metrics)
        if getattr(experiment.evaluator, "baseline", True):
            base = evaluate(initial_method.to(accelerator.device))
            baseline = base["metrics"]
            baseline_score = base["score"]
        else:
            baseline_score = None
    else:
        loss = state.last_metrics.get("loss", float("nan"))
        score, metric_name, baseline_score = -loss, "neg_train_loss", None

    backbone_path = run_dir / "backbone.safetensors"
    encoders = save_backbone(method, backbone_path)
    summary = {
        "name": cfg.name, "score": score, "metric": metric_name,
        "baseline_score": baseline_score, "metrics": metrics, "baseline": baseline,
        "steps": state.step,
        # epochs trained, fractional (state.epoch is the epoch in progress, for resuming)
        "epochs": round(state.step / max(1, steps_per_epoch), 3), "samples_seen": state.samples_seen,
        "train_time_s": train_time, "wall_time_s": time.time() - started,
        "final_loss": state.last_metrics.get("loss"),
        "mlflow_run_id": tracker.run_id, "tracking_uri": getattr(tracker, "uri", None),
        "checkpoint": str(checkpoints.latest()), "backbone": str(backbone_path),
        "encoders": encoders, "run_dir": str(run_dir), "skipped_items": source.skipped,
    }
    write_json(run_dir / "summary.json", summary)
    call_hooks(experiment.callbacks, "on_train_end", summary)
    log_metrics({**{f"eval/{k}": v for k, v in metrics.items()},
                         **{f"eval_random_init/{k}": v for k, v in baseline.items()},
                         "score": score}, state.step)
    tracker.log_artifact(run_dir / "config.yaml")
    tracker.log_artifact(run_dir / "summary.json")
    if getattr(tracker, "log_model", False):
        for path in encoders.values():
            tracker.log_artifact(Path(path))
    if source.skipped:
        print(f"[prism_runner] skipped {len(source.skipped)} unreadable items "
              f"(listed in summary.json): {', '.join(source.skipped[:5])}"
              f"{' ...' if len(source.skipped) > 5 else ''}")
    print_summary(summary, run_dir, getattr(tracker, "uri", None))
    return float(score)
