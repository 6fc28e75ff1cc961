"""Bad data through the command line, with real files: a corrupt or empty wav and a truncated
PNG are named (data.on_error=raise), or dropped and counted (skip); a data set that shrinks below
one batch is an error, not a silent zero-step run. Per-format details: tests/audio, tests/graphs,
tests/crossmodal, tests/data."""
import shutil

import numpy as np
from PIL import Image

from prism_testing import REPO, TINY, run_cli

FSDD = REPO / "data" / "fsdd" / "recordings"


def _audio_folder(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ["0_george_0.wav", "1_george_0.wav", "0_lucas_0.wav", "1_lucas_0.wav"]:
        shutil.copy(FSDD / name, folder / name)
    (folder / "2_george_1.wav").write_bytes((FSDD / "2_george_1.wav").read_bytes()[:30])
    (folder / "2_lucas_1.wav").write_bytes(b"")
    return folder


def test_corrupt_and_empty_audio_are_named(tmp_path):
    folder = _audio_folder(tmp_path)
    result = run_cli(["+recipe=wav2vec2", "data=audio_folder", f"data.root={folder}",
                      "data.pattern='(?P<label>\\d)_(?P<speaker>[a-z]+)_\\d+'", *TINY],
                     cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "2_george_1.wav" in result.stderr or "2_lucas_1.wav" in result.stderr


def test_skipping_below_one_batch_is_an_error(tmp_path):
    folder = _audio_folder(tmp_path)
    result = run_cli(["+recipe=wav2vec2", "data=audio_folder", f"data.root={folder}",
                      "data.pattern='(?P<label>\\d)_(?P<speaker>[a-z]+)_\\d+'",
                      "data.on_error=skip", "data.batch_size=8", *TINY], cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "fewer than one batch" in result.stderr


def test_skipped_images_are_counted_and_listed(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder = tmp_path / "imgs"
    for i in range(80):
        cls = folder / str(digits.target[i])
        cls.mkdir(parents=True, exist_ok=True)
        Image.fromarray((digits.images[i] * 15).astype(np.uint8)).save(cls / f"{i}.png")
    good = (folder / "0" / "0.png").read_bytes()
    (folder / "0" / "truncated.png").write_bytes(good[: len(good) // 3])
    args = ["data=image_folder", f"data.root={folder}", "data.channels=1", "data.image_size=8",
            "data.mean=[0.5]", "data.std=[0.5]", "data.batch_size=16", "trainer.max_steps=2",
            "eval=none", "tracking=none", "trainer.progress=false"]
    failed = run_cli(args, cwd=tmp_path)
    assert failed.returncode == 2 and "truncated.png" in failed.stderr
    assert "data.on_error=skip" in failed.stderr
    skipped = run_cli(args + ["data.on_error=skip", "hydra.run.dir=run"], cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert "skipped 1 unreadable items" in skipped.stdout and "truncated.png" in skipped.stdout
