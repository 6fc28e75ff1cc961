"""Hyper-parameter search helpers (Optuna). Importing this package is cheap: optuna loads only
when a storage is opened or a pruning callback is built."""
