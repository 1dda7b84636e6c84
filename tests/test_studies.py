"""The analyses behind notebooks 03–07, and the run folder they share."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gaingtex
from gaingtex.data import reference
from gaingtex.evaluation import studies
from gaingtex.data.embedded import factor_model
from gaingtex.imputers import MeanImputer, get
from gaingtex.book.runs import Run, open_run


def test_tissue_table_matches_the_design(book):
    table = studies.tissue_table(book.obs)
    assert len(table) == 49
    assert (table["samples"] == table["gtex_v8_samples"]).all()  # the book preset has GTEx v8's exact counts
    assert (table["samples"] == table["donors"]).all()
    assert table.loc[["Ovary", "Uterus", "Vagina"], "female_share"].eq(1).all()
    assert table.loc[["Prostate", "Testis"], "female_share"].eq(0).all()
    assert table[["train", "valid", "test"]].sum().sum() == 15201


def test_tissues_per_donor_against_gtex(book):
    per_donor = studies.tissues_per_donor(book.obs)
    assert len(per_donor) == 838
    assert studies.reference_tissues_per_donor_mean() == pytest.approx(15201 / 838, abs=0.01)
    assert per_donor.mean() == pytest.approx(15201 / 838)


def test_cluster_scores_see_a_planted_cluster():
    rng = np.random.default_rng(0)
    labels = np.array([True] * 13 + [False] * 36)
    emb = rng.standard_normal((49, 8))
    emb[labels] = 6 + 0.1 * rng.standard_normal((13, 8))  # a tight, far-away cluster
    scores = studies.cluster_scores(emb, labels)
    assert scores["knn_purity"] == 1.0 and scores["silhouette"] > 0.8
    null = studies.embedding_null(emb, labels, n=50, seed=0)
    assert null["knn_purity"].mean() < 0.5 and null["silhouette"].mean() < 0.2
    with pytest.raises(ValueError, match="at least two brain"):
        studies.cluster_scores(emb, np.zeros(49, bool))


def test_brain_labels():
    tissues = reference.tissues().index
    assert studies.brain_labels(tissues).sum() == 13


def test_gene_ranking_by_hand():
    scores = pd.DataFrame({
        "tissue": ["Brain_Cortex", "Lung"] * 3,
        "gene": ["A", "A", "B", "B", "C", "C"],
        "r2": [0.9, 0.7, 0.1, 0.3, 0.5, 0.5],
    })
    ranking, ends = studies.gene_ranking(scores, n=1)
    assert ranking["gene"].tolist() == ["A", "C", "B"]
    assert ranking.set_index("gene").loc["A", ["r2", "r2_brain", "r2_other"]].tolist() == pytest.approx([0.8, 0.9, 0.7])
    assert ends["gene"].tolist() == ["A", "B"] and ends["rank_group"].tolist() == ["top 1", "last 1"]


def test_family():
    assert [studies.family(g) for g in ("NDUFA1", "COX7C", "PSMB5", "WNT3", "CALML5", "APOE")] == [
        "respiratory chain", "respiratory chain", "proteasome", "WNT / FZD / CALML", "WNT / FZD / CALML", "other"]


def test_sweeps_give_every_method_the_same_masks(smoke, smoke_prepared):
    oracle = get("oracle", generator=factor_model(smoke)).fit(smoke_prepared.train)
    methods = {"mean": MeanImputer().fit(smoke_prepared.train), "oracle": oracle}
    sweep = studies.missing_rate_sweep(methods, smoke_prepared, rates=(0.2, 0.8), seed=0)
    assert len(sweep) == 4
    r2 = sweep.pivot(index="missing_rate", columns="method", values="r2")
    assert (r2["oracle"] > r2["mean"]).all() and r2.loc[0.2, "oracle"] > r2.loc[0.8, "oracle"]
    methods["healthy oracle"] = get("oracle", generator=factor_model(smoke), healthy_tissue=True).fit(
        smoke_prepared.train)
    shifted = studies.observed_fraction_sweep(methods, smoke_prepared, fractions=(0.25, 0.75), n_masks=2, seed=0)
    assert set(shifted["cohort"]) == {"LAML-like", "BRCA-like", "LUAD-like"}
    assert len(shifted) == 3 * 2 * 2 * 2 * 3  # cohorts × fractions × masks × (cohort, GTEx tissue) × methods
    on_shifted = shifted[~shifted["data"].str.startswith("GTEx")].groupby("method")["r2"].mean()
    assert on_shifted["oracle"] > on_shifted["healthy oracle"]  # the healthy tissue's model is wrong there


def test_blood_surrogate_is_worse_than_the_mean(book):
    """On the same covered test samples and the same mask, a donor's blood says less about another tissue than
    that tissue's mean does."""
    from gaingtex.data import prepare
    from gaingtex.data.masks import missing_mask
    from gaingtex.evaluation.metrics import summarise
    from gaingtex.evaluation.scoring import score_imputer
    from gaingtex.imputers import BloodSurrogate

    prepared = prepare(book)
    blood = BloodSurrogate().fit(prepared.train, blood=prepared.test)
    covered = prepared.test.take(np.flatnonzero(blood.covers(prepared.test.obs)))
    assert len(covered) > 100
    mask = missing_mask(*covered.x.shape, 0.5, np.random.default_rng(0))
    r2_blood = summarise(score_imputer(blood, covered.x, mask, covered.obs, by="all")[0])["r2"]
    r2_mean = summarise(score_imputer(MeanImputer().fit(prepared.train), covered.x, mask, covered.obs,
                                      by="all")[0])["r2"]
    assert r2_blood < r2_mean - 0.5
    assert studies.blood_surrogate_r2(prepared, 0.5, 0) == pytest.approx(r2_blood)


def test_tissue_hardness_by_hand():
    table = pd.DataFrame({"PMI": [0.2, 0.5, 0.8], "oracle": [0.3, 0.6, 0.9]}, index=["A_x", "B", "C"])
    hard = studies.hardness(table, "PMI", pd.Series({"A_x": 30, "B": 10, "C": 20}))
    assert hard["rho_reference"] == pytest.approx(1.0) and hard["rho_training_samples"] == pytest.approx(-0.5)
    assert (hard["worst_tissue"], hard["best_tissue"]) == ("A x", "C")
    assert list(studies.tissue_ends(table, "PMI", n=1).index) == ["A_x", "C"]


def test_permutation_p_and_paper_gene_tables():
    null = pd.DataFrame({"s": [0.1, 0.2, 0.3, 0.4]})
    assert studies.permutation_p({"s": 0.35}, null) == {"s": pytest.approx(2 / 5)}
    assert studies.permutation_p({"s": 9.0}, null) == {"s": pytest.approx(1 / 5)}
    ranking = pd.DataFrame({"gene": ["NDUFA1", "PSMB5", "APOE", "WNT3", "TNF"], "rank": [1, 2, 3, 4, 5],
                            "r2": [0.9, 0.8, 0.5, 0.1, 0.0], "r2_brain": 0.0, "r2_other": 0.0})
    ranking["family"] = ranking["gene"].map(studies.family)
    values = studies.ranking_values(ranking, n=2)
    assert values["alz_top_core_share"] == 1.0 and values["alz_last_signalling_share"] == 0.5
    assert values["alz_paper_last_median_rank"] == 4.5
    named = studies.named_genes(ranking)
    assert list(named.index) == ["WNT3", "TNF", "APOE"] and named.loc["APOE", "paper says"] == "higher in brain"
    assert studies.family_table(ranking, n=2).loc["respiratory chain", "top 2"] == 1


def test_run_folder_guards(tmp_path):
    run = Run(tmp_path / "r", "smoke", 0)
    assert (tmp_path / "r" / "run.json").is_file()
    with pytest.raises(ValueError, match="preset 'smoke', seed 0, not preset 'teach'"):
        Run(tmp_path / "r", "teach", 0)
    import json

    manifest = tmp_path / "r" / "run.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "gaingtex": "0.0.1"}))
    with pytest.raises(ValueError, match="made by gaingtex 0.0.1.*--fresh"):
        Run(tmp_path / "r", "smoke", 0)
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "gaingtex": gaingtex.__version__}))
    with pytest.raises(FileNotFoundError, match="run notebook 01"):
        run.cohort
    with pytest.raises(FileNotFoundError, match="model='gain', scenario='inplace'"):
        run.load_model("gain", "inplace")
    with pytest.raises(FileNotFoundError, match="notebook 06"):
        run.load_model("pmi", "inductive", genes="alzheimer")
    with pytest.raises(ValueError, match="unknown gene set"):
        run.model_path("pmi", "inductive", genes="kegg")
    assert run.model_path("gain-mse", "inplace").name == "gain-mse-inplace.keras"


def test_default_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert open_run("", "smoke", 3).folder == Path("runs/smoke-seed3")
    assert (tmp_path / "runs" / "smoke-seed3" / "run.json").is_file()


def test_run_tables_round_trip(tmp_path):
    run = Run(tmp_path, "smoke", 0)
    table = pd.DataFrame({"method": ["PMI"], "r2": [0.5]})
    run.save_table("summary", table)
    pd.testing.assert_frame_equal(run.read_table("summary"), table)
    with pytest.raises(FileNotFoundError, match="has not run"):
        run.read_table("absent")
