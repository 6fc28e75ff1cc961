"""Self-supervised methods. Each is an ``nn.Module`` built around a backbone:
``forward(batch) -> {"loss": ..., <logs>}``, ``embed(batch) -> Tensor[N, D]`` and optionally
``on_step_end(step, total_steps)``. Methods never touch devices, optimisers or loggers.
"""
