import numpy as np
import pytest

from gaingtex.data.embedded import encode_covariates, factor_model
from gaingtex.data.masks import missing_mask
from gaingtex.imputers.oracle import conditional_mean, unit_names


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


def test_oracle_is_the_ceiling(smoke):
    """The conditional mean minimises the expected squared error: every other method does worse on the same
    masked entries — a learnt model of the right family, the mean, the oracle of a wrong tissue, and the oracle's
    own prediction shrunk or stretched around the prior mean."""
    from gaingtex.evaluation.benchmark import swap_tissues
    from gaingtex.evaluation.scenarios import scenario_data
    from gaingtex.evaluation.scoring import fit_imputer
    from gaingtex.imputers import get

    data = scenario_data(smoke, "inductive", 0.5, seed=2)
    x, mask, obs = data.eval.x, data.eval_mask, data.eval.obs
    hidden = np.where(mask > 0, x, np.nan)
    oracle = fit_imputer(get("oracle", generator=factor_model(smoke)), data)
    best = oracle.transform(hidden, mask, obs)
    prior = oracle.transform(np.zeros_like(x), np.zeros_like(mask), obs)  # nothing observed: the prior mean

    def mse(prediction):
        return float(((x - prediction)[mask == 0] ** 2).mean())

    others = {name: fit_imputer(get(name, scenario="inductive", seed=0), data).transform(hidden, mask, obs)
              for name in ("mean", "factor-analysis")}
    wrong = obs.assign(tissue=swap_tissues(obs, False, np.random.default_rng(0)))  # a tissue of another group
    others["wrong tissue"] = oracle.transform(hidden, mask, wrong)
    for c in (0.9, 1.1):
        others[f"scaled {c}"] = prior + c * (best - prior)
    for name, prediction in others.items():
        assert mse(best) < mse(prediction), name


def test_oracle_needs_a_generating_model(smoke):
    real_like = smoke.copy()
    del real_like.uns["generator"]
    with pytest.raises(ValueError, match="no generating model"):
        factor_model(real_like)


def test_swapped_tissues_stay_in_or_leave_the_group(smoke):
    from gaingtex.data import reference
    from gaingtex.evaluation.benchmark import swap_tissues

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


def test_oracle_matches_genes_by_symbol(smoke):
    """Reordered genes get the same imputation, reordered; genes the generator lacks are refused."""
    from gaingtex.data import prepare
    from gaingtex.imputers import get

    order = np.random.default_rng(0).permutation(smoke.n_vars)
    shuffled = smoke[:, order].copy()
    a, b = prepare(smoke), prepare(shuffled)
    oa = get("oracle", generator=factor_model(smoke)).fit(a.train)
    ob = get("oracle", generator=factor_model(smoke)).fit(b.train)
    mask = missing_mask(*a.test.x.shape, 0.5, 0)
    out_a = oa.transform(a.test.x, mask, a.test.obs)
    out_b = ob.transform(b.test.x, mask[:, order], b.test.obs)
    np.testing.assert_allclose(out_b, out_a[:, order], rtol=1e-5, atol=1e-5)
    renamed = smoke.copy()
    renamed.var_names = [f"NOTAGENE{i}" if i == 3 else g for i, g in enumerate(smoke.var_names)]
    with pytest.raises(ValueError, match="NOTAGENE3"):
        get("oracle", generator=factor_model(smoke)).fit(prepare(renamed).train)
