"""A fitted method's predictive distribution on one matrix: intervals, an SD-like spread, draws, CRPS and PIT.

A method with its own spread (the linear-Gaussian family) gives its Gaussian, recalibrated by the conformal
calibration's factors; every other method gives its imputation ± its calibration's scores
(:class:`~.mondrian.Calibration`). Each entry's scale is ``σ × c_t``: ``σ`` the method's own spread (1 without
one) and ``c_t`` its tissue's scale in the calibration (1 without a calibration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .conformal import SIGMA_FLOOR, own_spread
from .mondrian import Calibration, check_level


@dataclass
class Predictive:
    """A fitted method's predictive distribution on one matrix (prepared scale).

    ``center`` is its imputation (observed entries exact), ``sigma`` its own spread or ``None`` (1),
    ``observed`` the mask, ``group`` each row's group index and ``scale`` its tissue's scale
    (:meth:`~.mondrian.Calibration.row_scale`), ``calibration`` the method's (``None``: the model's own Gaussian
    as it is, for the oracle's exact posterior)."""

    center: np.ndarray
    sigma: np.ndarray | None
    observed: np.ndarray
    group: np.ndarray | None
    calibration: Calibration | None
    scale: np.ndarray | None = None

    @property
    def gaussian(self) -> bool:
        return self.sigma is not None

    def rows(self, start: int, stop: int) -> "Predictive":
        """The same distribution on the rows ``start:stop`` only (views, nothing copied): the measures of a
        paper-sized matrix are taken a block of rows at a time, whose float64 temporaries would otherwise be
        several times the matrix."""
        part = slice(start, stop)
        sigma = self.sigma if self.sigma is None or np.ndim(self.sigma) == 0 else self.sigma[part]
        return Predictive(self.center[part], sigma, self.observed[part],
                          None if self.group is None else self.group[part], self.calibration,
                          None if self.scale is None else self.scale[part])

    def _sigma(self) -> np.ndarray | float:
        """Every entry's scale, ``σ × c_t`` (a scalar 1 for an uncalibrated method without a spread)."""
        sigma = 1.0 if self.sigma is None else np.maximum(self.sigma, SIGMA_FLOOR)
        return sigma if self.scale is None else sigma * self.scale[:, None]

    def _factor(self, table: np.ndarray) -> np.ndarray:
        return table[self.group]  # (samples, genes)

    def half_width(self, level: float) -> np.ndarray:
        """Half the interval's width at ``level`` for every entry (0 where observed)."""
        check_level(level)
        if self.calibration is None:
            from scipy.stats import norm

            q = norm.ppf(0.5 + level / 2.0)
        else:
            q = self._factor(self.calibration.quantile(level))
        return np.where(self.observed > 0, 0.0, q * self._sigma()).astype(np.float32)

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds at ``level``; observed entries have zero width."""
        h = self.half_width(level)
        return self.center - h, self.center + h

    def _rms(self) -> np.ndarray | float:
        return 1.0 if self.calibration is None else self._factor(self.calibration.rms())

    def sd(self) -> np.ndarray:
        """The SD-like spread of every entry: ``σ × c_t × RMS`` of its cell's scores (0 where observed)."""
        return np.where(self.observed > 0, 0.0, self._rms() * self._sigma()).astype(np.float32)

    def draws(self, count: int, rng: np.random.Generator, own: np.ndarray | None = None) -> np.ndarray:
        """``(count, samples, genes)`` completed matrices. ``own``: the method's own joint draws, recalibrated
        entry by entry by its cell's RMS factor and its tissue's scale; without them, residuals resampled per
        entry."""
        if own is not None:
            tissue = 1.0 if self.scale is None else self.scale[:, None]
            out = self.center + self._rms() * tissue * (own - self.center)
        elif self.calibration is None:
            out = self.center + self._sigma() * rng.standard_normal((count, *self.center.shape))
        else:
            out = self.center + self._sigma() * self.calibration.sample(self.group, (count, *self.center.shape), rng)
        return np.where(self.observed > 0, self.center, out).astype(np.float32)

    def crps_pit(self, y: np.ndarray, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CRPS and PIT of the true values ``y`` at ``entries`` (a boolean matrix), in the prepared scale."""
        import scoringrules as sr
        from scipy.stats import norm

        i, j = np.nonzero(entries)
        mu = self.center[i, j].astype(np.float64)
        truth = y[i, j].astype(np.float64)
        sigma = np.broadcast_to(np.asarray(self._sigma(), dtype=np.float64), self.center.shape)[i, j]
        if self.gaussian:
            if self.calibration is not None:
                sigma = sigma * self.calibration.rms()[self.group[i], j]
            return np.asarray(sr.crps_normal(truth, mu, sigma)), norm.cdf((truth - mu) / sigma)
        key = self.calibration._table(None)[self.group[i], j]
        r = (truth - mu) / sigma
        crps, pit = self.calibration.crps_pit(r, key)
        return sigma * crps, pit


def predictive(imputer, calibration: Calibration | None, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame,
               center: np.ndarray | None = None, sigma: np.ndarray | None = None) -> Predictive:
    """``imputer``'s predictive distribution on ``x`` (missing where ``mask == 0``); ``center`` and ``sigma``: its
    imputation and spread of the same input when already made (so that nothing is computed twice)."""
    shown = np.where(mask > 0, x, np.nan).astype(np.float32)
    center = imputer.transform(shown, mask, obs) if center is None else center
    scaled = own_spread(imputer) if calibration is None else calibration.scaled
    if scaled and sigma is None:
        sigma = imputer.spread(shown, mask, obs)
    elif not scaled:
        sigma = None
    if scaled and sigma is None:
        raise ValueError(f"{imputer.name} is registered with its own spread but its spread() returned None")
    if calibration is None and sigma is None:
        raise ValueError(f"{imputer.name} has no spread of its own: calibrate it (conformal.calibrate) first")
    group = None if calibration is None else calibration.group_index(obs)
    scale = None if calibration is None else calibration.row_scale(obs)
    return Predictive(np.asarray(center, dtype=np.float32), sigma, np.asarray(mask), group, calibration, scale)
