"""Cross-modal evaluation on held-out pairs: zero-shot classification through the other
modality, and retrieval recall@k in both directions.

``embed(dataset)`` must return one array per modality (the method's ``embed`` returns a dict,
e.g. ``{"image": .., "text": ..}``) plus ``label``. Everything is scored on ``source.probe_test``,
pairs never trained on:

- **zero-shot by prompts** (``zeroshot_prompt_acc``; when the candidate modality is text and the
  data set has class names): each class is described by a text prompt,
  ``prompt_template.format(class name)`` (or ``prompts[class name]`` when given); a query is
  assigned the class whose prompt embedding is nearest (cosine).
- **zero-shot by prototypes** (``zeroshot_proto_acc``): each class is the mean of the candidate
  modality's embeddings of the *training* pairs of that class (e.g. the mean MNIST image
  embedding of digit 3); a held-out query goes to the nearest prototype. No query-modality label
  is used, so the classifier is built entirely through the other modality.
- **retrieval** (``<query>_to_<cand>_r@k`` and back): among all held-out items of the other
  modality, a hit is the item's own partner (``match: pair``) or any item of the same label
  (``match: label``, for data paired by class such as spoken digit <-> digit image).
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from prism_runner.data.source import ListDataset
from prism_runner.errors import UserError


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def recall_at_k(sims: np.ndarray, relevant: np.ndarray, ks: Sequence[int]) -> dict:
    """Share of queries (rows of ``sims``) with a relevant candidate among their top k.

    ``relevant`` is a boolean (queries, candidates) matrix.
    """
    order = np.argsort(-sims, axis=1, kind="stable")
    hits = np.take_along_axis(relevant, order, axis=1)
    return {k: float(hits[:, :min(k, hits.shape[1])].any(axis=1).mean()) for k in ks}


def nearest_class(queries: np.ndarray, class_vectors: np.ndarray) -> np.ndarray:
    return np.argmax(_unit(queries) @ _unit(class_vectors).T, axis=1)


class ZeroShotRetrieval:
    """Zero-shot accuracy and retrieval recall@k between two modalities on held-out pairs.

    Args:
        query: the modality classified and used as the first retrieval direction (``image``).
        candidates: the other modality (``text``), which supplies the class descriptions.
        match: ``pair`` (a hit is the item's own partner) or ``label`` (any item of its class).
        prompt_template: how a class name becomes a text prompt, e.g. ``"a {} emoji"``.
        prompts: optional class name -> prompt text, overriding the template for those classes.
        ks: the k of recall@k.
        score: the metric returned as the run's score (a key of ``metrics``).
        batch_size: embedding batch size. baseline: also score the random-init copy.
    """

    def __init__(self, query: str = "image", candidates: str = "text", match: str = "pair",
                 prompt_template: str = "{}", prompts: Optional[Mapping[str, str]] = None,
                 ks: Sequence[int] = (1, 5), score: str = "zeroshot_prompt_acc",
                 batch_size: int = 256, baseline: bool = True):
        if match not in ("pair", "label"):
            raise UserError(f"eval.match must be pair or label, got {match!r}")
        self.query, self.candidates, self.match = query, candidates, match
        self.prompt_template, self.prompts = prompt_template, dict(prompts or {})
        self.ks = tuple(int(k) for k in ks)
        self.metric, self.batch_size, self.baseline = score, batch_size, baseline

    def _check(self, out: dict, what: str) -> None:
        for key in (self.query, self.candidates):
            if key not in out:
                raise UserError(f"eval: the method's embeddings of {what} hold {sorted(out)}, not "
                                f"{key!r}; set eval.query/eval.candidates to the method's "
                                "modalities (the method's embed must return a dict)")
            if not np.isfinite(out[key]).all():
                raise UserError("the method produced NaN/Inf embeddings; training diverged "
                                "(lower optim.lr or use trainer.clip_grad_norm=1.0)")

    def __call__(self, embed: Callable, source) -> dict:
        if source.probe_test is None:
            raise UserError("zero-shot evaluation needs held-out pairs (data with probe_test)")
        test = embed(source.probe_test)
        self._check(test, "the held-out pairs")
        q, c = _unit(test[self.query]), _unit(test[self.candidates])
        labels = test.get("label")
        metrics = {}

        if self.match == "pair":
            relevant = np.eye(len(q), dtype=bool)
        else:
            if labels is None:
                raise UserError("eval.match=label needs labelled pairs (data.label)")
            relevant = labels[:, None] == labels[None, :]
        sims = q @ c.T
        for k, v in recall_at_k(sims, relevant, self.ks).items():
            metrics[f"{self.query}_to_{self.candidates}_r@{k}"] = v
        for k, v in recall_at_k(sims.T, relevant.T, self.ks).items():
            metrics[f"{self.candidates}_to_{self.query}_r@{k}"] = v

        if labels is not None:
            labels = labels.astype(np.int64)
            names = list(getattr(source, "class_names", []) or [])
            if self.candidates == "text" and names:
                texts = [self.prompts.get(n, self.prompt_template.format(n)) for n in names]
                prompt_emb = embed(ListDataset([{"text": t} for t in texts]))
                if "text" not in prompt_emb:
                    raise UserError("eval: the method returned no 'text' embedding for prompts")
                pred = nearest_class(q, prompt_emb["text"])
                metrics["zeroshot_prompt_acc"] = float((pred == labels).mean())
            if source.probe_train is not None:
                train = embed(source.probe_train)
                self._check(train, "the training pairs")
                train_labels = train["label"].astype(np.int64)
                classes = np.unique(train_labels)
                cand = _unit(train[self.candidates])
                protos = np.stack([cand[train_labels == k].mean(0) for k in classes])
                pred = classes[nearest_class(q, protos)]
                metrics["zeroshot_proto_acc"] = float((pred == labels).mean())
                metrics["chance_acc"] = float(np.bincount(labels).max() / len(labels))
        if self.metric not in metrics:
            raise UserError(f"eval.score={self.metric!r} is not computed for this data; choose "
                            f"one of {', '.join(sorted(metrics))}")
        return {"score": metrics[self.metric], "metric": self.metric, "metrics": metrics}
