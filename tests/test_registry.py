"""One contract for every registered method, deep or baseline, in every scenario it supports."""

import inspect

import numpy as np
import pytest

from gaingtex.config import model_config
from gaingtex.data.embedded import factor_model
from gaingtex.evaluation.scenarios import scenario_data
from gaingtex.imputers import get, names, registry, spec
from gaingtex.imputers.archive import read_arrays, read_meta, write_archive
from gaingtex.imputers.base import Imputer, check_inputs, keep_observed, observed_mask
from gaingtex.imputers.registry import ROLES, SCENARIOS, register

FILLS = (np.nan, 0.0, 1e6)


def build(name, scenario, seed, generator):
    """A registered method with settings small enough for a test (every method gets the same context)."""
    params = {"scenario": scenario, "preset": "smoke", "seed": seed, "generator": generator}
    if spec(name).trains:
        params["config"] = model_config("smoke", name, scenario).replace(max_epochs=1, steps_per_epoch=3)
    params.update(SMALL.get(name, {}))
    return get(name, **params)


# Settings that keep each fit within a second or two on the smoke cohort (fixed, where a method would otherwise
# choose them on validation). MissForest on one thread: its values are the same on any number
# (tests/test_baselines.py), and starting threads for each ensemble of three small trees costs far more than the
# trees.
SMALL = {"factor-analysis": dict(n_factors=4, max_iter=5), "gaussian": dict(max_iter=2),
         "gaussian-pooled": dict(max_iter=2), "knn": dict(n_neighbors=5),
         "mice": dict(n_nearest_features=10, max_iter=3),
         "missforest": dict(n_estimators=3, n_nearest_features=5, max_iter=2, n_jobs=1),
         "sample-lasso": dict(alpha=0.03, max_reference=100), "softimpute": dict(shrinkage=0.1, max_rank=20)}
SMALL["auto"] = dict(members=("mean", "gaussian-pooled", "factor-analysis"),
                     member_params={k: SMALL[k] for k in ("gaussian-pooled", "factor-analysis")})


def fit(imputer, data, fill):
    """Fit on the scenario's training data with every hidden entry replaced by ``fill``."""
    args = data.fit_args()
    for split, mask in (("train", "train_mask"), ("valid", "valid_mask")):
        if args[mask] is not None:
            args[split] = args[split].with_values(np.where(args[mask] > 0, args[split].x, fill))
    extra = {"blood": data.blood} if spec(imputer.name).needs_blood else {}
    return imputer.fit(**args, **extra)


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


def test_every_method_says_what_it_is(scratch_registry):
    """A role for every method; a load for every saveable one; the settings it chooses are its own parameters
    (they are passed back to skip the choice); the paper's best for each scenario, and no other."""
    for name in names():
        s = spec(name)
        assert s.role in ROLES, name
        assert not s.saveable or callable(s.load), name
        assert set(s.chooses) <= set(inspect.signature(s.factory).parameters), name
    assert names(role="paper") == names(trains=True) == ["pmi", "gain", "gain-mse"]
    assert set(names(role="reference")) == {"gaussian", "factor-analysis"} and names(role="ceiling") == ["oracle"]
    assert set(names(family="linear-gaussian")) == {"gaussian", "gaussian-pooled", "factor-analysis"}
    assert registry.paper_best("inductive") == "pmi" and registry.paper_best("inplace") == "gain"
    with pytest.raises(ValueError, match="unknown role"):
        register("toy", "toy", role="star")(type("Toy", (), {}))
    with pytest.raises(ValueError, match="saveable but has no load"):
        register("toy", "toy", saveable=True)(type("Toy", (), {}))
    assert "toy" not in names()


@pytest.fixture
def scratch_registry():
    """The registry as it was before the test: a method the test registers is gone after it."""
    before = set(names())
    yield
    for name in set(names()) - before:
        registry.unregister(name)


def test_a_new_method_that_trains_saves_and_loads_is_one_class(smoke, tmp_path, scratch_registry):
    """Everything a method needs is in its own file: this class learns each gene's mean, fills it in, saves it
    through the shared archive and registers itself; the registry builds it, and loads its file back knowing
    nothing of it but what the file says."""

    @register("toy-gene-mean", "per-gene mean", saveable=True)
    class GeneMean(Imputer):
        name = "toy-gene-mean"

        def fit(self, train, valid=None, train_mask=None, valid_mask=None):
            super().fit(train)
            seen = observed_mask(train.x, train_mask, "train_mask")
            self.means_ = (np.where(seen > 0, train.x, 0.0).sum(0) / np.maximum(seen.sum(0), 1)).astype(np.float32)
            return self

        def transform(self, x, mask, obs):
            x0, mask = check_inputs(x, mask, obs, self.n_genes)
            return keep_observed(x0, mask, np.broadcast_to(self.means_, x0.shape))

        def save(self, path):
            return write_archive(path, self.name, {"seed": self.seed}, {"means": self.means_})

        @classmethod
        def load(cls, path):
            self = cls(seed=read_meta(path)["seed"])
            self.means_ = read_arrays(path)["means"]
            self.n_genes = len(self.means_)
            return self

    assert GeneMean.name in names("inductive") and spec("per-gene mean").role == "baseline"
    data = scenario_data(smoke, "inductive", 0.5, seed=0)
    fitted = fit(get(GeneMean.name, scenario="inductive", preset="smoke", seed=3), data, np.nan)
    loaded = registry.load(fitted.save(tmp_path / "toy.gaingtex"))
    assert type(loaded) is GeneMean and loaded.seed == 3
    np.testing.assert_array_equal(impute(loaded, data, 0.0), impute(fitted, data, np.nan))
    registry.unregister(GeneMean.name)
    with pytest.raises(ValueError, match="toy.gaingtex holds a model of method 'toy-gene-mean', which this"):
        registry.load(tmp_path / "toy.gaingtex")


def test_load_refuses_what_is_not_a_saved_model(tmp_path):
    (tmp_path / "notes.keras").write_text("not an archive")
    with pytest.raises(ValueError, match="notes.keras is not a gaingtex model archive"):
        registry.load(tmp_path / "notes.keras")
    write_archive(tmp_path / "other.keras", "vae", {}, {})
    with pytest.raises(ValueError, match="other.keras holds a model of method 'vae'"):
        registry.load(tmp_path / "other.keras")
    with pytest.raises(FileNotFoundError, match="absent.keras does not exist"):
        registry.load(tmp_path / "absent.keras")
    assert read_meta(tmp_path / "other.keras") == {"method": "vae"}


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
        loaded = registry.load(first.save(tmp_path / f"{name}.keras"))
        assert type(loaded) is type(first)
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
