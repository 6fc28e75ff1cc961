"""``hydra/sweeper=optuna_pruning``: the stock Hydra Optuna sweeper plus median pruning."""
