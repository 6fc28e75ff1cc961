"""``hydra/sweeper=optuna_pruning``: the stock Optuna sweeper (hydra-optuna-sweeper) extended
with pruning on the run's periodic evaluation score.

Every trial gets the ``prism_runner.hpo.pruning.OptunaPruning`` callback as config overrides
(storage, study name, trial number, pruner settings): the job, in-process or a SLURM array
task, reports each ``trainer.eval_every`` score to the study's storage and raises
``optuna.TrialPruned`` when the pruner says so; this sweeper records such a trial as PRUNED,
records a failing trial (an exception, a non-finite score) as FAIL and goes on.

The default storage is a path, i.e. Optuna's JournalStorage with a file backend, which works on
a shared file system without a database server.

Imported during Hydra's plugin scan: optuna loads only when the sweeper is instantiated.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper


def _default_pruner() -> Dict[str, Any]:
    # `type`, not `_target_`: Hydra would instantiate a `_target_` node in the driver, but the
    # pruner is built in each trial's process (Optuna does not store pruners with a study).
    return {"type": "median", "n_startup_trials": 2, "n_warmup_steps": 0, "interval_steps": 1}


def _default_storage() -> Dict[str, Any]:
    return {"_target_": "prism_runner.hpo.storage.open_storage",
            "spec": "${paths.output_root}/optuna/journal.log"}


@dataclass
class OptunaPruningSweeperConf(OptunaSweeperConf):
    _target_: str = (
        "hydra_plugins.prism_optuna_pruning.pruning_sweeper.OptunaPruningSweeper"
    )
    # spec: a file path (Optuna JournalStorage; suits NFS/Lustre and many SLURM jobs) or a
    # database URL (sqlite:///..., postgresql://...). A plain string works too.
    storage: Optional[Any] = field(default_factory=_default_storage)
    study_name: Optional[str] = "${name}"
    direction: Any = "maximize"
    n_jobs: int = 1
    # A failed trial is recorded as FAIL; the sweep goes on while the failed share stays <= this.
    max_failure_rate: float = 1.0
    # Pruner built in each trial: type = median | percentile | successive_halving | hyperband |
    # nop | a dotted class path; the other keys are its constructor arguments.
    pruner: Dict[str, Any] = field(default_factory=_default_pruner)
    # Key under `callbacks:` the reporting callback is added as.
    callback_name: str = "optuna_pruning"


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="optuna_pruning",
    node=OptunaPruningSweeperConf,
    provider="prism_optuna_pruning",
)


class OptunaPruningSweeper(OptunaSweeper):
    """The stock ``OptunaSweeper`` with :class:`OptunaPruningSweeperImpl` inside."""

    def __init__(self, sampler: Any, direction: Any, storage: Optional[Any],
                 study_name: Optional[str], n_trials: int, n_jobs: int, max_failure_rate: float,
                 search_space: Optional[Any], custom_search_space: Optional[str],
                 params: Optional[Any], pruner: Optional[Dict[str, Any]] = None,
                 callback_name: str = "optuna_pruning") -> None:
        from ._impl import OptunaPruningSweeperImpl

        self.sweeper = OptunaPruningSweeperImpl(
            sampler, direction, storage, study_name, n_trials, n_jobs, max_failure_rate,
            search_space, custom_search_space, params,
            pruner=pruner, callback_name=callback_name,
        )
