"""Report a run's periodic evaluation score to an Optuna trial and stop it when pruned.

The ``optuna_pruning`` sweeper (``hydra/sweeper=optuna_pruning``) adds this callback to every
trial's config as overrides, e.g.::

    ++callbacks.optuna_pruning._target_=prism_runner.hpo.pruning.OptunaPruning
    ++callbacks.optuna_pruning.storage=/shared/outputs/optuna_journal.log
    ++callbacks.optuna_pruning.study_name=simclr
    ++callbacks.optuna_pruning.trial_number=3
    ++callbacks.optuna_pruning.pruner.type=median
    ++callbacks.optuna_pruning.pruner.n_startup_trials=2

so it works in-process (local launcher) and in a SLURM job alike: the job opens the study's
storage itself, reports ``score`` at each ``trainer.eval_every`` evaluation and raises
``optuna.TrialPruned`` when the pruner says so; the exception leaves ``run()`` unchanged and the
sweeper records the trial as PRUNED. The pruner lives in the job (Optuna does not store pruners
with the study), so its settings travel with the overrides.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional


PRUNERS = {
    "median": "optuna.pruners.MedianPruner",
    "percentile": "optuna.pruners.PercentilePruner",
    "successive_halving": "optuna.pruners.SuccessiveHalvingPruner",
    "hyperband": "optuna.pruners.HyperbandPruner",
    "threshold": "optuna.pruners.ThresholdPruner",
    "patient": "optuna.pruners.PatientPruner",
    "nop": "optuna.pruners.NopPruner",
}


def build_pruner(spec: Optional[Mapping[str, Any]]):
    """``{type: median | percentile | ... | a dotted class path, **constructor arguments}``."""
    import importlib

    spec = dict(spec or {})
    kind = str(spec.pop("type", None) or spec.pop("_target_", None) or "median")
    target = PRUNERS.get(kind, kind)
    module, _, name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(f"unknown pruner type {kind!r}; use one of {', '.join(PRUNERS)} or a "
                         "dotted class path") from None
    return cls(**spec)


class OptunaPruning:
    """Callback: ``on_eval`` reports to trial ``trial_number`` of ``study_name`` in ``storage``.

    Args:
        storage: a path (Optuna JournalStorage, file backend) or an RDB URL (see hpo.storage).
        study_name: the study the sweeper created.
        trial_number: the trial's number in that study (the sweeper's ``study.ask()``).
        pruner: ``{type: median, n_startup_trials: 2, ...}`` (see :func:`build_pruner`).
        prune_final: also prune on the evaluation after the last step (default: report only).
    """

    def __init__(self, storage: str, study_name: str, trial_number: int,
                 pruner: Optional[Mapping[str, Any]] = None, prune_final: bool = False):
        import optuna

        from prism_runner.hpo.storage import open_storage

        self.storage_spec, self.study_name = storage, study_name
        self.trial_number = int(trial_number)
        self.prune_final = prune_final
        study = optuna.load_study(study_name=study_name, storage=open_storage(storage),
                                  pruner=build_pruner(pruner))
        trial_id = study._storage.get_trial_id_from_study_id_trial_number(
            study._study_id, self.trial_number)
        self.trial = optuna.trial.Trial(study, trial_id)
        self.total_steps: Optional[int] = None
        self.main = True
        self.reported: Dict[int, float] = {}

    def on_train_start(self, info: Dict[str, Any]) -> None:
        self.total_steps = info.get("total_steps")
        self.main = bool(info.get("is_main_process", True))

    def on_eval(self, step: int, score: float, metrics: Dict[str, Any]) -> None:
        import optuna

        if not self.main or score is None or not math.isfinite(float(score)):
            return
        if step in self.reported:  # a resumed run re-evaluating a step it already reported
            return
        self.trial.report(float(score), step)
        self.reported[step] = float(score)
        final = self.total_steps is not None and step >= self.total_steps
        if final and not self.prune_final:
            return
        if self.trial.should_prune():
            print(f"[prism_runner] optuna trial {self.trial_number} pruned at step {step} "
                  f"(score {score:.4f})", flush=True)
            pruned = optuna.TrialPruned(f"pruned at step {step} with score {score:.4f}")
            pruned.run_status = "KILLED"  # the runner marks the MLflow run KILLED, not FAILED
            raise pruned
