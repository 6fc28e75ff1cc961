"""Evaluation protocols on frozen representations.

An evaluator is a callable ``evaluator(embed, source) -> {"score", "metric", "metrics"}`` where
``embed(dataset)`` (given by the runner) returns the frozen embeddings of a dataset as numpy
arrays: ``{"embedding": (N, D), "label": (N,)}`` (or one array per key when a method's
``embed`` returns a dict), computed in eval mode under ``no_grad`` over the whole split.
"""
