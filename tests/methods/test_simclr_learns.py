"""SimCLR learns on real images: the default recipe (small CNN, scikit-learn's digits) beats the
same backbone at random init on the held-out probe, with a fixed seed."""
import json

import pytest

from prism_testing import compose
from prism_runner.app import run


@pytest.mark.slow
def test_default_recipe_beats_random_init(tmp_path):
    score = run(compose(["tracking=none", "trainer.progress=false", "seed=0"], run_dir=tmp_path))
    summary = json.loads((tmp_path / "summary.json").read_text())
    trained, baseline = summary["metrics"], summary["baseline"]
    assert score == trained["probe_acc"]
    assert trained["probe_acc"] >= baseline["probe_acc"] + 0.01, summary
    assert trained["knn_acc"] > baseline["knn_acc"], summary
