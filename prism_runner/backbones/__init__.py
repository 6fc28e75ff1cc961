"""Encoders. Every backbone is an ``nn.Module`` with ``out_dim`` and ``forward(x) -> features``."""
