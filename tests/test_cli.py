import json
import subprocess
import sys

from pathlib import Path

import pytest

from gaingtex.cli import main
from gaingtex.cohort import read_h5ad


@pytest.fixture(scope="module")
def cohort_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "smoke.h5ad"
    assert main(["cohort", "--preset", "smoke", "--seed", "0", "--out", str(path)]) == 0
    return path


def test_cohort_command(cohort_file):
    adata = read_h5ad(cohort_file)
    assert adata.n_vars == 300 and adata.uns["gaingtex"]["seed"] == 0


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


def test_alzheimer_gene_subset(cohort_file, tmp_path):
    model = tmp_path / "ad.keras"
    assert main(["train", "--cohort", str(cohort_file), "--preset", "smoke", "--model", "gain-mse",
                 "--genes", "alzheimer", "--out", str(model)]) == 0
    assert main(["evaluate", "--cohort", str(cohort_file), "--model", str(model), "--genes", "alzheimer"]) == 0
    assert main(["evaluate", "--cohort", str(cohort_file), "--model", str(model)]) != 0


def test_benchmark_command(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["benchmark", "--preset", "smoke", "--seed", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["preset"] == "smoke" and result["seed"] == 1 and result["missing_rate"] == 0.5
    rows = result["results"]
    keys = {"method", "scenario", "r2", "rmse", "oracle_r2", "fit_seconds", "impute_seconds"}
    assert all(keys <= set(r) for r in rows)
    methods = {(r["method"], r["scenario"]) for r in rows}
    for m in ("PMI", "GAIN-GTEx", "GAIN-MSE", "oracle", "per-tissue mean", "factor-analysis"):
        assert (m, "inductive") in methods and (m, "inplace") in methods
    deep = [r for r in rows if r["method"] in ("PMI", "GAIN-GTEx", "GAIN-MSE")]
    assert all(0 < r["matmul_fraction"] < 1.5 and r["fit_seconds"] > 0 for r in deep)
    assert result["matmul_flops"] > 1e9
    reference = [r for r in rows if r["method"] == "factor-analysis"]
    assert all(r["n_factors"] == int(min(r["validation_mse"], key=r["validation_mse"].get)) for r in reference)
    assert all(r["r2"] > next(m["r2"] for m in rows if m["method"] == "per-tissue mean"
                              and m["scenario"] == r["scenario"]) for r in reference)
    cal = result["calibration"]
    assert "LAML-like" in cal["shifted"]
    assert cal["oracle_r2_other_group_tissue"] < cal["oracle_r2"]
    assert "PMI" in capsys.readouterr().out


def test_errors_are_clear(tmp_path, capsys):
    assert main(["evaluate", "--cohort", str(tmp_path / "none.h5ad"), "--model", "m.keras"]) == 2
    assert "none.h5ad does not exist" in capsys.readouterr().err
    assert main(["cohort", "--out", str(tmp_path / "x.csv")]) == 2
    assert ".h5ad" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["cohort", "--preset", "giant", "--out", str(tmp_path / "x.h5ad")])
    assert exc.value.code == 2
    assert "invalid choice: 'giant'" in capsys.readouterr().err


def test_console_entry_point():
    exe = Path(sys.executable).with_name("gaingtex")
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "benchmark" in result.stdout
