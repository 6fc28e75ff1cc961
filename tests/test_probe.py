"""The linear probe and kNN evaluators on frozen embeddings, including methods that embed
several modalities (CLIP, Wav2CLIP) and pick one with ``eval.embedding``."""
from __future__ import annotations

import numpy as np
import pytest

from prism_runner.data.source import DataSource
from prism_runner.errors import UserError
from prism_runner.evaluation.probe import LinearProbe, knn_accuracy, linear_probe_accuracy


def blobs(n: int, seed: int, dim: int = 8, spread: float = 0.3):
    """Three Gaussian classes around fixed centres: separable, so a working probe is near 1."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(size=(3, dim))
    y = rng.integers(0, 3, n)
    return centres[y] + spread * rng.normal(size=(n, dim)), y


def test_probe_and_knn_separate_blobs_and_fail_on_noise():
    tx, ty = blobs(300, 0)
    vx, vy = blobs(100, 1)
    assert linear_probe_accuracy(tx, ty, vx, vy) > 0.95
    assert knn_accuracy(tx, ty, vx, vy, k=5) > 0.95
    noise = np.random.default_rng(2).normal(size=vx.shape)
    assert linear_probe_accuracy(tx, ty, noise, vy) < 0.6   # labels unrelated to features


def fake_source():
    return DataSource(train=[0], probe_train=["train"], probe_test=["test"])


def dict_embedder(informative: str):
    """An embed(dataset) that returns two modalities; only ``informative`` carries the label."""
    def embed(split):
        x, y = blobs(300 if split == ["train"] else 100, 0 if split == ["train"] else 1)
        noise = np.random.default_rng(3).normal(size=x.shape)
        other = "text" if informative == "image" else "image"
        return {informative: x, other: noise, "label": y}
    return embed


def test_probe_picks_the_named_embedding():
    result = LinearProbe(embedding="image")(dict_embedder("image"), fake_source())
    assert result["metrics"]["probe_acc"] > 0.95
    result = LinearProbe(embedding="text")(dict_embedder("image"), fake_source())
    assert result["metrics"]["probe_acc"] < 0.6


def test_probe_asks_which_embedding_when_there_are_several():
    with pytest.raises(UserError, match="eval.embedding=image"):
        LinearProbe()(dict_embedder("image"), fake_source())
    with pytest.raises(UserError, match="audio.*not one of.*image, text"):
        LinearProbe(embedding="audio")(dict_embedder("image"), fake_source())


def test_probe_without_labels_is_a_user_error():
    with pytest.raises(UserError, match="no labels"):
        LinearProbe()(lambda split: {"embedding": np.zeros((4, 2))}, fake_source())
