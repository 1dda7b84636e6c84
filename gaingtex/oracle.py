"""The exact Bayes-optimal imputer of the embedded cohort: ``E[x_missing | x_observed, tissue, covariates]``.

Within unit ``u`` (a tissue or a shifted cohort) a sample is Gaussian with mean ``μ(c)`` and covariance
``L Lᵀ + diag(ψ)``, ``L`` of rank ``k`` (the active factors). With ``o`` the observed genes, Woodbury's identity gives

    E[x_m | x_o] = μ_m + L_m (I + L_oᵀ Ψ_o⁻¹ L_o)⁻¹ L_oᵀ Ψ_o⁻¹ (x_o − μ_o),

which costs O(genes × k²) per sample instead of a (genes × genes) solve. Genes outside a selected subset are
simply marginalised out (their rows of ``L`` and ``ψ`` dropped), so the oracle stays exact on any gene subset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cohort import GTEX, FactorModel, encode_covariates


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
) -> np.ndarray:
    """Conditional mean of every entry given the observed ones, in the cohort's own (unstandardised) scale.

    Parameters
    ----------
    model
        The generating model (:func:`gaingtex.cohort.factor_model`).
    x, mask
        ``(samples, genes)`` values and 0/1 mask; values where ``mask == 0`` are ignored.
    obs
        Per-sample ``tissue``, ``cohort``, ``sex``, ``age`` and ``hardy``.
    genes
        Indices of ``x``'s columns among the model's genes (default: all of them, in order).
    """
    genes = np.arange(model.loadings.shape[0]) if genes is None else np.asarray(genes)
    cov = encode_covariates(obs)
    units = unit_names(obs)
    out = np.empty(x.shape, dtype=np.float64)
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
            f, _ = factor_posterior(L, psi, x[r] - mu, mask[r], gene_chunk)
            out[r] = mu + f @ L.T
    return out


def factor_posterior(L: np.ndarray, psi: np.ndarray, x: np.ndarray, mask: np.ndarray,
                     gene_chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Posterior of the factors of ``x = L f + ε`` (``f ~ N(0, I)``, ``ε ~ N(0, diag ψ)``) given the observed
    entries of each row.

    Parameters
    ----------
    L, psi
        ``(genes, k)`` loadings and ``(genes,)`` noise variances.
    x, mask
        ``(samples, genes)`` centred values and 0/1 mask; values where ``mask == 0`` are ignored.

    Returns
    -------
    mean, precision
        ``(samples, k)`` posterior means ``A⁻¹ L_oᵀ Ψ_o⁻¹ x_o`` and ``(samples, k, k)`` precisions
        ``A = I + L_oᵀ Ψ_o⁻¹ L_o``, accumulated a chunk of genes at a time.
    """
    n, k = len(x), L.shape[1]
    w = mask / psi  # Ψ_o⁻¹ restricted to observed genes
    A = np.broadcast_to(np.eye(k), (n, k, k)).copy()
    for g0 in range(0, L.shape[0], gene_chunk):
        Lc = L[g0: g0 + gene_chunk]
        outer = (Lc[:, :, None] * Lc[:, None, :]).reshape(len(Lc), k * k)
        A += (w[:, g0: g0 + gene_chunk] @ outer).reshape(n, k, k)
    b = (w * np.where(mask > 0, x, 0.0)) @ L
    return np.linalg.solve(A, b[:, :, None])[:, :, 0], A
