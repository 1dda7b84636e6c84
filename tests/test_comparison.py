"""The comparison of methods: rows in the benchmark schema, identical masks within a seed, budgets, summaries,
runtime ratios and the scaling study."""

import numpy as np
import pandas as pd
import pytest

from gaingtex.data.embedded import factor_model
from gaingtex.evaluation.comparison import ROW, compare, ordering, summarise
from gaingtex.evaluation.runtime import runtime_ratios, scaling


@pytest.fixture(scope="module")
def panel(smoke):
    """A 30-gene panel of the smoke cohort: small enough for every method in seconds."""
    return smoke[:, list(smoke.var_names[::10])].copy()


@pytest.fixture(scope="module")
def rows(panel):
    return compare(panel, ["mean", "gaussian", "knn", "oracle", "missforest"], seeds=(0, 1), genes=["all"],
                   preset="smoke", generator=factor_model(panel), budget=30.0, progress=False)


def test_rows_keep_the_benchmark_schema(rows):
    assert list(rows.columns[: len(ROW)]) == list(ROW)
    assert set(rows["seed"]) == {0, 1} and set(rows["scenario"]) == {"inductive", "inplace"}
    assert len(rows) == 2 * 2 * 5
    # every method of a seed and scenario is scored against the same oracle on the same masks
    assert rows.groupby(["seed", "scenario"])["oracle_r2"].nunique().eq(1).all()
    mean = rows[rows["method"] == "mean"].set_index(["scenario", "seed"])["r2"]
    assert mean[("inductive", 0)] != mean[("inductive", 1)]  # a new seed draws new masks
    knn = rows[rows["method"] == "knn"]
    assert knn["n_neighbors"].nunique() == 1  # chosen on validation at the first seed, reused at the second


def test_summary_has_mean_sd_and_fraction_of_the_oracle(rows):
    summary = summarise(rows).set_index(["method", "scenario"])
    assert (summary["seeds"] == 2).all() and (summary["reference"] == "oracle").all()
    assert summary.loc[("oracle", "inductive"), "fraction"] == pytest.approx(1.0)
    gaussian = rows[(rows["method"] == "gaussian") & (rows["scenario"] == "inplace")]["r2"]
    assert summary.loc[("gaussian", "inplace"), "r2_mean"] == pytest.approx(gaussian.mean())
    assert summary.loc[("gaussian", "inplace"), "r2_sd"] == pytest.approx(gaussian.std(ddof=1))
    assert summary.loc[("gaussian", "inductive"), "r2_mean"] > summary.loc[("mean", "inductive"), "r2_mean"]


def test_without_an_oracle_the_reference_is_the_best_method(panel):
    table = summarise(compare(panel, ["mean", "gaussian", "oracle"], seeds=(0,), scenarios=["inductive"],
                              genes=["all"], preset="smoke", progress=False))
    assert "oracle" not in set(table["method"])  # no generator given: left out
    assert (table["reference"] == "gaussian").all()
    assert table.set_index("method").loc["gaussian", "fraction"] == pytest.approx(1.0)


def test_a_method_past_its_budget_is_reported_not_dropped(panel):
    rows = compare(panel, ["mean", "missforest"], seeds=(0, 1), scenarios=["inplace"], genes=["all"],
                   preset="smoke", budget=0.0, progress=False)
    slow = rows[rows["method"] == "missforest"]
    assert list(slow["status"]) == ["> budget", "> budget"]
    assert slow["progress"].iloc[0].startswith("0 of ") and "regressions" in slow["progress"].iloc[0]
    assert slow["progress"].iloc[1] == "not rerun: past its budget at seed 0"
    summary = summarise(rows).set_index("method")
    assert summary.loc["missforest", "seeds"] == 0 and summary.loc["missforest", "status"] == "> budget"
    assert np.isnan(summary.loc["missforest", "r2_mean"]) and summary.loc["mean", "seeds"] == 2


def test_ordering_says_plainly_who_wins():
    from gaingtex.book.pages import ordering_values

    summary = pd.DataFrame({
        "method": ["oracle", "gaussian", "pmi", "mean"], "scenario": "inductive", "genes": "all",
        "r2_mean": [0.7, 0.61, 0.56, 0.0]})
    values = ordering(summary)["inductive"]
    assert values["best"] == "Gaussian (per tissue)" and values["paper_rank"] == 2 and values["ranked"] == 3
    assert values["holds"] is False and values["linear"] == "Gaussian (per tissue)"
    out = ordering_values(summary)
    assert out["inductive_best"] == "Gaussian (per tissue)" and out["inductive_paper_rank"] == 2
    assert out["inductive_verdict"] == ("Gaussian (per tissue) is the best learnt method (R² 0.610); the paper's "
                                        "best, PMI, ranks 2 of 3 (R² 0.560). PMI trails the best linear reference, "
                                        "Gaussian (per tissue), by 0.050.")
    summary["r2_mean"] = [0.7, 0.61, 0.65, 0.0]
    assert ordering_values(summary)["inductive_verdict"] == (
        "PMI is the best learnt method (R² 0.650), as in the paper. PMI beats the best linear reference, "
        "Gaussian (per tissue), by 0.040.")
    # auto, a blend, is not a single method: never "the best", said apart with what it spent
    blended = pd.concat([summary, pd.DataFrame({"method": ["auto"], "scenario": "inductive", "genes": "all",
                                                "r2_mean": [0.66], "fit_seconds_mean": [42.0]})])
    values = ordering(blended)["inductive"]
    assert values["best"] == "PMI" and values["ranked"] == 3 and values["auto_r2"] == 0.66
    assert ordering_values(blended)["inductive_verdict"].endswith(
        "The blend of the quick methods, auto, reaches R² 0.660 (+0.010 against PMI), for 42 s of fitting (its "
        "members' and its blend's).")


def test_runtime_ratios_compare_the_same_rows():
    rows = pd.DataFrame({"method": ["pmi", "knn", "pmi", "knn", "knn"], "scenario": "inductive",
                         "genes": ["all", "all", "all", "all", "alzheimer"], "seed": [0, 0, 1, 1, 0],
                         "status": "ok", "impute_seconds": [0.5, 5.0, 1.0, 20.0, 99.0]})
    ratios = runtime_ratios(rows, {"pmi": 10.0}, eval_rows=300)
    assert ratios["ratios"]["knn/pmi"]["ratio"] == pytest.approx(15.0)  # (10 + 20) / 2, per seed
    assert ratios["ratios"]["knn/pmi"]["rows"] == 300 and ratios["memory_mb"] == {"pmi": 10.0}


def test_scaling_times_each_size_and_stops_past_the_budget(panel):
    table = scaling(panel, ["mean", "gaussian"], gene_counts=(10, 30), sample_fractions=(0.5, 1.0),
                    preset="smoke", budget=30.0, test_rows=40, progress=False)
    assert set(table["axis"]) == {"genes", "samples"} and (table["status"] == "ok").all()
    genes = table[(table["axis"] == "genes") & (table["method"] == "gaussian")]
    assert list(genes["genes"]) == [10, 30] and (genes["fit_seconds"] >= 0).all()
    samples = table[table["axis"] == "samples"]
    assert samples["samples"].nunique() == 2 and (samples["genes"] == 30).all()
    every = samples[samples["samples"] == samples["samples"].max()].drop(columns="axis").reset_index(drop=True)
    same = table[(table["axis"] == "genes") & (table["genes"] == 30)].drop(columns="axis").reset_index(drop=True)
    pd.testing.assert_frame_equal(every, same)  # every sample at 30 genes is the genes axis's point: not rerun
    stopped = scaling(panel, ["missforest"], gene_counts=(10, 30), sample_fractions=(0.5, 1.0), preset="smoke",
                      budget=0.0, test_rows=40, progress=False)
    assert list(stopped["status"]) == ["> budget", "skipped (> budget at a smaller size)", "> budget",
                                       "skipped (> budget at a smaller size)"]


def test_scaling_projects_a_deep_model_from_two_short_epochs(panel):
    from gaingtex.config import model_config
    from gaingtex.evaluation.runtime import _projected_fit, _timed_steps

    schedule = model_config("smoke", "pmi", "inductive")  # 15 epochs of 20 steps
    assert _timed_steps(schedule) == 5
    # 10 s for two epochs of 5 steps, the second 1 s: the 290 steps left at 0.2 s
    assert _projected_fit(10.0, pd.DataFrame({"seconds": [6.0, 1.0]}), schedule) == pytest.approx(68.0)
    table = scaling(panel, ["pmi"], gene_counts=(10,), sample_fractions=(0.5,), preset="smoke", budget=300.0,
                    test_rows=40, progress=False)
    assert table["projected"].all() and (table["status"] == "ok").all()
    assert (table["fit_seconds"] > 0).all() and (table["impute_seconds"] > 0).all()


def test_gene_sets_of_a_cohort(smoke, panel):
    from gaingtex.data import alzheimer_genes, panel_genes
    from gaingtex.evaluation.comparison import gene_sets

    sets = gene_sets(smoke)
    assert sets["all"] is None and sets["alzheimer"] == alzheimer_genes()
    assert sets["panel"] == panel_genes(smoke.var_names) and len(set(sets["panel"])) == 59
    assert sets["panel"][0] == smoke.var_names[0] and sets["panel"][-1] == smoke.var_names[-1]
    assert set(gene_sets(panel)) == {"all"}  # 30 genes: no Alzheimer set, too few for a panel
    with pytest.raises(ValueError, match="a 59-gene panel needs at least 59 genes; the cohort has 30"):
        panel_genes(panel.var_names)
    with pytest.raises(ValueError, match="unknown gene set 'kegg'"):
        gene_sets(smoke, ["kegg"])
