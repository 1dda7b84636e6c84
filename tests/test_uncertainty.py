"""Conformal calibration (gaingtex.imputers.conformal) and the calibration measures (gaingtex.evaluation.calibration):
the quantile on known cases, the Mondrian fallbacks, exact CRPS and PIT against scoringrules, and coverage near
nominal where the truth is known."""

import numpy as np
import pandas as pd
import pytest

from gaingtex.data import Split
from gaingtex.data.masks import missing_mask
from gaingtex.imputers.base import Imputer, check_inputs, keep_observed
from gaingtex.imputers.conformal import calibrate, calibrate_holdout, holdout
from gaingtex.imputers.mondrian import Calibration, check_level, conformal_quantile, tissue_groups
from gaingtex.imputers.predictive import predictive

TISSUES = ["Brain_Cortex", "Brain_Cerebellum", "Lung", "Whole_Blood"]


# ------------------------------------------------------------------------------------------------ the quantile
def test_conformal_quantile_known_cases():
    s = np.arange(1, 10)  # nine scores: ⌈10 × 0.9⌉ = 9, the largest
    assert conformal_quantile(s, 0.9) == 9
    assert conformal_quantile(np.arange(1, 9), 0.9) == np.inf  # eight: ⌈9 × 0.9⌉ = 9 > 8
    assert conformal_quantile(np.arange(1, 20)[::-1], 0.9) == 18  # ⌈20 × 0.9⌉ = 18, whatever the order
    assert conformal_quantile(np.arange(1, 100), 0.5) == 50
    assert Calibration.need(0.9) == 9 and Calibration.need(0.99) == 99
    for bad in (0, 1, 1.5, -0.1, "x"):
        with pytest.raises(ValueError, match="between 0 and 1|number"):
            check_level(bad)


def test_finite_sample_coverage_is_exact_on_average():
    """Split conformal: P(new score ≤ q) ≥ L, and < L + 1/(n + 1) for continuous scores."""
    rng = np.random.default_rng(0)
    n, reps = 19, 20000
    cal = rng.exponential(size=(reps, n))
    q = np.sort(cal, axis=1)[:, 17]  # rank ⌈20 × 0.9⌉ = 18
    assert all(conformal_quantile(cal[r], 0.9) == q[r] for r in range(5))
    covered = (rng.exponential(size=reps) <= q).mean()
    assert 0.9 - 3 * np.sqrt(0.09 / reps) <= covered <= 0.9 + 3 * np.sqrt(0.09 / reps)


# -------------------------------------------------------------------------------------- Mondrian fallbacks
def _calibration(min_count=100):
    rng = np.random.default_rng(1)
    parts = [(0, 0, 150, 1.0), (0, 1, 20, 5.0), (1, 0, 30, 1.0), (1, 1, 30, 1.0)]  # gene, group, count, scale
    scores = np.concatenate([rng.exponential(s, n) for _, _, n, s in parts]).astype(np.float32)  # as stored
    gene = np.concatenate([[j] * n for j, _, n, _ in parts])
    group = np.concatenate([[g] * n for _, g, n, _ in parts])
    return Calibration(scores, gene, group, ["brain", "lung"], 3, False, min_count), scores, gene, group


def test_mondrian_cells_fall_back_from_cell_to_gene_to_all():
    cal, scores, gene, group = _calibration()
    G, J = 2, 3
    key = cal.cells()
    assert key[0, 0] == 0 * G + 0  # 150 scores: its own cell
    assert key[1, 0] == J * G + 0  # 20 scores: gene 0 (170 ≥ 100)
    assert key[2, 0] == J * G + 0  # a group with no calibration: its gene
    assert (key[:, 1] == J * (G + 1)).all() and (key[:, 2] == J * (G + 1)).all()  # 60 and 0 scores: all
    q = cal.quantile(0.9)
    assert q[0, 0] == conformal_quantile(scores[(gene == 0) & (group == 0)], 0.9)
    assert q[1, 0] == conformal_quantile(scores[gene == 0], 0.9)
    assert q[0, 2] == conformal_quantile(scores, 0.9)
    # a level that needs more scores than a cell has falls back as well: 0.995 needs 199 (the cell has 150, its
    # gene 170, all 230)
    assert cal.quantile(0.995)[0, 0] == conformal_quantile(scores, 0.995) < np.inf
    assert cal.resolved() == pytest.approx({"gene x group": 1 / 6, "gene": 1 / 6, "all": 4 / 6})
    small = Calibration(scores[:5], gene[:5], group[:5], ["brain", "lung"], 3, False)
    assert np.isinf(small.quantile(0.9)).all()  # five scores: no finite 90 % quantile anywhere
    back = Calibration.from_arrays(cal.to_arrays())
    assert np.array_equal(back.quantile(0.8), cal.quantile(0.8)) and back.groups == cal.groups


def test_tissue_groups_map_tissues_to_organ_systems():
    obs = pd.DataFrame({"tissue": ["Brain_Cortex", "Brain_Cerebellum", "Lung", "Not_A_Tissue"]})
    groups = tissue_groups(obs)
    assert groups[0] == groups[1] == "brain" and groups[2] == "lung" and groups[3] == "Not_A_Tissue"


def test_exact_crps_and_pit_of_the_empirical_distribution():
    sr = pytest.importorskip("scoringrules")
    cal, scores, gene, group = _calibration(min_count=10)
    key = cal.cells()[np.array([0, 1, 1, 0, 2]), np.array([0, 0, 1, 1, 2])]
    r = np.array([0.3, -2.0, 7.5, -0.01, 40.0])
    ours = cal.crps(r, key)
    pit = cal.pit(r, key)
    for e in range(len(r)):
        k = key[e]
        cell = cal._store[cal._start[k]: cal._start[k] + cal._count[k]]
        ensemble = np.concatenate([cell, -cell])
        assert ours[e] == pytest.approx(float(sr.crps_ensemble(r[e], ensemble, estimator="nrg")), rel=1e-9)
        assert pit[e] == pytest.approx((ensemble <= r[e]).mean(), abs=1e-12)


# ------------------------------------------------------------------------ a model with a known predictive law
class KnownGaussian(Imputer):
    """Knows the truth's law: y = μ_j + s_i z, with a per-sample scale s_i in obs["s"]; imputes μ_j and, as its
    own spread, s_i (or, ``honest=False``, a constant, so that only conformal scaling can correct it)."""

    name = "known-gaussian"

    def __init__(self, mu, honest=True):
        super().__init__(0)
        self.mu, self.honest = np.asarray(mu, dtype=np.float32), honest

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        self.n_genes = train.x.shape[1]
        return self

    def transform(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        return keep_observed(x0, mask, np.broadcast_to(self.mu, x0.shape))

    def spread(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        s = obs["s"].to_numpy(np.float32)[:, None] if self.honest else np.float32(2.0)
        return np.where(mask > 0, 0.0, np.broadcast_to(s, x0.shape)).astype(np.float32)

    def draw(self, x, mask, obs, draws, rng):
        mean, sd = self.transform(x, mask, obs), self.spread(x, mask, obs)
        return mean + sd * rng.standard_normal((draws, *mean.shape)).astype(np.float32)


def _synthetic(n, genes=40, seed=0):
    rng = np.random.default_rng(seed)
    obs = pd.DataFrame({"tissue": pd.Categorical(rng.choice(TISSUES, n)), "s": rng.choice([0.5, 1.0, 3.0], n)},
                       index=[f"s{seed}-{i}" for i in range(n)])
    mu = np.linspace(-1, 1, genes)
    x = (mu + obs["s"].to_numpy()[:, None] * rng.standard_normal((n, genes))).astype(np.float32)
    return Split(x, obs), mu


def test_coverage_is_nominal_overall_and_per_scale_when_scaled_by_the_models_spread():
    """600 validation samples × 40 genes × ½: 300 scores per gene; 4,000 test samples × 40 genes × ½: 80,000
    test entries. Overall, binomial and calibration noise together have sd ≈ 0.004 (tolerance ±0.02); a scale's
    third of the entries, about 0.006 (tolerance ±0.03). The constant spread misses its bounds by far more."""
    valid, mu = _synthetic(600, seed=1)
    test, _ = _synthetic(4000, seed=2)
    mask = missing_mask(*test.x.shape, 0.5, np.random.default_rng(3))
    hidden = mask == 0
    for honest in (True, False):
        model = KnownGaussian(mu, honest).fit(valid)
        cal = calibrate(model, valid, seed=0, scaled=True)
        pred = predictive(model, cal, test.x, mask, test.obs)
        lo, hi = pred.interval(0.9)
        inside = (test.x >= lo) & (test.x <= hi)
        assert 0.88 <= inside[hidden].mean() <= 0.92
        assert (lo[~hidden] == test.x[~hidden]).all() and (hi[~hidden] == test.x[~hidden]).all()
        by_scale = [inside[hidden & (test.obs["s"].to_numpy()[:, None] == s)].mean() for s in (0.5, 1.0, 3.0)]
        if honest:  # the model's own spread makes coverage hold at every scale
            assert min(by_scale) >= 0.87 and max(by_scale) <= 0.93
        else:  # a constant spread: right on average, wrong by scale (over-covers the calm, misses the wild)
            assert by_scale[0] > 0.97 and by_scale[2] < 0.8
    # the SD-like spread of the honest model is its own (the RMS factor of N(0, 1) scores is about 1)
    model = KnownGaussian(mu).fit(valid)
    pred = predictive(model, calibrate(model, valid, seed=0, scaled=True), test.x, mask, test.obs)
    ratio = pred.sd()[hidden] / np.broadcast_to(test.obs["s"].to_numpy()[:, None], mask.shape)[hidden]
    assert 0.93 <= np.median(ratio) <= 1.07


def test_draws_keep_observed_entries_and_match_the_spread():
    valid, mu = _synthetic(600, seed=1)
    test, _ = _synthetic(300, seed=2)
    mask = missing_mask(*test.x.shape, 0.5, np.random.default_rng(3))
    model = KnownGaussian(mu).fit(valid)
    cal = calibrate(model, valid, seed=0, scaled=False)  # unscaled: residuals resampled per entry
    pred = predictive(model, cal, test.x, mask, test.obs)
    draws = pred.draws(200, np.random.default_rng(0))
    assert draws.shape == (200, *test.x.shape)
    assert (draws[:, mask > 0] == test.x[mask > 0]).all()
    sd = draws.std(axis=0)[mask == 0]
    assert np.median(sd / pred.sd()[mask == 0]) == pytest.approx(1.0, abs=0.1)
    own = model.draw(test.x, mask, test.obs, 50, np.random.default_rng(1))
    joint = predictive(model, calibrate(model, valid, seed=0, scaled=True), test.x, mask, test.obs).draws(
        50, np.random.default_rng(1), own=own)
    assert (joint[:, mask > 0] == test.x[mask > 0]).all()
    assert np.corrcoef(joint[:, mask == 0].ravel(), own[:, mask == 0].ravel())[0, 1] > 0.99


def test_calibration_entries_are_not_the_methods_own_validation_entries():
    from gaingtex.imputers.base import validation_task

    valid, mu = _synthetic(200, seed=1)
    _, _, own_targets, _ = validation_task(valid, None, 0)
    seen = []

    class Spy(KnownGaussian):
        def transform(self, x, mask, obs):
            seen.append(np.asarray(mask).copy())
            return super().transform(x, mask, obs)

    calibrate(Spy(mu).fit(valid), valid, seed=0, scaled=False)
    targets = 1.0 - seen[0]
    overlap = (targets * own_targets).sum() / own_targets.sum()
    assert 0.4 <= overlap <= 0.6  # independent halves, not the same half


@pytest.mark.parametrize("shown, transforms, scored", [(0.5001, 1, 0.5), (0.4999, 1, 0.5), (0.7, 2, 0.6),
                                                       (0.9, 5, 0.5)])
def test_a_calibration_scores_about_half_the_entries_with_as_few_transforms_as_that_takes(shown, transforms, scored):
    """At a missing rate of 0.5 the share shown falls either side of 0.5: both take one transform and score half
    of the entries (a second fold above 0.5 once scored all of them at twice the cost)."""
    valid, mu = _synthetic(300, seed=1)
    calls = []

    class Counted(KnownGaussian):
        def transform(self, x, mask, obs):
            calls.append(1)
            return super().transform(x, mask, obs)

    cal = calibrate(Counted(mu).fit(valid), valid, seed=0, scaled=False, shown=shown)
    assert len(calls) == transforms
    assert len(cal.scores) / valid.x.size == pytest.approx(scored, abs=0.03)


def test_measures_by_blocks_of_rows_are_the_measures_of_the_whole(monkeypatch):
    from gaingtex.evaluation import calibration as measured

    valid, mu = _synthetic(300, seed=1)
    test, _ = _synthetic(500, seed=2)
    mask = missing_mask(*test.x.shape, 0.5, np.random.default_rng(3))
    model = KnownGaussian(mu).fit(valid)
    for scaled in (True, False):
        pred = predictive(model, calibrate(model, valid, seed=0, scaled=scaled), test.x, mask, test.obs)
        whole = measured.measures(pred, test.x, mask == 0, test.obs, pit_bins=10, by_tissue=True)
        monkeypatch.setattr(measured, "BLOCK_ENTRIES", 7 * test.x.shape[1])  # 7 rows a block, the last shorter
        blocks = measured.measures(pred, test.x, mask == 0, test.obs, pit_bins=10, by_tissue=True)
        monkeypatch.undo()
        assert {k: v for k, v in whole.items() if k not in ("pit", "tissues")} == \
            {k: v for k, v in blocks.items() if k not in ("pit", "tissues")}
        assert whole["pit"] == blocks["pit"] and sum(whole["pit"]) == pytest.approx(1.0)
        _, p = pred.crps_pit(test.x, mask == 0)  # the histogram of every PIT value at once
        assert whole["pit"] == (np.histogram(np.clip(p, 0, 1), 10, (0.0, 1.0))[0] / p.size).tolist()
        pd.testing.assert_frame_equal(whole["tissues"], blocks["tissues"], rtol=1e-12)
        lo, hi = pred.interval(0.9)  # the per-tissue table against the definition
        lung = (test.obs["tissue"] == "Lung").to_numpy()[:, None] & (mask == 0)
        row = whole["tissues"].set_index("tissue").loc["Lung"]
        assert row["entries"] == lung.sum()
        assert row["coverage"] == ((test.x >= lo) & (test.x <= hi))[lung].mean()
        assert row["width"] == pytest.approx(float((hi - lo)[lung].mean()), rel=1e-6)


def test_notebook_09_reads_what_the_comparison_measured_as_if_it_had_fitted_again(smoke, tmp_path):
    """The uncertainty study from a comparison's rows and details (what notebook 09 reads from notebook 08's run
    folder, through CSV) equals the study fitted afresh on the same masks; anything missing is refused."""
    from gaingtex.book.runs import open_run
    from gaingtex.data.embedded import factor_model
    from gaingtex.evaluation.comparison import compare
    from gaingtex.evaluation.scenarios import scenario_data
    from gaingtex.evaluation.scoring import build_methods
    from gaingtex.evaluation.studies.uncertainty import Details, from_comparison, uncertainty

    methods, generator = ["mean", "gaussian", "knn", "oracle"], factor_model(smoke)
    details = Details(0.5)
    rows = compare(smoke, methods, seeds=[0], scenarios=["inductive"], genes=["all"], preset="smoke",
                   generator=generator, deep=lambda *a: None, progress=False, details=details)
    run = open_run(str(tmp_path / "run"), "smoke", 0)
    assert run.comparison_uncertainty(methods, 0.5) is None  # notebook 08 has not run here
    run.save_table("comparison_rows", rows)
    run.save_details(details)
    read = run.comparison_uncertainty(methods, 0.5)
    rows, pit, tissues = (run.read_table(n) for n in ("comparison_rows", "comparison_pit", "comparison_tissues"))
    data = scenario_data(smoke, "inductive", 0.5, 0)
    fresh = uncertainty(build_methods(methods, data, "smoke", generator), data)
    pd.testing.assert_frame_equal(read["table"], fresh["table"], rtol=1e-12)
    for k in ("tissues", "pit"):
        pd.testing.assert_frame_equal(read[k], fresh[k], rtol=1e-12, check_dtype=False)
    assert from_comparison(rows, pit, tissues, methods, seed=0, missing_rate=0.3) is None  # another rate
    assert from_comparison(rows, pit, tissues, [*methods, "mice"], seed=0, missing_rate=0.5) is None
    assert from_comparison(rows, pit, tissues, methods, seed=0, missing_rate=0.5, genes="panel") is None


@pytest.mark.parametrize("scaled", [True, False])
def test_the_measures_in_blocks_on_every_core_are_those_of_one_piece(monkeypatch, scaled):
    """measures() takes a block of rows at a time (BLOCK_ENTRIES): every measure, the PIT histogram and the
    per-tissue table are those of the whole matrix at once, to the bit."""
    from gaingtex.evaluation import calibration

    valid, mu = _synthetic(400, seed=4)
    test, _ = _synthetic(700, seed=5)
    mask = missing_mask(*test.x.shape, 0.5, np.random.default_rng(6))
    model = KnownGaussian(mu).fit(valid)
    pred = predictive(model, calibrate(model, valid, seed=0, scaled=scaled), test.x, mask, test.obs)
    runs = []
    for entries in (1 << 30, 7 * test.x.shape[1]):  # one block; blocks of 7 rows
        monkeypatch.setattr(calibration, "BLOCK_ENTRIES", entries)
        runs.append(calibration.measures(pred, test.x, mask == 0, test.obs, pit_bins=10, by_tissue=True))
    whole, blocks = runs
    assert whole.pop("pit") == blocks.pop("pit")
    pd.testing.assert_frame_equal(whole.pop("tissues"), blocks.pop("tissues"), check_exact=True)
    assert whole == blocks
