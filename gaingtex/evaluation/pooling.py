"""One covariate's effect on one gene by least squares, and the pooling of ``M`` imputed analyses by Rubin's rules.

Rubin's rules (Rubin 1987), for ``M`` estimates ``q_m`` with squared standard errors ``u_m`` from ``M`` completed
data sets: the pooled estimate is ``q̄ = mean(q_m)``, the within-imputation variance ``Ū = mean(u_m)``, the
between-imputation variance ``B = var(q_m)`` (``M − 1`` in the denominator), and the total variance
``T = Ū + (1 + 1/M) B``. The interval is ``q̄ ± t_ν √T`` with Barnard and Rubin's (1999) small-sample degrees of
freedom: with ``λ = (1 + 1/M) B / T`` (the share of the variance due to the missing entries) and ``ν_com`` the
complete-data degrees of freedom,

    ν_old = (M − 1) / λ²,   ν_obs = (ν_com + 1) / (ν_com + 3) · ν_com · (1 − λ),   ν = 1 / (1/ν_old + 1/ν_obs).

``ν_old`` alone (Rubin's original) can exceed ``ν_com`` when ``λ`` is small, which is why the study uses ``ν``.
statsmodels has these rules inside its MICE, bound to its own imputation loop; they are a few lines here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Effect:
    """An estimate, its standard error, the degrees of freedom of its t reference, and (pooled) ``λ``."""

    estimate: float
    se: float
    df: float
    missing_share: float = 0.0  # λ: the share of the total variance due to missing entries (0 for one analysis)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        half = float(stats.t.ppf(0.5 + level / 2.0, self.df)) * self.se
        return self.estimate - half, self.estimate + half

    @property
    def p_value(self) -> float:
        """Two-sided p-value of ``effect = 0``."""
        if self.se <= 0:
            return float(self.estimate == 0)
        return float(2.0 * stats.t.sf(abs(self.estimate) / self.se, self.df))


def design_matrix(covariates: np.ndarray, tested: int) -> tuple[np.ndarray, int]:
    """``[1, covariates]`` with every column that adds nothing dropped, and the column of the ``tested`` covariate.

    Columns are kept in order while they raise the rank: a covariate that does not vary (a Hardy level absent
    from the samples) and the last of a complete set of one-hot levels (their sum is the intercept) go; their
    effects are then relative to the levels kept. The tested covariate must survive."""
    covariates = np.asarray(covariates, dtype=np.float64)
    full = np.hstack([np.ones((len(covariates), 1)), covariates])
    keep: list[int] = []
    for c in range(full.shape[1]):
        trial = full[:, keep + [c]]
        if np.linalg.matrix_rank(trial) == len(keep) + 1:
            keep.append(c)
    if 1 + tested not in keep:
        raise ValueError(f"the tested covariate (column {tested}) does not vary, or is collinear with the others, "
                         "across the samples")
    return full[:, keep], keep.index(1 + tested)


def ols_effect(y: np.ndarray, design: np.ndarray, column: int) -> Effect:
    """Ordinary least squares of ``y`` on ``design`` (full column rank): the coefficient of ``column``, its
    classical standard error ``s² (DᵀD)⁻¹``, and ``n − p`` degrees of freedom."""
    y = np.asarray(y, dtype=np.float64)
    n, p = design.shape
    if n <= p:
        raise ValueError(f"{n} samples cannot estimate {p} coefficients")
    q, r = np.linalg.qr(design)
    if np.min(np.abs(np.diag(r))) < 1e-10 * np.max(np.abs(np.diag(r))):
        raise ValueError("the design matrix is rank deficient: two covariates are collinear in these samples")
    coef = np.linalg.solve(r, q.T @ y)
    resid = y - design @ coef
    s2 = float(resid @ resid) / (n - p)
    r_inv = np.linalg.inv(r)
    var = s2 * float(r_inv[column] @ r_inv[column])  # (DᵀD)⁻¹ = R⁻¹ R⁻ᵀ
    return Effect(float(coef[column]), float(np.sqrt(var)), float(n - p))


def rubin(estimates, variances, df_complete: float) -> Effect:
    """Pool ``M ≥ 2`` analyses of completed data sets (``estimates`` and squared standard errors ``variances``)
    by Rubin's rules with Barnard–Rubin degrees of freedom (module docstring)."""
    q, u = np.asarray(estimates, dtype=np.float64), np.asarray(variances, dtype=np.float64)
    m = len(q)
    if m < 2 or len(u) != m:
        raise ValueError(f"Rubin's rules need at least 2 estimates with one variance each, got {m} and {len(u)}")
    within, between = float(u.mean()), float(q.var(ddof=1))
    total = within + (1.0 + 1.0 / m) * between
    lam = (1.0 + 1.0 / m) * between / total if total > 0 else 0.0
    nu_com = float(df_complete)
    nu_obs = (nu_com + 1.0) / (nu_com + 3.0) * nu_com * (1.0 - lam)
    nu = nu_obs if lam == 0 else 1.0 / (lam ** 2 / (m - 1.0) + 1.0 / nu_obs)
    return Effect(float(q.mean()), float(np.sqrt(total)), float(nu), float(lam))
