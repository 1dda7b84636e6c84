"""The linear-Gaussian family at any gene count (linear-cost eigenpairs of the observed covariance) and its own
predictive distribution (conditional SD and joint draws)."""

import numpy as np
import pandas as pd
import pytest

from gaingtex.data import Split
from gaingtex.data.masks import missing_mask
from gaingtex.imputers import FactorAnalysisImputer, get
from gaingtex.imputers import lowrank
from gaingtex.imputers.gaussian import GaussianModel
from gaingtex.imputers import posterior
from gaingtex.imputers.posterior import (dense_draw, dense_mean, dense_spread, low_rank_draw, low_rank_mean,
                                           low_rank_spread)

# A well-conditioned dense covariance's spread is factorised in single precision (posterior.single_spread; its
# agreement with double precision: tests/test_lapack.py); the low-rank form's stays in double.
SPREAD_RTOL = {"dense": 1e-4, "low-rank": 1e-8}


def _known(genes=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((genes, k))
    psi = rng.uniform(0.2, 0.8, genes)
    mu = rng.standard_normal(genes)
    return mu, L, psi, L @ L.T + np.diag(psi)


def _conditional(mu, cov, x, o):
    """The textbook conditional of the missing block given the observed one."""
    m = ~o
    solve = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)])
    return mu[m] + solve.T @ (x[o] - mu[o]), cov[np.ix_(m, m)] - cov[np.ix_(m, o)] @ solve


@pytest.mark.parametrize("form", ["dense", "low-rank"])
def test_spread_is_the_analytic_conditional_sd(form):
    mu, L, psi, cov = _known()
    rng = np.random.default_rng(1)
    x = rng.multivariate_normal(mu, cov, size=6)
    mask = missing_mask(*x.shape, 0.5, 2)
    mask[0] = 1.0  # nothing missing
    mask[1] = 0.0  # nothing observed: the marginal SD
    model = GaussianModel(mu, cov=cov) if form == "dense" else GaussianModel(mu, loadings=L, noise=psi)
    sd = model.spread(x, mask)
    for i in range(len(x)):
        o = mask[i] > 0
        expected = np.zeros(len(mu))
        if (~o).any():
            expected[~o] = np.sqrt(np.diag(_conditional(mu, cov, x[i], o)[1]) if o.any() else np.diag(cov)[~o])
        np.testing.assert_allclose(sd[i], expected, rtol=SPREAD_RTOL[form], atol=1e-10)


@pytest.mark.parametrize("form", ["dense", "low-rank"])
def test_draws_have_the_conditional_mean_and_covariance(form):
    mu, L, psi, cov = _known()
    x = np.random.default_rng(3).multivariate_normal(mu, cov, size=2)
    mask = np.ones_like(x)
    mask[0, [1, 4, 5, 9]] = 0.0
    mask[1, ::2] = 0.0
    draw = dense_draw if form == "dense" else low_rank_draw
    args = (mu, cov) if form == "dense" else (mu, L, psi)
    samples = draw(*args, x, mask, 20000, np.random.default_rng(4))
    assert samples.shape == (20000, 2, 12)
    for i in range(2):
        o = mask[i] > 0
        np.testing.assert_array_equal(samples[:, i, o], np.broadcast_to(x[i, o].astype(np.float32),
                                                                         (20000, int(o.sum()))))
        mean, conditional = _conditional(mu, cov, x[i], o)
        values = samples[:, i, ~o].astype(np.float64)
        np.testing.assert_allclose(values.mean(0), mean, atol=4 * np.sqrt(np.diag(conditional) / 20000).max())
        # the joint covariance, off-diagonal terms included (a draw of independent margins fails this)
        np.testing.assert_allclose(np.cov(values.T), conditional, atol=0.05 * np.abs(conditional).max())


def test_low_rank_and_dense_forms_agree():
    mu, L, psi, cov = _known(genes=30, k=4, seed=5)
    x = np.random.default_rng(6).multivariate_normal(mu, cov, size=20)
    mask = missing_mask(*x.shape, 0.6, 7)
    np.testing.assert_allclose(low_rank_spread(mu, L, psi, x, mask), dense_spread(mu, cov, x, mask),
                               rtol=SPREAD_RTOL["dense"])


@pytest.mark.parametrize("k", [1, 2, 7, 48])
def test_packed_symmetric_matrices_round_trip(k):
    rng = np.random.default_rng(k)
    full = rng.standard_normal((5, k, k))
    full = full + full.transpose(0, 2, 1)
    i, j = np.triu_indices(k)
    packed = lowrank.pack(full)
    assert np.array_equal(packed, full[:, i, j])
    assert np.array_equal(lowrank.unpack(packed, k), full)
    assert lowrank.unpack(packed.astype(np.float32), k).dtype == np.float64


def test_a_high_rank_is_solved_row_by_row_with_the_same_posterior():
    """Above PER_ROW_RANK (a shrinkage covariance of a few hundred samples) each row's precision is factorised on
    its own; the conditional mean and spread are still the full covariance's, rows with nothing shown included."""
    k = posterior.PER_ROW_RANK + 2
    mu, L, psi, cov = _known(genes=k + 40, k=k, seed=8)
    x = np.random.default_rng(9).multivariate_normal(mu, cov, size=6)
    mask = missing_mask(*x.shape, 0.5, 10)
    mask[0] = 0.0  # nothing shown: the marginal
    mask[1] = 1.0  # nothing missing
    np.testing.assert_allclose(low_rank_mean(mu, L, psi, x, mask), dense_mean(mu, cov, x, mask), rtol=1e-8)
    np.testing.assert_allclose(low_rank_spread(mu, L, psi, x, mask), dense_spread(mu, cov, x, mask),
                               rtol=SPREAD_RTOL["dense"])


def _low_rank_data(n, genes, k=5, seed=0):
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((genes, k)) * np.linspace(2.0, 0.5, k)
    return rng.standard_normal((n, k)) @ L.T + rng.standard_normal((n, genes)) * 0.7


def test_randomised_eigenpairs_match_the_pairwise_covariance():
    """Above PAIRWISE_MAX_GENES the leading eigenpairs come from the masked operator, never a genes × genes
    matrix; they are those of the exact pairwise-observed covariance."""
    x = _low_rank_data(2000, 300, k=8)
    mask = missing_mask(*x.shape, 0.5, 1)
    moments = lowrank.observed_moments(x, mask)
    exact_values, exact_vectors = lowrank.pairwise_eigen(moments["xc"], mask, 8)
    values, vectors = lowrank.masked_eigen(moments["xc"], moments["count"], moments["var"], 8)
    np.testing.assert_allclose(values, exact_values, rtol=0.01)
    cosines = np.linalg.svd(exact_vectors.T @ vectors, compute_uv=False)
    assert cosines.min() > 0.999  # the same subspace
    np.testing.assert_allclose(moments["var"], np.diag((moments["xc"].T.astype(float) @ moments["xc"])
                                                       / np.maximum(mask.T @ mask, 1)), rtol=1e-5)


def _splits(x, tissues):
    obs = pd.DataFrame({"tissue": pd.Categorical(tissues)}, index=[f"s{i}" for i in range(len(x))])
    return Split(x.astype(np.float32), obs)


@pytest.mark.parametrize("method", ["gaussian-pooled", "factor-analysis"])
def test_the_large_gene_path_imputes_as_well_as_the_exact_one(method, monkeypatch):
    """The randomised path (forced here on 400 genes) scores within a hair of the exact pairwise one, and both
    far above the mean."""
    x = _low_rank_data(1500, 400, k=6, seed=2)
    tissues = ["Lung"] * 1500
    train, valid = _splits(x[:1200], tissues[:1200]), _splits(x[1200:], tissues[1200:])
    mask = missing_mask(*train.x.shape, 0.5, 3)
    params = {"n_factors": 6} if method == "factor-analysis" else {}
    scores = {}
    for limit in (10_000, 100):  # exact, then randomised
        monkeypatch.setattr(lowrank, "PAIRWISE_MAX_GENES", limit)
        monkeypatch.setattr("gaingtex.imputers.gaussian.PAIRWISE_MAX_GENES", limit)
        imputer = get(method, **params).fit(train, valid, train_mask=mask)
        out = imputer.transform(np.where(mask > 0, train.x, np.nan), mask, train.obs)
        hidden = mask == 0
        scores[limit] = float(((out - train.x)[hidden] ** 2).mean())
    baseline = float(((train.x - train.x.mean(0))[hidden] ** 2).mean())
    # measured: factor analysis 1.00 ×, the pooled Gaussian 1.03 × (its exact form floors the pairwise
    # estimate's small and negative eigenvalues, adding to the diagonal; the randomised one never sees them)
    assert scores[100] < (1.01 if method == "factor-analysis" else 1.05) * scores[10_000]
    assert scores[100] < 0.5 * baseline


def test_factor_analysis_spread_is_calibrated_and_draws_keep_observed():
    """Learnt from data of its own family, factor analysis's SD describes its errors: hidden entries' errors
    divided by it have unit variance (a model that forgot the noise ψ, or the factors' uncertainty, fails)."""
    x = _low_rank_data(3000, 60, k=4, seed=8)
    tissues = ["Lung"] * 3000
    train = _splits(x[:2500], tissues[:2500])
    test = _splits(x[2500:], tissues[2500:])
    fa = FactorAnalysisImputer(n_factors=4).fit(train, train_mask=missing_mask(2500, 60, 0.3, 9))
    mask = missing_mask(500, 60, 0.5, 10)
    shown = np.where(mask > 0, test.x, np.nan)
    mean = fa.transform(shown, mask, test.obs)
    sd = fa.spread(shown, mask, test.obs)
    hidden = mask == 0
    assert np.all(sd[~hidden] == 0) and np.all(sd[hidden] > 0)
    z = (test.x - mean)[hidden] / sd[hidden]
    assert 0.9 < z.var() < 1.1
    draws = fa.draw(shown, mask, test.obs, 200, np.random.default_rng(0))
    assert draws.shape == (200, 500, 60)
    np.testing.assert_array_equal(draws[:, ~hidden], np.broadcast_to(test.x[~hidden], (200, int((~hidden).sum()))))
    ratio = draws.std(0)[hidden] / sd[hidden]  # each entry's draws spread as its SD says (sampling error 5 %)
    assert abs(ratio.mean() - 1) < 0.01 and ratio.std() < 0.08
    np.testing.assert_allclose(draws.mean(0)[hidden], mean[hidden], atol=0.4 * sd[hidden].max())


def test_oracle_spread_is_calibrated_in_the_prepared_scale(smoke):
    """The oracle knows the generating model: the truth's errors over its SD have unit variance in the prepared
    scale (an SD left in the raw scale fails, the genes' scales are far from 1)."""
    from gaingtex.data.embedded import factor_model
    from gaingtex.evaluation.scenarios import scenario_data

    data = scenario_data(smoke, "inductive", 0.5, 0)
    oracle = get("oracle", generator=factor_model(smoke)).fit(**data.fit_args())
    ev, mask = data.eval, data.eval_mask
    known = ~np.isnan(ev.x)
    shown = np.where(mask > 0, ev.x, np.nan)
    sd = oracle.spread(shown, mask, ev.obs)
    mean = oracle.transform(shown, mask, ev.obs)
    hidden = (mask == 0) & known
    z = (ev.x - mean)[hidden] / sd[hidden]
    assert 0.9 < z.var() < 1.1
    draws = oracle.draw(shown, mask, ev.obs, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(draws[:, mask > 0], np.broadcast_to(ev.x[mask > 0], (3, int((mask > 0).sum()))))


def test_registry_marks_the_family_as_having_a_spread():
    from gaingtex.imputers import spec

    for name in ("gaussian", "gaussian-pooled", "factor-analysis", "oracle"):
        assert spec(name).spread, name


def test_a_high_rank_posterior_checks_its_budget_between_blocks_of_rows():
    """Row by row, the rows go to one thread per core a block at a time, and the budget's clock is checked
    between blocks in the caller's thread: a stop leaves no thread working on."""
    import os

    class Stop(Exception):
        pass

    class Clock:
        def __init__(self):
            self.seen = []

        def check(self, done, total, what, uniform=False):
            self.seen.append(done)
            if done > 0:
                raise Stop

    k = posterior.PER_ROW_RANK + 2
    mu, L, psi, _ = _known(genes=k + 40, k=k, seed=8)
    x = np.random.default_rng(9).standard_normal((1000, k + 40))
    mask = missing_mask(*x.shape, 0.5, 10)
    clock = Clock()
    with pytest.raises(Stop):
        low_rank_mean(mu, L, psi, x, mask, clock)
    assert clock.seen == [0, 64 * len(os.sched_getaffinity(0))]


def test_fewer_rows_than_the_rank_are_solved_row_by_row_with_the_same_posterior():
    """A block of fewer rows than the rank skips the packed products (posterior._row_by_row); its rows' means and
    spreads are those the packed products give the same rows among many."""
    k = 12
    mu, L, psi, cov = _known(genes=40, k=k, seed=11)
    x = np.random.default_rng(12).multivariate_normal(mu, cov, size=3 * k)
    mask = missing_mask(*x.shape, 0.5, 13)
    few = slice(0, k // 2)
    assert posterior._row_by_row(k // 2, k) and not posterior._row_by_row(len(x), k)
    missing = mask[few] == 0
    for what in (low_rank_mean, low_rank_spread):
        alone, among = what(mu, L, psi, x[few], mask[few]), what(mu, L, psi, x, mask)[few]
        np.testing.assert_allclose(alone[missing], among[missing], rtol=1e-10)
    np.testing.assert_allclose(low_rank_mean(mu, L, psi, x[few], mask[few]), dense_mean(mu, cov, x[few], mask[few]),
                               rtol=1e-8)
