"""Gaussian posteriors shared by the oracle, factor analysis and the Gaussian baselines.

A low-rank-plus-diagonal model goes through Woodbury's identity; a full covariance through a Cholesky solve per
row (:func:`dense_mean`).

For ``x = L f + ε`` with ``f ~ N(0, I_k)`` and ``ε ~ N(0, diag ψ)``, Woodbury's identity gives the posterior of the
factors from the observed genes ``o`` alone in O(genes × k²) per sample, instead of a (genes × genes) solve:
``A = I + L_oᵀ Ψ_o⁻¹ L_o`` and ``E[f | x_o] = A⁻¹ L_oᵀ Ψ_o⁻¹ x_o``, so ``E[x | x_o] = L E[f | x_o]``.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular

from ._blocks import one_blas_thread, shared_rows
from ._lapack import gram, potrf, potrs, trsm, trtri
from .lowrank import packed_outer, unpack

# Above this rank a row's precision is built and factorised on its own, on one BLAS thread: the packed products of
# whole blocks of rows need k²/2 numbers per gene, recomputed for blocks of a few dozen rows, which for a tissue's
# shrinkage covariance of a few hundred samples was several times slower than going row by row. So are fewer rows
# than the rank, at any rank (:func:`_row_by_row`): building the packed products alone costs about as much as two
# rows' own precisions, which a per-tissue Gaussian paid for every tissue's handful of validation rows at each
# shrinkage it tried; from about as many rows as the rank, the packed products are as fast or faster for the means.
# The numbers: benchmarks/README.md, "The whole book".
PER_ROW_RANK = 128


def _row_by_row(rows: int, k: int) -> bool:
    """Whether a low-rank posterior of ``rows`` rows at rank ``k`` is solved row by row (:data:`PER_ROW_RANK`)."""
    return k > PER_ROW_RANK or rows < k


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
    dtype = np.float32 if single else np.float64
    packed = np.zeros((n, k * (k + 1) // 2))  # A is symmetric: its upper triangle is half the products
    for g0 in range(0, L.shape[0], gene_chunk):
        packed += w[:, g0: g0 + gene_chunk].astype(dtype) @ packed_outer(L[g0: g0 + gene_chunk], dtype)
    A = unpack(packed, k) + np.eye(k)
    b = (w * np.where(mask > 0, x, 0.0)) @ L
    if covariance:
        C = np.linalg.inv(A)
        return np.einsum("nij,nj->ni", C, b), C
    return np.linalg.solve(A, b[:, :, None])[:, :, 0], A


def low_rank_mean(mu: np.ndarray, L: np.ndarray, psi: np.ndarray, x: np.ndarray, mask: np.ndarray,
                  clock=None, entries: float = 4e6) -> np.ndarray:
    """``E[x | x_o]`` for ``x ~ N(μ, L Lᵀ + diag ψ)``, row by row given each row's observed entries (Woodbury).

    Up to rank :data:`PER_ROW_RANK`, and with at least ``k`` rows, rows and genes are taken in blocks of about
    ``entries`` numbers of the ``(rows, k, k)`` precisions, whose symmetric sums are products of whole blocks
    (packed: :func:`factor_posterior`), so that a shrinkage covariance of a hundred components runs as large matrix
    products, not a small one per row (on two busy cores those were far slower: benchmarks/linear_scale.py). A
    higher rank (a shrinkage covariance of a few hundred samples), or fewer rows, factorises each row's precision on
    its own (:func:`_each_row`), which keeps memory at k². ``clock`` (:class:`~gaingtex.imputers.base.Clock`) is
    checked between blocks.
    """
    k = max(L.shape[1], 1)
    out = np.empty(x.shape, dtype=np.float64)
    if _row_by_row(len(x), k):
        out[:] = np.where(mask > 0, x, mu)

        def mean(i, o, m, root):
            b = L[o].T @ ((x[i, o] - _row(mu, i)[o]) / psi[o])
            out[i, m] = _row(mu, i)[m] + L[m] @ potrs(root, b)

        _each_row(L, psi, mask, mean, clock)
        return out
    rows = max(1, int(entries // (k * k)))
    genes = max(64, int(entries // (k * (k + 1) // 2)))  # the packed products' block: about ``entries`` numbers
    for start in range(0, len(x), rows):
        if clock is not None:
            clock.check(start, len(x), "samples", uniform=True)
        r = slice(start, start + rows)
        f, _ = factor_posterior(L, psi, x[r] - mu, mask[r], gene_chunk=genes)
        out[r] = mu + f @ L.T
    return out


def dense_mean(mu: np.ndarray, cov: np.ndarray, x: np.ndarray, mask: np.ndarray, clock=None,
               with_covariance: bool = False):
    """``E[x | x_o]`` for ``x ~ N(μ, Σ)`` with a full covariance: per row, a Cholesky solve on its observed block.

    With ``with_covariance`` also returns the sum over rows of the conditional covariances
    ``Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om`` (zero outside each row's missing block), which an EM step needs; those rows are
    solved one at a time, the others shared among the cores (:func:`shared_rows`). Each row is solved on one BLAS
    thread: OpenBLAS threads spinning between small solves made this fifteen times slower on two cores.
    """
    n, G = x.shape
    cov = _symmetric(cov)
    out = np.empty((n, G), dtype=np.float64)
    total = np.zeros((G, G)) if with_covariance else None

    def walk(rows):
        for i in rows:
            o = mask[i] > 0
            m = ~o
            out[i] = np.where(o, x[i], mu)
            if not m.any():
                continue
            if not o.any():
                if with_covariance:
                    total[...] += cov
                continue
            factor = _factor(cov, o, lower=False, what=f"the observed covariance of sample {i}")
            solved = np.zeros(G)
            solved[o] = potrs(factor, x[i, o] - mu[o])
            out[i, m] = mu[m] + (cov @ solved)[m]  # Σ_mo z: one pass over Σ, cheaper than gathering Σ_mo
            if with_covariance:
                cross = cov[np.ix_(o, m)]
                total[np.ix_(m, m)] += cov[np.ix_(m, m)] - cross.T @ potrs(factor, cross)

    if with_covariance:  # one running sum, in row order
        with one_blas_thread():
            for start in range(0, n, 64):
                if clock is not None:
                    clock.check(start, n, "samples", uniform=True)
                walk(range(start, min(start + 64, n)))
        return out, total
    shared_rows(n, walk, clock)
    return out


# The family's own predictive distribution: given a sample's observed genes ``o``, its missing genes ``m`` are
# Gaussian with the conditional mean above and covariance ``Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om``; for ``Σ = L Lᵀ + diag ψ``
# that is ``L A⁻¹ Lᵀ + diag ψ`` (the factors' posterior covariance ``A⁻¹`` pushed through ``L``, plus the noise).


def _each_row(L: np.ndarray, psi: np.ndarray, mask: np.ndarray, work, clock=None) -> None:
    """``work(i, observed, missing, c)`` for each row with a missing entry, ``c`` the upper Cholesky factor of the
    factors' posterior precision ``A = I + L_oᵀ Ψ_o⁻¹ L_o`` (one symmetric product over the observed genes, then
    LAPACK). Each block of rows is shared among one thread per core, each with BLAS on one thread: BLAS threads
    spinning between per-row products cost five to seven times the time on two cores, and the product and the
    factorisation are called without Python's lock (:mod:`._lapack`). ``clock`` is checked between blocks, as the
    blocked products check it. ``work`` must write only to its own row."""
    k = L.shape[1]
    scaled = L / np.sqrt(psi)[:, None]

    def walk(rows):
        for i in rows:
            o = mask[i] > 0
            m = ~o
            if not m.any():
                continue
            A = gram(scaled[o]) if o.any() else np.zeros((k, k), order="F")
            A[np.diag_indices(k)] += 1.0
            root, info = potrf(A, overwrite=True)
            if info != 0:
                raise np.linalg.LinAlgError(f"the factors' posterior precision of sample {i} is not positive "
                                            "definite")
            work(i, o, m, root)

    shared_rows(len(mask), walk, clock)


def _symmetric(a: np.ndarray) -> np.ndarray:
    """``(a + aᵀ) / 2``: ``a`` itself, bit for bit, when it is symmetric (an EM step's sum of products may not be,
    in its last bits), as :func:`_factor` needs."""
    return (a + a.T) / 2


def _row(mu: np.ndarray, i: int) -> np.ndarray:
    """``μ`` of row ``i``: the one mean of all rows ``(genes,)`` or its own ``(samples, genes)``."""
    return mu if mu.ndim == 1 else mu[i]


def _row_blocks(n: int, k: int, entries: float = 4e6):
    rows = max(1, int(entries // max(k * k, 1)))
    return [slice(start, start + rows) for start in range(0, n, rows)]


def _means(mu: np.ndarray, rows: slice) -> np.ndarray:
    """``μ`` for a block of rows: one mean for all rows ``(genes,)`` or one per row ``(samples, genes)``."""
    return mu if mu.ndim == 1 else mu[rows]


def low_rank_spread(mu: np.ndarray, L: np.ndarray, psi: np.ndarray, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The conditional standard deviation of every entry of ``x ~ N(μ, L Lᵀ + diag ψ)`` given its row's observed
    entries: ``√(ψ + diag(L A⁻¹ Lᵀ))`` where missing, 0 where observed. ``μ``: ``(genes,)`` or one per row."""
    k = L.shape[1]
    out = np.zeros(x.shape, dtype=np.float64)
    if _row_by_row(len(x), k):
        def spread(i, _, m, root):
            # with A = Rᵀ R, diag(L_m A⁻¹ L_mᵀ) is the column sums of squares of R⁻ᵀ L_mᵀ: one triangular solve,
            # half the products of forming A⁻¹ and multiplying L_m by it. L[m] is C-ordered, so its transpose is
            # the Fortran-ordered right-hand side, solved in place.
            solved = trsm(root, L[m].T, transpose=True, overwrite=True)
            out[i, m] = np.sqrt(np.maximum(psi[m] + np.einsum("kg,kg->g", solved, solved), 0.0))

        _each_row(L, psi, mask, spread)
        return out
    i, j = np.triu_indices(k)
    outer = packed_outer(L).T  # (k(k+1)/2, genes): diag(L C Lᵀ)_g = Σ_{i≤j} (2 − [i = j]) C_ij L_gi L_gj
    twice = np.where(i == j, 1.0, 2.0)
    for r in _row_blocks(len(x), k):
        _, C = factor_posterior(L, psi, x[r] - _means(mu, r), mask[r], covariance=True)
        variance = psi + (C[:, i, j] * twice) @ outer
        out[r] = np.where(mask[r] > 0, 0.0, np.sqrt(np.maximum(variance, 0.0)))
    return out


def low_rank_draw(mu: np.ndarray, L: np.ndarray, psi: np.ndarray, x: np.ndarray, mask: np.ndarray, draws: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``(draws, samples, genes)`` draws of each row of ``x ~ N(μ, L Lᵀ + diag ψ)`` given its observed entries,
    jointly over its missing genes: the factors from their posterior ``N(A⁻¹ b, A⁻¹)``, then independent noise.
    Observed entries are returned exactly."""
    n, G = x.shape
    k = L.shape[1]
    out = np.empty((draws, n, G), dtype=np.float32)
    for r in _row_blocks(n, k):
        m = _means(mu, r)
        f, C = factor_posterior(L, psi, x[r] - m, mask[r], covariance=True)
        root = np.linalg.cholesky((C + np.swapaxes(C, 1, 2)) / 2)
        rows = f.shape[0]
        for d in range(draws):
            factors = f + np.einsum("nij,nj->ni", root, rng.standard_normal((rows, k)))
            sample = m + factors @ L.T + rng.standard_normal((rows, G)) * np.sqrt(psi)
            out[d, r] = np.where(mask[r] > 0, x[r], sample)
    return out


def precision_of(cov: np.ndarray) -> np.ndarray:
    """``Σ⁻¹``, symmetric. Given a row's observed genes ``o``, its missing block ``m`` has the conditional
    covariance ``(Σ⁻¹)_mm⁻¹`` (the Schur complement's inverse) and mean ``μ_m − (Σ⁻¹)_mm⁻¹ (Σ⁻¹)_mo (x_o − μ_o)``:
    one Cholesky factorisation of the missing block per row, where ``Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om`` needs one of the
    observed block and then a solve against every missing gene (about 3.5 times the arithmetic at half missing)."""
    inverse = cho_solve(cho_factor(cov), np.eye(len(cov)))
    return (inverse + inverse.T) / 2


def _dense_rows(precision: np.ndarray, mask: np.ndarray, rows=None):
    """Each row (of ``rows``, default all) with a missing entry, as ``(i, observed, missing, lower Cholesky factor
    of (Σ⁻¹)_mm)``; the factor is ``None`` where the row shows nothing (its conditional law is the marginal)."""
    for i in range(len(mask)) if rows is None else rows:
        o = mask[i] > 0
        m = ~o
        if not m.any():
            continue
        if not o.any():
            yield i, o, m, None
            continue
        yield i, o, m, _factor(precision, m, lower=True, what=f"the conditional precision of sample {i}")


def _factor(a: np.ndarray, genes: np.ndarray, lower: bool, what: str) -> np.ndarray:
    """The Cholesky factor of ``a``'s block on ``genes`` (Fortran order; the other triangle holds ``a``'s values),
    factorised without holding Python's lock (:mod:`._lapack`), so that the threads of :func:`shared_rows` run at
    once. ``a`` must be exactly symmetric (:func:`_symmetric`): its block, gathered by ``take`` along both axes (a
    third of the time of an ``np.ix_`` gather), is then its own transpose, which is in Fortran order."""
    index = np.flatnonzero(genes)
    factor, info = potrf(a.take(index, 0).take(index, 1).T, lower=lower, overwrite=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"{what} is not positive definite")
    return factor


# The spread's per-row factorisations run in single precision, much faster, when the covariance's condition number
# is at most this. Rounding Λ to float32 and factorising it there perturbs a row's conditional variances by at most
# about κ × n × 6e-8 relatively, in practice far less (within 2e-5 at κ = 3,300 in tests/test_lapack.py): far below
# what the calibration's finite sample can see (a gene's coverage has sd 0.02). The means stay in double precision.
# The numbers: benchmarks/README.md, "A Gaussian's rows on two cores".
SINGLE_SPREAD_CONDITION = 1e4


def single_spread(cov: np.ndarray) -> bool:
    """Whether :func:`dense_spread` factorises ``cov``'s rows in single precision
    (:data:`SINGLE_SPREAD_CONDITION`)."""
    values = np.linalg.eigvalsh(cov)
    return bool(values[0] > 0 and values[-1] <= SINGLE_SPREAD_CONDITION * values[0])


def dense_spread(mu: np.ndarray, cov: np.ndarray, x: np.ndarray, mask: np.ndarray,
                 single: bool | None = None) -> np.ndarray:
    """As :func:`low_rank_spread` for a full covariance: ``√diag(Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om)`` per row, computed as
    ``√diag((Σ⁻¹)_mm⁻¹)`` (:func:`precision_of`): with ``(Σ⁻¹)_mm = R Rᵀ``, the column sums of squares of
    ``R⁻¹``. ``single``: factorise the rows in single precision; ``None``: where ``Σ`` is well conditioned
    (:func:`single_spread`)."""
    out = np.zeros(x.shape, dtype=np.float64)
    precision = precision_of(cov)
    if single_spread(cov) if single is None else single:
        precision = precision.astype(np.float32)
    keep = np.tri(len(cov), dtype=precision.dtype)  # 1 on and below the diagonal: keeps a factor's lower triangle

    def walk(rows):
        for i, _, m, root in _dense_rows(precision, mask, rows):
            if root is None:
                variance = np.diag(cov)[m]
            else:
                k = len(root)
                np.multiply(root, keep[:k, :k], out=root)  # its strict upper triangle (a's values) to zero
                inverse, info = trtri(root, lower=True, overwrite=True)  # R⁻¹: a third of a general solve's work
                if info != 0:
                    raise np.linalg.LinAlgError(f"the conditional precision of sample {i} is singular")
                variance = (inverse ** 2).sum(0, dtype=np.float64)
            out[i, m] = np.sqrt(np.maximum(variance, 0.0))

    shared_rows(len(mask), walk)
    return out


def dense_draw(mu: np.ndarray, cov: np.ndarray, x: np.ndarray, mask: np.ndarray, draws: int,
               rng: np.random.Generator) -> np.ndarray:
    """As :func:`low_rank_draw` for a full covariance: per row, joint draws of the missing block from its
    conditional law (:func:`precision_of`): with ``(Σ⁻¹)_mm = R Rᵀ``, ``mean + R⁻ᵀ z`` has covariance
    ``(Σ⁻¹)_mm⁻¹``."""
    out = np.repeat(np.asarray(x, dtype=np.float32)[None], draws, axis=0)
    precision = precision_of(cov)
    with one_blas_thread():
        for i, o, m, root in _dense_rows(precision, mask):
            z = rng.standard_normal((int(m.sum()), draws))
            if root is None:
                out[:, i, m] = (mu[m][:, None] + np.linalg.cholesky(cov[np.ix_(m, m)]) @ z).T
                continue
            mean = mu[m] - cho_solve((root, True), precision[np.ix_(m, o)] @ (x[i, o] - mu[o]))
            out[:, i, m] = (mean[:, None] + solve_triangular(root.T, z, lower=False)).T
    return out
