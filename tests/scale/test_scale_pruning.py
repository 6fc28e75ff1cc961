"""Median pruning: the callback (unit), the sweeper's bookkeeping (unit) and a pruned sweep."""
from __future__ import annotations

import math

import pytest

from scale_helpers import EVAL, FAST, check, run_module


@pytest.fixture
def study_in(tmp_path):
    import optuna

    from prism_runner.hpo.storage import open_storage

    spec = str(tmp_path / "journal.log")
    study = optuna.create_study(study_name="s", storage=open_storage(spec), direction="maximize")
    return study, spec


def test_callback_reports_and_prunes_below_median(study_in):
    import optuna

    from prism_runner.hpo.pruning import OptunaPruning

    study, spec = study_in
    pruner = {"type": "median", "n_startup_trials": 2, "n_warmup_steps": 0}
    for good in (0.8, 0.9):  # two finished trials with high intermediate scores
        trial = study.ask()
        callback = OptunaPruning(spec, "s", trial.number, pruner)
        callback.on_train_start({"total_steps": 10, "is_main_process": True})
        callback.on_eval(5, good, {})
        callback.on_eval(10, good, {})
        study.tell(trial, good)

    trial = study.ask()
    callback = OptunaPruning(spec, "s", trial.number, pruner)
    callback.on_train_start({"total_steps": 10, "is_main_process": True})
    with pytest.raises(optuna.TrialPruned):
        callback.on_eval(5, 0.1, {})
    reloaded = optuna.load_study(study_name="s", storage=callback.trial.study._storage)
    assert reloaded.trials[trial.number].intermediate_values == {5: 0.1}

    # the evaluation after the last step is reported, not pruned; non-main ranks do nothing
    trial = study.ask()
    callback = OptunaPruning(spec, "s", trial.number, pruner)
    callback.on_train_start({"total_steps": 10, "is_main_process": True})
    callback.on_eval(10, 0.1, {})
    other = OptunaPruning(spec, "s", trial.number, pruner)
    other.on_train_start({"total_steps": 10, "is_main_process": False})
    other.on_eval(5, 0.0, {})
    assert reloaded.trials[trial.number].intermediate_values == {10: 0.1}


def test_pruner_types():
    from prism_runner.hpo.pruning import build_pruner

    assert type(build_pruner(None)).__name__ == "MedianPruner"
    assert type(build_pruner({"type": "threshold", "upper": 1.0})).__name__ == "ThresholdPruner"
    assert type(build_pruner({"type": "optuna.pruners.NopPruner"})).__name__ == "NopPruner"
    with pytest.raises(ValueError, match="unknown pruner"):
        build_pruner({"type": "bogus"})


def test_sweeper_tells_pruned_failed_and_nonfinite(study_in):
    import optuna
    from hydra.core.utils import JobReturn, JobStatus
    from optuna.trial import TrialState

    from hydra_plugins.prism_optuna_pruning._impl import OptunaPruningSweeperImpl

    study, _ = study_in

    def job(value, status=JobStatus.COMPLETED):
        ret = JobReturn()
        ret.status, ret._return_value = status, value
        return ret

    outcomes = [job(0.5), job(optuna.TrialPruned("x"), JobStatus.FAILED),
                job(RuntimeError("boom"), JobStatus.FAILED), job(math.nan)]
    told = [OptunaPruningSweeperImpl.tell(study, study.ask(), ret) for ret in outcomes]
    assert told == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.FAIL]
    assert [t.state for t in study.trials] == told


def test_callback_overrides_parse(tmp_path):
    """The per-trial overrides survive Hydra's override grammar, odd paths included."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hydra_plugins.prism_optuna_pruning._impl import OptunaPruningSweeperImpl

    impl = OptunaPruningSweeperImpl.__new__(OptunaPruningSweeperImpl)
    impl.callback_name, impl.study_name_used = "optuna_pruning", "my study"
    impl.storage_spec = str(tmp_path / "a dir" / "it's.log")
    impl.pruner = {"type": "median", "n_startup_trials": 2}
    parsed = OverridesParser.create().parse_overrides(impl.callback_overrides(7))
    values = {o.key_or_group: o.value() for o in parsed}
    assert values["callbacks.optuna_pruning.storage"] == impl.storage_spec
    assert values["callbacks.optuna_pruning.study_name"] == "my study"
    assert values["callbacks.optuna_pruning.trial_number"] == 7
    assert values["callbacks.optuna_pruning.pruner.n_startup_trials"] == 2


def test_pruning_sweep_end_to_end(tmp_path):
    """hydra/sweeper=optuna_pruning: trials report eval scores to the journal and get pruned."""
    import optuna

    from prism_runner.hpo.storage import open_storage

    proc = check(run_module("prism_runner", [
        "-m", "hydra/sweeper=optuna_pruning", "hydra.sweeper.n_trials=2",
        "hydra.sweeper.study_name=prune", "optim.lr=tag(log, interval(1e-4, 1e-2))",
        # a pruner that prunes every reported score: deterministic for the test
        "hydra.sweeper.pruner.type=threshold", "~hydra.sweeper.pruner.n_startup_trials",
        "+hydra.sweeper.pruner.upper=0.0",
        *[a for a in FAST if not a.startswith("trainer.max_steps")], *EVAL,
        "trainer.max_steps=4", "trainer.eval_every=2"], tmp_path))
    assert "pruned at step 2" in proc.stdout
    storage = open_storage(str(tmp_path / "outputs" / "optuna" / "journal.log"))
    study = optuna.load_study(study_name="prune", storage=storage)
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]
    assert all(list(t.intermediate_values) == [2] for t in study.trials)
    (sweep,) = (tmp_path / "outputs" / "multiruns" / "default").iterdir()
    assert "pruned: 2" in (sweep / "optimization_results.yaml").read_text()


@pytest.mark.slow
def test_pruning_sweep_under_submitit_local(tmp_path):
    """Two trials at once in separate processes report to the same journal file."""
    import optuna

    from prism_runner.hpo.storage import open_storage

    check(run_module("prism_runner", [
        "-m", "hydra/launcher=local", "hydra/sweeper=optuna_pruning",
        "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2", "hydra.sweeper.study_name=loc",
        "optim.lr=tag(log, interval(1e-4, 1e-2))", "hydra.sweeper.pruner.type=threshold",
        "~hydra.sweeper.pruner.n_startup_trials", "+hydra.sweeper.pruner.upper=0.0",
        *[a for a in FAST if not a.startswith("trainer.max_steps")], *EVAL,
        "trainer.max_steps=4", "trainer.eval_every=2"], tmp_path))
    storage = open_storage(str(tmp_path / "outputs" / "optuna" / "journal.log"))
    study = optuna.load_study(study_name="loc", storage=storage)
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]
