"""Optuna sweeps through the stock Hydra sweeper: persisted study, resume, failing trials."""
from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from scale_helpers import FAST, NO_EVAL, check, run_module


def load_study(output_root: Path, name: str):
    import optuna

    from prism_runner.hpo.storage import open_storage

    return optuna.load_study(study_name=name,
                             storage=open_storage(str(output_root / "optuna" / "journal.log")))


def test_search_spaces_compose_for_every_recipe():
    """Every shipped recipe has a search space whose keys exist in its composed config."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    import prism_runner  # noqa: F401

    from scale_helpers import REPO

    recipes = sorted(p.stem for p in (REPO / "recipes").glob("*.yaml"))
    spaces = {p.stem for p in (REPO / "conf" / "hparams_search").glob("*.yaml")}
    assert {"default_optuna", "simclr_optuna"} <= spaces
    missing = [r for r in recipes if f"{r}_optuna" not in spaces]
    assert not missing, f"recipes without conf/hparams_search/<recipe>_optuna.yaml: {missing}"
    cases = [("default_optuna", [])] + [(f"{r}_optuna", [f"+recipe={r}"]) for r in recipes]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        for space, extra in cases:
            cfg = compose(config_name="config", return_hydra_config=True,
                          overrides=[*extra, f"hparams_search={space}"])
            sweeper = cfg.hydra.sweeper
            assert sweeper._target_.endswith("OptunaSweeper"), space
            assert sweeper.direction == "maximize", space
            assert sweeper.sampler.seed is not None and sweeper.sampler.n_startup_trials <= 5
            assert sweeper.max_failure_rate == 1.0
            assert sweeper.storage.spec.endswith(".log") or "://" in sweeper.storage.spec
            params = [f"{k}={v}" for k, v in sweeper.params.items()]
            assert params, space
            for override in OverridesParser.create().parse_overrides(params):
                key = override.key_or_group
                assert OmegaConf.select(cfg, key, default="__missing__") != "__missing__", \
                    f"{space}: {key} is not in the composed config of {extra or 'default'}"


def test_sweep_persists_resumes_and_survives_failures(tmp_path):
    """3 trials (one fails), then the same command adds a trial to the same study."""
    fast = [a for a in FAST if not a.startswith("trainer.max_steps=")]
    args = ["-m", "hparams_search=default_optuna", *fast, *NO_EVAL,
            "hydra.sweeper.study_name=persist",
            # only optim.lr is searched; max_steps=-1 makes a trial fail (a UserError)
            "hydra.sweeper.params=null", "optim.lr=tag(log, interval(1e-4, 1e-2))",
            "trainer.max_steps=choice(2, -1)"]
    first = check(run_module("prism_runner", [*args, "hydra.sweeper.n_trials=3"], tmp_path))
    assert "Best parameters" in first.stderr + first.stdout
    study = load_study(tmp_path / "outputs", "persist")
    states = [t.state.name for t in study.trials]
    assert len(states) == 3
    assert "COMPLETE" in states and "FAIL" in states, states

    check(run_module("prism_runner", [*args, "hydra.sweeper.n_trials=1"], tmp_path))
    study = load_study(tmp_path / "outputs", "persist")
    assert len(study.trials) == 4
    sweeps = sorted((tmp_path / "outputs" / "multiruns" / "default").iterdir())
    assert len(sweeps) == 2
    for sweep in sweeps:
        results = OmegaConf.load(sweep / "optimization_results.yaml")
        assert "optim.lr" in results.best_params
        assert results.best_value == study.best_value or sweep == sweeps[0]
