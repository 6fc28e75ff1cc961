"""From config to objects: every part is built from its ``_target_``, and every failure a user
can cause becomes one :class:`UserError` naming the key and the fix."""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from prism_runner.errors import UserError

EXAMPLES = {
    "data.root": "data.root=/path/to/your/data",
}


def check_complete(cfg: DictConfig) -> None:
    """Missing values (``???``) and broken interpolations, before anything is built."""
    try:
        missing = sorted(OmegaConf.missing_keys(cfg))
    except OmegaConfBaseException as error:
        raise UserError(f"config error: {str(error).splitlines()[0]} "
                        f"(in {getattr(error, 'full_key', '?')})") from None
    if missing:
        key = missing[0]
        example = EXAMPLES.get(key, f"{key}=VALUE")
        more = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise UserError(f"missing value for {key}: set it on the command line, e.g. "
                        f"{example}{more}")
    try:
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as error:
        raise UserError(f"config error: {str(error).splitlines()[0]}") from None


# Keys a config may carry to declare what it is; read by check_combination, never passed on.
DECLARATIONS = ("_modality_", "_provides_", "_needs_")


def _declared(cfg: DictConfig, group: str, key: str):
    node = cfg.get(group)
    return node.get(key) if isinstance(node, DictConfig) else None


def check_combination(cfg: DictConfig) -> None:
    """Impossible combinations stop before any data is read: a graph backbone on images,
    audio views on an image data set, a two-view method given single views."""
    data = _declared(cfg, "data", "_modality_")
    for group in ("views", "backbone"):
        other = _declared(cfg, group, "_modality_")
        # Views must match the data exactly; a backbone may encode one part of paired data.
        fits = other == data if group == "views" else other in str(data).split("+")
        if data and other and not fits:
            raise UserError(
                f"{group}={cfg.get(group).get('_target_')} is for {other} data, but data is "
                f"{data}; pick a {group} for {data} (python -m prism_runner --help lists options)")
    provides, needs = _declared(cfg, "views", "_provides_"), _declared(cfg, "method", "_needs_")
    if provides and needs and provides != needs:
        raise UserError(f"method {cfg.method.get('_target_')} needs views that give {needs}, "
                        f"but the chosen views give {provides}; choose views that give {needs}")


def _root_cause(error: BaseException) -> BaseException:
    seen = set()
    while error.__cause__ is not None and id(error) not in seen:
        seen.add(id(error))
        error = error.__cause__
    return error


def _unknown_key_hint(target: str, message: str, key: str) -> Optional[str]:
    """For "unexpected keyword argument 'x'", the config key and the nearest valid names."""
    import difflib
    import inspect
    import re

    from hydra.utils import get_object

    found = re.search(r"unexpected keyword argument '(\w+)'", message)
    if not found:
        return None
    bad = found.group(1)
    try:
        params = [p for p in inspect.signature(get_object(target)).parameters
                  if p not in ("self", "args", "kwargs")]
    except (ValueError, TypeError, ImportError, AttributeError):
        params = []
    near = difflib.get_close_matches(bad, params, n=3)
    hint = (f"did you mean {', '.join(f'{key}.{n}' for n in near)}?" if near
            else f"valid keys: {', '.join(params)}" if params else "")
    return f"unknown key {key}.{bad} for {target}; {hint}".rstrip("; ")


def instantiate(node: Any, key: str, **kwargs) -> Any:
    """``hydra.utils.instantiate`` that names the config key when building fails."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as hydra_instantiate

    if node is None or (isinstance(node, DictConfig) and "_target_" not in node):
        raise UserError(f"{key} has no _target_: pick an option of the '{key}' group "
                        f"(python -m prism_runner --help lists them)")
    target = node.get("_target_")
    if isinstance(node, DictConfig) and any(k in node for k in DECLARATIONS):
        node = OmegaConf.create({k: v for k, v in node.items_ex(resolve=False)
                                 if k not in DECLARATIONS}, parent=node._get_parent())
    try:
        # Plain lists/dicts, not OmegaConf containers: they end up in checkpoints (optimizer
        # hyper-parameters) that must load with weights_only=True.
        built = hydra_instantiate(node, _convert_="all", **kwargs)
        if isinstance(built, functools.partial):  # check its keys now, not at first call
            inspect.signature(built.func).bind_partial(*built.args, **built.keywords)
        return built
    except UserError:
        raise
    except InstantiationException as error:
        cause = _root_cause(error)
        if isinstance(cause, UserError):
            raise cause from None
        message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        if cause is error:  # hydra's own message: the target could not be found or called
            message = " ".join(str(error).split())
        hint = _unknown_key_hint(str(target), str(cause), key)
        if hint:
            raise UserError(hint) from error
        raise UserError(f"cannot build {key} ({target}): {message}") from error
    except (TypeError, ValueError) as error:
        hint = _unknown_key_hint(str(target), str(error), key)
        raise UserError(hint or f"cannot build {key} ({target}): {error}") from error


@dataclass
class Experiment:
    """Everything ``run`` needs, built from config."""

    source: Any                 # DataSource
    views: Any                  # object with train(item) and eval(item)
    method: Any                 # nn.Module with forward(batch) and embed(batch)
    make_optimizer: Callable    # params -> optimizer
    make_scheduler: Callable    # (optimizer, total_steps) -> scheduler
    evaluator: Optional[Callable]
    callbacks: List[Any]        # objects with optional on_train_start/on_eval/on_train_end


def build_experiment(cfg: DictConfig) -> Experiment:
    check_combination(cfg)
    # Cheap parts first, so their config mistakes surface before any data is read.
    make_optimizer = instantiate(cfg.optim, "optim")
    make_scheduler = instantiate(cfg.sched, "sched")
    evaluator = None
    if cfg.get("eval") and cfg.eval.get("_target_"):
        evaluator = instantiate(cfg.eval, "eval")
    callbacks = [instantiate(node, f"callbacks.{name}")
                 for name, node in (cfg.get("callbacks") or {}).items() if node is not None]
    views = instantiate(cfg.views, "views")
    backbone = instantiate(cfg.backbone, "backbone")
    method = instantiate(cfg.method, "method", backbone=backbone)
    source = instantiate(cfg.data, "data")
    return Experiment(source, views, method, make_optimizer, make_scheduler, evaluator, callbacks)


def call_hooks(callbacks: List[Any], hook: str, *args) -> None:
    """Call ``hook`` on every callback that defines it; their exceptions propagate."""
    for callback in callbacks:
        function = getattr(callback, hook, None)
        if function is not None:
            function(*args)
