"""GraphCL through prism_runner.app.run on composed configs: a fast smoke run and the slow
learning test (GraphCL beats the same GIN at random init under the SVM protocol)."""
import json

import pytest
from hydra import compose, initialize_config_dir

from prism_runner import resolvers  # noqa: F401  (registers ${prism.*} resolvers)
from prism_runner.app import run

from graph_helpers import CONF_DIR


def compose_recipe(recipe, tmp_path, *overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose("config", overrides=[f"+recipe={recipe}", "tracking=none",
                                            f"+run_dir={tmp_path / 'run'}",
                                            "trainer.progress=false", *overrides])


def test_recipe_composes_with_the_graph_groups(tmp_path):
    cfg = compose_recipe("graphcl", tmp_path)
    assert cfg.data.name == "MUTAG" and cfg.backbone.in_features == 7
    assert cfg.eval._target_.endswith("SVMCrossValidation")
    cfg = compose_recipe("graphcl_proteins", tmp_path)
    assert cfg.data.name == "PROTEINS" and cfg.backbone.in_features == 3


def test_smoke_run_mutag_with_lazy_input_layer(tmp_path):
    """Two steps and a small CV through app.run; data.num_features=null lets the GIN infer its
    input width (the optimizer is built before the first forward)."""
    cfg = compose_recipe("graphcl", tmp_path, "data.num_features=null", "trainer.max_steps=2",
                         "eval.folds=3", "eval.inner_folds=2")
    score = run(cfg)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["metric"] == "svm_acc" and 0.5 < score <= 1.0
    assert summary["steps"] == 2 and summary["baseline_score"] is not None
    from safetensors.torch import load_file

    weights = load_file(str(tmp_path / "run" / "backbone.safetensors"))
    assert weights["convs.0.nn.0.weight"].shape == (32, 7)


@pytest.mark.slow
def test_graphcl_beats_random_init_gin_on_proteins(tmp_path):
    """PROTEINS, seed 0, the shipped recipe (20 epochs, 160 steps) through app.run. Random-init
    GIN is strong under the SVM protocol (~74% on PROTEINS, ~85-87% on MUTAG), so the test uses
    PROTEINS (1,113 graphs: fold noise is a third of MUTAG's) and scores trained and random-init
    on the same 10 folds: GraphCL must be within 3 points of the published 74.39 and beat the
    random-init GIN by MARGIN. Measured: 0.7520 vs 0.7413."""
    cfg = compose_recipe("graphcl_proteins", tmp_path, "seed=0")
    score = run(cfg)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    base = summary["baseline_score"]
    print(f"PROTEINS svm_acc: GraphCL {score:.4f}, random init {base:.4f}")
    assert score >= 0.7139, summary["metrics"]
    assert score - base >= MARGIN, (score, base)


MARGIN = 0.008
