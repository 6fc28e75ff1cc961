"""The InfoGraph/GraphCL SVM protocol: 10-fold CV, C grid, whole labelled set."""
import numpy as np
import pytest

from prism_runner.data.source import DataSource, ListDataset
from prism_runner.errors import UserError
from prism_runner.evaluation.svm import SVMCrossValidation, svm_cv_accuracy


def blobs(n=80, dim=8, shift=2.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, dim)) + shift * y[:, None]
    return x, y


def test_separable_data_scores_high_and_reports_folds():
    x, y = blobs()
    result = svm_cv_accuracy(x, y, folds=10)
    assert result["mean"] > 0.95 and len(result["folds"]) == 10
    assert set(result["C"]) <= {1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0}
    assert result["std"] == pytest.approx(np.std(result["folds"]))


def test_noise_scores_near_chance_and_seed_fixes_folds():
    x, y = blobs(shift=0.0)
    a = svm_cv_accuracy(x, y, folds=5, seed=1)
    assert a["mean"] < 0.7
    assert svm_cv_accuracy(x, y, folds=5, seed=1)["folds"] == a["folds"]


def test_evaluator_contract_reads_the_whole_labelled_set():
    x, y = blobs(n=60)
    items = [{"label": int(label), "i": i} for i, label in enumerate(y)]
    source = DataSource(train=ListDataset(items), probe_train=ListDataset(items))
    seen = []

    def embed(dataset):
        seen.append(len(dataset))
        idx = [it["i"] for it in dataset.items]
        return {"embedding": x[idx], "label": y[idx]}

    out = SVMCrossValidation(folds=5)(embed, source)
    assert seen == [60] and out["metric"] == "svm_acc"
    assert out["score"] == out["metrics"]["svm_acc"] and "svm_acc_std" in out["metrics"]


def test_too_few_per_class_for_the_folds():
    x, y = blobs(n=12)
    with pytest.raises(UserError, match="eval.folds"):
        svm_cv_accuracy(x, y, folds=10)
