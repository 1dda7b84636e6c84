"""The standard baselines, each on a small case with a known answer; the registry's contract test covers the rest."""

import numpy as np
import pandas as pd
import pytest

from gaingtex.data import Split
from gaingtex.data.masks import missing_mask
from gaingtex.imputers import get
from gaingtex.imputers import base
from gaingtex.imputers.base import BudgetExceeded, Clock
from gaingtex.imputers.gaussian import fit_complete, fit_incomplete
from gaingtex.imputers.posterior import dense_mean
from gaingtex.imputers.softimpute import soft_impute


def _obs(tissues, donors=None):
    n = len(tissues)
    return pd.DataFrame({"tissue": pd.Categorical(tissues), "sex": ["female", "male"] * (n // 2) + ["female"] * (n % 2),
                         "age": np.linspace(25, 75, n), "hardy": ["NA"] * n,
                         "donor_id": donors if donors is not None else [f"D{i}" for i in range(n)]},
                        index=[f"S{i}" for i in range(n)])


def _gaussian(n, cov, seed=0):
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(np.arange(len(cov), dtype=float) * 0.1, cov, size=n)


def _cov(genes=6, seed=1):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((genes, genes))
    return a @ a.T / genes + 0.3 * np.eye(genes)


def test_median_is_the_training_median_per_tissue():
    x = np.array([[1.0, 10.0], [2.0, np.nan], [9.0, 30.0], [5.0, 1.0], [7.0, 3.0]], dtype=np.float32)
    train = Split(x, _obs(["A", "A", "A", "B", "B"]))
    imputer = get("median").fit(train)
    query = np.full((3, 2), np.nan, dtype=np.float32)
    out = imputer.transform(query, None, _obs(["A", "B", "C"]))
    np.testing.assert_allclose(out[0], [2.0, 20.0])  # NaN never counts
    np.testing.assert_allclose(out[1], [6.0, 2.0])
    np.testing.assert_allclose(out[2], [5.0, 6.5])  # an unseen tissue: the median over all samples


def test_gaussian_is_the_exact_conditional_mean_without_shrinkage():
    cov = _cov()
    x = _gaussian(400, cov).astype(np.float32)
    train, test = Split(x[:300], _obs(["A"] * 300)), x[300:]
    imputer = get("gaussian", shrinkage="none", min_samples=1).fit(train)
    mask = missing_mask(*test.shape, 0.5, 3)
    out = imputer.transform(np.where(mask > 0, test, np.nan), mask, _obs(["A"] * 100))
    mu = x[:300].astype(np.float64).mean(0)
    s = np.cov(x[:300].astype(np.float64).T, bias=True)
    for i in range(len(test)):
        o, m = mask[i] > 0, mask[i] == 0
        if m.any() and o.any():
            expected = mu[m] + s[np.ix_(m, o)] @ np.linalg.solve(s[np.ix_(o, o)], test[i, o] - mu[o])
            np.testing.assert_allclose(out[i, m], expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [15, 80])  # blocks of rows below rank 64, one product per row above
def test_a_shrinkage_covariance_of_few_samples_is_kept_low_rank_and_exact(n):
    """Fewer samples than genes: the Ledoit–Wolf estimate is rank n plus a constant diagonal, and the Woodbury
    posterior equals the dense one."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 120))
    model = fit_complete(x, "ledoit-wolf")
    assert model.cov is None and model.loadings.shape == (120, n) and 0 < model.shrinkage < 1
    dense = model.loadings @ model.loadings.T + np.diag(model.noise)
    query = rng.standard_normal((5, 120))
    mask = missing_mask(5, 120, 0.5, 1)
    hidden = mask == 0
    np.testing.assert_allclose(model.predict(query, mask)[hidden], dense_mean(model.mean, dense, query, mask)[hidden],
                               atol=1e-8)


def test_em_in_place_recovers_the_covariance():
    cov = _cov()
    x = _gaussian(3000, cov)
    mask = missing_mask(*x.shape, 0.4, 2)
    model = fit_incomplete(np.where(mask > 0, x, 0.0), mask, "none", max_iter=30, tol=1e-6)
    assert model.em_iterations > 1
    np.testing.assert_allclose(model.cov, np.cov(x.T, bias=True), atol=0.08)


def test_small_tissues_use_the_pooled_gaussian():
    x = _gaussian(60, _cov()).astype(np.float32)
    imputer = get("gaussian", min_samples=20).fit(Split(x, _obs(["A"] * 50 + ["B"] * 10)))
    assert imputer.pooled_tissues_ == ["B"] and imputer.models_["B"] is imputer.models_["all"]
    with pytest.raises(ValueError, match="no training samples of tissue 'C'"):
        imputer.transform(x[:1], np.ones_like(x[:1]), _obs(["C"]))


def test_softimpute_recovers_an_exact_low_rank_matrix():
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((120, 3)) @ rng.standard_normal((3, 40))
    mask = missing_mask(*truth.shape, 0.3, 1)
    z = soft_impute(np.where(mask > 0, truth, 0.0), mask, shrinkage=0.1, max_rank=10, max_iter=3000, tol=1e-12)
    hidden = mask == 0
    assert np.abs(z - truth)[hidden].max() < 0.05 * np.abs(truth).max()
    imputer = get("softimpute", shrinkage=2e-3, max_rank=10, max_iter=3000, tol=1e-12)
    train = Split(np.where(mask > 0, truth, np.nan).astype(np.float32), _obs(["A"] * 120))
    out = imputer.fit(train).transform(train.x, mask, train.obs)
    np.testing.assert_allclose(out[hidden], truth[hidden], atol=0.05 * np.abs(truth).max())


def test_blood_surrogate_returns_the_donors_blood():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    blood = Split(x[:2], _obs(["Whole_Blood"] * 2, donors=["D1", "D2"]))
    train = Split(x, _obs(["Lung", "Lung", "Whole_Blood", "Whole_Blood"]))
    imputer = get("blood-surrogate").fit(train, blood=blood)
    query = np.full((2, 3), np.nan, dtype=np.float32)
    query[:, 0] = 99.0
    out = imputer.transform(query, None, _obs(["Lung", "Lung"], donors=["D2", "D1"]))
    np.testing.assert_array_equal(out, [[99.0, 4.0, 5.0], [99.0, 1.0, 2.0]])


def test_sample_lasso_finds_the_duplicated_training_sample():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((30, 60)).astype(np.float32)
    imputer = get("sample-lasso", alpha=1e-3).fit(Split(ref, _obs(["A"] * 30)))
    mask = missing_mask(1, 60, 0.5, 4)
    out = imputer.transform(np.where(mask > 0, ref[7:8], np.nan), mask, _obs(["A"]))
    np.testing.assert_allclose(out[0], ref[7], atol=0.1)


@pytest.mark.parametrize("name, params", [("knn", {"n_neighbors": 3}),
                                          ("mice", {"n_nearest_features": 5, "max_iter": 3})])
def test_inductive_fits_see_training_samples_only(name, params):
    """Fitted on the training samples alone, and each test sample imputed on its own: imputing the test samples
    together, one at a time, or beside other samples gives the same values."""
    cov = _cov(8)
    x = _gaussian(140, cov).astype(np.float32)
    train, test = Split(x[:100], _obs(["A", "B"] * 50)), x[100:]
    imputer = get(name, **params).fit(train)
    fitted_rows = imputer.knn_._fit_X.shape[0] if name == "knn" else imputer.chain_.n_features_in_
    assert fitted_rows == (100 if name == "knn" else 8 + imputer.covariates_.n_columns)
    mask = missing_mask(*test.shape, 0.5, 5)
    hidden = np.where(mask > 0, test, np.nan)
    obs = _obs(["A", "B"] * 20)
    together = imputer.transform(hidden, mask, obs)
    alone = np.vstack([imputer.transform(hidden[i:i + 1], mask[i:i + 1], obs.iloc[i:i + 1]) for i in range(40)])
    np.testing.assert_allclose(together, alone, rtol=1e-6, atol=1e-6)


def test_a_slow_method_stops_at_its_budget_and_says_how_far_it_got():
    x = _gaussian(60, _cov(8)).astype(np.float32)
    x[::3, 0] = np.nan
    with pytest.raises(BudgetExceeded, match=r"missforest ran past its budget of 0 s after 0 of \d+ regressions"):
        get("missforest", budget=0.0, n_estimators=2).fit(Split(x, _obs(["A"] * 60)))
    knn = get("knn", n_neighbors=3, budget=0.0).fit(Split(x, _obs(["A"] * 60)))
    with pytest.raises(BudgetExceeded, match="after 0 of 60 samples") as caught:
        knn.transform(x, None, _obs(["A"] * 60))
    assert caught.value.progress == "0 of 60 samples"


class _Ticks:
    """A stand-in for ``time.monotonic`` that advances ``step`` seconds at every call."""

    def __init__(self, step):
        self.now, self.step = 1000.0, step

    def __call__(self):
        self.now += self.step
        return self.now


def test_a_uniform_task_whose_rate_projects_past_the_budget_stops_early(monkeypatch):
    ticks = _Ticks(0.0)
    monkeypatch.setattr(base.time, "monotonic", ticks)
    clock = Clock("knn", budget=100.0)
    clock.check(0, 1000, "samples", uniform=True)
    ticks.now += 5.0  # 5 s for 100 samples: under a tenth of the budget, so no projection yet
    clock.check(100, 1000, "samples", uniform=True)
    ticks.now += 15.0  # 20 s for 200 samples: 100 s for the task, within the margin
    clock.check(200, 1000, "samples", uniform=True)
    clock.check(0, 50, "covariances")  # another task: the rate is measured afresh (not uniform: never projected)
    ticks.now += 10.0
    clock.check(1, 50, "covariances")
    other = Clock("knn", budget=100.0)
    other.check(0, 1000, "samples", uniform=True)
    ticks.now += 20.0  # 20 s for 100 samples: 200 s for the task
    with pytest.raises(BudgetExceeded, match="knn would need about 200 s, past its budget of 100 s: stopped after "
                                             "100 of 1000 samples") as caught:
        other.check(100, 1000, "samples", uniform=True)
    assert caught.value.projected == pytest.approx(200.0)
    assert caught.value.progress == "100 of 1000 samples, projected 200 s"


def test_a_rate_measured_earlier_stops_a_task_before_it_starts(monkeypatch):
    ticks = _Ticks(0.0)
    monkeypatch.setattr(base.time, "monotonic", ticks)
    clock = Clock("sample-lasso", budget=100.0)
    ticks.now += 10.0
    clock.expect(0.1, 1000, "samples")  # 10 s spent + 100 s to go: within the margin
    clock.expect(None, 10 ** 6, "samples")  # no rate measured: nothing to say
    Clock("sample-lasso", None).expect(1.0, 10 ** 6, "samples")  # no budget
    with pytest.raises(BudgetExceeded, match="about 160 s, past its budget of 100 s: stopped after 0 of 1500") as caught:
        clock.expect(0.1, 1500, "samples")
    assert caught.value.progress == "0 of 1500 samples, projected 160 s"


def test_sample_lasso_is_the_same_on_every_core_and_refuses_what_its_search_projects_past_the_budget():
    x = _gaussian(140, _cov(12)).astype(np.float32)
    train, valid = Split(x[:100], _obs(["A"] * 100)), Split(x[100:], _obs(["A"] * 40))
    mask = missing_mask(40, 12, 0.5, 12)
    hidden = np.where(mask > 0, x[100:], np.nan)
    lasso = get("sample-lasso", budget=60.0).fit(train, valid)
    assert lasso.row_seconds_ > 0
    together = lasso.transform(hidden, mask, valid.obs)
    alone = np.vstack([lasso.transform(hidden[i:i + 1], mask[i:i + 1], valid.obs.iloc[i:i + 1]) for i in range(40)])
    np.testing.assert_array_equal(together, alone)
    lasso.row_seconds_ = 10.0  # as if each row took 10 s in the search: 400 s for these 40 rows
    with pytest.raises(BudgetExceeded, match=r"sample-lasso would need about 40\d s.*0 of 40 samples"):
        lasso.transform(hidden, mask, valid.obs)


def test_a_repeated_task_is_projected_from_its_own_rate(monkeypatch):
    ticks = _Ticks(0.0)
    monkeypatch.setattr(base.time, "monotonic", ticks)
    clock = Clock("gaussian", budget=100.0)
    for seconds in (25.0, 15.0):  # two tissues of 100 samples, the second faster: 80 s in all
        clock.check(0, 100, "samples", uniform=True)
        ticks.now += seconds
        clock.check(50, 100, "samples", uniform=True)  # measured on this tissue alone, or it would project 130 s
        ticks.now += seconds
    clock.check(0, 100, "samples", uniform=True)  # a slow third: 10 s for 10 samples, 90 s to go
    ticks.now += 10.0
    with pytest.raises(BudgetExceeded, match="about 180 s"):
        clock.check(10, 100, "samples", uniform=True)


def test_the_parts_of_a_search_are_projected_as_one_task(monkeypatch):
    ticks = _Ticks(0.0)
    monkeypatch.setattr(base.time, "monotonic", ticks)
    clock = Clock("knn", budget=100.0)  # four candidates of 100 validation rows
    first = clock.part(0, 4)
    first.check(0, 100, "samples", uniform=True)
    ticks.now += 12.0
    first.check(50, 100, "samples", uniform=True)  # 96 s for the search: within the budget
    ticks.now += 13.0
    second = clock.part(1, 4)
    second.check(0, 100, "samples", uniform=True)
    ticks.now += 25.0  # slower now: 120 of 400 rows in 50 s
    with pytest.raises(BudgetExceeded, match="about 167 s, past its budget of 100 s: stopped after 120 of 400"):
        second.check(20, 100, "samples", uniform=True)


def test_chained_equations_stop_when_the_first_round_projects_past_the_budget(monkeypatch):
    x = _gaussian(60, _cov(8)).astype(np.float32)
    x[::3, 0] = np.nan
    monkeypatch.setattr(base.time, "monotonic", _Ticks(20.0))  # every regression seems to take 20 s
    with pytest.raises(BudgetExceeded, match=r"missforest would need about \d+ s, past its budget of 100 s: "
                                             r"stopped after 1 of \d+ regressions") as caught:
        # one thread: the stand-in clock would also tick for the forest's thread pool
        get("missforest", budget=100.0, n_estimators=2, n_jobs=1).fit(Split(x, _obs(["A"] * 60)))
    assert caught.value.projected > 125.0


def test_chained_equations_in_place_are_projected_over_every_round_and_complete_data_over_one(monkeypatch):
    x = _gaussian(60, _cov(8)).astype(np.float32)
    monkeypatch.setattr(base.time, "monotonic", _Ticks(2.0))  # every regression seems to take 2 s
    get("mice", budget=100.0, max_iter=5).fit(Split(x, _obs(["A"] * 60)))  # complete: one round, inside budget
    x[::3, 0] = np.nan  # now five rounds of about ten regressions: about 100 s, though one round takes 20 s
    with pytest.raises(BudgetExceeded, match=r"mice would need about \d+ s, past its budget of 50 s: "
                                             r"stopped after \d of \d+ regressions") as caught:
        get("mice", budget=50.0, max_iter=5).fit(Split(x, _obs(["A"] * 60)))
    assert caught.value.projected > 62.5


def test_a_budget_stop_on_complete_data_counts_the_one_round_it_plans():
    x = _gaussian(60, _cov(8)).astype(np.float32)  # complete: one round, whatever max_iter says
    totals = {}
    for max_iter in (1, 5):
        with pytest.raises(BudgetExceeded, match=r"after 0 of \d+ regressions") as caught:
            get("mice", budget=0.0, max_iter=max_iter).fit(Split(x, _obs(["A"] * 60)))
        totals[max_iter] = caught.value.total
    assert totals[1] == totals[5]
    x[::3, 0] = np.nan  # incomplete: every one of the rounds
    with pytest.raises(BudgetExceeded) as caught:
        get("mice", budget=0.0, max_iter=5).fit(Split(x, _obs(["A"] * 60)))
    assert caught.value.progress == f"0 of {5 * totals[1]} regressions"


def test_missforest_grown_on_several_threads_imputes_the_same_values():
    """Trees grown on two threads are the trees grown on one, and each forest predicts on one thread, so that the
    sum over its trees comes in the same order: the imputation is the same to the bit."""
    x = _gaussian(120, _cov(8)).astype(np.float32)
    x[::4, 1] = np.nan
    x[1::5, 6] = np.nan
    split = Split(x, _obs(["A", "B"] * 60))
    values = [get("missforest", n_estimators=8, max_iter=2, n_jobs=jobs).fit(split).transform(x, None, split.obs)
              for jobs in (1, 2)]
    np.testing.assert_array_equal(values[0], values[1])


def test_softimpute_given_its_chosen_shrinkage_reproduces_the_search():
    # a choice reused at a later seed (the comparison's reuse_choices) or by `auto` must give the fit that made it;
    # started from zero, the same λ stopped far from the warm-started path's completion
    rng = np.random.default_rng(3)
    truth = rng.standard_normal((150, 8)) @ rng.standard_normal((8, 60)) + 0.3 * rng.standard_normal((150, 60))
    mask = missing_mask(*truth.shape, 0.5, 2)
    train = Split(np.where(mask > 0, truth, np.nan).astype(np.float32), _obs(["A"] * 150))
    searched = get("softimpute", seed=4, max_iter=30, tol=1e-3).fit(train)
    given = get("softimpute", seed=4, max_iter=30, tol=1e-3, shrinkage=searched.chosen_["shrinkage"]).fit(train)
    assert given.validation_ is None and given.chosen_ == searched.chosen_
    np.testing.assert_array_equal(given.fitted_, searched.fitted_)
