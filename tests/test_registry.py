"""One contract for every registered method, deep or baseline, in every scenario it supports."""

import numpy as np
import pytest

from gaingtex.config import model_config
from gaingtex.data.embedded import factor_model
from gaingtex.evaluation.scenarios import scenario_data
from gaingtex.imputers import get, names, spec
from gaingtex.imputers.registry import SCENARIOS, register

FILLS = (np.nan, 0.0, 1e6)


def build(name, scenario, seed, generator):
    """A registered method with settings small enough for a test (every method gets the same context)."""
    params = {"scenario": scenario, "preset": "smoke", "seed": seed, "generator": generator}
    if spec(name).trains:
        params["config"] = model_config("smoke", name, scenario).replace(max_epochs=1, steps_per_epoch=3)
    params.update(SMALL.get(name, {}))
    return get(name, **params)


# Settings that keep each fit within a second or two on the smoke cohort (fixed, where a method would otherwise
# choose them on validation).
SMALL = {"factor-analysis": dict(n_factors=4, max_iter=5), "gaussian": dict(max_iter=2),
         "gaussian-pooled": dict(max_iter=2), "knn": dict(n_neighbors=5),
         "mice": dict(n_nearest_features=10, max_iter=3),
         "missforest": dict(n_estimators=3, n_nearest_features=5, max_iter=2),
         "sample-lasso": dict(alpha=0.03, max_reference=100), "softimpute": dict(shrinkage=0.1, max_rank=20)}


def fit(imputer, data, fill):
    """Fit on the scenario's training data with every hidden entry replaced by ``fill``."""
    args = data.fit_args()
    for split, mask in (("train", "train_mask"), ("valid", "valid_mask")):
        if args[mask] is not None:
            args[split] = args[split].with_values(np.where(args[mask] > 0, args[split].x, fill))
    extra = {"blood": data.blood} if spec_of(imputer).needs_blood else {}
    return imputer.fit(**args, **extra)


def spec_of(imputer):
    return spec(getattr(imputer, "model_name", None) or imputer.name)


def impute(imputer, data, fill):
    x = np.where(data.eval_mask > 0, data.eval.x, fill)
    return imputer.transform(x, data.eval_mask, data.eval.obs)


CASES = [(n, s) for n in names() for s in SCENARIOS if spec(n).supports(s)]


def test_the_registry_holds_the_papers_methods():
    assert {"pmi", "gain", "gain-mse", "mean", "factor-analysis", "blood-surrogate", "oracle", "median", "gaussian",
            "gaussian-pooled", "knn", "mice", "missforest", "sample-lasso", "softimpute"} <= set(names())
    assert spec("GAIN-GTEx").name == "gain" and spec("gain").label == "GAIN-GTEx"
    assert "blood-surrogate" not in names("inplace") and "pmi" in names("inplace")
    assert spec("oracle").needs_generator and spec("blood-surrogate").needs_blood and spec("pmi").saveable
    with pytest.raises(ValueError, match="unknown method 'vae'"):
        get("vae")
    with pytest.raises(ValueError, match="needs the embedded cohort's generating model"):
        get("oracle")
    with pytest.raises(ValueError, match="registered twice"):
        register("mean", "another mean")(type("Other", (), {}))


@pytest.mark.parametrize("name", [n for n in names() if len(spec(n).scenarios) < len(SCENARIOS)])
def test_unsupported_scenario_is_a_clear_error(name):
    other = next(s for s in SCENARIOS if not spec(name).supports(s))
    with pytest.raises(ValueError, match=f"does not support the '{other}' scenario"):
        get(name, scenario=other)


@pytest.fixture(scope="module")
def scenarios(smoke):
    return {s: scenario_data(smoke, s, 0.5, seed=0) for s in SCENARIOS}


@pytest.mark.parametrize("name, scenario",
                         [pytest.param(n, s, marks=pytest.mark.slow if spec(n).trains else ()) for n, s in CASES])
def test_contract(name, scenario, scenarios, smoke, tmp_path):
    """Shapes; observed entries untouched; hidden entries never read (NaN, 0 or 1e6 in training and imputation
    give bitwise-identical imputations); same seed, same output; another seed, another output when stochastic;
    a save / load round trip where supported."""
    data, generator = scenarios[scenario], factor_model(smoke)
    first = fit(build(name, scenario, 0, generator), data, np.nan)
    out = impute(first, data, np.nan)
    assert out.shape == data.eval.x.shape and out.dtype == np.float32 and np.isfinite(out).all()
    seen = data.eval_mask > 0
    np.testing.assert_array_equal(out[seen], data.eval.x[seen])
    for fill in FILLS[1:]:
        np.testing.assert_array_equal(impute(first, data, fill), out)
    for fill in (FILLS[1:] if scenario == "inplace" else FILLS[:1]):  # in place the training data has holes
        again = fit(build(name, scenario, 0, generator), data, fill)
        for shown in FILLS:
            np.testing.assert_array_equal(impute(again, data, shown), out)
    other = impute(fit(build(name, scenario, 1, generator), data, np.nan), data, np.nan)
    assert (not np.array_equal(other, out)) == spec(name).stochastic
    if spec(name).saveable:
        loaded = type(first).load(first.save(tmp_path / f"{name}.keras"))
        np.testing.assert_array_equal(impute(loaded, data, 0.0), out)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_small_gene_panel(smoke, scenario):
    """A panel of a dozen genes (real GTEx panels are this small) goes through the same path, and the ranking
    that the structure implies holds: the oracle first, the per-tissue mean last."""
    from gaingtex.evaluation.scoring import build_methods, evaluate

    panel = list(smoke.var_names[::25])
    data = scenario_data(smoke, scenario, 0.5, seed=0, genes=panel)
    assert data.eval.x.shape[1] == len(panel) == 12
    table = evaluate(build_methods(["mean", "factor-analysis", "oracle"], data, "smoke", factor_model(smoke)),
                     data).set_index("method")["r2"]
    assert table["oracle"] > table["factor analysis"] > table["per-tissue mean"]
