"""The sentences a page reads from its run's results (:mod:`gaingtex.book.readings`): each says what the numbers
show, whichever way they fall."""

import pandas as pd

from gaingtex.book import readings


def test_embedding_verdict_follows_the_permutation_test():
    beats = readings.embedding_verdict("GAIN-GTEx", {"beats_null": True, "p": 0.002, "level": 0.01})
    fails = readings.embedding_verdict("GAIN-GTEx", {"beats_null": False, "p": 0.012, "level": 0.01})
    assert "as the paper found" in beats and "p = 0.002" in beats
    assert "does not reproduce the paper's Fig. 3" in fails and "as the paper found" not in fails
    assert "p = 0.012, against a threshold of 0.01" in fails


def test_embedding_design_names_the_design_only_where_there_is_one():
    checks = {"GAIN-GTEx": {"knn_purity": 0.4, "p": 0.1}, "PMI": {"knn_purity": 0.9, "p": 0.002},
              "cohort design": {"knn_purity": 1.0, "p": 0.002, "beats_null": True}}
    text = readings.embedding_design(checks, "GAIN-GTEx", 13)
    assert "its 13 brain tissues" in text and "purity of 1.00" in text and "The design plants the cluster" in text
    assert "PMI, trained on the same samples, scores 0.90" in text
    weak = readings.embedding_design({**checks, "cohort design": {"knn_purity": 0.3, "p": 0.2, "beats_null": False}},
                                     "GAIN-GTEx", 13)
    assert "plants" not in weak and "does not cluster them beyond chance" in weak
    without = readings.embedding_design({k: v for k, v in checks.items() if k != "cohort design"}, "GAIN-GTEx", 13)
    assert "no generating model" in without and "1.00" not in without and "0.90" in without


def test_missing_rate_text_says_what_each_curve_does():
    table = pd.DataFrame({"oracle": [0.7, 0.6, 0.5], "PMI": [0.3, 0.45, 0.4], "mean": [0.0, 0.005, 0.01]},
                         index=[0.1, 0.5, 0.9])
    text = readings.missing_rate_text(table)
    assert text.startswith("Oracle loses accuracy steadily")
    assert "PMI peaks at 50% missing (R² 0.450)" in text and "Mean barely moves" in text
    uneven = readings.missing_rate_text(pd.DataFrame({"PMI": [0.7, 0.5, 0.6], "GAIN-GTEx": [float("nan")] * 3},
                                                     index=[0.1, 0.5, 0.9]))
    assert uneven == "PMI is best at the lowest rate but not steadily worse after it."


def test_shift_verdict_reports_a_gain_as_no_loss():
    index = pd.MultiIndex.from_tuples([("BRCA", "GTEx Breast"), ("BRCA", "TCGA BRCA")], names=["cohort", "data"])
    lost = pd.DataFrame({"PMI": [0.7, 0.4], "GAIN-GTEx": [0.7, 0.4], "oracle": [0.8, 0.5]}, index=index)
    gained = pd.DataFrame({"PMI": [0.4, 0.6], "GAIN-GTEx": [0.4, 0.6], "oracle": [0.8, 0.8]}, index=index)
    assert "most of the loss comes from the shift" in readings.shift_verdict(lost)
    assert "no loss from the shift" in readings.shift_verdict(gained)
    oracle_gains = lost.assign(oracle=[0.5, 0.6])
    assert "oracle loses nothing" in readings.shift_verdict(oracle_gains)
    unscored = lost.assign(PMI=float("nan"), **{"GAIN-GTEx": float("nan")})
    assert readings.shift_verdict(unscored).startswith("No model was scored")


def test_blood_surrogate_text_compares_with_the_mean():
    assert "cannot be scored" in readings.blood_surrogate_text(None, 0.0)
    assert "worse than the per-tissue mean" in readings.blood_surrogate_text(-1.0, -0.2)
    assert "about as good as" in readings.blood_surrogate_text(0.01, 0.0)


def test_paper_page_reasons_follow_the_sign_of_the_mean():
    below = readings.paper_why_inductive({"inductive_mean_r2": -0.2}, -1.0)
    above = readings.paper_why_inductive({"inductive_mean_r2": 0.2}, None)
    assert "here it scores below" in below["why_mean"] and below["why_blood"] == "below the mean in both"
    assert "scores above 0" in above["why_mean"] and "no test donor" in above["why_blood"]
    assert "did not score the per-tissue mean" in readings.paper_why_inductive({}, -1.0)["why_blood"]
