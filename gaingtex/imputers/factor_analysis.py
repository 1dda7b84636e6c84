"""Factor analysis: a linear-Gaussian factor model per tissue group, learnt by EM from observed entries only."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..data import reference
from .base import Clock, Imputer, check_inputs, keep_observed, masked_mse, observed_mask, validation_task
from .lowrank import leading_eigen, observed_moments, pack, packed_outer, packing, unpack
from .posterior import low_rank_draw, low_rank_mean, low_rank_spread
from .registry import register


@register("factor-analysis", "factor analysis", colour="#66a61e", role="reference", family="linear-gaussian",
          chooses=("n_factors",), spread=True)
class FactorAnalysisImputer(Imputer):
    """A linear-Gaussian factor model per tissue group, fitted by EM on the observed training entries only.

    It belongs to the family that generated the embedded cohort, but it has to *learn* its parameters from the
    same training samples as the deep models, where the oracle is given them. Its score is therefore a measured
    reference for what learning from GTEx-sized data costs, with no architecture in the way. Missing entries are
    imputed with the fitted model's conditional mean (Woodbury, as the oracle does); :meth:`spread` and
    :meth:`draw` give the model's conditional SD and joint draws.

    Its cost is linear in the genes at any size: EM costs samples × genes × k(k+1) per iteration, and its start
    (the leading eigenvectors of the pairwise-observed covariance) is formed exactly up to
    :data:`~gaingtex.imputers.lowrank.PAIRWISE_MAX_GENES` genes and found by a randomised subspace iteration on
    the observed entries above (:func:`~gaingtex.imputers.lowrank.masked_eigen`), never as a genes × genes matrix.

    Parameters
    ----------
    n_factors
        Latent factors per model; ``None`` fits ``candidates`` from the fewest factors up and keeps the one with
        the lowest error on a fixed 50 % pseudo-mask of the validation split's observed entries (the deep models'
        validation rule). The search stops at the first count that does worse than a smaller one: the error of
        nested factor models rises past its best count (on the 59-gene panel in place: 0.826, 0.818, 0.845 for 8,
        16, 32 factors), and each larger model costs more to fit.
    by
        ``"group"``: one model per tissue group of ``data/tissue_groups.tsv`` (a tissue outside that table is
        its own group); ``"all"``: one model for every tissue.
    candidates
        Factor counts tried when ``n_factors`` is ``None``.
    min_samples
        A group with fewer samples' worth of observed entries than this gets the model fitted on all samples.
    max_iter, tol
        EM stops after ``max_iter`` iterations or once no noise variance moves by more than ``tol``. EM starts
        from the leading eigenvectors and settles fast. In place at ``book``, 20 iterations score as 50 do on all
        2,000 genes, with the same factor count, in less time, and better on the 59-gene panel, where more EM
        overfits (benchmarks/README.md, "The training schedule").
    budget
        Seconds allowed for ``fit`` (the search included); past it, checked before each model and between the
        blocks of samples of each EM iteration, it raises :class:`~gaingtex.imputers.base.BudgetExceeded`, which
        says how far the EM of the model being fitted got. ``None``: no limit.
    progress
        Show a progress bar over the fits.
    """

    name = "factor-analysis"

    def __init__(self, n_factors: int | None = None, by: Literal["group", "all"] = "group",
                 candidates: tuple[int, ...] = (8, 16, 32, 48), max_iter: int = 20, tol: float = 1e-3,
                 min_samples: int = 50, budget: float | None = None, seed: int = 0, progress: bool = False):
        super().__init__(seed)
        if by not in ("group", "all"):
            raise ValueError(f"unknown by {by!r}: expected 'group' or 'all'")
        ks = list(candidates) if n_factors is None else [n_factors]
        if not ks or any(int(k) != k or k < 1 for k in ks):
            raise ValueError(f"factor counts must be positive integers, got {ks}")
        self.n_factors, self.by, self.candidates = n_factors, by, tuple(int(k) for k in ks)
        self.max_iter, self.tol, self.progress = int(max_iter), float(tol), progress
        self.min_samples, self.budget = int(min_samples), budget

    def _keys(self, obs: pd.DataFrame) -> np.ndarray:
        tissue = obs["tissue"].astype(str).to_numpy()
        if self.by == "all":
            return np.full(len(tissue), "all", dtype=object)
        groups = reference.tissues()["group"].to_dict()
        return np.array([groups.get(t, t) for t in tissue], dtype=object)

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        mask = observed_mask(train.x, train_mask, "train_mask")
        keys = self._keys(train.obs)
        clock = Clock(self.name, self.budget)
        if len(self.candidates) == 1:
            self.models_ = self._fit_models(train.x, mask, keys, self.candidates[0], clock=clock)
            self.n_factors_ = self.candidates[0]
            self.chosen_ = {"n_factors": self.n_factors_}
            return self
        if valid is None:
            raise ValueError("choosing the number of factors needs a validation split; pass valid or n_factors")
        vx, inputs, targets, vobs = validation_task(valid, valid_mask, self.seed)
        errors, best, moments = {}, None, {}
        for k in sorted(self.candidates):
            models = self._fit_models(train.x, mask, keys, k, moments, clock)
            prediction = self._predict(models, vx, inputs, self._keys(vobs), vobs)
            errors[k] = masked_mse(vx, prediction, targets)
            if best is None or errors[k] < errors[best]:
                best, self.models_ = k, models
            else:  # past the best count: the larger ones, each costlier, are not fitted
                break
        self.n_factors_ = best
        self.chosen_ = {"n_factors": best}
        self.validation_ = pd.Series(errors, name="validation_mse").rename_axis("n_factors")
        return self

    def _fit_models(self, x, mask, keys, k, moments: dict | None = None, clock: Clock | None = None) -> dict:
        """One model per key; keys with less than ``min_samples`` samples' worth of observed entries get the
        model fitted on every training sample. ``moments`` caches each key's :func:`factor_moments` (for the
        largest candidate), so that the search computes them once, not once per factor count."""
        names = list(dict.fromkeys(keys))
        small = {n for n in names if mask[keys == n].sum() / mask.shape[1] < self.min_samples}
        fits = [n for n in names if n not in small] + (["all"] if small else [])
        bar = tqdm(fits, desc=f"factor analysis, {k} factors", disable=not self.progress, leave=False)
        moments = {} if moments is None else moments
        models = {}
        for i, name in enumerate(bar):
            if clock is not None:
                clock.check(i, len(fits), f"models of {k} factors")
            rows = np.ones(len(keys), dtype=bool) if name == "all" else keys == name
            if name not in moments:
                moments[name] = factor_moments(x[rows], mask[rows], max(self.candidates))
            models[name] = fit_factor_model(x[rows], mask[rows], k, self.max_iter, self.tol, moments=moments[name],
                                             clock=clock)
        return {n: models["all" if n in small else n] for n in names}

    @staticmethod
    def _predict(models, x, mask, keys, obs, what=low_rank_mean) -> np.ndarray:
        """``what(μ, L, ψ, x, mask)`` (the conditional mean, SD or draws) on the rows of each group's model."""
        out = None
        for name in np.unique(keys):
            if name not in models:
                tissues = sorted(set(obs["tissue"].astype(str).to_numpy()[keys == name]))
                raise ValueError(f"no training samples for {name!r} (tissue {', '.join(tissues)}): the factor model "
                                 f"knows {', '.join(sorted(models))}")
            rows = np.flatnonzero(keys == name)
            part = what(*models[name], x[rows], mask[rows])
            if out is None:
                out = np.zeros(part.shape[:-2] + x.shape, dtype=np.float64)
            out[..., rows, :] = part
        return np.zeros(x.shape) if out is None else out

    def transform(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        return keep_observed(x0, mask, self._predict(self.models_, x0, mask, self._keys(obs), obs))

    def spread(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        return self._predict(self.models_, x0, mask, self._keys(obs), obs, low_rank_spread)

    def draw(self, x, mask, obs, draws, rng):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        out = self._predict(self.models_, x0, mask, self._keys(obs), obs,
                            lambda mu, L, psi, xr, mr: low_rank_draw(mu, L, psi, xr, mr, draws, rng))
        return np.where(mask > 0, x0, out).astype(np.float32) if out.ndim == 3 else np.repeat(x0[None], draws, 0)


def factor_moments(x: np.ndarray, mask: np.ndarray, k: int, seed: int = 0) -> dict:
    """What :func:`fit_factor_model` starts from, for any factor count up to ``k``: each gene's observed mean,
    the centred values (float32), sums of squares and variances, the mean variance, and the ``k`` leading
    eigenpairs of the pairwise-observed covariance (descending; formed exactly up to
    :data:`~gaingtex.imputers.lowrank.PAIRWISE_MAX_GENES` genes, by a randomised subspace iteration linear in
    the genes above: :func:`~gaingtex.imputers.lowrank.leading_eigen`)."""
    moments = observed_moments(x, mask)
    seen = moments["count"]
    raw = moments["var"]
    moments["var"] = np.where(seen >= 2, np.maximum(raw, 1e-6), 1.0)  # a gene seen < 2 times: unit scale
    moments["count"] = np.maximum(seen, 1.0)
    moments["mean_var"] = float(np.mean(raw))
    values, vectors = leading_eigen({**moments, "count": seen, "var": raw}, k, seed)
    moments["values"], moments["vectors"] = values, vectors
    return moments


def fit_factor_model(x: np.ndarray, mask: np.ndarray, k: int, max_iter: int = 20, tol: float = 1e-3,
                     chunk: int = 1024, moments: dict | None = None,
                     clock: Clock | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood factor analysis ``x = μ + L f + ε`` on the observed entries of ``x`` (EM).

    ``μ`` is each gene's observed mean; ``L`` starts from the leading eigenvectors of the pairwise-observed
    covariance (``moments``: :func:`factor_moments` of the same ``x`` and ``mask`` for at least ``k`` factors,
    computed here when not given).
    Small data get fewer factors (at least four observations per gene and factor) and every noise variance is
    kept above 2 % of its gene's variance, so that no gene is trusted as noiseless.

    An iteration costs samples × genes × k(k+1) multiply-adds, linear in the genes: each sample's posterior
    precision ``I + L_oᵀ Ψ_o⁻¹ L_o`` (E-step) and each gene's ``Σ_n m_ng E[f fᵀ]`` (M-step) are sums of symmetric
    k × k matrices, taken as products of float32 matrices with their upper triangles packed.
    ``clock`` (:class:`~gaingtex.imputers.base.Clock`) is checked between blocks of samples.
    Returns ``(μ, L, ψ)`` with shapes ``(genes,)``, ``(genes, k)``, ``(genes,)``.
    """
    n, G = x.shape
    k = int(max(1, min(k, np.asarray(mask).sum() / G / 4, G)))  # at least four observations per gene and factor
    if moments is None or len(moments["values"]) < k:
        moments = factor_moments(x, mask, k)
    mask, mu, xc, sxx, var, count = (moments[key] for key in ("mask", "mu", "xc", "sxx", "var", "count"))
    values, vectors = moments["values"][:k], moments["vectors"][:, :k]
    noise = max(moments["mean_var"] - float(values.sum()) / G, 1e-3)
    L = vectors * np.sqrt(np.maximum(values - noise, 1e-3))
    psi = np.maximum(var - (L ** 2).sum(1), 2e-2 * var)
    complete = bool(mask.min() == 1) if mask.size else True
    eye = np.eye(k)
    iu, ju = packing(k)
    for iteration in range(max_iter):
        num = np.zeros((G, k))
        den = np.zeros((G, k * (k + 1) // 2))
        outer = packed_outer(L, np.float32)
        L32, inv_psi = L.astype(np.float32), (1.0 / psi).astype(np.float32)
        if complete:  # every gene observed (inductive training): one posterior for all rows
            C = np.linalg.inv(eye + (L.T / psi) @ L)
            ff = np.zeros((k, k))
        for start in range(0, n, chunk):
            if clock is not None:
                clock.check(iteration, max_iter, f"EM iterations ({k} factors)")
            rows = slice(start, start + chunk)
            xb = xc[rows]
            b = (xb * inv_psi) @ L32
            if complete:
                f = b.astype(np.float64) @ C
                ff += f.T @ f
            else:
                mb = mask[rows]
                C = np.linalg.inv(unpack((mb * inv_psi) @ outer, k) + eye)
                f = np.einsum("nij,nj->ni", C, b.astype(np.float64))
                # E[f fᵀ] = C + f fᵀ, formed packed: the same sums as on the full squares, half of them
                den += mb.T @ (pack(C) + f[:, iu] * f[:, ju]).astype(np.float32)
            num += xb.T @ f.astype(np.float32)
        if complete:
            den += pack((n * C + ff)[None])
        full = unpack(den, k) + 1e-8 * eye
        L = np.linalg.solve(full, num[:, :, None])[:, :, 0]
        new_psi = np.maximum((sxx - (L * num).sum(1)) / count, 2e-2 * var)
        moved = float(np.abs(new_psi - psi).max())
        psi = new_psi
        if moved < tol:
            break
    return mu, L, psi
