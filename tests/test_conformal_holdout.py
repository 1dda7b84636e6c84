"""The two calibrations that keep intervals honest where validation donors would not: tissue scales (a method errs
more widely in some tissues than its own spread says) and, in place, held-out training entries (a method completes
its own training rows with errors unlike those it makes on new rows). Also the blood surrogate's calibration on
the validation donors' own blood."""

import numpy as np
import pandas as pd
import pytest

from gaingtex.data import Split
from gaingtex.data.masks import missing_mask
from gaingtex.imputers.base import Imputer, check_inputs, keep_observed
from gaingtex.imputers.conformal import calibrate, calibrate_holdout, holdout
from gaingtex.imputers.mondrian import Calibration
from gaingtex.imputers.predictive import predictive

TISSUES = ["Brain_Cortex", "Brain_Cerebellum", "Brain_Hippocampus"]  # one group: Mondrian cells pool them


class Constant(Imputer):
    """Imputes each gene's mean, ``mu``; with ``noisy``, the rows it was fitted on get a fixed error of sd 1.5 of
    their own on top (as if it had memorised their noise), new rows none."""

    name = "constant"

    def __init__(self, mu, noisy=False):
        super().__init__(0)
        self.mu, self.noisy = np.asarray(mu, dtype=np.float32), noisy

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        self.n_genes = train.x.shape[1]
        rng = np.random.default_rng(7)
        self.known_ = {n: 1.5 * rng.standard_normal(self.n_genes) for n in train.obs.index} if self.noisy else {}
        return self

    def transform(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        error = np.array([self.known_.get(n, np.zeros(self.n_genes)) for n in obs.index], dtype=np.float32)
        return keep_observed(x0, mask, self.mu + error)


def _cohort(n, genes=30, seed=0, wide="Brain_Cortex"):
    """``x = mu + e``, ``e`` of sd 3 in the ``wide`` tissue and 1 elsewhere."""
    rng = np.random.default_rng(seed)
    obs = pd.DataFrame({"tissue": rng.choice(TISSUES, n), "donor_id": [f"d{seed}-{i}" for i in range(n)]},
                       index=[f"s{seed}-{i}" for i in range(n)])
    mu = np.linspace(-1, 1, genes)
    sd = np.where(obs["tissue"].to_numpy() == wide, 3.0, 1.0)[:, None]
    return Split((mu + sd * rng.standard_normal((n, genes))).astype(np.float32), obs), mu


def _coverage_by_tissue(pred, x, hidden, obs, level=0.9):
    lo, hi = pred.interval(level)
    inside = (x >= lo) & (x <= hi)
    return {t: inside[hidden & (obs["tissue"].to_numpy() == t)[:, None]].mean() for t in TISSUES}


def test_tissue_scales_give_each_tissue_its_coverage():
    """900 validation samples × 30 genes × ½: 150 scores per gene pooled over tissues, 4,500 per tissue. A
    tissue's coverage over 3,000 test samples has sd ≈ 0.006 plus its calibration's; ±0.03 is 4 sd. Without the
    scales, the wide tissue's entries get the pooled quantile: far too narrow for them."""
    valid, mu = _cohort(900, seed=1)
    test, _ = _cohort(3000, seed=2)
    mask = missing_mask(*test.x.shape, 0.5, np.random.default_rng(3))
    model = Constant(mu).fit(valid)
    cal = calibrate(model, valid, seed=0, scaled=False)
    # Brain_Cortex's mean square 9 against (9 + 1 + 1) / 3 overall; about 4,500 scores, so barely shrunk
    assert cal.tissue_scale[list(cal.tissues).index("Brain_Cortex")] == pytest.approx(np.sqrt(3 * 9 / 11), rel=0.05)
    coverage = _coverage_by_tissue(predictive(model, cal, test.x, mask, test.obs), test.x, mask == 0, test.obs)
    assert all(0.87 <= c <= 0.93 for c in coverage.values()), coverage
    flat = Calibration(cal.scores, cal.gene, cal.group, cal.groups, cal.n_genes, False)  # no tissues: scales 1
    assert (flat.tissue_scale == 1).all()
    pooled = _coverage_by_tissue(predictive(model, flat, test.x, mask, test.obs), test.x, mask == 0, test.obs)
    assert pooled["Brain_Cortex"] < 0.8 and pooled["Brain_Cerebellum"] > 0.95
    # a saved calibration keeps its scales; one saved before them reads with scales of 1
    back = Calibration.from_arrays(cal.to_arrays())
    np.testing.assert_array_equal(back.tissue_scale, cal.tissue_scale)
    old = {k: v for k, v in cal.to_arrays().items() if k not in ("tissue", "tissues")}
    assert (Calibration.from_arrays(old).tissue_scale == 1).all()
    # a tissue the calibration never saw, or saw too little of, keeps scale 1
    assert (cal.row_scale(pd.DataFrame({"tissue": ["Moon_Rock"]})) == 1).all()
    # a tissue with few scores is shrunk toward 1 (TISSUE_PRIOR): 12 samples × 30 genes × ½ hidden, about 60
    few = calibrate(model, Split(valid.x[:12], valid.obs.iloc[:12]), seed=0, scaled=False, min_count=1)
    wide = few.tissues.index("Brain_Cortex")
    assert 1 < few.tissue_scale[wide] < cal.tissue_scale[list(cal.tissues).index("Brain_Cortex")]


def test_holdout_takes_a_share_of_observed_entries_of_evenly_spaced_rows():
    mask = np.random.default_rng(0).random((3000, 50)) < 0.5
    held = holdout(mask, seed=3, per_gene=50)  # 50 / (0.1 × ½): about 1,000 rows
    wanted = int(np.ceil(50 / (0.1 * mask.mean())))
    rows = np.flatnonzero(held.any(axis=1))
    assert 995 <= wanted <= 1005 and 880 <= len(rows) <= wanted
    assert set(rows) <= set(np.linspace(0, 2999, wanted).round().astype(int))
    assert not (held & ~mask).any()
    assert 0.09 < held[rows].sum() / mask[rows].sum() < 0.11
    assert 40 <= held.sum(axis=0).mean() <= 60
    np.testing.assert_array_equal(held, holdout(mask, seed=3, per_gene=50))
    assert not np.array_equal(held, holdout(mask, seed=4, per_gene=50))
    assert holdout(mask, seed=3, per_gene=50, max_rows=100).any(axis=1).sum() <= 100
    assert holdout(mask, seed=3).any(axis=1).sum() > 2600  # 4,000 wanted, 3,000 there: every row (8 % hold none)


def test_inplace_intervals_hold_on_the_fitted_rows_where_validation_donors_would_not():
    """The method errs more widely on the rows it was fitted on (sd √(1 + 1.5²) ≈ 1.8) than on new ones (sd 1):
    intervals calibrated on validation donors cover far less than 0.9 of the training rows' hidden entries, those
    calibrated on held-out training entries about 0.9 (2,000 rows × 30 genes × ½ hidden: sd ≈ 0.003, plus the
    calibration's)."""
    train, mu = _cohort(2000, seed=4, wide="none")
    valid, _ = _cohort(600, seed=5, wide="none")
    scenario = missing_mask(*train.x.shape, 0.5, np.random.default_rng(6)) > 0  # what the user's file shows
    held = holdout(scenario, seed=0)
    shown = (scenario & ~held).astype(np.float32)
    model = Constant(mu, noisy=True).fit(train.with_values(np.where(shown > 0, train.x, np.nan)))
    center = model.transform(np.where(shown > 0, train.x, np.nan), shown, train.obs)
    scored = ~scenario
    by_donors = predictive(model, calibrate(model, valid, seed=0, scaled=False), train.x, shown, train.obs,
                           center=center)
    cal = calibrate_holdout(model, train.x, shown, train.obs, held, train.x[held], center, scaled=False)
    by_entries = predictive(model, cal, train.x, shown, train.obs, center=center)
    inside = lambda p: ((train.x >= p.interval(0.9)[0]) & (train.x <= p.interval(0.9)[1]))[scored].mean()  # noqa: E731
    assert inside(by_donors) < 0.75
    assert 0.88 <= inside(by_entries) <= 0.92
    with pytest.raises(ValueError, match="must be hidden"):
        calibrate_holdout(model, train.x, scenario.astype(np.float32), train.obs, held, train.x[held], center)
    with pytest.raises(ValueError, match="needs held-out entries"):
        calibrate_holdout(model, train.x, shown, train.obs, np.zeros_like(held), train.x[:0, 0], center)


def test_blood_surrogate_is_calibrated_on_the_validation_donors_own_blood():
    from gaingtex.imputers.blood_surrogate import BloodSurrogate

    rng = np.random.default_rng(0)

    def donors(prefix, n):
        obs = pd.DataFrame({"tissue": ["Whole_Blood", "Lung"] * n, "donor_id": np.repeat([f"{prefix}{i}" for i in
                                                                                          range(n)], 2)},
                           index=[f"{prefix}-{i}" for i in range(2 * n)])
        return Split(rng.standard_normal((2 * n, 5)).astype(np.float32), obs)

    train, valid, test = donors("t", 20), donors("v", 10), donors("x", 10)
    surrogate = BloodSurrogate().fit(train, blood=test)
    twin = surrogate.for_calibration(valid)
    assert set(surrogate.profiles_) == {f"x{i}" for i in range(10)}  # the fitted one is left as it was
    lung = np.flatnonzero(valid.obs["tissue"] == "Lung")
    hidden = np.zeros((len(lung), 5), dtype=np.float32)
    got = twin.transform(np.full((len(lung), 5), np.nan, np.float32), hidden, valid.obs.iloc[lung])
    np.testing.assert_array_equal(got, valid.x[lung - 1])  # each Lung row is its donor's blood row
    # calibrate() imputes the validation donors through it: every Lung score is |lung − blood|
    cal = calibrate(surrogate, valid, seed=0, scaled=False, min_count=1)
    lung_scores = cal.scores[cal.tissue == cal.tissues.index("Lung")]
    assert set(np.round(lung_scores, 5)) <= set(np.round(np.abs(valid.x[lung] - valid.x[lung - 1]).ravel(), 5))
