"""The Gaussian posterior of a low-rank-plus-diagonal model, shared by the oracle and factor analysis.

For ``x = L f + ε`` with ``f ~ N(0, I_k)`` and ``ε ~ N(0, diag ψ)``, Woodbury's identity gives the posterior of the
factors from the observed genes ``o`` alone in O(genes × k²) per sample, instead of a (genes × genes) solve:
``A = I + L_oᵀ Ψ_o⁻¹ L_o`` and ``E[f | x_o] = A⁻¹ L_oᵀ Ψ_o⁻¹ x_o``, so ``E[x | x_o] = L E[f | x_o]``.
"""

from __future__ import annotations

import numpy as np


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
