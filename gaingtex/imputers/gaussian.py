"""The Gaussian conditional mean: ``E[x_missing | x_observed]`` under a shrinkage covariance per tissue (or one
for all tissues), the strongest simple baseline on small gene panels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.covariance import ledoit_wolf_shrinkage, oas
from tqdm.auto import tqdm

from .base import Clock, Imputer, check_inputs, keep_observed, masked_mse, observed_mask, validation_task
from .lowrank import PAIRWISE_MAX_GENES, masked_eigen, observed_moments
from .posterior import dense_draw, dense_mean, dense_spread, low_rank_draw, low_rank_mean, low_rank_spread
from .registry import register

Shrinkage = Literal["ledoit-wolf", "oas", "none"]
SHRINKAGES = ("ledoit-wolf", "oas", "none")


@dataclass
class GaussianModel:
    """``N(mean, Σ)`` with ``Σ`` either full (``cov``) or low rank plus diagonal (``loadings Lᵀ + diag noise``)."""

    mean: np.ndarray
    cov: np.ndarray | None = None
    loadings: np.ndarray | None = None
    noise: np.ndarray | None = None
    shrinkage: float = 0.0
    n_samples: int = 0
    em_iterations: int = 0

    def predict(self, x: np.ndarray, mask: np.ndarray, clock: Clock | None = None) -> np.ndarray:
        if self.cov is not None:
            return dense_mean(self.mean, self.cov, x, mask, clock)
        return low_rank_mean(self.mean, self.loadings, self.noise, x, mask, clock)

    def spread(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Each entry's conditional standard deviation given its row's observed entries (0 where observed)."""
        if self.cov is not None:
            return dense_spread(self.mean, self.cov, x, mask)
        return low_rank_spread(self.mean, self.loadings, self.noise, x, mask)

    def draw(self, x: np.ndarray, mask: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
        """``(draws, rows, genes)`` joint draws of each row's missing entries given its observed ones."""
        if self.cov is not None:
            return dense_draw(self.mean, self.cov, x, mask, draws, rng)
        return low_rank_draw(self.mean, self.loadings, self.noise, x, mask, draws, rng)


def shrinkage_intensity(xc: np.ndarray, method: Shrinkage) -> float:
    """scikit-learn's Ledoit–Wolf or OAS intensity ``δ`` of centred samples ``xc`` (0 for ``"none"``): the
    estimate is ``(1 − δ) S + δ · tr(S)/genes · I``."""
    if method == "none" or len(xc) < 2:
        return 0.0 if method == "none" else 1.0
    if method == "ledoit-wolf":
        return float(ledoit_wolf_shrinkage(xc, assume_centered=True))
    return float(oas(xc, assume_centered=True)[1])


def fit_complete(x: np.ndarray, method: Shrinkage) -> GaussianModel:
    """Mean and shrinkage covariance of complete samples. With fewer samples than genes the estimate is exactly
    rank-``n`` plus a constant diagonal, kept in that form (Woodbury), so that 12,557 genes stay feasible."""
    n, G = x.shape
    mu = x.mean(0)
    xc = x - mu
    delta = shrinkage_intensity(xc, method)
    target = float((xc ** 2).sum() / (n * G)) or 1.0  # tr(S) / genes
    if n < G:
        noise = np.full(G, max(delta * target, 1e-6 * target))
        return GaussianModel(mu, loadings=np.sqrt((1.0 - delta) / n) * xc.T, noise=noise, shrinkage=delta,
                             n_samples=n)
    cov = (1.0 - delta) * (xc.T @ xc) / n + delta * target * np.eye(G)
    return GaussianModel(mu, cov=cov + 1e-9 * target * np.eye(G), shrinkage=delta, n_samples=n)


def pairwise_moments(x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed means and the pairwise-observed covariance (unbiased when entries are missing at random), with
    its eigendecomposition: ``(μ, eigenvalues, eigenvectors)``."""
    mu = np.where(mask > 0, x, 0.0).sum(0) / np.maximum(mask.sum(0), 1.0)
    xc = np.where(mask > 0, x - mu, 0.0)
    values, vectors = np.linalg.eigh((xc.T @ xc) / np.maximum(mask.T @ mask, 1.0))
    return mu, values, vectors


def shrunk_from_eigen(values: np.ndarray, vectors: np.ndarray, delta: float, rank: int | None = None) -> GaussianModel:
    """``(1 − δ) S + δ · tr(S)/genes · I`` from the eigendecomposition of ``S``, its eigenvalues floored at
    1 % of the mean variance, so that a pairwise estimate becomes positive definite (mean zero: set it after).

    With ``rank`` below the gene count it is kept low rank plus diagonal: the leading ``rank`` components above
    the smallest kept eigenvalue, and each gene's remaining variance on the diagonal, so that the posterior costs
    genes × rank² per sample instead of a genes³ solve."""
    target = max(float(values.mean()), 1e-6)
    shrunk = np.maximum((1.0 - delta) * values + delta * target, 1e-2 * target)
    zero = np.zeros(len(values))
    if rank is None or rank >= len(values):
        return GaussianModel(zero, cov=(vectors * shrunk) @ vectors.T, shrinkage=delta)
    top = np.argsort(shrunk)[::-1][:rank]
    base = float(shrunk[top].min())
    loadings = vectors[:, top] * np.sqrt(shrunk[top] - base)
    variance = (vectors ** 2) @ shrunk
    noise = np.maximum(variance - (loadings ** 2).sum(1), 1e-2 * target)
    return GaussianModel(zero, loadings=loadings, noise=noise, shrinkage=delta)


def shrunk_low_rank(values: np.ndarray, vectors: np.ndarray, var: np.ndarray, delta: float,
                    rank: int) -> GaussianModel:
    """:func:`shrunk_from_eigen`'s low-rank form from the ``rank`` leading eigenpairs (descending) and the diagonal
    ``var`` of ``S`` alone, without its other eigenpairs: what many genes afford (mean zero: set it after).

    The shrinkage target ``tr(S)/genes`` is the mean of ``var``; each gene's shrunk variance is
    ``(1 − δ) S_gg + δ · target``, of which the leading components take their part and the diagonal the rest."""
    target = max(float(np.mean(var)), 1e-6)
    r = int(min(rank, len(values)))
    shrunk = np.maximum((1.0 - delta) * values[:r] + delta * target, 1e-2 * target)
    loadings = vectors[:, :r] * np.sqrt(shrunk - shrunk.min())
    noise = np.maximum((1.0 - delta) * var + delta * target - (loadings ** 2).sum(1), 1e-2 * target)
    return GaussianModel(np.zeros(len(var)), loadings=loadings, noise=noise, shrinkage=delta)


def fit_incomplete(x: np.ndarray, mask: np.ndarray, method: Shrinkage, max_iter: int, tol: float,
                   delta: float | None = None) -> GaussianModel:
    """Mean and shrinkage covariance from the observed entries only.

    The start is the pairwise-observed covariance, shrunk with intensity ``delta`` (default: the method's own
    estimate from the mean-filled samples) and made positive definite. ``max_iter`` steps of
    expectation–maximisation then refine it: the E-step takes each sample's conditional mean and covariance
    given its observed entries, the M-step the completed moments, shrunk again.
    """
    n, G = x.shape
    mu, values, vectors = pairwise_moments(x, mask)
    if delta is None:
        delta = shrinkage_intensity(np.where(mask > 0, x - mu, 0.0), method)
    cov = shrunk_from_eigen(values, vectors, delta).cov
    iterations = 0
    for iterations in range(1, max_iter + 1):
        filled, conditional = dense_mean(mu, cov, x, mask, with_covariance=True)
        mu = filled.mean(0)
        xc = filled - mu
        delta = shrinkage_intensity(xc, method)
        new = _shrink((xc.T @ xc + conditional) / n, delta)
        moved = float(np.abs(new - cov).max() / max(np.abs(cov).max(), 1e-12))
        cov = new
        if moved < tol:
            break
    return GaussianModel(mu, cov=cov, shrinkage=delta, n_samples=n, em_iterations=iterations)


def _shrink(s: np.ndarray, delta: float) -> np.ndarray:
    return (1.0 - delta) * s + delta * float(np.mean(np.diag(s))) * np.eye(len(s))


EM_MAX_GENES = 300  # in place, up to this many genes the covariance is refined by EM (the 59-gene panel)


@register("gaussian", "Gaussian (per tissue)", colour="#1f78b4", role="reference", family="linear-gaussian",
          chooses=("delta",), spread=True)
class GaussianImputer(Imputer):
    """The conditional mean ``μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o)`` under a Gaussian fitted to each tissue's training
    samples.

    The covariance is shrunk toward a multiple of the identity (Ledoit–Wolf or OAS, from scikit-learn), which is
    what makes it estimable from a few hundred samples. Which structure the name means depends on the genes ``G``
    (``P`` = :data:`~gaingtex.imputers.lowrank.PAIRWISE_MAX_GENES`, 2,000):

    - complete training samples (inductive), ``G ≤ P``: the shrinkage estimate itself, full, or exactly low rank
      plus diagonal when samples are fewer than genes;
    - missing training entries (in place), ``G ≤ em_max_genes`` (300, the 59-gene panel): full covariance, from
      the pairwise-observed one refined by EM (a genes³ solve per sample and iteration);
    - in place, ``em_max_genes < G ≤ P`` (the 2,000-gene book cohort): the pairwise-observed covariance, formed
      and decomposed exactly, shrunk with an intensity chosen on the validation split, kept to its leading
      ``rank`` components plus a diagonal;
    - ``G > P``, in place or inductive (the paper's 12,557 genes): the same shrunk rank-plus-diagonal form, its
      leading eigenpairs found without forming the genes × genes matrix (a randomised subspace iteration on the
      observed entries, :func:`~gaingtex.imputers.lowrank.masked_eigen`), so that time and memory grow linearly
      in the genes. Every posterior is then Woodbury's, samples × genes × rank².

    Parameters
    ----------
    by
        ``"tissue"``: one Gaussian per tissue; ``"all"``: one for every tissue (``gaussian-pooled``).
    shrinkage
        ``"ledoit-wolf"``, ``"oas"`` or ``"none"`` (the sample covariance; for tests with a known answer).
    min_samples
        A tissue with fewer training samples uses the Gaussian fitted to all training samples (listed in
        ``pooled_tissues_``).
    em_max_genes, max_iter, tol
        EM in place: up to this many genes, at most ``max_iter`` iterations, until the covariance moves by less
        than ``tol`` (relative).
    delta, rank
        Beyond ``em_max_genes`` in place (and beyond ``P`` genes inductive): the shrinkage intensity
        (``None``: chosen on validation from
        :attr:`deltas`) and the rank kept.
    budget
        Seconds allowed for each ``fit`` and each ``transform``; past it they raise
        :class:`~gaingtex.imputers.base.BudgetExceeded`.
    """

    name = "gaussian"
    deltas = (0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0)  # intensities tried on validation where EM costs too much

    def __init__(self, by: Literal["tissue", "all"] = "tissue", shrinkage: Shrinkage = "ledoit-wolf",
                 min_samples: int = 20, em_max_genes: int = EM_MAX_GENES, max_iter: int = 10, tol: float = 1e-3,
                 delta: float | None = None, rank: int = 100, budget: float | None = None, seed: int = 0,
                 progress: bool = False):
        super().__init__(seed)
        if by not in ("tissue", "all"):
            raise ValueError(f"unknown by {by!r}: expected 'tissue' or 'all'")
        if shrinkage not in SHRINKAGES:
            raise ValueError(f"unknown shrinkage {shrinkage!r}: expected one of {', '.join(SHRINKAGES)}")
        self.by, self.shrinkage, self.min_samples = by, shrinkage, int(min_samples)
        self.em_max_genes, self.max_iter, self.tol = int(em_max_genes), int(max_iter), float(tol)
        self.delta, self.rank = delta, int(rank)
        self.budget, self.progress = budget, progress

    def _keys(self, obs) -> np.ndarray:
        tissue = obs["tissue"].astype(str).to_numpy()
        return tissue if self.by == "tissue" else np.full(len(tissue), "all", dtype=object)

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        clock = Clock(self.name, self.budget)
        mask = observed_mask(train.x, train_mask, "train_mask")
        dtype = np.float64 if train.x.shape[1] <= PAIRWISE_MAX_GENES else np.float32  # 12,557 genes: 0.8 GB, not 1.5
        x = np.where(mask > 0, train.x, 0.0).astype(dtype)
        keys = self._keys(train.obs)
        names, counts = np.unique(keys, return_counts=True)
        small = [str(k) for k, c in zip(names, counts) if c < self.min_samples]
        fits = [str(k) for k, c in zip(names, counts) if c >= self.min_samples] + (["all"] if small else [])
        rows = {k: np.ones(len(keys), bool) if k == "all" else keys == k for k in fits}
        bar = tqdm(fits, desc=self.name, disable=not self.progress, leave=False)
        self.models_, self.validation_, self.chosen_ = {}, None, {}
        if (mask > 0).all() and x.shape[1] <= PAIRWISE_MAX_GENES:
            fit = lambda k, _: fit_complete(x[rows[k]], self.shrinkage)  # noqa: E731
        elif x.shape[1] <= self.em_max_genes:
            fit = lambda k, _: fit_incomplete(x[rows[k]], mask[rows[k]], self.shrinkage,  # noqa: E731
                                               self.max_iter, self.tol)
        else:
            fit = self._pairwise_fits(x, mask, rows, valid, valid_mask, clock)
        for i, key in enumerate(bar):
            clock.check(i, len(fits), "covariances")
            self.models_[key] = fit(key, i)
        for key in small:
            self.models_[key] = self.models_["all"]
        self.pooled_tissues_ = small if self.by == "tissue" else []
        return self

    def _pairwise_fits(self, x, mask, rows, valid, valid_mask, clock):
        """Too many genes for EM: the pairwise-observed covariance, low rank plus diagonal, with one shrinkage
        intensity for every tissue chosen on the validation split from :attr:`deltas` (or ``delta``)."""
        if x.shape[1] <= PAIRWISE_MAX_GENES:
            moments = {k: pairwise_moments(x[r], mask[r]) for k, r in rows.items()}
        else:  # only the leading eigenpairs and the diagonal, linear in the genes
            moments = {}
            for i, (k, r) in enumerate(rows.items()):
                clock.check(i, len(rows), "covariances", uniform=True)
                m = observed_moments(x[r], mask[r])
                moments[k] = (m["mu"], *masked_eigen(m["xc"], m["count"], m["var"], self.rank, self.seed), m["var"])

        def model(key, delta):
            mu, values, vectors, *var = moments[key]
            m = (shrunk_low_rank(values, vectors, var[0], delta, self.rank) if var
                 else shrunk_from_eigen(values, vectors, delta, self.rank))
            m.mean, m.n_samples = mu, int(rows[key].sum())
            return m

        delta = self.delta
        if delta is None:
            if valid is None:
                raise ValueError(f"{self.name} in place with more than {self.em_max_genes} genes chooses its "
                                 "shrinkage on a validation split; pass valid or delta")
            vx, inputs, targets, vobs = validation_task(valid, valid_mask, self.seed, max_rows=300)
            vx, vkeys = np.nan_to_num(vx).astype(np.float64), self._keys(vobs)
            self.validation_ = {}
            for i, d in enumerate(self.deltas):
                clock.check(i, len(self.deltas), "shrinkage intensities")
                prediction = np.zeros(vx.shape)
                for key in np.unique(vkeys):
                    r = vkeys == key
                    fitted = key if key in moments else "all" if "all" in moments else None
                    if fitted is not None:
                        prediction[r] = model(fitted, d).predict(vx[r], inputs[r])
                self.validation_[d] = masked_mse(vx, prediction, targets)
            delta = min(self.validation_, key=self.validation_.get)
        self.chosen_ = {"delta": float(delta)}
        return lambda key, _: model(key, delta)

    def _each(self, x, mask, obs, what):
        """``what(model, x, mask)`` on the rows of each tissue (or of all), as float64 rows of one array."""
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        keys = self._keys(obs)
        out = None
        for key in np.unique(keys):
            if key not in self.models_:
                raise ValueError(f"no training samples of tissue {key!r}: the Gaussian knows "
                                 f"{', '.join(sorted(self.models_)[:5])}, …")
            rows = np.flatnonzero(keys == key)
            part = what(self.models_[key], x0[rows].astype(np.float64), mask[rows])
            if out is None:
                out = np.empty(part.shape[:-2] + x0.shape, dtype=part.dtype)
            out[..., rows, :] = part
        return x0, mask, np.zeros(x0.shape) if out is None else out

    def transform(self, x, mask, obs):
        clock = Clock(self.name, self.budget)
        x0, mask, out = self._each(x, mask, obs, lambda model, xr, mr: model.predict(xr, mr, clock))
        return keep_observed(x0, mask, out)

    def spread(self, x, mask, obs):
        return self._each(x, mask, obs, lambda model, xr, mr: model.spread(xr, mr))[2]

    def draw(self, x, mask, obs, draws, rng):
        x0, mask, out = self._each(x, mask, obs, lambda model, xr, mr: model.draw(xr, mr, draws, rng))
        return np.where(mask > 0, x0, out).astype(np.float32) if out.ndim == 3 else out[None].repeat(draws, 0)


@register("gaussian-pooled", "Gaussian (pooled)", colour="#a6cee3", family="linear-gaussian", chooses=("delta",),
          spread=True)
class PooledGaussianImputer(GaussianImputer):
    """The Gaussian conditional mean with one covariance for every tissue: what the per-tissue one gains from
    tissue identity."""

    name = "gaussian-pooled"

    def __init__(self, shrinkage: Shrinkage = "ledoit-wolf", em_max_genes: int = EM_MAX_GENES, max_iter: int = 10,
                 tol: float = 1e-3, delta: float | None = None, rank: int = 100, budget: float | None = None,
                 seed: int = 0, progress: bool = False):
        super().__init__("all", shrinkage, 1, em_max_genes, max_iter, tol, delta, rank, budget, seed, progress)
