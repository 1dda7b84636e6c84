import json
import subprocess
import sys

from pathlib import Path

import numpy as np
import pytest

from gaingtex.cli import main
from gaingtex.data import read_h5ad


@pytest.fixture(scope="module")
def cohort_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "smoke.h5ad"
    assert main(["cohort", "--preset", "smoke", "--seed", "0", "--out", str(path)]) == 0
    return path


def test_cohort_command(cohort_file):
    adata = read_h5ad(cohort_file)
    assert adata.n_vars == 300 and adata.uns["gaingtex"]["seed"] == 0


@pytest.mark.slow
def test_train_then_evaluate(cohort_file, tmp_path, capsys):
    model = tmp_path / "pmi.keras"
    assert main(["train", "--cohort", str(cohort_file), "--preset", "smoke", "--model", "pmi",
                 "--scenario", "inplace", "--out", str(model)]) == 0
    out = tmp_path / "scores.json"
    assert main(["evaluate", "--cohort", str(cohort_file), "--model", str(model), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "PMI" in table and "oracle" in table
    rows = {r["method"]: r for r in json.loads(out.read_text())["results"]}
    assert rows["oracle"]["r2"] > rows["PMI"]["r2"] > rows["per-tissue mean"]["r2"]
    # an in-place model is scored on its own training mask: another rate or seed is refused, not ignored
    assert main(["evaluate", "--cohort", str(cohort_file), "--model", str(model), "--missing-rate", "0.3"]) == 2
    assert "trained with missing rate 0.5 and mask seed 0" in capsys.readouterr().err
    assert main(["evaluate", "--cohort", str(cohort_file), "--model", str(model), "--out", str(model)]) == 2
    assert "is one of the command's inputs" in capsys.readouterr().err


@pytest.mark.slow
def test_alzheimer_gene_subset(cohort_file, tmp_path):
    model = tmp_path / "ad.keras"
    assert main(["train", "--cohort", str(cohort_file), "--preset", "smoke", "--model", "gain-mse",
                 "--genes", "alzheimer", "--out", str(model)]) == 0
    out = tmp_path / "ad.json"
    assert main(["evaluate", "--cohort", str(cohort_file), "--model", str(model), "--genes", "alzheimer",
                 "--missing-rate", "0.3", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["missing_rate"] == 0.3  # an inductive model is scored at the rate asked for
    # the model knows its 273 genes: without --genes it is scored on them, matched by symbol
    assert main(["evaluate", "--cohort", str(cohort_file), "--model", str(model)]) == 0


def test_benchmark_deep_seeds(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["benchmark", "--preset", "smoke", "--seeds", "0", "1", "--deep-seeds", "1", "--gene-sets", "panel",
                 "--methods", "pmi", "mean", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["deep_seeds"] == [0]
    status = {(r["method"], r["scenario"], r["seed"]): r["status"] for r in result["results"]}
    assert status[("pmi", "inductive", 0)] == "ok" and status[("pmi", "inductive", 1)] == "not trained"
    assert status[("mean", "inplace", 1)] == "ok"
    assert not (tmp_path / "bench.partial.json").exists()  # written as the run went, removed at its end
    assert main(["benchmark", "--preset", "smoke", "--deep-seeds", "-1", "--out", str(out)]) == 2
    assert "--deep-seeds must be 0 or more" in capsys.readouterr().err


@pytest.mark.slow
def test_benchmark_command(tmp_path, capsys):
    out = tmp_path / "bench.json"
    # as `make bench` runs it: the deep models trained at the first seed only
    assert main(["benchmark", "--preset", "smoke", "--seeds", "1", "2", "--deep-seeds", "1", "--gene-sets", "all",
                 "--methods", "pmi", "GAIN-GTEx", "oracle", "mean", "factor-analysis", "gaussian", "--budget", "600",
                 "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["preset"] == "smoke" and result["seeds"] == [1, 2] and result["missing_rate"] == 0.5
    rows = result["results"]
    keys = {"method", "scenario", "genes", "seed", "r2", "rmse", "oracle_r2", "fit_seconds", "impute_seconds"}
    assert all(keys <= set(r) for r in rows if r["status"] == "ok")
    runs = {(r["method"], r["scenario"], r["seed"], r["status"]) for r in rows}
    for m in ("pmi", "gain", "oracle", "mean", "factor-analysis", "gaussian"):
        later = "not trained" if m in ("pmi", "gain") else "ok"
        assert {(m, s, seed, later if seed == 2 else "ok") for s in ("inductive", "inplace") for seed in (1, 2)} <= runs
    deep = [r for r in rows if r["method"] in ("pmi", "gain") and r["status"] == "ok"]
    assert len(deep) == 4
    assert all(0 < r["matmul_fraction"] < 1.5 and r["fit_seconds"] > 0 and r["epochs"] >= 1 for r in deep)
    assert result["matmul_flops"] > 1e9
    summary = {(r["method"], r["scenario"]): r for r in result["summary"]}
    assert all(r["seeds"] == 1 and r["runs"] == 2 for (m, _), r in summary.items() if m in ("pmi", "gain"))
    assert all(r["seeds"] == 2 and r["r2_sd"] >= 0 for (m, _), r in summary.items() if m not in ("pmi", "gain"))
    for scenario in ("inductive", "inplace"):
        assert summary[("oracle", scenario)]["fraction"] == pytest.approx(1.0)
        assert summary[("factor-analysis", scenario)]["r2_mean"] > summary[("mean", scenario)]["r2_mean"]
    cal = result["calibration"]
    assert "LAML-like" in cal["shifted"]
    assert cal["oracle_r2_other_group_tissue"] < cal["oracle_r2"]
    assert set(result["runtime"]["ratios"]) == {"gaussian/pmi", "gaussian/gain"}
    shown = capsys.readouterr().out
    assert "pmi" in shown and "0.5" in shown and "±" in shown


def test_errors_are_clear(tmp_path, capsys):
    assert main(["evaluate", "--cohort", str(tmp_path / "none.h5ad"), "--model", "m.keras"]) == 2
    assert "none.h5ad does not exist" in capsys.readouterr().err
    assert main(["cohort", "--out", str(tmp_path / "x.csv")]) == 2
    assert ".h5ad" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["cohort", "--preset", "giant", "--out", str(tmp_path / "x.h5ad")])
    assert exc.value.code == 2
    assert "invalid choice: 'giant'" in capsys.readouterr().err


def test_parser_spellings_and_choices():
    from gaingtex.cli import build_parser
    from gaingtex.imputers import names, spec

    parser = build_parser()
    common = ["--expression", "e.gct", "--samples", "s.txt", "--phenotypes", "p.txt", "--out", "c.h5ad"]
    for flag in ("--normalise", "--normalize"):  # the American spelling of older commands still works
        assert parser.parse_args(["gtex", *common, flag, "int"]).normalise == "int"
    trained = [n for n in names() if spec(n).trains]
    assert trained == ["pmi", "gain", "gain-mse"]
    for name in trained:  # `train --model` takes the methods that train, and nothing else
        assert parser.parse_args(["train", "--model", name, "--out", "m.keras"]).model == name
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--model", "factor-analysis", "--out", "m.keras"])


def test_a_command_builds_only_its_own_parser():
    """`gaingtex gtex` must not import the imputers (scikit-learn, SciPy) that other commands list as choices: a
    fresh interpreter, since this one has them already."""
    probe = ("import sys; from gaingtex.cli import build_parser; "
             "args = build_parser(['--debug', 'gtex']).parse_args(['--debug', 'gtex', '--expression', 'e.gct', "
             "'--samples', 's', '--phenotypes', 'p', '--out', 'o.h5ad']); "
             "print(args.command, 'sklearn' in sys.modules, 'gaingtex.imputers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.split() == ["gtex", "False", "False"], result.stderr


def test_console_entry_point():
    exe = Path(sys.executable).with_name("gaingtex")
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "benchmark" in result.stdout


@pytest.fixture(scope="module")
def holey_file(cohort_file, tmp_path_factory):
    """The smoke cohort with 20 % of its entries missing (NaN) and no split column: a user's incomplete file."""
    adata = read_h5ad(cohort_file)
    holes = np.random.default_rng(0).random(adata.shape) < 0.2
    adata.X[holes] = np.nan
    del adata.obs["split"]
    path = tmp_path_factory.mktemp("impute") / "holey.h5ad"
    adata.write_h5ad(path)
    return path, holes


@pytest.mark.parametrize("method", ["mean", "factor-analysis", "gaussian", "softimpute", "knn",
                                    pytest.param("gain-mse", marks=pytest.mark.slow)])
def test_impute_fills_every_hole_and_keeps_the_rest(holey_file, tmp_path, method, capsys):
    path, holes = holey_file
    out = tmp_path / "filled.h5ad"
    assert main(["impute", "--method", method, "--input", str(path), "--output", str(out), "--preset", "smoke"]) == 0
    assert "filled" in capsys.readouterr().out
    before, after = read_h5ad(path), read_h5ad(out)
    assert not np.isnan(after.X).any()
    np.testing.assert_array_equal(after.X[~holes], before.X[~holes])  # observed values bit for bit
    info = after.uns["gaingtex_impute"]
    assert info["method"] == method and info["preset"] == "smoke" and info["seed"] == 0
    assert info["filled_fraction"] == pytest.approx(holes.mean())
    if method == "factor-analysis":  # what it chose on validation, kept in the file's record
        assert info["chosen"]["n_factors"] >= 1
    assert [p.name for p in tmp_path.iterdir()] == ["filled.h5ad"]  # written atomically, nothing left behind


def test_impute_is_better_than_the_mean_where_it_should_be(holey_file, cohort_file, tmp_path):
    path, holes = holey_file
    truth = read_h5ad(cohort_file).X
    errors = {}
    for method in ("mean", "factor-analysis"):
        out = tmp_path / f"{method}.h5ad"
        assert main(["impute", "--method", method, "--input", str(path), "--output", str(out), "--preset",
                     "smoke"]) == 0
        errors[method] = float(((read_h5ad(out).X - truth)[holes] ** 2).mean())
    assert errors["factor-analysis"] < 0.8 * errors["mean"]


def test_impute_errors(holey_file, tmp_path, capsys):
    path, _ = holey_file
    assert main(["impute", "--method", "mean", "--input", str(path), "--output", str(path)]) == 2
    assert "is one of the command's inputs" in capsys.readouterr().err
    assert main(["impute", "--method", "mean", "--input", str(tmp_path / "no.h5ad"),
                 "--output", str(tmp_path / "o.h5ad")]) == 2
    assert "no.h5ad does not exist" in capsys.readouterr().err
    assert main(["impute", "--method", "mean", "--input", str(path), "--output", str(tmp_path / "o.csv")]) == 2
    assert "must have the input's format (h5ad)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["impute", "--method", "blood-surrogate", "--input", str(path), "--output", str(tmp_path / "o.h5ad")])
    assert "invalid choice: 'blood-surrogate'" in capsys.readouterr().err
    assert main(["impute", "--method", "oracle", "--input", str(path), "--output", str(tmp_path / "o.h5ad")]) == 0


def test_benchmark_resumes_from_its_partial_rows(tmp_path, capsys, monkeypatch):
    from gaingtex.evaluation import comparison

    out = tmp_path / "bench.json"
    args = ["benchmark", "--preset", "smoke", "--seeds", "0", "1", "--gene-sets", "panel", "--methods", "mean",
            "factor-analysis", "--budget", "30", "--out", str(out)]
    real = comparison.run_method
    calls = []

    def interrupt_at_seed_1(name, data, preset, seed, *rest, **kw):
        if seed == 1 and data.scenario == "inplace":
            raise KeyboardInterrupt
        calls.append((name, data.scenario, seed))
        return real(name, data, preset, seed, *rest, **kw)

    monkeypatch.setattr(comparison, "run_method", interrupt_at_seed_1)
    assert main(args) == 130  # Ctrl-C: one line saying what was kept and how to go on, no traceback
    partial = tmp_path / "bench.partial.json"
    assert f"the finished rows are kept in {partial}; rerun with --resume" in capsys.readouterr().err
    kept = json.loads(partial.read_text())
    assert kept["partial"] and len(kept["results"]) == 6 and not out.exists()
    copy = tmp_path / "kept.json"
    copy.write_text(partial.read_text())
    calls.clear()
    monkeypatch.setattr(comparison, "run_method", lambda *a, **k: calls.append(a[:1]) or real(*a, **k))
    assert main([*args, "--resume", str(partial)]) == 0
    assert len(calls) == 2  # only seed 1's in-place rows were left
    result = json.loads(out.read_text())
    assert len(result["results"]) == 8 and result["resumed"][0]["rows"] == 6
    fa = [r for r in result["results"] if r["method"] == "factor-analysis"]
    assert len({r["n_factors"] for r in fa if r["scenario"] == "inplace"}) == 1  # the choice carried over
    assert not partial.exists()  # removed once the whole result was written
    assert main([*args[:5], "2", *args[6:], "--resume", str(copy)]) == 2
    assert "the earlier run has seeds [0, 1], this one [0, 2]" in capsys.readouterr().err


def test_book_budget_reaches_the_comparison(monkeypatch, capsys):
    """`gaingtex book --budget` is notebook 08's budget (a large cohort under a small preset); a budget that is
    no number of seconds is refused before any notebook runs."""
    from gaingtex.book import build

    calls = []
    monkeypatch.setattr(build, "build_book", lambda *a, **k: calls.append(k))
    assert main(["book", "--preset", "smoke", "--budget", "300"]) == 0
    assert calls[-1]["parameters"] == {"08": {"budget": 300.0}}
    assert main(["book", "--preset", "smoke"]) == 0
    assert calls[-1]["parameters"] is None
    assert main(["book", "--preset", "smoke", "--budget", "0"]) == 2
    assert "--budget must be a positive, finite number of seconds, got 0" in capsys.readouterr().err
    assert len(calls) == 2


def test_book_interrupted_says_what_the_run_folder_keeps(monkeypatch, capsys, tmp_path):
    """Ctrl-C during `gaingtex book` names the run folder that keeps the models; `--jobs 0` is refused."""
    from gaingtex.book import build

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_book", interrupted)
    assert main(["book", "--preset", "smoke", "--run-dir", str(tmp_path / "run")]) == 130
    err = capsys.readouterr().err
    assert f"interrupted (Ctrl-C): the run folder {tmp_path / 'run'} keeps the cohort and every model" in err
    assert main(["book", "--preset", "smoke", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1, not 0" in capsys.readouterr().err
