"""Gaussian posteriors shared by the oracle, factor analysis and the Gaussian baselines.

A low-rank-plus-diagonal model goes through Woodbury's identity; a full covariance through a Cholesky solve per
row (:func:`dense_mean`).

For ``x = L f + ε`` with ``f ~ N(0, I_k)`` and ``ε ~ N(0, diag ψ)``, Woodbury's identity gives the posterior of the
factors from the observed genes ``o`` alone in O(genes × k²) per sample, instead of a (genes × genes) solve:
``A = I + L_oᵀ Ψ_o⁻¹ L_o`` and ``E[f | x_o] = A⁻¹ L_oᵀ Ψ_o⁻¹ x_o``, so ``E[x | x_o] = L E[f | x_o]``.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from threadpoolctl import threadpool_limits


def factor_posterior(L: np.ndarray, psi: np.ndarray, x: np.ndarray, mask: np.ndarray,
                     gene_chunk: int = 1024, covariance: bool = False,
                     single: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Posterior of the factors of ``x = L f + ε`` (``f ~ N(0, I)``, ``ε ~ N(0, diag ψ)``) given the observed
    entries of each row.

    Parameters
    ----------
    L, psi
        ``(genes, k)`` loadings and ``(genes,)`` noise variances.
    x, mask
        ``(samples, genes)`` centred values and 0/1 mask; values where ``mask == 0`` are ignored.
    covariance
        Return the posterior covariances ``A⁻¹`` instead of the precisions. An EM step needs them; inverting
        each ``A`` once then also gives the means, where a solve would factorise ``A`` a second time.
    single
        Sum the precisions' ``genes``-long products in single precision (twice as fast; used by factor
        analysis's EM, whose updates are far coarser). The oracle keeps double precision.

    Returns
    -------
    mean, precision
        ``(samples, k)`` posterior means ``A⁻¹ L_oᵀ Ψ_o⁻¹ x_o`` and ``(samples, k, k)`` precisions
        ``A = I + L_oᵀ Ψ_o⁻¹ L_o``, accumulated a chunk of genes at a time (with ``covariance``: ``A⁻¹``).
    """
    n, k = len(x), L.shape[1]
    w = mask / psi  # Ψ_o⁻¹ restricted to observed genes
    A = np.broadcast_to(np.eye(k), (n, k, k)).copy()
    dtype = np.float32 if single else np.float64
    for g0 in range(0, L.shape[0], gene_chunk):
        Lc = L[g0: g0 + gene_chunk]
        outer = (Lc[:, :, None] * Lc[:, None, :]).reshape(len(Lc), k * k).astype(dtype)
        A += (w[:, g0: g0 + gene_chunk].astype(dtype) @ outer).reshape(n, k, k)
    b = (w * np.where(mask > 0, x, 0.0)) @ L
    if covariance:
        C = np.linalg.inv(A)
        return np.einsum("nij,nj->ni", C, b), C
    return np.linalg.solve(A, b[:, :, None])[:, :, 0], A


def low_rank_mean(mu: np.ndarray, L: np.ndarray, psi: np.ndarray, x: np.ndarray, mask: np.ndarray,
                  clock=None, entries: float = 4e6) -> np.ndarray:
    """``E[x | x_o]`` for ``x ~ N(μ, L Lᵀ + diag ψ)``, row by row given each row's observed entries (Woodbury).

    Up to rank 64, rows and genes are taken in blocks of about ``entries`` numbers of the ``(rows, k, k)``
    precisions; a higher rank (a shrinkage covariance of a few hundred samples) builds each row's precision
    ``I + L_oᵀ Ψ_o⁻¹ L_o`` with one matrix product instead, which keeps memory at k² and the product efficient.
    ``clock`` (:class:`~gaingtex.imputers.base.Clock`) is checked between blocks.
    """
    k = max(L.shape[1], 1)
    out = np.empty(x.shape, dtype=np.float64)
    if k > 64:
        for i in range(len(x)):
            if clock is not None and i % 64 == 0:
                clock.check(i, len(x), "samples", uniform=True)
            w = mask[i] / psi
            precision = np.eye(k) + (L.T * w) @ L
            f = np.linalg.solve(precision, L.T @ (w * np.where(mask[i] > 0, x[i] - mu, 0.0)))
            out[i] = mu + L @ f
        return out
    rows = max(1, int(entries // (k * k)))
    for start in range(0, len(x), rows):
        if clock is not None:
            clock.check(start, len(x), "samples", uniform=True)
        r = slice(start, start + rows)
        f, _ = factor_posterior(L, psi, x[r] - mu, mask[r], gene_chunk=rows)
        out[r] = mu + f @ L.T
    return out


def dense_mean(mu: np.ndarray, cov: np.ndarray, x: np.ndarray, mask: np.ndarray, clock=None,
               with_covariance: bool = False):
    """``E[x | x_o]`` for ``x ~ N(μ, Σ)`` with a full covariance: per row, a Cholesky solve on its observed block.

    With ``with_covariance`` also returns the sum over rows of the conditional covariances
    ``Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om`` (zero outside each row's missing block), which an EM step needs.
    Rows are solved one at a time on one BLAS thread: OpenBLAS threads spinning between small solves made this
    fifteen times slower on two cores.
    """
    with threadpool_limits(1, user_api="blas"):
        return _dense_mean(mu, cov, x, mask, clock, with_covariance)


def _dense_mean(mu, cov, x, mask, clock, with_covariance):
    n, G = x.shape
    out = np.empty((n, G), dtype=np.float64)
    total = np.zeros((G, G)) if with_covariance else None
    for i in range(n):
        if clock is not None and i % 64 == 0:
            clock.check(i, n, "samples", uniform=True)
        o = mask[i] > 0
        m = ~o
        out[i] = np.where(o, x[i], mu)
        if not m.any():
            continue
        if not o.any():
            if with_covariance:
                total += cov
            continue
        factor = cho_factor(cov[np.ix_(o, o)])
        out[i, m] = mu[m] + cov[np.ix_(m, o)] @ cho_solve(factor, x[i, o] - mu[o])
        if with_covariance:
            cross = cov[np.ix_(o, m)]
            total[np.ix_(m, m)] += cov[np.ix_(m, m)] - cross.T @ cho_solve(factor, cross)
    return (out, total) if with_covariance else out
