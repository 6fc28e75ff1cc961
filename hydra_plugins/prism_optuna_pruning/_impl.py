"""The pruning sweeper's work: a subclass of the stock ``OptunaSweeperImpl``.

It reuses the stock search-space parsing (``params:`` in the override grammar), trial
configuration and result file, and changes three things:

- each trial's overrides also add the ``OptunaPruning`` callback (storage, study, trial number,
  pruner), so the job reports to the study's storage itself;
- a job that raised ``optuna.TrialPruned`` is told to the study as PRUNED, any other failure
  (exception, non-finite score) as FAIL, and the sweep goes on (``max_failure_rate``);
- the storage string may be a file path (JournalStorage) as well as an RDB URL.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Dict, List, Optional, Sequence

import optuna
from hydra.core.utils import JobReturn
from omegaconf import OmegaConf
from optuna.trial import Trial, TrialState

from hydra_plugins.hydra_optuna_sweeper._impl import (
    OptunaSweeperImpl, create_params_from_overrides,
)
from prism_runner.hpo.storage import open_storage

log = logging.getLogger(__name__)

CALLBACK_TARGET = "prism_runner.hpo.pruning.OptunaPruning"


def _quote(value: Any) -> str:
    """A value as an override-grammar literal (strings quoted so paths with odd characters
    survive)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


class OptunaPruningSweeperImpl(OptunaSweeperImpl):
    def __init__(self, *args: Any, pruner: Optional[Dict[str, Any]] = None,
                 callback_name: str = "optuna_pruning", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if OmegaConf.is_config(pruner):
            pruner = OmegaConf.to_container(pruner, resolve=True)
        self.pruner = dict(pruner or {})
        self.callback_name = callback_name
        self.study_name_used: Optional[str] = None
        self.storage_spec: Optional[str] = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        # The jobs need the storage's spelling, not the object Hydra instantiated from
        # {_target_: prism_runner.hpo.storage.open_storage, spec: PATH}.
        node = OmegaConf.select(config, "hydra.sweeper.storage")
        if OmegaConf.is_config(node):
            self.storage_spec = str(node.spec)
        elif node is not None:
            self.storage_spec = str(node)
        if self.storage_spec is None:
            raise ValueError("hydra/sweeper=optuna_pruning needs a storage the trials can open: "
                             "set hydra.sweeper.storage to a file path or a database URL")

    # -- per-trial callback overrides -------------------------------------------------------
    def callback_overrides(self, trial_number: int) -> List[str]:
        prefix = f"++callbacks.{self.callback_name}"
        out = [f"{prefix}._target_={CALLBACK_TARGET}",
               f"{prefix}.storage={_quote(self.storage_spec)}",
               f"{prefix}.study_name={_quote(self.study_name_used)}",
               f"{prefix}.trial_number={int(trial_number)}"]
        out += [f"{prefix}.pruner.{key}={_quote(value)}" for key, value in self.pruner.items()]
        return out

    def _configure_trials(self, trials: List[Trial], search_space_distributions: Dict[str, Any],
                          fixed_params: Dict[str, Any]) -> Sequence[Sequence[str]]:
        overrides = super()._configure_trials(trials, search_space_distributions, fixed_params)
        return [tuple(trial_overrides) + tuple(self.callback_overrides(trial.number))
                for trial_overrides, trial in zip(overrides, trials)]

    # -- results ----------------------------------------------------------------------------
    @staticmethod
    def tell(study: optuna.Study, trial: Trial, ret: JobReturn) -> TrialState:
        """Record one job's outcome; returns the state told."""
        try:
            value = float(ret.return_value)  # re-raises the job's exception
        except optuna.TrialPruned as pruned:
            study.tell(trial, state=TrialState.PRUNED)
            log.info(f"Trial {trial.number} pruned: {pruned}")
            return TrialState.PRUNED
        except Exception as error:  # noqa: BLE001 - any failure of one trial
            study.tell(trial, state=TrialState.FAIL)
            log.warning(f"Trial {trial.number} failed: {type(error).__name__}: {error}")
            return TrialState.FAIL
        if not math.isfinite(value):
            study.tell(trial, state=TrialState.FAIL)
            log.warning(f"Trial {trial.number} failed: non-finite score {value}")
            return TrialState.FAIL
        study.tell(trial, values=[value])
        return TrialState.COMPLETE

    def sweep(self, arguments: List[str]) -> None:
        assert self.config is not None and self.launcher is not None
        if getattr(self.sampler, "func", None) is optuna.samplers.GridSampler:
            raise ValueError("hydra/sweeper=optuna_pruning does not support the grid sampler; "
                             "use hydra/sweeper=optuna")
        self._process_searchspace_config()
        params_conf = self._parse_sweeper_params_config()
        params_conf.extend(arguments)
        distributions, fixed_params = create_params_from_overrides(params_conf)
        if self.search_space_distributions:
            distributions = {**self.search_space_distributions, **distributions}
        for name in fixed_params:
            distributions.pop(name, None)
        directions = self._get_directions()
        if len(directions) != 1:
            raise ValueError("hydra/sweeper=optuna_pruning optimises one objective")

        study = optuna.create_study(study_name=self.study_name,
                                    storage=open_storage(self.storage_spec), sampler=self.sampler,
                                    directions=directions, load_if_exists=True)
        self.study_name_used = study.study_name
        log.info(f"Study name: {study.study_name}")
        log.info(f"Storage: {self.storage_spec}")
        log.info(f"Sampler: {type(self.sampler).__name__}; pruner: {self.pruner}")
        log.info(f"Directions: {directions}")

        n_to_go = self.n_trials
        counts = {state: 0 for state in TrialState}
        while n_to_go > 0:
            batch = min(n_to_go, max(1, self.n_jobs))
            trials = [study.ask() for _ in range(batch)]
            overrides = self._configure_trials(trials, distributions, fixed_params)
            returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            states = [self.tell(study, trial, ret) for trial, ret in zip(trials, returns)]
            for state in states:
                counts[state] += 1
            failed = [ret for ret, state in zip(returns, states) if state == TrialState.FAIL]
            if len(failed) / len(returns) > self.max_failure_rate:
                log.error(f"{len(failed)} of {len(returns)} trials failed "
                          f"(max_failure_rate={self.max_failure_rate})")
                for ret in failed:
                    ret.return_value  # raise the first failure with its traceback
            n_to_go -= batch

        log.info(f"Trials this sweep: {counts[TrialState.COMPLETE]} complete, "
                 f"{counts[TrialState.PRUNED]} pruned, {counts[TrialState.FAIL]} failed")
        completed = [t for t in study.trials if t.state == TrialState.COMPLETE]
        if completed:
            best = study.best_trial
            results: Dict[str, Any] = {"name": "optuna", "best_params": best.params,
                                       "best_value": best.value, "best_trial": best.number}
            log.info(f"Best parameters: {best.params}")
            log.info(f"Best value: {best.value} (trial {best.number})")
        else:
            results = {"name": "optuna", "best_params": None, "best_value": None}
            log.warning("No trial completed; no best parameters")
        results["study_name"] = study.study_name
        results["storage"] = self.storage_spec
        results["n_trials"] = {s.name.lower(): sum(t.state == s for t in study.trials)
                               for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
        OmegaConf.save(OmegaConf.create(results),
                       f"{self.config.hydra.sweep.dir}/optimization_results.yaml")
