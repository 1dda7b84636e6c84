"""The imputer contract: ``fit(train, valid=None, train_mask=None, valid_mask=None)``, then ``transform(x, mask, obs)``.

``x`` is in the prepared (standardised) scale. An entry is missing where ``mask == 0``; without a mask, where ``x``
is NaN. Whatever a missing entry holds (NaN, 0, 1e6) is never read. ``transform`` returns the full matrix with the
observed entries exactly as they were. Constructors take settings only; data arrive through ``fit``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..data import Split
from ..data.masks import check_mask, sample_mask


def observed_mask(x: np.ndarray, mask: np.ndarray | None, what: str = "mask") -> np.ndarray:
    """The 0/1 float32 mask of ``x``: ``mask`` when given (checked), else the non-NaN entries. An entry marked
    observed must hold a number."""
    x = np.asarray(x)
    mask = (~np.isnan(x)).astype(np.float32) if mask is None else check_mask(mask, x.shape, what)
    bad = np.isnan(x) & (mask > 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{int(bad.sum())} observed entries ({what} == 1) are NaN, first at sample {i}, gene {j}; "
                         "mark them missing (mask = 0) instead")
    return mask


def check_inputs(x: np.ndarray, mask: np.ndarray | None, obs: pd.DataFrame, n_genes: int | None = None) -> tuple:
    """Validate an imputation request; return ``x`` with missing entries set to 0 and the mask as float32."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be a (samples × genes) matrix, got {x.ndim} dimensions")
    if n_genes is not None and x.shape[1] != n_genes:
        raise ValueError(f"x has {x.shape[1]} genes, the imputer was fitted on {n_genes}")
    mask = observed_mask(x, mask)
    if len(obs) != x.shape[0]:
        raise ValueError(f"obs has {len(obs)} rows, x has {x.shape[0]} samples")
    return np.where(mask > 0, x, 0.0).astype(np.float32), mask


def keep_observed(x: np.ndarray, mask: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """``m ⊙ x + (1 − m) ⊙ x̂``."""
    return (mask * x + (1.0 - mask) * prediction).astype(np.float32)


class BudgetExceeded(RuntimeError):
    """A method ran past its time budget, or would have (``projected``: the seconds its rate so far projected);
    ``done`` of ``total`` ``unit`` were finished (how far it got)."""

    def __init__(self, method: str, budget: float, done: int, total: int, unit: str, projected: float | None = None):
        self.method, self.budget, self.done, self.total, self.unit = method, budget, done, total, unit
        self.projected = projected
        if projected is None:
            message = f"{method} ran past its budget of {budget:.0f} s after {done} of {total} {unit}"
        else:
            message = (f"{method} would need about {projected:.0f} s, past its budget of {budget:.0f} s: stopped "
                       f"after {done} of {total} {unit}")
        super().__init__(message)

    @property
    def progress(self) -> str:
        done = f"{self.done} of {self.total} {self.unit}"
        return done if self.projected is None else f"{done}, projected {self.projected:.0f} s"


# A run whose rate projects past its budget is stopped early, once it has spent this share of the budget on the
# current task (so that the rate is measured, not guessed) and the projection exceeds the budget by this factor.
PROJECT_AFTER = 0.1
PROJECT_MARGIN = 1.25


def projected_overrun(elapsed: float, task_elapsed: float, done: int, total: int,
                      budget: float | None) -> float | None:
    """The seconds a call will have taken when its current task ends, if that is past the budget by
    :data:`PROJECT_MARGIN`, else ``None``: ``elapsed`` seconds so far, ``task_elapsed`` of them on ``done`` of the
    task's ``total`` items of about equal cost. A lower bound on the call's time, whatever follows the task."""
    if budget is None or done <= 0 or task_elapsed < PROJECT_AFTER * budget:
        return None
    projected = elapsed + task_elapsed / done * max(total - done, 0)
    return projected if projected > PROJECT_MARGIN * budget else None


class Clock:
    """The time budget of one ``fit`` or one ``transform`` call (``budget=None``: no limit).

    ``check(done, total, unit)`` raises :class:`BudgetExceeded` once the budget is spent. With ``uniform=True``
    (the ``total`` items cost about the same: samples of one matrix) it also raises as soon as the rate so far
    projects the task past the budget (:func:`projected_overrun`), rather than spending the whole budget on a run
    that cannot finish. A task is a run of checks with the same ``total`` and ``unit`` and a ``done`` that does not
    fall.
    """

    def __init__(self, method: str, budget: float | None):
        self.method, self.budget = method, budget
        self.start = time.monotonic()
        self.deadline = None if budget is None else self.start + float(budget)
        self._task = None  # (total, unit, done at its first check, time of its first check)
        self._last = 0  # done at the last check

    def check(self, done: int, total: int, unit: str, uniform: bool = False) -> None:
        """Raise :class:`BudgetExceeded` once the budget is spent, or (``uniform``) projected to be."""
        if self.deadline is None:
            return
        now = time.monotonic()
        if now > self.deadline:
            raise BudgetExceeded(self.method, self.budget, done, total, unit)
        if self._task is None or self._task[:2] != (total, unit) or done < self._last:
            self._task = (total, unit, done, now)
        self._last = done
        if uniform:
            first, since = self._task[2:]
            projected = projected_overrun(now - self.start, now - since, done - first, total - first, self.budget)
            if projected is not None:
                raise BudgetExceeded(self.method, self.budget, done, total, unit, projected)

    def expect(self, seconds_each: float | None, total: int, unit: str) -> None:
        """Raise :class:`BudgetExceeded` before a task starts when a rate measured earlier on the same kind of item
        (``seconds_each``; ``None``: none measured) projects its ``total`` items past the budget by
        :data:`PROJECT_MARGIN`, instead of measuring the rate again on :data:`PROJECT_AFTER` of the budget."""
        if self.deadline is None or seconds_each is None or total <= 0:
            return
        projected = time.monotonic() - self.start + float(seconds_each) * total
        if projected > PROJECT_MARGIN * self.budget:
            raise BudgetExceeded(self.method, self.budget, 0, total, unit, projected)

    def part(self, step: int, steps: int) -> "ClockPart":
        """This clock for part ``step`` of ``steps`` equal parts of one task (the candidates of a search): a
        part's checks count toward the whole, so that the whole search is projected."""
        return ClockPart(self, step, steps)


class ClockPart:
    """One of ``steps`` equal parts of a :class:`Clock`'s task (:meth:`Clock.part`)."""

    def __init__(self, clock: Clock, step: int, steps: int):
        self.clock, self.step, self.steps = clock, step, steps

    def check(self, done: int, total: int, unit: str, uniform: bool = False) -> None:
        self.clock.check(self.step * total + done, self.steps * total, unit, uniform)


def validation_task(valid: Split, valid_mask: np.ndarray | None, seed: int, max_rows: int | None = None):
    """The validation rule shared by every method that chooses a setting: hide a fixed 50 % of the validation
    split's observed entries (seeded) and score how well the rest predicts them.

    Returns ``(x, inputs, targets, obs)``: the validation values, the entries shown (1), the entries to predict
    (1), and the rows' annotations; at most ``max_rows`` rows, evenly spaced so that every tissue stays in."""
    mask = observed_mask(valid.x, valid_mask, "valid_mask")
    rows = np.arange(len(valid.x))
    if max_rows is not None and len(rows) > max_rows:
        rows = np.unique(np.linspace(0, len(rows) - 1, max_rows).round().astype(int))
    keep = sample_mask(len(valid.x), valid.x.shape[1], 0.5, 0.5, np.random.default_rng(seed))[rows]
    mask = mask[rows]
    return valid.x[rows], mask * keep, mask * (1.0 - keep), valid.obs.iloc[rows]


def masked_mse(x: np.ndarray, prediction: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error over the entries where ``targets == 1``."""
    error = np.where(targets > 0, x - prediction, 0.0)
    return float((error ** 2).sum() / max(float(targets.sum()), 1.0))


class Imputer:
    """Base class: a name, a seed, ``fit`` and ``transform``."""

    name = "imputer"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.n_genes: int | None = None
        self.chosen_: dict = {}  # constructor settings chosen on validation, to reuse without choosing again

    def fit(self, train: Split, valid: Split | None = None, train_mask: np.ndarray | None = None,
            valid_mask: np.ndarray | None = None) -> "Imputer":
        self.n_genes = train.x.shape[1]
        return self

    def transform(self, x: np.ndarray, mask: np.ndarray | None, obs: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def spread(self, x: np.ndarray, mask: np.ndarray | None, obs: pd.DataFrame) -> np.ndarray | None:
        """The predictive standard deviation of every entry given the observed entries of its sample, in the
        prepared scale (0 where observed); ``None`` when the method has no model of its own error (registry flag
        ``spread``)."""
        return None

    def draw(self, x: np.ndarray, mask: np.ndarray | None, obs: pd.DataFrame, draws: int,
             rng: np.random.Generator) -> np.ndarray | None:
        """``(draws, samples, genes)`` completed matrices drawn from the method's predictive distribution, jointly
        per sample where the model allows it, with the observed entries exactly as given; ``None`` when the
        method has no predictive distribution of its own."""
        return None

    def for_calibration(self, valid: Split, valid_mask: np.ndarray | None = None) -> "Imputer":
        """The imputer as it would impute the validation donors, for a conformal calibration on them
        (:func:`~.conformal.calibrate`): itself, for every method that imputes a sample from the sample alone."""
        return self

    def fit_transform(self, train: Split, train_mask: np.ndarray | None = None) -> np.ndarray:
        """In-place use: fit on the observed part of ``train`` and impute its missing entries."""
        return self.fit(train, train_mask=train_mask).transform(train.x, train_mask, train.obs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, seed={self.seed})"
