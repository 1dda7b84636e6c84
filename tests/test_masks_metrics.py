import numpy as np
import pandas as pd
import pytest

from gaingtex.imputers import MeanImputer, check_inputs
from gaingtex.data.masks import check_mask, missing_mask, sample_mask
from gaingtex.evaluation.metrics import MIN_ENTRIES, masked_scores, summarise


def test_sample_mask_keep_probability_per_sample():
    m = sample_mask(2000, 400, 0.2, 0.8, 0)
    kept = m.mean(axis=1)
    assert set(np.unique(m)) == {0.0, 1.0}
    assert 0.1 < kept.min() < 0.25 and 0.75 < kept.max() < 0.9  # U(0.2, 0.8) plus binomial noise (sd 0.02)
    assert abs(kept.mean() - 0.5) < 0.02
    np.testing.assert_array_equal(m, sample_mask(2000, 400, 0.2, 0.8, 0))


def test_missing_mask_rate():
    m = missing_mask(500, 500, 0.3, 1)
    assert abs(1 - m.mean() - 0.3) < 0.01


@pytest.mark.parametrize("low,high", [(0.6, 0.4), (-0.1, 0.5), (0.5, 1.5)])
def test_bad_keep_probabilities(low, high):
    with pytest.raises(ValueError, match="keep-probabilities"):
        sample_mask(3, 3, low, high, 0)


def test_mask_of_wrong_shape_or_values():
    with pytest.raises(ValueError, match=r"shape \(2, 3\), expected \(3, 2\)"):
        check_mask(np.ones((2, 3)), (3, 2))
    with pytest.raises(ValueError, match="only 0"):
        check_mask(np.full((2, 2), 0.5), (2, 2))


def test_nan_in_observed_values_is_refused():
    x = np.array([[1.0, np.nan], [2.0, 3.0]])
    obs = pd.DataFrame(index=["a", "b"])
    with pytest.raises(ValueError, match="observed entries.*NaN.*sample 0, gene 1"):
        check_inputs(x, np.ones((2, 2)), obs)
    x0, _ = check_inputs(x, np.array([[1, 0], [1, 1]]), obs)
    assert x0[0, 1] == 0.0


def test_r2_by_hand():
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    xhat = np.array([[1.5], [2.0], [3.0], [3.5]])
    mask = np.zeros((4, 1))
    s = masked_scores(x, xhat, mask, np.array(["t"] * 4), min_samples=1, min_entries=2)
    # SS_res = 0.25 + 0.25 = 0.5; SS_tot = 5 → R² = 0.9; RMSE = sqrt(0.5 / 4)
    assert s["r2"].iloc[0] == pytest.approx(0.9)
    assert s["rmse"].iloc[0] == pytest.approx(np.sqrt(0.125))


def test_scores_use_missing_entries_only():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    mask = missing_mask(50, 4, 0.5, 1)
    xhat = np.where(mask > 0, 99.0, x)  # perfect on missing entries, absurd on observed ones
    s = masked_scores(x, xhat, mask, np.array(["t"] * 50))
    assert np.allclose(s["r2"], 1.0) and np.allclose(s["rmse"], 0.0)


def test_cells_with_too_few_masked_entries_are_not_scored():
    """Two close values give a tiny SS_tot and an R² of any size: below MIN_ENTRIES masked entries a gene's R² in
    a tissue is NaN (its RMSE is still reported), and the tissue's mean is over the genes that have enough."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 2))
    x[:, 1] = 1.0 + 1e-4 * x[:, 1]  # gene 1: almost constant
    mask = np.ones_like(x)
    mask[:, 0] = 0  # gene 0: 20 masked entries
    mask[: MIN_ENTRIES - 1, 1] = 0  # gene 1: one entry short
    s = masked_scores(x, np.zeros_like(x), mask, np.array(["t"] * 20))
    assert np.isfinite(s["r2"].iloc[0]) and np.isnan(s["r2"].iloc[1]) and np.isfinite(s["rmse"].iloc[1])
    assert summarise(s)["r2"] == pytest.approx(s["r2"].iloc[0])
    mask[MIN_ENTRIES - 1, 1] = 0  # now enough: scored, and hugely negative
    assert masked_scores(x, np.zeros_like(x), mask, np.array(["t"] * 20))["r2"].iloc[1] < -1e6


def test_too_few_distinct_samples_give_nan():
    x = np.arange(8, dtype=float).reshape(4, 2)
    s = masked_scores(x, x * 0, np.zeros((4, 2)), np.array(["t"] * 4), samples=np.array([0, 1, 0, 1]))
    assert s["r2"].isna().all()


def test_per_tissue_mean_scores_near_zero(book):
    from gaingtex.data import prepare

    p = prepare(book)
    mask = missing_mask(*p.test.x.shape, 0.5, 0)
    imp = MeanImputer().fit(p.train)
    xhat = imp.transform(np.where(mask > 0, p.test.x, np.nan), mask, p.test.obs)
    np.testing.assert_array_equal(xhat[mask > 0], p.test.x[mask > 0])
    r2 = summarise(masked_scores(p.test.x, xhat, mask, p.test.obs["tissue"].to_numpy()))["r2"]
    assert -0.1 < r2 < 0.01


def test_small_and_unscored_tissues_are_counted_not_dropped():
    rng = np.random.default_rng(0)
    groups = np.repeat(["big", "small", "tiny"], [40, 8, 3])
    x = rng.standard_normal((len(groups), 4))
    mask = np.zeros_like(x)
    scores = masked_scores(x, x * 0.5, mask, groups, samples=np.arange(len(groups)))
    assert dict(scores.groupby("tissue")["samples"].first()) == {"big": 40, "small": 8, "tiny": 3}
    summary = summarise(scores)
    assert (summary["tissues"], summary["small_tissues"], summary["unscored_tissues"]) == (2, 1, 1)
    from gaingtex.evaluation.studies.tissues import per_tissue

    table = per_tissue(scores.assign(method="m"), sizes=True)
    assert list(table.loc[["big", "small"], "small"]) == [False, True] and table.loc["tiny", "samples"] == 3
