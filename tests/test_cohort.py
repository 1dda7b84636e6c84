import numpy as np
import pandas as pd
import pytest

from gaingtex.data import reference
from gaingtex.data import read_h5ad, write_h5ad
from gaingtex.data.embedded import SHIFTED_COHORTS, make_cohort
from gaingtex.config import CohortConfig, cohort_config


def gtex(adata):
    return adata[adata.obs["cohort"] == "GTEx"]


def test_design_matches_gtex_v8(book):
    g = gtex(book).obs
    tissues = reference.tissues()
    assert len(g) == 15201
    assert g["donor_id"].nunique() == 838
    counts = g["tissue"].value_counts()
    assert counts.to_dict() == tissues["eqtl_samples"].to_dict()
    donors = g.drop_duplicates("donor_id")
    assert (donors["sex"] == "male").sum() == 557 and (donors["sex"] == "female").sum() == 281
    assert not g.duplicated(["donor_id", "tissue"]).any(), "a donor gave the same tissue twice"
    per_donor = g.groupby("donor_id").size()
    assert per_donor.min() >= 1
    assert per_donor.mean() == pytest.approx(18.14, abs=0.01)
    summary = reference.donor_summary()
    hist = summary[summary["section"] == "tissues_per_donor"]
    expected = dict(zip(hist["value"].astype(int), hist["donors"]))
    assert per_donor.value_counts().to_dict() == expected
    brackets = summary[summary["section"] == "age_bracket"]
    assert donors["age_bracket"].value_counts().to_dict() == dict(zip(brackets["value"], brackets["donors"]))
    assert ((donors["age"] // 10 * 10).astype(int).astype(str) == donors["age_bracket"].astype(str).str[:2]).all()


def test_sex_specific_tissues(book):
    g = gtex(book).obs
    for tissue in ("Ovary", "Uterus", "Vagina"):
        assert set(g.loc[g["tissue"] == tissue, "sex"]) == {"female"}
    for tissue in ("Prostate", "Testis"):
        assert set(g.loc[g["tissue"] == tissue, "sex"]) == {"male"}


def test_genes(book, smoke):
    ad_genes = set(reference.alzheimer_genes())
    for adata in (book, smoke):
        assert ad_genes <= set(adata.var_names)
        assert adata.var["alzheimer"].sum() == 273
        assert {"RPS4Y1", "DDX3Y", "UTY", "KDM5D"} <= set(adata.var_names)
        assert adata.var_names.is_unique
        assert set(adata.var_names) <= set(reference.protein_coding_genes()["symbol"])
    assert book.n_vars == 2000 and smoke.n_vars == 300
    assert {"respiratory_chain", "proteasome", "wnt_calcium_signalling", "chrY"} <= set(book.var["module"])


def test_expression_is_standardised_within_tissue(book):
    g = gtex(book)
    X = np.asarray(g.X)
    tissue = g.obs["tissue"].to_numpy()
    for t in ("Whole_Blood", "Brain_Cortex", "Testis"):
        rows = tissue == t
        assert abs(X[rows].mean()) < 0.05
        assert X[rows].var(axis=0).mean() == pytest.approx(1.0, abs=0.06)
    assert X.dtype == np.float32


def test_y_genes_follow_sex(book):
    g = gtex(book)
    blood = g[g.obs["tissue"] == "Whole_Blood"]
    y = np.asarray(blood[:, "RPS4Y1"].X).ravel()
    male = (blood.obs["sex"] == "male").to_numpy()
    assert y[male].min() > y[~male].max(), "RPS4Y1 should separate the sexes completely"


def test_brain_tissues_are_alike(book):
    """Tissue-group structure: two brain tissues share more co-expression than brain and blood."""
    g = gtex(book)
    X = np.asarray(g.X)
    tissue = g.obs["tissue"].to_numpy()

    def corr(t):
        return np.corrcoef(X[tissue == t][:, :400], rowvar=False)

    a, b, c = corr("Brain_Cortex"), corr("Brain_Frontal_Cortex_BA9"), corr("Whole_Blood")
    iu = np.triu_indices(400, 1)
    same = np.corrcoef(a[iu], b[iu])[0, 1]
    other = np.corrcoef(a[iu], c[iu])[0, 1]
    assert same > other + 0.1


def test_shifted_cohorts(book):
    ext = book.obs[book.obs["cohort"] != "GTEx"]
    assert set(ext["cohort"]) == {name for name, _, _ in SHIFTED_COHORTS}
    assert (ext["split"] == "external").all()
    assert ext.groupby("cohort", observed=True).size().eq(300).all()
    assert ext["age"].mean() > book.obs.loc[book.obs["cohort"] == "GTEx", "age"].mean()
    assert set(ext.loc[ext["cohort"] == "BRCA-like", "sex"]) == {"female"}
    assert (ext["tissue"].astype(str) == ext["cohort"].map({c: t for c, t, _ in SHIFTED_COHORTS}).astype(str)).all()


def test_deterministic_for_a_seed():
    a, b, c = make_cohort("smoke", 3), make_cohort("smoke", 3), make_cohort("smoke", 4)
    np.testing.assert_array_equal(a.X, b.X)
    pd.testing.assert_frame_equal(a.obs, b.obs)
    assert not np.array_equal(a.X, c.X)


def test_scaled_down_presets_keep_constraints(smoke):
    g = gtex(smoke).obs
    assert set(g["tissue"]) == set(reference.tissues().index)
    assert g["tissue"].value_counts().min() >= cohort_config("smoke").min_samples_per_tissue
    assert not g.duplicated(["donor_id", "tissue"]).any()
    assert set(g.loc[g["tissue"] == "Ovary", "sex"]) == {"female"}


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown preset 'huge'.*'smoke'"):
        make_cohort("huge")


def test_too_few_genes_is_a_clear_error():
    cfg = CohortConfig("tiny", n_genes=100, sample_fraction=0.04, min_samples_per_tissue=8, n_shifted=5)
    with pytest.raises(ValueError, match="n_genes=100 is below"):
        make_cohort(config=cfg)


def test_h5ad_round_trip_and_atomic_write(tmp_path, smoke):
    path = write_h5ad(smoke, tmp_path / "sub" / "cohort.h5ad")
    assert [p.name for p in path.parent.iterdir()] == ["cohort.h5ad"], "no temporary file may be left behind"
    back = read_h5ad(path)
    np.testing.assert_array_equal(back.X, smoke.X)
    assert back.uns["gaingtex"]["preset"] == "smoke"


def test_read_errors_name_the_file(tmp_path, smoke):
    with pytest.raises(FileNotFoundError, match="nope.h5ad"):
        read_h5ad(tmp_path / "nope.h5ad")
    bad = smoke.copy()
    del bad.obs["donor_id"]
    bad.write_h5ad(tmp_path / "bad.h5ad")
    with pytest.raises(ValueError, match=r"bad\.h5ad.*'donor_id'"):
        read_h5ad(tmp_path / "bad.h5ad")


def test_written_files_are_readable_by_others(tmp_path, smoke):
    import os

    old = os.umask(0o022)
    try:
        path = write_h5ad(smoke, tmp_path / "c.h5ad")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
