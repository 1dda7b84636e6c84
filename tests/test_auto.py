"""``auto``: the blend's weights where the right ones are known, the fallback, the contract, and a small run in
which it is not behind its best member."""

import numpy as np
import pytest

from gaingtex.evaluation.scenarios import scenario_data
from gaingtex.imputers import _blend, get, names, spec

# Members with settings that keep each fit within a second on the smoke cohort (tests/test_registry.py's SMALL).
SMALL = {"factor-analysis": dict(n_factors=4, max_iter=5), "gaussian-pooled": dict(max_iter=2),
         "knn": dict(n_neighbors=5), "sample-lasso": dict(alpha=0.03, max_reference=100)}
MEMBERS = ["mean", "gaussian-pooled", "factor-analysis"]


def halves_stats(pred, y, rng):
    """Statistics of predictions ``pred (M, R, J)`` of ``y``, every entry scored with weight 1, rows in two random
    halves and one tissue group."""
    R = y.shape[0]
    half = rng.permutation(R) % 2
    return _blend.statistics(pred, y, np.ones_like(y), half, 2)


def test_the_blend_finds_known_weights():
    """``y = 0.7 a + 0.3 b`` exactly and ``c`` is noise: the weights are (0.7, 0.3, 0) for every gene."""
    rng = np.random.default_rng(0)
    R, J = 400, 20
    a, b, c = rng.standard_normal((3, R, J))
    y = 0.7 * a + 0.3 * b
    blend = _blend.choose(halves_stats(np.stack([a, b, c]), y, rng))
    assert blend.policy not in _blend.SINGLE and blend.fallback() == 0.0
    np.testing.assert_allclose(blend.table[-1], np.broadcast_to([0.7, 0.3, 0.0], (J, 3)), atol=1e-3)
    assert blend.gain() < -0.5  # far better than the best single member on held-out entries


def test_solve_keeps_the_simplex():
    rng = np.random.default_rng(1)
    p = rng.standard_normal((200, 4))
    y = p @ np.array([2.0, -1.0, 0.5, 0.0])  # the unconstrained fit is outside the simplex
    w = _blend.solve(p.T @ p, p.T @ y, simplex=True)
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0)
    free = _blend.solve(p.T @ p, p.T @ y, simplex=False)  # non-negative, any sum
    assert (free >= 0).all() and free[1] == 0.0


def test_a_gene_that_one_member_predicts_falls_back_to_it():
    """Most genes are best served by an even blend of two noisy members; on two genes a third member is exact and
    the others are noise. Those two take the third member alone; the rest keep the policy's blend."""
    rng = np.random.default_rng(2)
    R, J = 600, 40
    y = rng.standard_normal((R, J))
    a, b = y + rng.standard_normal((R, J)), y + rng.standard_normal((R, J))
    c = rng.standard_normal((R, J))
    special = [3, 17]
    c[:, special] = y[:, special]
    a[:, special], b[:, special] = rng.standard_normal((2, R, 2))
    blend = _blend.choose(halves_stats(np.stack([a, b, c]), y, rng))
    assert blend.policy not in _blend.SINGLE
    assert blend.fell_back[special].all() and blend.fallback() <= 0.1
    np.testing.assert_allclose(blend.table[-1][special], [[0, 0, 1], [0, 0, 1]])
    others = np.setdiff1d(np.arange(J), special)
    assert not blend.fell_back[others].any()
    assert np.abs(blend.table[-1][others, 0] - blend.table[-1][others, 1]).max() < 0.1  # a and b alike


@pytest.fixture(scope="module")
def inductive(smoke):
    return scenario_data(smoke, "inductive", 0.5, seed=0)


@pytest.fixture(scope="module")
def fitted(inductive):
    return get("auto", scenario="inductive", preset="smoke", seed=0, members=MEMBERS,
               member_params=SMALL).fit(**inductive.fit_args())


def test_auto_is_registered_for_both_scenarios():
    assert "auto" in names("inductive") and "auto" in names("inplace")
    assert spec("auto").chooses == ("members",) and not spec("auto").saveable


def test_contract_and_record(fitted, inductive, capsys):
    """Observed entries come back as they were, hidden ones are never read; what it chose is recorded."""
    data = inductive
    seen = data.eval_mask > 0
    out = fitted.transform(np.where(seen, data.eval.x, np.nan), data.eval_mask, data.eval.obs)
    assert out.shape == data.eval.x.shape and np.isfinite(out).all()
    np.testing.assert_array_equal(out[seen], data.eval.x[seen])
    again = fitted.transform(np.where(seen, data.eval.x, 1e6), data.eval_mask, data.eval.obs)
    np.testing.assert_array_equal(again, out)
    assert fitted.chosen_ == {"members": ",".join(MEMBERS)}
    info = fitted.info_
    assert info["auto_members"] == len(MEMBERS) and 0.0 <= info["auto_fallback"] <= 1.0
    assert fitted.fit_seconds_ == pytest.approx(sum(fitted.member_seconds_.values()) + fitted.blend_seconds_)
    assert set(fitted.weights()) == set(MEMBERS) and sum(fitted.weights().values()) == pytest.approx(1.0, abs=0.3)
    print(fitted.summary())
    assert capsys.readouterr().out.startswith(f"auto: {len(MEMBERS)} members (weights ")
    from gaingtex.impute import choices  # what `gaingtex impute` records: members, weights, seconds

    assert choices(fitted)["members"] == ",".join(MEMBERS) and choices(fitted)["auto_weights"] == info["auto_weights"]


def test_auto_is_not_behind_its_best_member(fitted, inductive):
    """On the scored entries (which nothing in auto saw), auto is within 0.005 R² of its best member, each member
    scored as fitted inside auto."""
    from gaingtex.evaluation import metrics
    from gaingtex.evaluation.scoring import score_imputer

    data = inductive

    def r2(imputer):
        return metrics.summarise(score_imputer(imputer, data.eval.x, data.eval_mask, data.eval.obs,
                                               data.eval.genes, data.scope)[0])["r2"]

    best = max(r2(m) for m in fitted.members_.values())
    assert r2(fitted) >= best - 0.005


def test_the_comparison_lends_auto_its_fitted_members(smoke):
    """In a comparison run, auto runs after the methods it blends, reuses them (inductive) and reports their fit
    time within its own."""
    from gaingtex.evaluation.comparison import compare

    rows = compare(smoke, ["auto", "mean", "gaussian-pooled"], seeds=[0], scenarios=["inductive"], genes=["all"],
                   preset="smoke", budget=None, progress=False, calibrated=False)
    assert list(rows["method"]) == ["mean", "gaussian-pooled", "auto"]
    auto = rows.set_index("method").loc["auto"]
    assert auto["members"] == "mean,gaussian-pooled" and auto["auto_reused"] == "mean,gaussian-pooled"
    assert auto["fit_seconds"] >= rows.set_index("method").loc[["mean", "gaussian-pooled"], "fit_seconds"].sum()


def test_in_place_auto_refits_its_members_with_their_first_seed_choices(smoke):
    """In place, auto refits its members without its held-out entries; in a comparison they keep what they chose
    at the first seed instead of choosing again on validation."""
    from gaingtex.evaluation.comparison import compare

    kept = {}
    rows = compare(smoke, ["auto", "mean", "softimpute"], seeds=[0, 1], scenarios=["inplace"], genes=["all"],
                   preset="smoke", budget=None, progress=False, calibrated=False,
                   keep=lambda row, imputer, data: kept.setdefault((row["method"], row["seed"]), imputer))
    first = kept[("softimpute", 0)].chosen_["shrinkage"]
    for seed in (0, 1):
        member = kept[("auto", seed)].members_["softimpute"]
        assert member is not kept[("softimpute", seed)] and member.shrinkage == first
    assert (rows["status"] == "ok").all()


def test_auto_needs_validation_donors(inductive):
    with pytest.raises(ValueError, match="auto needs held-out validation donors"):
        get("auto", scenario="inductive", members=["mean"]).fit(inductive.train)


def test_a_member_past_its_budget_while_imputing_is_dropped_not_fatal(fitted, inductive):
    """On a busy machine a reused member can run past its budget imputing auto's validation entries: auto leaves
    it out and says so, blends the others, and still counts the seconds it spent fitting it."""
    from gaingtex.imputers.base import BudgetExceeded

    class Slow:  # a fitted member whose clock runs out as soon as it imputes
        def transform(self, x, mask, obs):
            raise BudgetExceeded("slow", 1.0, 3, 100, "samples", projected=40.0)

    lent = {name: (member, fitted.member_seconds_[name]) for name, member in fitted.members_.items()}
    auto = get("auto", scenario="inductive", preset="smoke", seed=0, members=[*MEMBERS, "knn"],
               fitted={**lent, "knn": (Slow(), 7.0)}).fit(**inductive.fit_args())
    assert auto.order_ == MEMBERS and "knn: past the budget imputing (3 of 100 samples" in auto.info_["auto_dropped"]
    assert auto.fit_seconds_ >= 7.0 + sum(s for _, s in lent.values())
    seen = inductive.eval_mask > 0
    out = auto.transform(np.where(seen, inductive.eval.x, np.nan), inductive.eval_mask, inductive.eval.obs)
    np.testing.assert_allclose(out, fitted.transform(np.where(seen, inductive.eval.x, np.nan), inductive.eval_mask,
                                                     inductive.eval.obs), atol=1e-6)


def test_the_default_members_leave_out_knn_in_place_missforest_and_on_many_genes_mice_and_the_pairwise_gaussian():
    from gaingtex.imputers.auto import default_members

    inductive, inplace = default_members("inductive"), default_members("inplace")
    assert "mice" in inductive and "factor-analysis" in inductive and "knn" not in inductive
    assert "knn" not in inplace and "missforest" not in inplace and "softimpute" in inplace
    assert "missforest" in inductive
    # in place beyond the per-tissue Gaussian's EM, its pairwise low-rank form and MICE's costly refit are left
    # out; within it (a panel), kept
    assert "gaussian" in inplace and "gaussian" in default_members("inplace", 59)
    assert "mice" in inplace and "mice" in default_members("inplace", 59)
    assert "gaussian" not in default_members("inplace", 2000) and "gaussian" in default_members("inductive", 2000)
    assert "mice" not in default_members("inplace", 2000) and "mice" in default_members("inductive", 2000)
    assert "gaussian" in default_members("inplace", 2000, em_max_genes=2000)
    # a comparison's fitted methods (in place: which members finished) do not bring it back
    blend = get("auto", scenario="inplace", fitted={m: (None, 1.0) for m in ("mean", "gaussian", "softimpute")})
    blend.n_genes = 2000
    assert blend._candidates() == ["mean", "softimpute"]
    blend.n_genes = 59
    assert blend._candidates() == ["mean", "softimpute", "gaussian"]
    assert get("auto", scenario="inplace", members="mice,mean").members == ["mice", "mean"]  # named: a member


@pytest.mark.slow
def test_at_a_seed_without_deep_models_the_comparison_auto_does_not_train_them(smoke):
    """A comparison that trains its deep models at the first seed only (``gaingtex benchmark --deep-seeds 1``, the
    smoke book): inductive, auto blends what each seed's run fitted. Reusing the first seed's members made it
    train PMI itself at the second, inside its own row."""
    from gaingtex.config import model_config
    from gaingtex.evaluation.comparison import compare

    def deep(name, scenario, genes, seed, data):
        if seed > 0:
            return None
        config = model_config("smoke", name, scenario).replace(max_epochs=1, steps_per_epoch=3)
        return get(name, scenario=scenario, preset="smoke", seed=seed, config=config).fit(**data.fit_args())

    rows = compare(smoke, ["auto", "mean", "gaussian-pooled", "pmi"], seeds=[0, 1], scenarios=["inductive"],
                   genes=["panel"], preset="smoke", budget=None, deep=deep, progress=False, calibrated=False)
    auto = rows[rows["method"] == "auto"].set_index("seed")
    assert auto.loc[0, "members"] == "mean,gaussian-pooled,pmi" and "pmi" in auto.loc[0, "auto_reused"]
    assert auto.loc[1, "members"] == "mean,gaussian-pooled" and "pmi" not in auto.loc[1, "auto_member_seconds"]
    assert rows.set_index(["method", "seed"]).loc[("pmi", 1), "status"] == "not trained"
