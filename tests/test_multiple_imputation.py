"""Rubin's rules and the least-squares effect on known cases, the covariate wrapper, and a small multiple-imputation
study in which single imputation is overconfident and Rubin's rules are not."""

import json

import numpy as np
import pandas as pd
import pytest

from gaingtex.evaluation.pooling import Effect, design_matrix, ols_effect, rubin


def test_rubin_hand_computed():
    # q = 1, 2, 3 with u = 0.5 each, complete-data df 10: Ū = 0.5, B = 1, T = 0.5 + (4/3)·1 = 11/6,
    # λ = (4/3) / (11/6) = 8/11, ν_old = 2 / λ² = 121/32, ν_obs = (11/13)·10·(3/11) = 30/13, ν = 1/(32/121 + 13/30).
    pooled = rubin([1.0, 2.0, 3.0], [0.5, 0.5, 0.5], 10)
    assert pooled.estimate == pytest.approx(2.0)
    assert pooled.se == pytest.approx(np.sqrt(11 / 6))
    assert pooled.missing_share == pytest.approx(8 / 11)
    assert pooled.df == pytest.approx(1.0 / (32 / 121 + 13 / 30))
    lo, hi = pooled.interval(0.95)
    from scipy import stats

    half = stats.t.ppf(0.975, pooled.df) * np.sqrt(11 / 6)
    assert (lo, hi) == pytest.approx((2.0 - half, 2.0 + half))


def test_rubin_without_between_variance_is_the_complete_analysis():
    # Identical imputations (nothing missing): T = Ū, λ = 0 and ν = ν_obs = ν_com (ν_com + 1) / (ν_com + 3).
    pooled = rubin([0.3] * 5, [0.04] * 5, 50)
    assert (pooled.estimate, pooled.se, pooled.missing_share) == pytest.approx((0.3, 0.2, 0.0))
    assert pooled.df == pytest.approx(50 * 51 / 53)
    with pytest.raises(ValueError, match="at least 2"):
        rubin([1.0], [1.0], 10)


def test_ols_effect_matches_least_squares():
    rng = np.random.default_rng(0)
    n = 60
    covariates = np.column_stack([rng.random(n) < 0.5, rng.normal(size=n), np.eye(3)[rng.integers(0, 3, n)]])
    D, column = design_matrix(covariates, 1)
    assert D.shape == (n, 5) and column == 2  # intercept, sex, age, two of three one-hot levels (the third = 1 − both)
    y = 0.7 * covariates[:, 1] + rng.normal(size=n)
    effect = ols_effect(y, D, column)
    coef, res, *_ = np.linalg.lstsq(D, y, rcond=None)
    s2 = res[0] / (n - 5)
    assert effect.estimate == pytest.approx(coef[column])
    assert effect.se == pytest.approx(np.sqrt(s2 * np.linalg.inv(D.T @ D)[column, column]))
    assert effect.df == n - 5
    assert 0 < effect.p_value < 1e-3  # 0.7 per sd with 60 samples
    assert Effect(0.0, 1.0, 10).p_value == pytest.approx(1.0)
    with pytest.raises(ValueError, match="does not vary"):
        design_matrix(np.column_stack([np.ones(n), covariates[:, 1]]), 0)


@pytest.fixture(scope="module")
def study(smoke):
    from gaingtex.evaluation.studies import multiple_imputation as mi

    return mi.make_design(smoke, n_genes=12, n_reference=300, n_calibration=100, n_study=150, seed=0)


def test_design(study, smoke):
    from gaingtex.data.embedded import factor_model
    from gaingtex.evaluation.studies import multiple_imputation as mi

    original = factor_model(smoke)
    effect_gene, null_gene = study.genes[:2]
    assert study.generator.beta[null_gene, mi.AGE] == 0.0 and original.beta[null_gene, mi.AGE] != 0.0
    assert study.targets == {"effect": pytest.approx(mi.age_effects(original, study.unit)[effect_gene]), "null": 0.0}
    # the largest effect of a non-chrY gene
    chr_y = original.gene_index(smoke.var_names[smoke.var["module"].astype(str) == "chrY"])
    others = np.setdiff1d(np.arange(len(original.genes)), chr_y)
    assert abs(study.targets["effect"]) == pytest.approx(np.abs(mi.age_effects(original, study.unit)[others]).max())
    assert len(set(study.genes)) == 12
    assert {k: len(v) for k, v in study.obs.items()} == {"reference": 300, "calibration": 100, "study": 150}
    # the simulated expression follows the generator: the effect gene's age slope over many samples
    from gaingtex.data.embedded import encode_covariates

    big = pd.concat([study.obs["reference"]] * 20, ignore_index=True)
    x = mi.simulate(study, big, np.random.default_rng(1))
    D, column = design_matrix(encode_covariates(big), mi.AGE)
    assert ols_effect(x[:, 0], D, column).estimate == pytest.approx(study.targets["effect"], abs=0.05)


def test_with_covariates_keeps_observed_and_uses_age(study):
    from gaingtex.data import Split, Standardizer
    from gaingtex.evaluation.studies import multiple_imputation as mi

    rng = np.random.default_rng(2)
    raw = mi.simulate(study, study.obs["reference"], rng)
    scale = Standardizer.fit(raw)
    reference = Split(scale.transform(raw), study.obs["reference"], study.symbols, scale)
    plain = mi.make_method("gaussian", study, 0).fit(reference)
    wrapped = mi.make_method("gaussian+covariates", study, 0).fit(reference)
    x = scale.transform(mi.simulate(study, study.obs["study"], rng))
    mask = np.ones(x.shape, np.float32)
    mask[:, 0] = 0  # the effect gene hidden everywhere: an imputation's age slope is all the model's
    filled, bare = wrapped.transform(x, mask, study.obs["study"]), plain.transform(x, mask, study.obs["study"])
    assert filled.shape == x.shape and np.array_equal(filled[:, 1:], x[:, 1:])
    draws = wrapped.draw(x, mask, study.obs["study"], 3, rng)
    assert draws.shape == (3, *x.shape)
    assert np.array_equal(draws[:, :, 1:], np.broadcast_to(x[:, 1:], (3, *x[:, 1:].shape)))
    from gaingtex.data.embedded import encode_covariates

    D, column = design_matrix(encode_covariates(study.obs["study"]), mi.AGE)
    slope = {k: ols_effect(scale.inverse(v)[:, 0], D, column).estimate for k, v in (("with", filled), ("bare", bare))}
    # Given the covariates the imputation carries most of the age effect; from the genes alone, less of it.
    assert abs(slope["with"] - study.targets["effect"]) < abs(slope["bare"] - study.targets["effect"])


def test_single_imputation_is_overconfident(study):
    """The oracle's draws are the truth's own conditional law: its multiple imputation is valid, so single
    imputation's overconfidence is all in how it is analysed. Over a few replicates, every single-imputation
    standard error is below Rubin's, and its errors measured in its own standard errors are larger."""
    from gaingtex.evaluation.studies import multiple_imputation as mi

    rows = pd.DataFrame([row for r in range(4) for row in mi.replicate(study, r, ("oracle", "mean"), draws=8)])
    # The per-tissue mean knows nothing of age: half of the effect gene's values carry none of its effect.
    mean = rows[(rows["method"] == "mean") & (rows["gene"] == "effect")]
    assert abs(mean["estimate"].mean()) < 0.7 * abs(study.targets["effect"])  # 0.10 against 0.29
    rows = rows[rows["method"] != "mean"]
    wide = rows.set_index(["replicate", "gene", "approach"])
    single, multiple = wide.xs("single", level="approach"), wide.xs("multiple", level="approach")
    assert (single["se"] < multiple["se"]).all()
    assert (single["se"] / multiple["se"]).mean() < 0.9  # 0.78 at these sizes
    z = lambda f: ((f["estimate"] - f["target"]) / f["se"]) ** 2  # noqa: E731
    assert z(single).mean() > 1.2 * z(multiple).mean()  # 1.9 against 1.15
    summary = mi.summarise(rows)
    assert set(summary["approach"]) == {"truth", "complete cases", "single", "multiple"}
    assert (summary["replicates"] == 4).all()


def test_benchmark_script(tmp_path):
    from benchmarks import multiple_imputation as bench

    out = tmp_path / "mi.json"
    assert bench.main(["--preset", "smoke", "--replicates", "1", "--draws", "2", "--methods", "mean", "oracle",
                       "--genes", "8", "--reference", "120", "--calibration", "100", "--study", "80",
                       "--scenario", "inplace", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"command", "preset", "scenario", "replicates", "draws", "design", "machine", "wall_seconds",
            "summary"} <= set(result)
    assert result["scenario"] == result["design"]["scenario"] == "inplace"
    assert {(r["approach"], r["method"]) for r in result["summary"]} == {
        ("truth", ""), ("complete cases", ""), ("single", "mean"), ("multiple", "mean"), ("single", "oracle"),
        ("multiple", "oracle")}
