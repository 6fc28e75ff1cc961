"""Typed settings for the trainer: wrong types, unknown keys (with the nearest valid names) and
impossible values stop the run before any data is read."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional, Union

from prism_runner.errors import UserError


@dataclass
class TrainerSettings:
    max_epochs: Optional[int] = 10
    max_steps: Optional[int] = None
    grad_accum_steps: int = 1
    clip_grad_norm: Optional[float] = None
    mixed_precision: str = "no"
    device: str = "auto"
    log_every: int = 10
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    resume: Union[str, None] = "auto"
    progress: bool = True
    num_threads: Optional[int] = None
    eval_every: Optional[int] = None   # steps between periodic evaluations (callbacks see them)
    nan_policy: str = "stop"           # stop | skip_batch
    max_skipped_batches: int = 10
    # Performance options (off by default; docs/benchmarks.md has what each gives on CPU).
    compile: bool = False              # torch.compile the method (first steps slower: compiling)
    channels_last: bool = False        # NHWC memory format for 4-D weights (conv nets)
    fused_optimizer: bool = False      # fused=True for optimizers that accept it (AdamW, Adam, SGD)

    def __post_init__(self):
        if self.max_steps is None and self.max_epochs is None:
            raise UserError("set trainer.max_epochs or trainer.max_steps (e.g. trainer.max_epochs=10)")
        for key in ("max_steps", "max_epochs"):
            value = getattr(self, key)
            if value is not None and value < 0:
                raise UserError(f"trainer.{key} must be >= 0, got {value}")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise UserError(f"trainer.mixed_precision must be no, bf16 or fp16, got "
                            f"{self.mixed_precision!r}")
        if self.nan_policy not in ("stop", "skip_batch"):
            raise UserError(f"trainer.nan_policy must be stop or skip_batch, got {self.nan_policy!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UserError(f"trainer.device must be auto, cpu or cuda, got {self.device!r}")
        for key in ("grad_accum_steps", "log_every", "keep_checkpoints"):
            if getattr(self, key) < 1:
                raise UserError(f"trainer.{key} must be >= 1, got {getattr(self, key)}")
        if self.resume is None:
            self.resume = "never"


def _coerce(key: str, value: Any, annotation: str) -> Any:
    """Check ``value`` against a simple annotation string; ints are accepted for floats."""
    optional = annotation.startswith("Optional[") or "None" in annotation
    if value is None:
        if optional:
            return None
        raise UserError(f"{key} may not be null")
    base = annotation.replace("Optional[", "").rstrip("]").split(",")[0].replace("Union[", "")
    expected = {"int": int, "float": (int, float), "bool": bool, "str": str}.get(base.strip())
    if expected is None:
        return value
    if isinstance(value, bool) and base.strip() in ("int", "float"):
        raise UserError(f"{key} must be a number, got {value!r}")
    if not isinstance(value, expected):
        example = {"int": "10", "float": "1.0", "bool": "true", "str": "auto"}[base.strip()]
        raise UserError(f"{key} must be {base.strip()}, got {value!r} ({type(value).__name__}); "
                        f"e.g. {key}={example}")
    return float(value) if base.strip() == "float" else value


def parse_settings(cls, values: Mapping[str, Any], prefix: str):
    """Build dataclass ``cls`` from a config mapping, naming the key in every error."""
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=3)
            hint = f"; did you mean {', '.join(f'{prefix}.{n}' for n in near)}?" if near else \
                f"; valid keys: {', '.join(sorted(known))}"
            raise UserError(f"unknown key {prefix}.{key}{hint}")
        kwargs[key] = _coerce(f"{prefix}.{key}", value, str(known[key].type))
    return cls(**kwargs)
