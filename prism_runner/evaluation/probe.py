"""Linear probe and kNN accuracy on frozen embeddings (vision and audio protocol)."""
from __future__ import annotations

import warnings
from typing import Callable, Optional

import numpy as np

from prism_runner.errors import UserError


def linear_probe_accuracy(train_x, train_y, test_x, test_y, C: float = 1.0,
                          max_iter: int = 2000) -> float:
    """Multinomial logistic regression on standardised features; accuracy on the test split."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(train_x, train_y)
    return float(probe.score(test_x, test_y))


def knn_accuracy(train_x, train_y, test_x, test_y, k: int = 20) -> float:
    """Majority vote of the k nearest training embeddings by cosine similarity."""
    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    sims = unit(test_x) @ unit(train_x).T
    k = min(k, len(train_x))
    nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    votes = train_y[nearest]
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    counts = np.zeros((len(test_x), n_classes))
    np.add.at(counts, (np.arange(len(test_x))[:, None], votes), 1)
    return float((counts.argmax(1) == test_y).mean())


class LinearProbe:
    """Fit a linear probe (and a kNN classifier) on frozen embeddings of ``probe_train``,
    score both on ``probe_test``. The score is the probe accuracy.

    ``embedding`` names the entry to probe when the method embeds several modalities (CLIP's
    ``image`` or ``text``, Wav2CLIP's ``audio``); ``None`` takes its only one."""

    metric = "probe_acc"

    def __init__(self, C: float = 1.0, max_iter: int = 2000, knn_k: int = 20,
                 batch_size: int = 512, baseline: bool = True, embedding: Optional[str] = None):
        self.C, self.max_iter, self.knn_k = C, max_iter, knn_k
        self.embedding = embedding
        self.batch_size, self.baseline = batch_size, baseline

    def __call__(self, embed: Callable, source) -> dict:
        if source.probe_train is None or source.probe_test is None:
            raise UserError("this data set has no labels, so the linear probe cannot run; "
                            "give labelled data or set eval=none")
        train, test = embed(source.probe_train), embed(source.probe_test)
        key = self.pick_embedding(train)
        tx, ty = train[key], train["label"]
        vx, vy = test[key], test["label"]
        if not (np.isfinite(tx).all() and np.isfinite(vx).all()):
            raise UserError("the backbone produced NaN/Inf embeddings; training diverged "
                            "(lower optim.lr or use trainer.mixed_precision=no)")
        acc = linear_probe_accuracy(tx, ty, vx, vy, C=self.C, max_iter=self.max_iter)
        knn = knn_accuracy(tx, ty, vx, vy, k=self.knn_k)
        return {"score": acc, "metric": self.metric,
                "metrics": {"probe_acc": acc, "knn_acc": knn}}

    def pick_embedding(self, embedded: dict) -> str:
        """The key of the embeddings to probe, or a UserError naming the choices."""
        if "label" not in embedded:
            raise UserError("the probe splits have no labels; give labelled data or set eval=none")
        names = sorted(k for k in embedded if k != "label")
        if self.embedding is not None:
            if self.embedding not in names:
                raise UserError(f"eval.embedding={self.embedding} is not one of the method's "
                                f"embeddings: {', '.join(names)}")
            return self.embedding
        if len(names) != 1:
            raise UserError(f"the method embeds {', '.join(names)}: choose the one to probe, "
                            f"e.g. eval.embedding={names[0]}")
        return names[0]
