"""Config mistakes stop before any data is read, with one line naming the key and the fix."""
import pytest

from prism_testing import compose
from prism_runner.app import run
from prism_runner.errors import UserError


@pytest.mark.parametrize("overrides, expected", [
    (["+data.batchsize=3"], "unknown key data.batchsize .*did you mean data.batch_size"),
    (["+method.temprature=0.1"], "did you mean method.temperature"),
    (["+optim.learning_rate=0.1"], "unknown key optim.learning_rate"),
    (["+trainer.max_step=3"], "unknown key trainer.max_step; did you mean trainer.max_steps"),
    (["trainer.log_every=often"], "trainer.log_every must be int"),
    (["trainer.mixed_precision=fp8"], "trainer.mixed_precision must be no, bf16 or fp16"),
    (["trainer.nan_policy=ignore"], "trainer.nan_policy must be stop or skip_batch"),
    (["trainer.max_steps=null", "trainer.max_epochs=null"], "set trainer.max_epochs or trainer.max_steps"),
    (["backbone._modality_=graph"], "backbone=.* is for graph data, but data is image"),
    (["views._provides_=one_view"], "needs views that give two_views"),
    (["+recipe=graphcl", "backbone=small_cnn"], "is for image data, but data is graph"),
    (["+recipe=graphcl", "views=image_simclr"], "views=.* is for image data, but data is graph"),
    (["method._target_=no.such.Method"], "cannot build method \\(no.such.Method\\)"),
])
def test_config_mistake_is_one_clear_error(overrides, expected, tmp_path):
    cfg = compose(["tracking=none", *overrides], run_dir=tmp_path)
    with pytest.raises(UserError, match=expected):
        run(cfg)
    assert not (tmp_path / "checkpoints").exists()
