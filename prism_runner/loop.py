"""The one training loop, for every method and modality.

It asks the method for a loss, steps the optimiser through Accelerate (mixed precision,
data-parallel gradients), and around that: accumulation, clipping, the schedule, hooks,
progress, metrics and checkpoints. Work that needs a host sync (``.item()``) or I/O happens on a
cadence (``log_every``, ``checkpoint_every``), never on every step.
"""
from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional

import torch

from prism_runner.errors import UserError
from prism_runner.loader import to_device


@dataclass
class TrainState:
    """Where training stands; saved in every checkpoint."""

    step: int = 0                # optimizer steps done
    epoch: int = 0
    batch_in_epoch: int = 0      # micro-batches of ``epoch`` already trained on
    samples_seen: int = 0
    last_metrics: Dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return {"step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                "samples_seen": self.samples_seen}


class Interrupted(Exception):
    """Training stopped on a signal after writing a checkpoint."""

    def __init__(self, signal_name: str, step: int, checkpoint):
        super().__init__(f"{signal_name} at step {step}")
        self.signal_name, self.step, self.checkpoint = signal_name, step, checkpoint


class StopSignals:
    """SIGINT/SIGTERM ask the loop to checkpoint and stop at the next step boundary; a second
    SIGINT stops at once."""

    def __init__(self):
        self.received: Optional[str] = None
        self._previous = {}

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = name
        print(f"\n[prism_runner] {name} received: writing a checkpoint, then stopping "
              "(press Ctrl-C again to stop at once)", flush=True)

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


@dataclass
class LoopSettings:
    total_steps: int
    global_batch: int            # samples per micro-batch across all processes
    grad_accum_steps: int = 1
    clip_grad_norm: Optional[float] = None
    log_every: int = 10
    checkpoint_every: int = 200
    progress: bool = True
    eval_every: Optional[int] = None
    nan_policy: str = "stop"     # stop | skip_batch
    max_skipped_batches: int = 10


def fit(*, model: torch.nn.Module, method: torch.nn.Module, optimizer, scheduler, loader,
        sampler, accelerator, settings: LoopSettings, state: TrainState,
        save_checkpoint: Callable[[TrainState], Any],
        log_metrics: Callable[[Dict[str, float], int], None],
        periodic_eval: Optional[Callable[[TrainState], None]] = None) -> TrainState:
    """Train until ``settings.total_steps`` optimizer steps; returns the final state.

    ``model`` is the (possibly DDP-wrapped) module that is called; ``method`` the plain one that
    owns hooks. ``save_checkpoint(state)`` and ``log_metrics(metrics, step)`` are called on
    the main process only, as is ``periodic_eval(state)`` every ``eval_every`` steps.
    """
    from tqdm.auto import tqdm

    main = accelerator.is_main_process
    accum = max(1, settings.grad_accum_steps)
    device = accelerator.device
    on_step_end = getattr(method, "on_step_end", None)
    params = [p for p in model.parameters() if p.requires_grad]
    if sampler.batches_per_epoch < accum:
        raise UserError(f"the training set holds {sampler.size} items, fewer than one optimizer "
                        f"step ({settings.global_batch} x {accum} accumulation): lower "
                        "data.batch_size or trainer.grad_accum_steps")

    bar = tqdm(total=settings.total_steps, initial=state.step, unit="step", dynamic_ncols=True,
               disable=not (main and settings.progress), desc="train")
    sums: Dict[str, torch.Tensor] = {}
    window_steps, window_micro, window_start = 0, 0, time.perf_counter()

    skipped_batches = 0
    dropped_step = False         # a non-finite micro-batch poisons its whole accumulated step

    def all_finite(loss: torch.Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).float()
        if accelerator.num_processes > 1:  # every process must skip the same step
            import torch.distributed as dist

            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        return bool(finite.item())

    def nan_error(terms: Dict[str, float]) -> UserError:
        shown = ", ".join(f"{k}={v:.6g}" for k, v in terms.items())
        return UserError(f"non-finite loss at step {state.step} ({shown}); the last good "
                         "checkpoint is kept. Likely causes: learning rate too high "
                         "(lower optim.lr), fp16 overflow (trainer.mixed_precision=bf16 or "
                         "no), or no gradient clipping (trainer.clip_grad_norm=1.0); "
                         "trainer.nan_policy=skip_batch skips such batches")

    def log_window() -> None:
        nonlocal sums, window_steps, window_micro, window_start
        elapsed = time.perf_counter() - window_start
        names = sorted(sums)
        totals = torch.stack([sums[k].float() for k in names]) if names else torch.zeros(0)
        if accelerator.num_processes > 1:  # log the global mean, not rank 0's share
            totals = accelerator.reduce(totals.to(device), reduction="mean").cpu()
        metrics = {k: float(v) / max(window_micro, 1) for k, v in zip(names, totals.tolist())}
        if not all(math.isfinite(v) for v in metrics.values()):
            raise nan_error(metrics)
        if skipped_batches:
            metrics["skipped_batches"] = skipped_batches
        metrics["lr"] = scheduler.get_last_lr()[0]
        metrics["samples_per_s"] = window_steps * accum * settings.global_batch / max(elapsed, 1e-9)
        metrics["epoch"] = state.epoch
        state.last_metrics = metrics
        if main:
            log_metrics(metrics, state.step)
            bar.set_postfix(loss=f"{metrics['loss']:.4f}",
                            samples_s=f"{metrics['samples_per_s']:.0f}", refresh=False)
            if not settings.progress:  # logs and batch jobs still see how training goes
                terms = " ".join(f"{k}={v:.4g}" for k, v in metrics.items()
                                 if k not in ("lr", "samples_per_s", "epoch"))
                print(f"[prism_runner] step {state.step}/{settings.total_steps} {terms} "
                      f"lr={metrics['lr']:.3g} samples/s={metrics['samples_per_s']:.0f}",
                      flush=True)
        sums, window_steps, window_micro, window_start = {}, 0, 0, time.perf_counter()

    model.train()
    with StopSignals() as signals:
        while state.step < settings.total_steps:
            sampler.set_epoch(state.epoch, start_batch=state.batch_in_epoch)
            optimizer.zero_grad(set_to_none=True)
            micro = 0
            for batch in loader:
                batch = to_device(batch, device)
                micro += 1
                syncing = micro % accum == 0
                skip_sync = model.no_sync if (not syncing and hasattr(model, "no_sync")) else contextlib.nullcontext
                with skip_sync():
                    out = model(batch)
                    loss = out["loss"]
                    accelerator.backward(loss / accum if accum > 1 else loss)
                if settings.nan_policy == "skip_batch" and not all_finite(loss):
                    skipped_batches += 1
                    dropped_step = True
                    if main:
                        bar.write(f"[prism_runner] non-finite loss at step {state.step + 1}: "
                                  f"batch skipped ({skipped_batches} so far)")
                    if skipped_batches > settings.max_skipped_batches:
                        raise nan_error({k: float(v.detach()) for k, v in out.items()
                                         if torch.is_tensor(v) and v.dim() == 0})
                else:
                    window_micro += 1
                    for key, value in out.items():
                        if torch.is_tensor(value) and value.dim() == 0:
                            value = value.detach()
                            sums[key] = sums[key] + value if key in sums else value.float()
                if not syncing:
                    continue
                if dropped_step:  # the gradients hold NaN/Inf: throw the step away
                    optimizer.zero_grad(set_to_none=True)
                    dropped_step = False
                    state.batch_in_epoch += accum
                    continue
                if settings.clip_grad_norm:
                    accelerator.clip_grad_norm_(params, settings.clip_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.step += 1
                state.batch_in_epoch += accum
                state.samples_seen += accum * settings.global_batch
                window_steps += 1
                if on_step_end is not None:
                    on_step_end(state.step, settings.total_steps)
                bar.update(1)
                done = state.step >= settings.total_steps
                if window_steps and (state.step % settings.log_every == 0 or done):
                    log_window()
                if signals.received is not None:
                    path = save_checkpoint(state) if main else None
                    accelerator.wait_for_everyone()
                    bar.close()
                    raise Interrupted(signals.received, state.step, path)
                if periodic_eval is not None and settings.eval_every and not done \
                        and state.step % settings.eval_every == 0:
                    if main:
                        periodic_eval(state)
                        model.train()
                    accelerator.wait_for_everyone()
                if (settings.checkpoint_every and not done
                        and state.step % settings.checkpoint_every == 0):
                    if window_steps:
                        log_window()  # never checkpoint weights that a NaN has reached
                    if main:
                        save_checkpoint(state)
                if done:
                    break
            else:
                state.epoch += 1
                state.batch_in_epoch = 0
                continue
            break
    if window_steps:
        log_window()
    bar.close()
    if skipped_batches and main:
        print(f"[prism_runner] {skipped_batches} batches with a non-finite loss were skipped",
              flush=True)
    if main:
        save_checkpoint(state)
    accelerator.wait_for_everyone()
    return state
