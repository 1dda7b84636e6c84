"""The registry of imputation methods: every method, deep or baseline, under one name, with what the rest of the
package needs to know of it (its role in the comparison, what it chooses on validation, what it needs, how a
saved one is loaded).

A method's module registers it with :func:`register` (a decorator on the class, or a call with a factory for
methods whose module should not be imported until used, such as the Keras models). Every module of this package
is imported on the first lookup, so adding a method, saving and loading included, means adding one file.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
from dataclasses import dataclass
from typing import Callable

SCENARIOS = ("inductive", "inplace")
CONTEXT = ("scenario", "preset", "seed", "generator", "progress", "budget")  # what callers may pass to every method
# A method's part in the comparison: one of the paper's models, a learnt reference that a cohort without a
# generating model is measured against, a standard baseline, or the ceiling that knows the generating model.
ROLES = ("paper", "reference", "baseline", "ceiling")


@dataclass(frozen=True)
class MethodSpec:
    """What the rest of the package needs to know about a method.

    Attributes
    ----------
    name
        Registry key (``"pmi"``, ``"mean"``, …), as the CLI takes it; an imputer's ``name`` is this key.
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
        Its fitted imputers have ``save(path)``, read back by ``load``.
    trains
        Learns by gradient descent (the deep models): slow to fit, with a preset per size.
    colour
        Its colour in every figure.
    role
        Its part in the comparison, one of :data:`ROLES`.
    family
        The model family it belongs to, where several methods share one (``"linear-gaussian"``: the conditional
        means under a learnt Gaussian; ``"gain"``: GAIN-GTEx and its ablation).
    chooses
        The constructor settings it chooses on validation and records in ``chosen_``, which may be passed back to
        skip the choice.
    paper_best
        The scenarios in which the paper found it the best method.
    load
        Reads a file written by its imputers' ``save`` into a fitted imputer (:func:`load`); saveable methods only
        (a registered class's own class method ``load`` unless another is given).
    spread
        Its fitted imputers have a predictive distribution of their own: :meth:`~gaingtex.imputers.base.Imputer.spread`
        and :meth:`~gaingtex.imputers.base.Imputer.draw` return values, not ``None``. Every method's intervals are
        calibrated on validation donors; this one's are scaled by its own spread.
    blend
        It blends other registered methods (``auto``): it takes the methods a comparison has already fitted on the
        same data (``fitted=``), runs after them, and joins a comparison only when named, because in place it
        refits its members and would double the comparison's time.
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
    role: str = "baseline"
    family: str | None = None
    chooses: tuple[str, ...] = ()
    paper_best: tuple[str, ...] = ()
    load: Callable | None = None
    spread: bool = False
    blend: bool = False

    def supports(self, scenario: str) -> bool:
        return scenario in self.scenarios


_REGISTRY: dict[str, MethodSpec] = {}
_LOADED = False


def register(name: str, label: str, factory: Callable | None = None, **flags):
    """Register a method; used as ``@register("mean", "per-tissue mean")`` on a class, or called with a factory.

    ``flags`` are :class:`MethodSpec`'s fields. A saveable class's ``load`` is its own class method ``load`` unless
    given; a factory that is not such a class must be given one."""

    def add(obj):
        if name in _REGISTRY and _REGISTRY[name].factory is not obj:
            raise ValueError(f"method name {name!r} is registered twice")
        for scenario in (*flags.get("scenarios", SCENARIOS), *flags.get("paper_best", ())):
            if scenario not in SCENARIOS:
                raise ValueError(f"method {name!r}: unknown scenario {scenario!r}")
        if flags.get("role", "baseline") not in ROLES:
            raise ValueError(f"method {name!r}: unknown role {flags['role']!r}, expected one of {', '.join(ROLES)}")
        spec_flags = dict(flags)
        if spec_flags.get("saveable") and spec_flags.get("load") is None:
            spec_flags["load"] = getattr(obj, "load", None)  # a class's own ``load`` (class method)
            if not callable(spec_flags["load"]):
                raise ValueError(f"method {name!r} is saveable but has no load")
        _REGISTRY[name] = MethodSpec(name, label, obj, **spec_flags)
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


def unregister(name: str) -> None:
    """Remove a method from the registry (for a method a test registers for itself)."""
    _REGISTRY.pop(name, None)


def names(scenario: str | None = None, *, role: str | None = None, family: str | None = None,
          trains: bool | None = None) -> list[str]:
    """Every registered method, in registration order; or those that support ``scenario``, have ``role`` or
    ``family``, or do (``trains=True``) or do not train by gradient descent."""
    _load()
    return [n for n, s in _REGISTRY.items() if (scenario is None or s.supports(scenario))
            and (role is None or s.role == role) and (family is None or s.family == family)
            and (trains is None or s.trains == trains)]


def paper_best(scenario: str) -> str | None:
    """The method the paper found best in ``scenario`` (PMI inductive, GAIN-GTEx in place)."""
    _load()
    return next((n for n, s in _REGISTRY.items() if scenario in s.paper_best), None)


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


def load(path: str | os.PathLike):
    """A fitted imputer read from a file that a saveable method's ``save`` wrote, whichever method it is.

    The method is the one the archive's ``gaingtex.json`` names. A file that is not such an archive, or that names
    a method this version does not know or cannot load, is a ``ValueError`` naming the file."""
    from .archive import method_of, read_meta

    name = method_of(read_meta(path))
    _load()
    s = _REGISTRY.get(name) if isinstance(name, str) else None
    if s is None or s.load is None:
        known = ", ".join(n for n, t in _REGISTRY.items() if t.load is not None)
        raise ValueError(f"{path} holds a model of method {name!r}, which this gaingtex cannot load (it loads {known})")
    return s.load(path)


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
