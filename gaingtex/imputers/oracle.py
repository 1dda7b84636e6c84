"""The exact Bayes-optimal imputer of the embedded cohort: ``E[x_missing | x_observed, tissue, covariates]``.

Within unit ``u`` (a tissue or a shifted cohort) a sample is Gaussian with mean ``μ(c)`` and covariance
``L Lᵀ + diag(ψ)``, ``L`` of rank ``k`` (the active factors); :func:`gaingtex.imputers.posterior.factor_posterior`
gives the conditional mean. Genes outside a selected subset are marginalised out (their rows of ``L`` and ``ψ``
dropped), so the oracle stays exact on any gene subset. Genes are matched to the generator by symbol.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import GTEX
from ..data.embedded import FactorModel, encode_covariates
from .base import Imputer, check_inputs, keep_observed
from .posterior import factor_posterior, low_rank_draw, low_rank_spread
from .registry import register


def unit_names(obs: pd.DataFrame) -> np.ndarray:
    """The generating unit of each sample: its tissue for GTEx samples, its cohort for shifted ones."""
    tissue = obs["tissue"].astype(str).to_numpy()
    if "cohort" not in obs.columns:
        return tissue
    cohort = obs["cohort"].astype(str).to_numpy()
    return np.where(cohort == GTEX, tissue, cohort)


def conditional_mean(
    model: FactorModel,
    x: np.ndarray,
    mask: np.ndarray,
    obs: pd.DataFrame,
    genes: np.ndarray | None = None,
    batch_size: int = 512,
    gene_chunk: int = 1024,
    what=None,
) -> np.ndarray:
    """Conditional mean of every entry given the observed ones, in the cohort's own (unstandardised) scale.

    Parameters
    ----------
    model
        The generating model (:func:`gaingtex.data.embedded.factor_model`).
    x, mask
        ``(samples, genes)`` values and 0/1 mask; values where ``mask == 0`` are ignored.
    obs
        Per-sample ``tissue``, ``cohort``, ``sex``, ``age`` and ``hardy``.
    genes
        Indices of ``x``'s columns among the model's genes (default: all of them, in order).
    what
        ``what(μ, L, ψ, x, mask)`` for each batch of rows (``μ`` one row per sample) instead of the mean: the
        conditional SD (:func:`~gaingtex.imputers.posterior.low_rank_spread`) or draws; its output's last two
        axes are the batch's rows and genes.
    """
    genes = np.arange(model.loadings.shape[0]) if genes is None else np.asarray(genes)
    cov = encode_covariates(obs)
    units = unit_names(obs)
    out = np.empty(x.shape, dtype=np.float64) if what is None else None
    x = np.where(mask > 0, x, 0.0)
    for name in np.unique(units):
        u = model.unit_index(name)
        rows = np.flatnonzero(units == name)
        _, L = model.unit_loadings(u)
        L = L[genes].astype(np.float64)
        psi = model.noise[u, genes].astype(np.float64)
        for start in range(0, len(rows), batch_size):
            r = rows[start: start + batch_size]
            mu = model.mean(u, cov[r])[:, genes]
            if what is not None:
                part = what(mu, L, psi, x[r], mask[r])
                out = np.empty(part.shape[:-2] + x.shape) if out is None else out
                out[..., r, :] = part
                continue
            f, _ = factor_posterior(L, psi, x[r] - mu, mask[r], gene_chunk)
            out[r] = mu + f @ L.T
    return np.zeros(x.shape) if out is None else out



@register("oracle", "oracle", needs_generator=True, colour="#333333", role="ceiling", spread=True)
class OracleImputer(Imputer):
    """The generating model's exact conditional mean, expressed in the prepared (standardised) scale.

    ``fit`` learns nothing: it reads the training split's genes (matched to the generator by symbol) and scale.

    Parameters
    ----------
    generator
        The cohort's :class:`~gaingtex.data.embedded.FactorModel` (:func:`gaingtex.data.embedded.factor_model`).
    healthy_tissue
        Tell the model that every sample, shifted or not, comes from its GTEx tissue: the best any model trained
        on GTEx alone can do on a shifted cohort, and wrong there by construction.
    """

    name = "oracle"

    def __init__(self, generator: FactorModel, healthy_tissue: bool = False, seed: int = 0):
        super().__init__(seed)
        self.generator = generator
        self.healthy_tissue = bool(healthy_tissue)

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        if train.genes is None or train.scale is None:
            raise ValueError("the oracle needs a prepared split (gaingtex.data.prepare) that knows its genes and scale")
        self.gene_index_ = self.generator.gene_index(train.genes)
        self.scale_ = train.scale
        self.n_genes = len(self.gene_index_)
        return self

    def transform(self, x, mask, obs):
        x0, mask, obs, raw = self._raw(x, mask, obs)
        pred = conditional_mean(self.generator, raw, mask, obs, self.gene_index_)
        return keep_observed(x0, mask, self.scale_.transform(pred))

    def _raw(self, x, mask, obs):
        """The checked input, its mask, the annotations the generator is asked about, and the raw-scale values."""
        if self.n_genes is None:
            raise RuntimeError("the oracle is not fitted: call fit(train) with a prepared split first")
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        if self.healthy_tissue and "cohort" in obs:
            obs = obs.assign(cohort=GTEX)
        return x0, mask, obs, self.scale_.inverse(x0)

    def spread(self, x, mask, obs):
        """The generating model's conditional SD, divided by the standardiser's scale (prepared units)."""
        x0, mask, obs, raw = self._raw(x, mask, obs)
        sd = conditional_mean(self.generator, raw, mask, obs, self.gene_index_, what=low_rank_spread)
        return np.where(mask > 0, 0.0, sd / self.scale_.std)

    def draw(self, x, mask, obs, draws, rng):
        """Joint draws from the generating model's conditional distribution, in the prepared scale."""
        x0, mask, obs, raw = self._raw(x, mask, obs)
        out = conditional_mean(self.generator, raw, mask, obs, self.gene_index_,
                               what=lambda mu, L, psi, xr, mr: low_rank_draw(mu, L, psi, xr, mr, draws, rng))
        if out.ndim == 2:
            return np.repeat(x0[None], draws, 0)
        return np.where(mask > 0, x0, self.scale_.transform(out)).astype(np.float32)
