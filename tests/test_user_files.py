"""`gaingtex impute` on a user's own files: CSV, TSV and GCT (covariates as columns or in a side table) and .h5ad,
with a method trained on the file or with a trained inductive model; observed cells come back as they were."""

import numpy as np
import pandas as pd
import pytest

from gaingtex.cli import main
from gaingtex.data.gct import write_gct
from gaingtex.data.user_tables import read_user_file, write_like
from gaingtex.impute import impute_cohort


@pytest.fixture(scope="module")
def user(smoke):
    """65 GTEx samples × 200 genes, 30 % missing; every other gene named by its versioned Ensembl id."""
    g = smoke[smoke.obs["cohort"] == "GTEx"][::10, :200]
    X = g.X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.3] = np.nan
    names = [f"{e}.4" if i % 2 else s for i, (s, e) in enumerate(zip(g.var_names, g.var["ensembl_id"]))]
    frame = pd.DataFrame(X, index=pd.Index(g.obs_names, name="sample"), columns=names)
    covariates = pd.DataFrame({"tissue": g.obs["tissue"].astype(str), "sex": g.obs["sex"].astype(str),
                               "age": g.obs["age_bracket"].astype(str), "donor_id": g.obs["donor_id"].astype(str)},
                              index=frame.index)
    return g, frame, covariates


@pytest.fixture(scope="module")
def model_file(smoke, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "pmi.keras"
    assert main(["train", "--preset", "smoke", "--model", "pmi", "--out", str(path)]) == 0
    return path


def text(path, sep):
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, index_col=0)


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_text_table_with_a_method(user, tmp_path, suffix, sep, capsys):
    g, frame, covariates = user
    path = tmp_path / f"mine{suffix}"
    pd.concat([covariates, frame], axis=1).to_csv(path, sep=sep)
    table = read_user_file(path)
    assert list(table.adata.var_names) == list(g.var_names)  # Ensembl ids became symbols
    np.testing.assert_array_equal(table.adata.obs["age"], g.obs["age_bracket"].astype(str).str[:2].astype(int) + 4.5)
    out = tmp_path / f"filled{suffix}"
    assert main(["impute", "--method", "gaussian", "--preset", "smoke", "--input", str(path), "--output",
                 str(out)]) == 0
    assert "ages are ten-year brackets" in capsys.readouterr().out
    before, after = text(path, sep), text(out, sep)
    assert list(after.columns) == list(before.columns) and list(after.index) == list(before.index)
    genes = list(frame.columns)
    seen = before[genes] != ""
    assert after[genes].where(seen, "").equals(before[genes])  # observed cells: the same text
    assert (after[genes] != "").all().all() and (after[list(covariates.columns)] == before[list(covariates.columns)]).all().all()
    truth = g.X
    filled = after[genes].to_numpy(dtype=float)
    assert np.mean((filled - truth)[~seen.to_numpy()] ** 2) < 0.8 * np.nanvar(truth, axis=0).mean()


def test_gct_with_side_table_and_a_model(user, model_file, tmp_path, capsys):
    g, frame, covariates = user
    path = write_gct(tmp_path / "mine.gct", list(frame.columns), list(g.var_names), list(frame.index),
                     frame.to_numpy().T)
    side = tmp_path / "covariates.tsv"
    covariates.to_csv(side, sep="\t")
    out = tmp_path / "filled.gct"
    assert main(["impute", "--model", str(model_file), "--input", str(path), "--obs", str(side), "--output",
                 str(out)]) == 0
    printed = capsys.readouterr().out
    assert "100 of the model's 300 genes are not in" in printed
    lines = out.read_text().splitlines()
    assert lines[0] == "#1.2" and lines[1] == f"300\t{len(frame)}"
    after = pd.read_csv(out, sep="\t", skiprows=2, dtype=str, keep_default_na=False).set_index("Name")
    before = pd.read_csv(path, sep="\t", skiprows=2, dtype=str, keep_default_na=False).set_index("Name")
    assert list(after.index[:200]) == list(before.index) and len(after) == 300  # the model's other genes appended
    assert not set(after.index[200:]) & set(g.var_names)
    seen = before.iloc[:, 1:] != ""
    assert after.loc[before.index].iloc[:, 1:].where(seen, "").equals(before.iloc[:, 1:])
    assert (after.iloc[:, 1:] != "").all().all()


def test_model_on_h5ad_aligns_genes_by_symbol(smoke, model_file, tmp_path):
    from gaingtex.data import read_h5ad, write_h5ad
    from gaingtex.imputers.deep import DeepImputer
    from gaingtex.impute import impute_with_model

    g = smoke[smoke.obs["cohort"] == "GTEx"][:40].copy()
    g.X[np.random.default_rng(1).random(g.shape) < 0.3] = np.nan
    model = DeepImputer.load(model_file)
    straight = impute_with_model(g, model)
    shuffled = g[:, np.random.default_rng(2).permutation(g.n_vars)].copy()
    turned = impute_with_model(shuffled, model)
    np.testing.assert_allclose(turned[:, straight.var_names].X, straight.X, rtol=1e-5, atol=1e-5)
    path, out = tmp_path / "in.h5ad", tmp_path / "out.h5ad"
    write_h5ad(g, path)
    assert main(["impute", "--model", str(model_file), "--input", str(path), "--output", str(out)]) == 0
    np.testing.assert_array_equal(read_h5ad(out).X[~np.isnan(g.X)], g.X[~np.isnan(g.X)])


def test_user_file_errors(user, model_file, tmp_path, capsys):
    g, frame, covariates = user
    good = tmp_path / "good.csv"
    pd.concat([covariates, frame], axis=1).to_csv(good)
    word = frame.astype(object)
    word.iloc[3, 0] = "high"
    cases = {
        "no-tissue.csv": (pd.concat([covariates.drop(columns="tissue"), frame], axis=1), "no 'tissue' column"),
        "word.csv": (pd.concat([covariates, word], axis=1), "column ADAM10 holds 'high'; expected a number"),
        "old.csv": (pd.concat([covariates.assign(age="80-89"), frame], axis=1), "column 'age' holds '80-89'"),
        "twice.csv": (pd.concat([covariates, frame, frame.iloc[:, :1].rename(columns=lambda c: g.var["ensembl_id"].iloc[0])], axis=1),
                      "gene 'ADAM10' appears twice"),
    }
    for name, (table, message) in cases.items():
        table.to_csv(tmp_path / name)
        assert main(["impute", "--method", "mean", "--input", str(tmp_path / name), "--output",
                     str(tmp_path / f"o-{name}")]) == 2, name
        assert message in capsys.readouterr().err, name
    gct = write_gct(tmp_path / "m.gct", list(frame.columns), list(frame.columns), list(frame.index),
                    frame.to_numpy().T)
    assert main(["impute", "--method", "mean", "--input", str(gct), "--output", str(tmp_path / "o.gct")]) == 2
    assert "give them with --obs" in capsys.readouterr().err
    assert main(["impute", "--method", "mean", "--input", str(good), "--output", str(tmp_path / "o.tsv")]) == 2
    assert "must have the input's format (csv)" in capsys.readouterr().err
    assert main(["impute", "--method", "mean", "--input", str(good), "--output", str(tmp_path / "o.xlsx")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err
    inplace = tmp_path / "inplace.keras"
    assert main(["train", "--preset", "smoke", "--model", "gain-mse", "--scenario", "inplace", "--out",
                 str(inplace)]) == 0
    assert main(["impute", "--model", str(inplace), "--input", str(good), "--output", str(tmp_path / "o.csv")]) == 2
    assert "needs an inductive model" in capsys.readouterr().err
    table = read_user_file(good)
    with pytest.raises(ValueError, match="must be a csv file"):
        write_like(table, impute_cohort(table.adata, "mean", "smoke"), tmp_path / "x.gct")



def test_auto_on_a_csv_with_holes_says_what_it_chose(user, tmp_path, capsys):
    """The README's recommended default: every hole filled, observed cells as they were, and one line naming the
    members, their weights and what they cost (a member past the budget is named too: tests/test_auto.py)."""
    g, frame, covariates = user
    path, out = tmp_path / "mine.csv", tmp_path / "filled.csv"
    pd.concat([covariates, frame], axis=1).to_csv(path)
    assert main(["impute", "--method", "auto", "--preset", "smoke", "--budget", "4", "--input", str(path),
                 "--output", str(out)]) == 0
    said = capsys.readouterr().out
    line = next(s for s in said.splitlines() if s.startswith("auto: "))
    assert "members (weights factor-analysis" in line or "factor-analysis 0." in line
    assert "blend" in line and "fit " in line and "missforest" not in line  # in place, not a default member
    before, after = text(path, ","), text(out, ",")
    genes = list(frame.columns)
    seen = before[genes] != ""
    assert after[genes].where(seen, "").equals(before[genes]) and (after[genes] != "").all().all()
