import numpy as np
import pytest

from gaingtex.cohort import encode_covariates, factor_model
from gaingtex.data import prepare
from gaingtex.imputers import MeanImputer, OracleImputer
from gaingtex.masks import missing_mask
from gaingtex.metrics import score_imputer, summarize
from gaingtex.oracle import conditional_mean, unit_names


def brute_force(model, x, mask, obs, genes):
    """Conditional Gaussian with the full (genes × genes) covariance: E[x_m | x_o] = μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o)."""
    cov = encode_covariates(obs)
    out = np.empty_like(x, dtype=float)
    for i, name in enumerate(unit_names(obs)):
        u = model.unit_index(name)
        _, L = model.unit_loadings(u)
        L = L[genes].astype(float)
        sigma = L @ L.T + np.diag(model.noise[u, genes].astype(float))
        mu = model.mean(u, cov[i: i + 1])[0, genes]
        o, m = mask[i] > 0, mask[i] == 0
        out[i] = x[i]
        out[i, m] = mu[m] + sigma[np.ix_(m, o)] @ np.linalg.solve(sigma[np.ix_(o, o)], x[i, o] - mu[o])
        out[i, o] = mu[o] + sigma[np.ix_(o, o)] @ np.linalg.solve(sigma[np.ix_(o, o)], x[i, o] - mu[o])
    return out


@pytest.mark.parametrize("subset", [False, True])
def test_woodbury_matches_brute_force(smoke, subset):
    model = factor_model(smoke)
    genes = np.arange(smoke.n_vars) if not subset else np.arange(0, smoke.n_vars, 3)
    rows = np.r_[0:6, smoke.n_obs - 3: smoke.n_obs]  # GTEx samples and a shifted cohort
    obs = smoke.obs.iloc[rows]
    x = np.asarray(smoke.X[rows][:, genes], dtype=float)
    mask = missing_mask(len(rows), len(genes), 0.5, 0)
    fast = conditional_mean(model, x, mask, obs, genes, batch_size=4, gene_chunk=37)  # several batches and chunks
    slow = brute_force(model, x, mask, obs, genes)
    missing = mask == 0
    np.testing.assert_allclose(fast[missing], slow[missing], rtol=1e-6, atol=1e-6)


def test_oracle_ignores_hidden_values(smoke):
    model = factor_model(smoke)
    obs = smoke.obs.iloc[:20]
    x = np.asarray(smoke.X[:20], dtype=float)
    mask = missing_mask(*x.shape, 0.5, 1)
    garbage = np.where(mask > 0, x, 1e6)
    np.testing.assert_allclose(conditional_mean(model, x, mask, obs), conditional_mean(model, garbage, mask, obs))


def test_oracle_is_the_ceiling(book):
    prepared = prepare(book)
    oracle = OracleImputer.from_prepared(book, prepared)
    test = prepared.test
    mask = missing_mask(*test.x.shape, 0.5, 2)
    r2_oracle = summarize(score_imputer(oracle, test.x, mask, test.obs)[0])["r2"]
    r2_mean = summarize(score_imputer(MeanImputer().fit(prepared.train), test.x, mask, test.obs)[0])["r2"]
    assert 0.6 < r2_oracle < 0.8
    assert abs(r2_mean) < 0.1


def test_oracle_needs_a_generating_model(smoke):
    real_like = smoke.copy()
    del real_like.uns["generator"]
    with pytest.raises(ValueError, match="no generating model"):
        factor_model(real_like)


def test_swapped_tissues_stay_in_or_leave_the_group(smoke):
    from gaingtex import reference
    from gaingtex.benchmark import swap_tissues

    groups = reference.tissues()["group"]
    obs = smoke.obs[smoke.obs["cohort"] == "GTEx"]
    rng = np.random.default_rng(0)
    same = np.asarray(swap_tissues(obs, True, rng)).astype(str)
    other = np.asarray(swap_tissues(obs, False, rng)).astype(str)
    orig = obs["tissue"].astype(str).to_numpy()
    has_sibling = np.array([(groups == groups[t]).sum() > 1 for t in orig])
    assert (same[has_sibling] != orig[has_sibling]).all()
    assert (groups[same].to_numpy() == groups[orig].to_numpy()).all()
    assert (groups[other].to_numpy() != groups[orig].to_numpy()).all()
