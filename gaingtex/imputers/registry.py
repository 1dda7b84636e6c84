"""The registry of imputation methods: every method, deep or baseline, under one name.

A method's module registers it with :func:`register` (a decorator on the class, or a call with a factory for
methods whose module should not be imported until used, such as the TensorFlow models). Every module of this
package is imported on the first lookup, so adding a method means adding one file.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from typing import Callable

SCENARIOS = ("inductive", "inplace")
CONTEXT = ("scenario", "preset", "seed", "generator", "progress", "budget")  # what callers may pass to every method


@dataclass(frozen=True)
class MethodSpec:
    """What the rest of the package needs to know about a method.

    Attributes
    ----------
    name
        Registry key (``"pmi"``, ``"mean"``, …), as the CLI takes it.
    label
        As tables and figures print it (``"PMI"``, ``"per-tissue mean"``).
    factory
        Builds an unfitted imputer from keyword parameters.
    scenarios
        Scenarios it supports.
    needs_generator
        Needs the embedded cohort's generating model (``generator=``): the oracle.
    needs_blood
        Needs each imputed donor's Whole Blood profile at fit time (``blood=``).
    stochastic
        Its output depends on its seed.
    saveable
        Has ``save(path)`` and a class method ``load(path)``.
    trains
        Learns by gradient descent (the deep models): slow to fit, with a preset per size.
    colour
        Its colour in every figure.
    """

    name: str
    label: str
    factory: Callable
    scenarios: tuple[str, ...] = SCENARIOS
    needs_generator: bool = False
    needs_blood: bool = False
    stochastic: bool = False
    saveable: bool = False
    trains: bool = False
    colour: str = "#888888"

    def supports(self, scenario: str) -> bool:
        return scenario in self.scenarios


_REGISTRY: dict[str, MethodSpec] = {}
_LOADED = False


def register(name: str, label: str, factory: Callable | None = None, **flags):
    """Register a method; used as ``@register("mean", "per-tissue mean")`` on a class, or called with a factory."""

    def add(obj):
        if name in _REGISTRY and _REGISTRY[name].factory is not obj:
            raise ValueError(f"method name {name!r} is registered twice")
        for scenario in flags.get("scenarios", SCENARIOS):
            if scenario not in SCENARIOS:
                raise ValueError(f"method {name!r}: unknown scenario {scenario!r}")
        _REGISTRY[name] = MethodSpec(name, label, obj, **flags)
        return obj

    return add(factory) if factory is not None else add


def _load() -> None:
    """Import every module of :mod:`gaingtex.imputers` (and its subpackages' ``__init__``), which registers them."""
    global _LOADED
    if _LOADED:
        return
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{__package__}.{info.name}")
    _LOADED = True


def names(scenario: str | None = None) -> list[str]:
    """Every registered method (or those that support ``scenario``), in registration order."""
    _load()
    return [n for n, s in _REGISTRY.items() if scenario is None or s.supports(scenario)]


def spec(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of a registered method, by name or by label."""
    _load()
    if name in _REGISTRY:
        return _REGISTRY[name]
    for s in _REGISTRY.values():
        if s.label == name:
            return s
    raise ValueError(f"unknown method {name!r}: expected one of {', '.join(_REGISTRY)}")


def get(name: str, **params):
    """Build an unfitted imputer of a registered method.

    The context keywords ``scenario``, ``preset``, ``seed``, ``generator``, ``progress`` and ``budget`` (seconds)
    may be passed to every method; each method takes those it uses. An unsupported ``scenario`` or a missing
    ``generator`` is an error.
    """
    s = spec(name)
    scenario = params.get("scenario")
    if scenario is not None and not s.supports(scenario):
        raise ValueError(f"method {s.name!r} does not support the {scenario!r} scenario (it supports "
                         f"{', '.join(s.scenarios)})")
    if s.needs_generator and params.get("generator") is None:
        raise ValueError(f"method {s.name!r} needs the embedded cohort's generating model (generator=...); real "
                         "data has none")
    accepted = inspect.signature(s.factory).parameters  # context a factory does not name is not for it
    kwargs = {k: v for k, v in params.items() if k not in CONTEXT or k in accepted}
    return s.factory(**kwargs)


def label(name: str) -> str:
    """How tables and figures print a method."""
    return spec(name).label


def colour(name_or_label: str) -> str:
    """A method's colour in every figure; a variant such as ``oracle (healthy tissue)`` takes its method's colour,
    a name the registry does not know is grey."""
    for candidate in (name_or_label, name_or_label.split(" (")[0]):
        try:
            return spec(candidate).colour
        except ValueError:
            continue
    return "#888888"
