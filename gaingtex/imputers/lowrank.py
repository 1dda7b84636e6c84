"""What the linear-Gaussian family needs at any gene count: moments of the observed entries and the leading
eigenpairs of their covariance in time and memory linear in the genes, and the symmetric products of a
low-rank posterior kept packed.

The pairwise-observed covariance ``S_gh = Σ_n m_ng m_nh x̃_ng x̃_nh / Σ_n m_ng m_nh`` (``x̃`` centred, ``m`` the
mask) is a genes × genes matrix: at 12,557 genes 1.3 GB per copy and a genes³ eigendecomposition. When entries are
missing completely at random with rate ``1 − p_g`` per gene, the same matrix is, up to sampling noise, the
operator ``C = Zᵀ Z / n − diag(d)`` with ``Z = x̃ · diag(1/p)`` (zero where missing) and
``d_g = S_gg (1/p_g − 1)``: ``Zᵀ Z / n`` has the right off-diagonal entries and ``S_gg / p_g`` on its diagonal.
Its leading eigenpairs come from a randomised subspace iteration (Halko, Martinsson & Tropp, SIAM Review 2011,
53:217) that only multiplies ``Z`` and ``Zᵀ`` by thin blocks: samples × genes × rank per product.
"""

from __future__ import annotations

import functools

import numpy as np

# Up to this many genes the pairwise-observed covariance is formed and decomposed exactly (genes² memory, a
# genes³ decomposition: 2,000 genes take 32 MB and a few seconds); above it, the randomised eigensolver.
PAIRWISE_MAX_GENES = 2000


def observed_moments(x: np.ndarray, mask: np.ndarray) -> dict:
    """Each gene's observed mean ``mu``, count, sum of squared deviations ``sxx`` and variance ``var`` (``S_gg``),
    and the centred values ``xc`` (float32, 0 where missing)."""
    mask = np.asarray(mask, dtype=np.float32)
    count = mask.sum(0, dtype=np.float64)
    seen = np.maximum(count, 1.0)
    mu = np.where(mask > 0, x, 0.0).sum(0, dtype=np.float64) / seen
    xc = np.where(mask > 0, np.asarray(x, dtype=np.float32) - mu.astype(np.float32), 0.0).astype(np.float32)
    sxx = np.einsum("ij,ij->j", xc, xc, dtype=np.float64)
    var = sxx / seen
    return {"mask": mask, "mu": mu, "xc": xc, "count": count, "sxx": sxx, "var": var}


def masked_eigen(xc: np.ndarray, count: np.ndarray, var: np.ndarray, k: int, seed: int = 0, power: int = 6,
                 oversample: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` leading eigenpairs (descending) of the covariance of centred, zero-filled values ``xc`` whose
    genes were observed ``count`` times with variance ``var``, without forming it (see the module's docstring).

    The subspace iteration runs on ``C + s I`` with ``s = max(d)``, which is positive semi-definite, so that it
    converges to the largest eigenvalues rather than the largest in size; ``power`` passes with ``oversample``
    extra directions."""
    n, G = xc.shape
    k = int(min(k, G))
    p = np.maximum(count, 1.0) / max(n, 1)
    d = var * (1.0 / p - 1.0)
    shift = float(d.max()) if len(d) else 0.0
    scale = (1.0 / p).astype(np.float32)
    width = int(min(G, k + oversample))
    rng = np.random.default_rng(seed)

    def apply(v: np.ndarray) -> np.ndarray:  # (C + s I) v, v of shape (genes, width)
        u = xc @ (v * scale[:, None]).astype(np.float32)
        return (xc.T @ u).astype(np.float64) * scale[:, None] / n + (shift - d)[:, None] * v

    q = np.linalg.qr(rng.standard_normal((G, width)))[0]
    for _ in range(power):
        q = np.linalg.qr(apply(q))[0]
    small = q.T @ apply(q)
    values, vectors = np.linalg.eigh((small + small.T) / 2)
    top = np.argsort(values)[::-1][:k]
    return values[top] - shift, q @ vectors[:, top]


def pairwise_eigen(xc: np.ndarray, mask: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` leading (all without ``k``) eigenpairs, descending, of the pairwise-observed covariance formed
    exactly: genes² memory, LAPACK's subset solver."""
    from scipy.linalg import eigh

    xc = np.asarray(xc, dtype=np.float64)
    mask = np.asarray(mask, dtype=np.float64)
    G = xc.shape[1]
    cov = (xc.T @ xc) / np.maximum(mask.T @ mask, 1.0)
    k = G if k is None else int(min(k, G))
    values, vectors = eigh(cov, subset_by_index=[G - k, G - 1])
    return values[::-1], vectors[:, ::-1]


def leading_eigen(moments: dict, k: int, seed: int = 0, exact: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` leading eigenpairs of the pairwise-observed covariance of :func:`observed_moments`: exact up to
    :data:`PAIRWISE_MAX_GENES` genes (or as ``exact`` says), randomised above."""
    G = moments["xc"].shape[1]
    if exact if exact is not None else G <= PAIRWISE_MAX_GENES:
        return pairwise_eigen(moments["xc"], moments["mask"], k)
    return masked_eigen(moments["xc"], moments["count"], moments["var"], k, seed)


def packing(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the upper triangle of a k × k matrix: a symmetric matrix in k(k+1)/2 numbers."""
    return np.triu_indices(k)


@functools.lru_cache(maxsize=16)
def _flat_packing(k: int) -> tuple[np.ndarray, np.ndarray]:
    """For a k × k matrix flattened: where each packed number sits (upper triangle), and which packed number
    each of its k² places holds: one gather along one axis, far cheaper than indexing two axes with ``packing``'s
    pairs (benchmarks/README.md, "The linear methods at the paper's size"), the same numbers."""
    i, j = packing(k)
    place = np.empty((k, k), dtype=np.intp)
    place[i, j] = place[j, i] = np.arange(len(i))
    return i * k + j, place.reshape(-1)


def packed_outer(L: np.ndarray, dtype=np.float64) -> np.ndarray:
    """``(genes, k(k+1)/2)``: the upper triangle of each gene's ``L_g L_gᵀ``, so that ``w @ packed_outer(L)`` sums
    ``Σ_g w_g L_g L_gᵀ`` for every row of ``w`` at half the cost of the full squares."""
    i, j = packing(L.shape[1])
    return (L[:, i] * L[:, j]).astype(dtype)


def unpack(packed: np.ndarray, k: int) -> np.ndarray:
    """``(rows, k, k)`` symmetric float64 matrices from their packed upper triangles ``(rows, k(k+1)/2)``."""
    full = np.take(packed, _flat_packing(k)[1], axis=1).reshape(len(packed), k, k)
    return full.astype(np.float64, copy=False)


def pack(full: np.ndarray) -> np.ndarray:
    """The packed upper triangles of ``(rows, k, k)`` symmetric matrices."""
    k = full.shape[-1]
    return np.take(full.reshape(len(full), k * k), _flat_packing(k)[0], axis=1)
