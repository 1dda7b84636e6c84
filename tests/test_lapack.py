"""LAPACK reached without Python's lock (gaingtex.imputers._lapack): SciPy's own arithmetic, to the bit, and the
dense Gaussian posteriors that use it, equal to SciPy's wrappers row by row."""

import numpy as np
import pytest
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.linalg.blas import dsyrk
from scipy.linalg.lapack import dpotrf, dtrtri, spotrf, strtri

from gaingtex.imputers._lapack import gram, potrf, potrs, trsm, trtri
from gaingtex.imputers.posterior import (SINGLE_SPREAD_CONDITION, dense_mean, dense_spread, precision_of,
                                         single_spread)


def _spd(n, seed=0):
    a = np.random.default_rng(seed).standard_normal((n, 2 * n))
    return a @ a.T / (2 * n) + 0.05 * np.eye(n)


@pytest.mark.parametrize("lower", [False, True])
def test_factor_solve_and_inverse_are_scipys_to_the_bit(lower):
    a = _spd(60)
    rng = np.random.default_rng(1)
    b, B = rng.standard_normal(60), rng.standard_normal((60, 7))
    ours, info = potrf(a, lower=lower)
    theirs = cho_factor(a, lower=lower)[0]
    tri = np.tril if lower else np.triu
    assert info == 0 and ours.flags.f_contiguous
    np.testing.assert_array_equal(tri(ours), tri(theirs))
    np.testing.assert_array_equal(potrs(ours, b, lower), cho_solve((theirs, lower), b))
    np.testing.assert_array_equal(potrs(ours, B, lower), cho_solve((theirs, lower), B))
    inverse, info = trtri(tri(ours), lower=lower)
    np.testing.assert_array_equal(tri(inverse), tri(dtrtri(tri(theirs), lower=int(lower))[0]))


@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("transpose", [False, True])
def test_gram_and_a_triangular_solve_are_scipys(lower, transpose):
    a = np.random.default_rng(4).standard_normal((300, 40))
    product = gram(a)
    np.testing.assert_array_equal(product, dsyrk(1.0, a, trans=1, lower=0))
    product = np.triu(product) + np.triu(product, 1).T + np.eye(40)
    root, _ = potrf(product, lower=lower)
    rhs = np.random.default_rng(5).standard_normal((17, 40)).T  # Fortran order, as the spread passes it
    before = rhs.copy()
    tri = np.tril if lower else np.triu
    expected = solve_triangular(tri(root), before, lower=lower, trans=1 if transpose else 0)
    np.testing.assert_allclose(trsm(root, rhs, lower, transpose), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(rhs, before)  # a copy unless overwriting is allowed
    solved = trsm(root, rhs, lower, transpose, overwrite=True)
    assert solved is rhs
    np.testing.assert_allclose(rhs, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="40-row triangle"):
        trsm(root, rhs[:-1])


def test_inputs_are_left_alone_unless_overwriting_is_allowed():
    a = np.asfortranarray(_spd(20))
    before = a.copy()
    potrf(a, lower=True)
    np.testing.assert_array_equal(a, before)
    factor, _ = potrf(a, lower=True, overwrite=True)
    assert factor is a and not np.array_equal(a, before)


def test_a_matrix_that_is_not_positive_definite_is_reported():
    a = _spd(10)
    a[4, 4] = -1.0
    _, info = potrf(a, lower=True)
    assert info == dpotrf(a, lower=1)[1] > 0
    cov = _spd(8)
    cov[np.ix_([2, 3], [2, 3])] = [[1.0, 2.0], [2.0, 1.0]]  # a block with a negative eigenvalue
    x = np.zeros((1, 8))
    mask = np.zeros((1, 8), dtype=np.float32)
    mask[0, [2, 3]] = 1
    with pytest.raises(np.linalg.LinAlgError, match="observed covariance of sample 0 is not positive definite"):
        dense_mean(np.zeros(8), cov, x, mask)


def test_dense_mean_and_spread_are_scipys_row_by_row():
    """Every row of the shared, lock-free walk equals one solved alone by SciPy's wrappers, exactly."""
    rng = np.random.default_rng(2)
    G, n = 40, 300
    cov, mu = _spd(G, 3), rng.standard_normal(G)
    x = rng.standard_normal((n, G))
    mask = (rng.random((n, G)) > 0.5).astype(np.float32)
    mask[0], mask[1] = 1, 0  # a row showing everything, one showing nothing
    mean, sd = dense_mean(mu, cov, x, mask), dense_spread(mu, cov, x, mask)
    assert single_spread(cov)
    single = precision_of(cov).astype(np.float32)
    for i in range(n):
        o = mask[i] > 0
        m = ~o
        want = np.where(o, x[i], mu)
        spread = np.zeros(G)
        if m.any() and o.any():
            solved = np.zeros(G)
            solved[o] = cho_solve(cho_factor(cov[np.ix_(o, o)]), x[i, o] - mu[o])
            want[m] = mu[m] + (cov @ solved)[m]
            root = spotrf(single[np.ix_(m, m)], lower=1)[0]  # well conditioned: in single precision
            spread[m] = np.sqrt(np.maximum((strtri(root, lower=1)[0] ** 2).sum(0, dtype=np.float64), 0.0))
        elif m.any():
            spread[m] = np.sqrt(np.diag(cov)[m])
        np.testing.assert_array_equal(mean[i], want)
        np.testing.assert_array_equal(sd[i], spread)


def _conditioned(G, condition, seed=0):
    """A covariance of ``G`` genes with eigenvalues spread log-evenly over ``condition``."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((G, G)))
    return (q * np.geomspace(1.0, 1.0 / condition, G)) @ q.T


def test_the_spread_in_single_precision_is_the_double_one_where_well_conditioned():
    """Below SINGLE_SPREAD_CONDITION the rows are factorised in float32 and agree with float64 to far less than a
    calibration can see; above it they are float64."""
    rng = np.random.default_rng(5)
    G, n = 120, 40
    x = rng.standard_normal((n, G))
    mask = (rng.random((n, G)) > 0.5).astype(np.float32)
    well, badly = _conditioned(G, SINGLE_SPREAD_CONDITION / 3), _conditioned(G, SINGLE_SPREAD_CONDITION * 30)
    assert single_spread(well) and not single_spread(badly)
    for cov in (well, badly):
        precision = precision_of(cov)
        sd = dense_spread(np.zeros(G), cov, x, mask)
        for i in range(n):
            m = mask[i] == 0
            root = dpotrf(precision[np.ix_(m, m)], lower=1)[0]
            double = np.sqrt((np.tril(dtrtri(root, lower=1)[0]) ** 2).sum(0))
            if cov is well:
                np.testing.assert_allclose(sd[i, m], double, rtol=2e-5)
            else:
                np.testing.assert_allclose(sd[i, m], double, rtol=1e-12)
