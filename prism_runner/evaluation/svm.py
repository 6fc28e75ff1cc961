"""The graph-level evaluation protocol of InfoGraph (Sun et al., ICLR 2020) and GraphCL (You et al.,
NeurIPS 2020): an SVM on frozen graph embeddings of the whole labelled data set, scored by
10-fold stratified cross-validation, with C chosen in {1e-3, ..., 1e3} by an inner 5-fold grid
search on each training fold. The score is the mean test-fold accuracy; its std over folds is
reported too.

Reads ``source.probe_train`` (the whole labelled set; the TU data factory puts every graph there
and leaves ``probe_test`` None). When a source also has ``probe_test``, the two are joined.
"""
from __future__ import annotations

import warnings
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from prism_runner.errors import UserError

C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)


def svm_cv_accuracy(x: np.ndarray, y: np.ndarray, *, folds: int = 10, inner_folds: int = 5,
                    C_grid: Sequence[float] = C_GRID, kernel: str = "rbf",
                    standardize: bool = False, seed: int = 0) -> Dict[str, object]:
    """Per-fold accuracies of the protocol -> {"mean", "std", "folds", "C"} (C chosen per fold).

    ``seed`` fixes the outer fold assignment (shuffled StratifiedKFold), so a trained and a
    random-init encoder are scored on the same folds.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        raise UserError("the SVM evaluation needs at least two classes in the labelled set")
    if counts.min() < folds:
        raise UserError(f"the smallest class has {counts.min()} graphs, fewer than "
                        f"eval.folds={folds}; lower eval.folds")
    outer = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    accuracies, chosen = [], []
    for train_idx, test_idx in outer.split(x, y):
        svc = SVC(kernel=kernel)
        model = make_pipeline(StandardScaler(), svc) if standardize else svc
        key = "svc__C" if standardize else "C"
        search = GridSearchCV(model, {key: list(C_grid)}, cv=inner_folds, scoring="accuracy")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(x[train_idx], y[train_idx])
        accuracies.append(float(search.score(x[test_idx], y[test_idx])))
        chosen.append(float(search.best_params_[key]))
    acc = np.asarray(accuracies)
    return {"mean": float(acc.mean()), "std": float(acc.std()), "folds": accuracies, "C": chosen}


class SVMCrossValidation:
    """Evaluator for ``conf/eval/svm_cv.yaml``: ``(embed, source) -> {"score", "metric",
    "metrics"}`` with metrics ``svm_acc`` (mean over folds) and ``svm_acc_std``."""

    metric = "svm_acc"

    def __init__(self, folds: int = 10, inner_folds: int = 5,
                 C_grid: Optional[Sequence[float]] = None, kernel: str = "rbf",
                 standardize: bool = False, seed: int = 0, batch_size: int = 512,
                 baseline: bool = True):
        self.folds, self.inner_folds = int(folds), int(inner_folds)
        self.C_grid = tuple(float(c) for c in (C_grid or C_GRID))
        self.kernel, self.standardize, self.seed = kernel, bool(standardize), int(seed)
        self.batch_size, self.baseline = int(batch_size), bool(baseline)

    def __call__(self, embed: Callable, source) -> dict:
        if source.probe_train is None:
            raise UserError("this data set has no labels, so the SVM evaluation cannot run; "
                            "give labelled data or set eval=none")
        parts = [embed(source.probe_train)]
        if source.probe_test is not None:
            parts.append(embed(source.probe_test))
        x = np.concatenate([p["embedding"] for p in parts])
        y = np.concatenate([p["label"] for p in parts])
        if not np.isfinite(x).all():
            raise UserError("the backbone produced NaN/Inf embeddings; training diverged "
                            "(lower optim.lr or use trainer.mixed_precision=no)")
        result = svm_cv_accuracy(x, y, folds=self.folds, inner_folds=self.inner_folds,
                                 C_grid=self.C_grid, kernel=self.kernel,
                                 standardize=self.standardize, seed=self.seed)
        return {"score": result["mean"], "metric": self.metric,
                "metrics": {"svm_acc": result["mean"], "svm_acc_std": result["std"]}}
