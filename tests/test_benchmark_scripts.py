"""Each benchmark script's ``main`` on the smallest inputs: it runs, and its JSON has the keys its README section
and the committed records in benchmarks/results/ rely on. The numbers themselves are not checked."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def written(path: Path) -> dict:
    assert path.is_file()
    return json.loads(path.read_text())


def test_schedule(tmp_path):
    from benchmarks import schedule
    from gaingtex.data import write_h5ad
    from gaingtex.data.embedded import make_cohort

    cohort = tmp_path / "cohort.h5ad"
    write_h5ad(make_cohort("smoke", 0), cohort)
    out = tmp_path / "schedule.json"
    assert schedule.main(["--cohort", str(cohort), "--schedules", "1x2x16", "--out", str(out)]) == 0
    result = written(out)
    assert {"command", "cohort", "rows", "machine"} <= set(result)
    assert [(r["model"], r["scenario"], r["steps"]) for r in result["rows"]] == [("pmi", "inductive", 2),
                                                                                ("gain-mse", "inplace", 2)]
    assert {"hidden", "batch_size", "fit_seconds", "r2", "best_epoch", "best_step"} <= set(result["rows"][0])


def test_panel_models(tmp_path):
    from benchmarks import panel_models

    out = tmp_path / "panel.json"
    assert panel_models.main(["--preset", "smoke", "--methods", "gaussian", "pmi", "--scenarios", "inductive",
                              "--out", str(out)]) == 0
    result = written(out)
    assert {"preset", "seed", "missing_rate", "panel_genes", "machine", "wall_seconds", "results"} <= set(result)
    variants = {(r["method"], r["variant"]) for r in result["results"]}
    assert variants == {("gaussian", ""), *(("pmi", v) for v in panel_models.VARIANTS)}
    deep = [r for r in result["results"] if r["method"] == "pmi"]
    assert all({"r2", "fit_seconds", "epochs", "best_epoch", "hidden", "chosen", "best_val_loss"} <= set(r)
               for r in deep)


def test_fa_iterations(tmp_path):
    from benchmarks import fa_iterations

    out = tmp_path / "fa.json"
    assert fa_iterations.main(["--preset", "smoke", "--genes", "panel", "--max-iter", "1", "2",
                               "--out", str(out)]) == 0
    result = written(out)
    assert [r["max_iter"] for r in result["results"]] == [1, 2]
    assert {"r2", "n_factors", "fit_seconds", "by_factors"} <= set(result["results"][0])
    assert {"n_factors", "seconds", "validation_mse"} <= set(result["results"][0]["by_factors"][0])


def test_gct_loading(tmp_path):
    from benchmarks import gct_loading

    out = tmp_path / "gct.json"
    assert gct_loading.main(["--genes", "400", "--samples", "300", "--workdir", str(tmp_path),
                             "--out", str(out)]) == 0
    result = written(out)
    assert {"genes", "samples", "gct_bytes", "write_seconds", "load_seconds", "peak_rss_bytes", "cohort_bytes",
            "summary"} <= set(result)
    assert "tmm-int" in result["summary"]


def test_train_step(tmp_path):
    from benchmarks import train_step

    out = tmp_path / "step.json"
    assert train_step.main(["--steps", "1", "--batch", "8", "--cases", "pmi:20x1x8", "gain:20x1x8",
                            "--out", str(out)]) == 0
    result = written(out)
    assert {"command", "steps", "rows", "machine", "device"} <= set(result)
    assert [r["model"] for r in result["rows"]] == ["pmi", "gain"]
    assert all(r["concatenated_ms"] > 0 and r["split_ms"] > 0 for r in result["rows"])


@pytest.mark.slow  # six compilations per model, all but two with XLA
def test_precision(tmp_path):
    import keras

    from benchmarks import precision

    out = tmp_path / "precision.json"
    assert precision.main(["--genes", "59", "--steps", "2", "--batch", "16", "--out", str(out)]) == 0
    result = written(out)
    assert {"command", "steps", "matmul_gflops", "tensorflow", "machine", "results"} <= set(result)
    settings = [r["setting"] for r in result["results"]]
    assert settings == ["f32", "f32+xla", "bf16", "bf16+xla", "f32+xla-adam", "bf16+xla-adam"] * 2
    assert [r["model"] for r in result["results"]] == ["pmi"] * 6 + ["gain"] * 6
    assert all(r["ms"] > 0 and r["flops"] > 0 and r["of_matmul"] > 0 and r["of_shaped"] > 0
               for r in result["results"])
    assert all(r["forward_error"] < 0.05 for r in result["results"])  # bfloat16 keeps about 3 digits
    assert keras.config.dtype_policy().name == "float32"  # the policy it set is undone


def test_book_build(tmp_path):
    import nbformat
    import pandas as pd

    from benchmarks import book_build

    executed, tables = tmp_path / "_build/executed/smoke-seed0", tmp_path / "runs/smoke-seed0/tables"
    executed.mkdir(parents=True)
    tables.mkdir(parents=True)
    (executed / "timings.json").write_text(json.dumps({"01_data": 3.0, "02_training": 20.0, "08_comparison": 30.0}))
    cell = nbformat.v4.new_code_cell("table = comparison.compare(data)", metadata={"papermill": {"duration": 12.4}})
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), executed / "08_comparison.ipynb")
    glue = nbformat.v4.new_code_cell("glue_values(...)", outputs=[nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/plain": "0.923"},
        metadata={"scrapbook": {"name": "emb_purity"}})])
    nbformat.write(nbformat.v4.new_notebook(cells=[glue]), executed / "07_embeddings.ipynb")
    pd.DataFrame({"method": ["pmi", "mean"], "genes": ["all", "all"], "scenario": ["inductive"] * 2,
                  "r2": [0.5, None], "status": ["ok", "> budget"], "fit_seconds": [4.0, 1.0],
                  "impute_seconds": [1.0, 0.5], "coverage_90": [0.9012, None],
                  "crps_vs_oracle": [1.21, None]}).to_csv(tables / "comparison_rows.csv", index=False)
    log = tmp_path / "time.log"
    log.write_text("\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02.50\n\tMaximum resident set size (kbytes): 2048\n")
    out = tmp_path / "build.json"
    assert book_build.main(["--run", "smoke-seed0", "--preset", "smoke", "--time-log", str(log), "--commit", "HEAD",
                            "--root", str(tmp_path), "--out", str(out)]) == 0
    result = written(out)
    assert result["wall_seconds"] == 62 and result["comparison_cells_seconds"] == {"compare": 12}
    assert result["r2"] == {"all/inductive": {"pmi": 0.5, "mean": "> budget"}}
    assert result["fig3"] == {"brain_knn_purity": 0.923}
    assert result["calibration"] == {"all/inductive": {"pmi": {"coverage_90": 0.9012, "crps_vs_oracle": 1.21}}}
    assert result["row_seconds"] == {"all/inductive": {"pmi": {"fit": 4.0, "impute": 1.0},
                                                       "mean": {"fit": 1.0, "impute": 0.5}}}
    assert {"notebook_seconds", "training_seconds", "comparison_row_seconds", "peak_memory_gb"} <= set(result)
    assert result["wall_but_08_09_seconds"] == 62 - 30 and result["own_training_seconds"] == 0


def test_book_build_keeps_each_seed_of_a_comparison(tmp_path):
    import pandas as pd

    from benchmarks import book_build

    rows = tmp_path / "rows.csv"
    pd.DataFrame({"method": ["pmi", "pmi"], "genes": ["all"] * 2, "scenario": ["inductive"] * 2, "seed": [0, 1],
                  "r2": [0.5, None], "status": ["ok", "not trained"], "fit_seconds": [4.0, None],
                  "impute_seconds": [1.0, None], "coverage_90": [0.9, None]}).to_csv(rows, index=False)
    _, r2 = book_build.comparison(rows)
    assert r2 == {"all/inductive/seed 0": {"pmi": 0.5}, "all/inductive/seed 1": {"pmi": "not trained"}}
    assert book_build.calibration(rows) == {"all/inductive/seed 0": {"pmi": {"coverage_90": 0.9}}}
    assert book_build.row_seconds(rows)["all/inductive/seed 0"] == {"pmi": {"fit": 4.0, "impute": 1.0}}


def test_book_build_records_a_build_made_in_parts(tmp_path):
    from benchmarks import book_build

    executed = tmp_path / "_build/executed/gtex-smoke-seed0"
    executed.mkdir(parents=True)
    (executed / "timings.json").write_text(json.dumps({"01_data": 30.2, "02_training_pmi_inductive": 82.0,
                                                      "03_inplace": 377.6}))
    log = tmp_path / "time.log"
    log.write_text("\tElapsed (wall clock) time (h:mm:ss or m:ss): 8:10.00\n\tMaximum resident set size (kbytes): 4096\n")
    args = ["--run", "gtex-smoke-seed0", "--preset", "smoke", "--time-log", str(log), "--commit", "HEAD",
            "--root", str(tmp_path)]
    with pytest.raises(SystemExit, match="08_comparison.ipynb does not exist"):  # a whole build needs notebook 08
        book_build.main([*args, "--out", str(tmp_path / "whole.json")])
    command = "gaingtex book --preset smoke --cohort gtex.h5ad --only 02 03"
    assert book_build.main([*args, "--part", "02", "03", "--command", command,
                            "--out", str(tmp_path / "part.json")]) == 0
    result = written(tmp_path / "part.json")
    assert result["command"] == f"{command} (under /usr/bin/time -v)" and result["wall_seconds"] == 490
    assert result["part"] == {"02_training_pmi_inductive": 82.0, "03_inplace": 377.6} and result["part_seconds"] == 460
    assert result["comparison_made"] is False and "r2" not in result and result["notebooks_01_07_seconds"] == 490


def test_book_build_counts_what_auto_spent_itself():
    import pandas as pd

    from benchmarks.book_build import _reused_seconds

    row = pd.Series({"auto_reused": "mean,pmi", "auto_member_seconds": "mean 1.5, pmi 90.0, knn 3.0"})
    assert _reused_seconds(row) == 91.5  # knn was refitted by auto: its own work
    assert _reused_seconds(pd.Series({"auto_reused": float("nan"), "auto_member_seconds": "x 1"})) == 0.0


def test_comparison_table_prints_the_committed_record(capsys):
    from benchmarks import comparison_table

    assert comparison_table.main([str(ROOT / "benchmarks/results/book-build.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| method | inductive, all genes")
    assert lines[2].startswith("| oracle | 0.665 |") and any(line.startswith("| PMI |") for line in lines)
    assert comparison_table.main([str(ROOT / "benchmarks/results/paper-comparison.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| method | scenario | R² |") and lines[2].startswith("| oracle | inductive | 0.671 |")
    assert lines[-1].endswith("> budget (projected 1504 s) |")  # stopped methods last, with their projection


def test_epoch_call(tmp_path):
    from benchmarks import epoch_call

    out = tmp_path / "epoch.json"
    assert epoch_call.main(["--preset", "smoke", "--epochs", "2", "--repeats", "1", "--genes", "panel",
                            "--scenarios", "inplace", "--out", str(out)]) == 0
    result = written(out)
    assert {"command", "preset", "epochs", "machine", "wall_seconds", "results"} <= set(result)
    assert [r["model"] for r in result["results"]] == ["pmi", "gain", "gain-mse"]
    assert all(r["same_losses"] for r in result["results"])  # the same steps, called from elsewhere
    assert {"epoch_seconds_per_step_call", "epoch_seconds_per_epoch_call", "ratio"} <= set(result["results"][0])


def test_determinism(tmp_path):
    from benchmarks import determinism

    out = tmp_path / "determinism.json"
    assert determinism.main(["--models", "gain", "--settings", "package", "--runs", "2", "--epochs", "1",
                             "--no-load", "--out", str(out)]) == 0
    result = written(out)
    assert result["load_processes"] == 0 and result["runs"] == 2
    (row,) = result["results"]
    assert (row["setting"], row["updates"], row["model"], row["trainings"]) == ("package", "compiled", "gain", 4)
    assert row["distinct_histories"] == 1 and row["largest_relative_difference"] == 0.0
    assert len(row["losses"]) == 1 and len(row["losses"][0]) == 1  # one history of one epoch


@pytest.mark.parametrize("script", ["schedule", "panel_models", "fa_iterations", "gct_loading", "train_step",
                                    "book_build", "precision", "epoch_call", "comparison_memory",
                                    "determinism", "side_by_side"])
def test_out_is_checked_before_any_work(script, tmp_path):
    import importlib

    main = importlib.import_module(f"benchmarks.{script}").main
    required = {"book_build": ["--run", "r", "--time-log", "t", "--commit", "c"],
                "comparison_memory": ["--run-dir", "r"], "side_by_side": ["--cohort", "c"]}.get(script, [])
    with pytest.raises(SystemExit, match="must end in .json"):
        main([*required, "--out", str(tmp_path / "result.csv")])


def test_gpu_script_pins_what_it_carries(tmp_path):
    """benchmarks/gpu.sh carries wheels at the lock file's versions: every package it names must be pinned there
    (a missing pin would carry another version than the CPU runs, or nothing), and it refuses an unknown step."""
    import re
    import subprocess

    script = (ROOT / "benchmarks" / "gpu.sh").read_text()
    carried = re.search(r'CARRIED="([^"]+)"', script).group(1).split()
    locked = {line.split("==")[0].lower() for line in (ROOT / "requirements-lock.txt").read_text().splitlines()
              if "==" in line}
    assert "keras" in carried and "anndata" in carried
    assert sorted(set(carried) - locked) == []
    run = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), "nonsense"], capture_output=True, text=True)
    assert run.returncode == 2 and "usage" in run.stderr
    run = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), "bench"], capture_output=True, text=True)
    assert run.returncode == 2 and "usage: gpu.sh bench OUT" in run.stderr


def test_linear_scale(tmp_path):
    from benchmarks import linear_scale

    out = tmp_path / "linear.json"
    assert linear_scale.main(["--preset", "smoke", "--genes", "300", "--methods", "mean", "factor-analysis",
                              "--out", str(out)]) == 0
    rows = {r["method"]: r for r in written(out)["results"]}
    assert {"seconds", "peak_gib", "r2"} <= set(rows["factor-analysis"])
    assert rows["factor-analysis"]["r2"] > rows["mean"]["r2"]


def test_calibration(tmp_path):
    from benchmarks import calibration

    out = tmp_path / "calibration.json"
    assert calibration.main(["--preset", "smoke", "--methods", "mean", "oracle", "--out", str(out)]) == 0
    rows = written(out)["results"]
    assert {r["method"] for r in rows} == {"mean", "oracle"}
    assert {"coverage_90", "coverage_90_worst_gene", "width_90", "crps"} <= set(rows[0])
    inplace = {r["method"]: r for r in rows if r["scenario"] == "inplace"}
    assert 0 < inplace["mean"]["coverage_90_validation_donors"] < 1  # what validation donors would have given
    assert "coverage_90_validation_donors" not in inplace["oracle"]
    assert not any("coverage_90_validation_donors" in r for r in rows if r["scenario"] == "inductive")


def test_auto(tmp_path):
    from benchmarks import auto

    out = tmp_path / "auto.json"
    result = auto.main(["--cohort", "smoke", "--genes", "all", "--scenarios", "inductive", "--seeds", "0",
                        "--methods", "mean", "gaussian-pooled", "--out", str(out)])
    cells = written(out)["cells"]
    assert result["cells"] == cells and len(cells) == 1
    assert {"best", "best_r2", "auto_r2", "margin", "auto_fit_seconds"} <= set(cells[0])


def test_comparison_memory(real_smoke_book, tmp_path):
    from benchmarks import comparison_memory

    run = real_smoke_book[2]
    out = tmp_path / "memory.json"
    assert comparison_memory.main(["--run-dir", str(run), "--preset", "smoke", "--seeds", "1", "--budget", "60",
                                   "--out", str(out)]) == 0
    result = written(out)
    assert result["command"].startswith("python -m benchmarks.comparison_memory --run-dir")
    assert result["seeds"] == [0] and result["budget"] == 60 and not out.with_suffix(".partial.json").exists()
    rows = result["results"]
    assert {r["method"] for r in rows} >= {"mean", "pmi", "auto"}
    assert all(r["seconds"] >= 0 and r["peak_gib"] >= r["after_gib"] > 0 for r in rows)
    assert result["peak_gib"] == max(r["peak_gib"] for r in rows)
    # a record of other settings is not resumed
    with pytest.raises(SystemExit, match="other settings"):
        comparison_memory.main(["--run-dir", str(run), "--preset", "smoke", "--seeds", "1", "--budget", "30",
                                "--resume", str(out), "--out", str(tmp_path / "again.json")])
    with pytest.raises(SystemExit, match="not a book's run folder"):
        comparison_memory.main(["--run-dir", str(tmp_path), "--out", str(tmp_path / "x.json")])


@pytest.mark.skipif(len(__import__("os").sched_getaffinity(0)) < 2, reason="side by side needs two cores")
def test_side_by_side(tmp_path):
    from benchmarks import side_by_side
    from gaingtex.data import write_h5ad
    from gaingtex.data.embedded import make_cohort

    cohort = tmp_path / "cohort.h5ad"
    write_h5ad(make_cohort("smoke", 0), cohort)
    with pytest.raises(SystemExit, match="--repeats must be at least 1, not 0"):
        side_by_side.main(["--cohort", str(cohort), "--repeats", "0", "--out", str(tmp_path / "x.json")])
    with pytest.raises(SystemExit, match="does not exist"):
        side_by_side.main(["--cohort", str(tmp_path / "none.h5ad"), "--out", str(tmp_path / "x.json")])
    out = tmp_path / "side.json"
    assert side_by_side.main(["--cohort", str(cohort), "--preset", "smoke", "--repeats", "1", "--out", str(out)]) == 0
    result = written(out)
    assert [r["setting"] for r in result["results"]] == ["one after the other, every core",
                                                          "side by side, each held to its share",
                                                          "side by side, each on every core"]
    assert all(len(r["all_seconds"]) == 1 and r["seconds"] > 0 for r in result["results"])
    # a training gives the same weights on one core as on two
    assert result["largest_weight_difference"] == 0.0
