"""`gaingtex impute --budget SECONDS`: a method that keeps a clock stops, with one line saying how far it got and
nothing written; a budget it keeps changes nothing."""

import numpy as np
import pytest

from gaingtex.cli import main
from gaingtex.impute import impute_cohort


@pytest.fixture(scope="module")
def holey(smoke, tmp_path_factory):
    g = smoke[smoke.obs["cohort"] == "GTEx"].copy()
    x = np.asarray(g.X, dtype=np.float32)
    g.X = np.where(np.random.default_rng(4).random(x.shape) < 0.3, np.nan, x).astype(np.float32)
    del g.obs["split"]
    path = tmp_path_factory.mktemp("budget") / "holey.h5ad"
    g.write_h5ad(path)
    return g, path


def test_a_budget_it_cannot_keep_stops_the_method_and_writes_nothing(holey, tmp_path, capsys):
    _, path = holey
    out = tmp_path / "filled.h5ad"
    assert main(["impute", "--method", "knn", "--input", str(path), "--output", str(out), "--preset", "smoke",
                 "--budget", "1e-9"]) == 2
    err = capsys.readouterr().err
    assert "error: knn ran past its budget of 0 s after 0 of" in err and "nothing was written" in err
    assert "--budget" in err and not out.exists()


def test_a_budget_it_keeps_changes_nothing(holey):
    g, _ = holey
    np.testing.assert_array_equal(np.asarray(impute_cohort(g, "knn", preset="smoke", budget=1e5).X),
                                  np.asarray(impute_cohort(g, "knn", preset="smoke").X))


@pytest.mark.parametrize("value, message", [("0", "positive, finite"), ("-3", "positive, finite"),
                                            ("nan", "positive, finite")])
def test_budget_errors(holey, tmp_path, capsys, value, message):
    _, path = holey
    assert main(["impute", "--method", "knn", "--input", str(path), "--output", str(tmp_path / "o.h5ad"),
                 "--budget", value]) == 2
    assert message in capsys.readouterr().err


def test_budget_with_a_model_is_refused(holey, tmp_path, capsys):
    _, path = holey
    assert main(["impute", "--model", str(tmp_path / "m.keras"), "--input", str(path), "--output",
                 str(tmp_path / "o.h5ad"), "--budget", "60"]) == 2
    assert "--budget applies to a method trained on the file" in capsys.readouterr().err
