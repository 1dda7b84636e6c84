"""The cohort schema: every bad input is one clear error naming the source, the column and the value."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from gaingtex.data import SchemaError, read_h5ad, validate
from gaingtex.data.schema import SchemaWarning


@pytest.fixture()
def small(smoke):
    return smoke[:60].copy()


def test_the_embedded_cohort_is_valid(smoke):
    out = validate(smoke, "x")
    assert out.X.dtype == np.float32 and list(out.obs["tissue"].cat.categories)[:2] == ["Adipose_Subcutaneous",
                                                                                       "Adipose_Visceral_Omentum"]
    assert set(out.var.columns) >= {"ensembl_id", "chromosome"}


def _broken(small, change):
    bad = small.copy()
    change(bad)
    return bad


def _first(column, value):
    def change(a):
        values = a.obs[column].astype(object).to_numpy().copy()
        values[0] = value
        a.obs[column] = values
    return change


@pytest.mark.parametrize("change, message", [
    (lambda a: a.obs.drop(columns="sex", inplace=True), r"my\.h5ad: obs has no 'sex' column"),
    (_first("tissue", "Moon_Rock"), r"my\.h5ad: obs column 'tissue' holds 'Moon_Rock' \(sample"),
    (_first("sex", "M"), r"obs column 'sex' holds 'M'.*expected one of female, male"),
    (_first("age", "sixty"), r"obs column 'age' holds 'sixty'.*a number of years or a bracket such as 60-69"),
    (_first("age", None), r"obs column 'age' holds None"),
    (_first("sex", None), r"obs column 'sex' is missing \(empty\) for sample .*every sample needs one of female"),
    (lambda a: a.X.__setitem__((2, 3), 1e30), r"values beyond ±1e\+09, first 1e\+30 at sample .*, gene"),
    (_first("split", "Train"), r"obs column 'split' holds 'Train'"),
    (_first("hardy", "7"), r"obs column 'hardy' holds '7'"),
    (_first("donor_id", ""), r"'donor_id' is empty"),
    (lambda a: setattr(a, "var_names", ["APP"] * 2 + list(a.var_names[2:])), r"duplicate gene symbols.*'APP'"),
    (lambda a: setattr(a, "obs_names", ["s1"] * 2 + list(a.obs_names[2:])), r"duplicate sample ids.*'s1'"),
    (lambda a: a.X.__setitem__((3, 4), np.inf), r"infinite values, first inf at sample .*, gene"),
    (lambda a: a.X.__setitem__((slice(None), 7), np.nan), r"1 genes have no observed value"),
    (lambda a: a.X.__setitem__((9, slice(None)), np.nan), r"1 samples have no observed value"),
    (lambda a: a.uns["gaingtex"].__setitem__("kind", "gtex"), r"uns\['generator'\] is only for embedded"),
])
def test_errors_name_file_column_and_value(small, change, message):
    with pytest.raises(SchemaError, match=message):
        validate(_broken(small, change), "my.h5ad")


def test_a_donor_in_two_splits_is_refused(small):
    bad = small.copy()
    donor = bad.obs["donor_id"].iloc[0]
    rows = (bad.obs["donor_id"] == donor).to_numpy()
    if rows.sum() < 2:
        rows[1] = True
        bad.obs.loc[bad.obs.index[1], "donor_id"] = donor
    split = bad.obs["split"].astype(str).to_numpy()
    split[np.flatnonzero(rows)[:2]] = ["train", "test"]
    bad.obs["split"] = split
    with pytest.raises(SchemaError, match="more than one split"):
        validate(bad, "my.h5ad")


def test_awkward_but_valid_inputs_are_normalised(small):
    odd = small.copy()
    odd.X = scipy.sparse.csr_matrix(np.nan_to_num(np.asarray(odd.X)))  # as scanpy writes it
    odd.obs["hardy"] = [3.0 if i % 2 else np.nan for i in range(odd.n_obs)]  # GTEx's DTHHRDY as read by pandas
    odd.obs["age"] = odd.obs["age"].astype(str)
    del odd.var["ensembl_id"]
    out = validate(odd)
    assert isinstance(out.X, np.ndarray) and out.X.dtype == np.float32
    assert set(out.obs["hardy"].astype(str)) == {"3", "NA"} and out.obs["age"].dtype == float
    assert out.var.loc["APP", "ensembl_id"].startswith("ENSG")


def test_age_brackets_become_years_with_a_warning(small):
    odd = small.copy()
    odd.obs["age"] = np.resize(["60-69", "20-29"], odd.n_obs)
    del odd.obs["age_bracket"]
    with pytest.warns(SchemaWarning, match=r"\d+ ages are ten-year brackets"):
        out = validate(odd)
    assert set(out.obs["age"]) == {64.5, 24.5} and set(out.obs["age_bracket"].astype(str)) == {"60-69", "20-29"}


def test_sparse_x_is_densified_in_blocks(small):
    from gaingtex.data.schema import _dense

    dense = np.nan_to_num(np.asarray(small.X))
    np.testing.assert_array_equal(_dense(scipy.sparse.csr_matrix(dense), rows=7), dense)


def test_read_h5ad_validates_and_accepts_a_cohort_without_split(tmp_path, small):
    bare = small.copy()
    del bare.obs["split"]
    bare.write_h5ad(tmp_path / "bare.h5ad")
    assert "split" not in read_h5ad(tmp_path / "bare.h5ad").obs
    (tmp_path / "junk.h5ad").write_text("not hdf5")
    with pytest.raises(SchemaError, match=r"junk\.h5ad: not a readable \.h5ad file"):
        read_h5ad(tmp_path / "junk.h5ad")
    bad = small.copy()
    bad.obs["sex"] = "unknown"
    bad.write_h5ad(tmp_path / "bad.h5ad")
    with pytest.raises(SchemaError, match=r"bad\.h5ad: obs column 'sex' holds 'unknown'"):
        read_h5ad(tmp_path / "bad.h5ad")


def test_not_an_anndata():
    with pytest.raises(SchemaError, match="expected an AnnData, got DataFrame"):
        validate(pd.DataFrame())
    with pytest.raises(SchemaError, match="numeric"):
        validate(ad.AnnData(X=np.array([["a"]], dtype=object),
                            obs=pd.DataFrame({"donor_id": ["d"], "tissue": ["Lung"], "sex": ["male"], "age": [50],
                                              "hardy": ["1"]}, index=["s"])))


def test_values_far_outside_the_standardised_range_are_warned_about(smoke):
    from gaingtex.data import prepare

    odd = smoke.copy()
    odd.X[5, 2] = 1e6
    with pytest.warns(SchemaWarning, match=r"1 \w+ values lie more than 50 training standard deviations.*first 1e\+06"):
        prepare(odd)
