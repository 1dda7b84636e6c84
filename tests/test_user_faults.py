"""What new users' own files, damaged checkpoints, interrupts and full disks do: never a silent wrong result, never
lost work, never a traceback; one line naming the file, column or value and the real cause."""

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from gaingtex.cli import main
from gaingtex.cli.train import epochs_in


@pytest.fixture(scope="module")
def table(smoke):
    """30 GTEx samples × 20 genes with covariates, 20 % missing: ``(covariates, genes)`` frames."""
    g = smoke[smoke.obs["cohort"] == "GTEx"][::20, :20]
    X = g.X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.2] = np.nan
    genes = pd.DataFrame(X, index=pd.Index(g.obs_names, name="sample"), columns=list(g.var_names))
    covariates = pd.DataFrame({"tissue": g.obs["tissue"].astype(str), "sex": g.obs["sex"].astype(str),
                               "age": g.obs["age"].round().astype(int).astype(str)}, index=genes.index)
    return covariates, genes


def impute(path, out, *extra):
    return main(["impute", "--method", "mean", "--input", str(path), "--output", str(out), *extra])


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_user_table_is_checked_before_anything_is_imputed(table, tmp_path, capsys):
    covariates, genes = table
    good = pd.concat([covariates, genes], axis=1)
    first = genes.columns[0]
    cases = {
        "twice.csv": (pd.concat([good, genes.iloc[:, :1]], axis=1), f"column {first!r} appears twice"),
        "rin.csv": (good.assign(RIN=7.1), "neither a covariate nor a known gene symbol or Ensembl id: 'RIN'"),
        "months.csv": (good.assign(age="240"), "an age is at most 120 years"),
        "no-id.csv": (good.reset_index(drop=True).set_index("tissue"), "the first column, 'tissue', is a covariate"),
        "blank-id.csv": (good.rename(index={good.index[3]: " "}), "line 5 has no sample id"),
        "same-id.csv": (good.rename(index={good.index[3]: good.index[2]}), "appears twice; sample ids must be unique"),
        "lower.csv": (good.assign(tissue=good["tissue"].str.lower()), "(did you mean"),
        "misspelt.csv": (good.rename(columns={"tissue": "tisue"}), "no 'tissue' column (did you mean 'tisue'?)"),
        "log-counts.csv": (pd.concat([covariates, np.round(np.exp(genes + 6))], axis=1),
                           "--scale log, but the values range"),
    }
    for name, (frame, message) in cases.items():
        frame.to_csv(tmp_path / name)
        extra = ["--scale", "log"] if name == "log-counts.csv" else []
        assert impute(tmp_path / name, tmp_path / f"o-{name}", *extra) == 2, name
        assert message in one_line(capsys.readouterr().err), name
        assert not (tmp_path / f"o-{name}").exists()
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(["sample", *covariates.columns, *genes.columns]) + "\n")
    assert main(["impute", "--model", "m.keras", "--input", str(header_only), "--output",
                 str(tmp_path / "o.csv")]) == 2
    assert "has a header but no sample rows" in one_line(capsys.readouterr().err)
    assert impute(tmp_path, tmp_path / "o.csv") == 2  # a folder is not a missing file
    assert "cannot tell the format" in capsys.readouterr().err
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert impute(folder, tmp_path / "o.csv") == 2 and "is a folder, not a file" in capsys.readouterr().err
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    assert impute(loop, tmp_path / "o.csv") == 2 and "symbolic link that leads back to itself" in \
        one_line(capsys.readouterr().err)


def test_extra_columns_are_kept_dropped_or_imputed_as_asked(table, tmp_path, capsys):
    covariates, genes = table
    path = tmp_path / "rin.csv"
    rin = ["7.1" if i % 2 else "" for i in range(len(genes))]
    pd.concat([covariates, genes], axis=1).assign(RIN=rin).to_csv(path)
    before = path.read_bytes()
    for choice, check in (("keep", lambda out: (out["RIN"] == pd.read_csv(path, dtype=str, keep_default_na=False)
                                                  ["RIN"]).all()),
                          ("drop", lambda out: "RIN" not in out.columns),
                          ("genes", lambda out: (out["RIN"] != "").all())):
        out_path = tmp_path / f"{choice}.csv"
        assert impute(path, out_path, "--extra-columns", choice) == 0, choice
        assert f"--extra-columns {choice}" in capsys.readouterr().out
        assert check(pd.read_csv(out_path, dtype=str, keep_default_na=False)), choice
    assert path.read_bytes() == before  # the input is never modified


def test_counts_are_imputed_on_a_log_scale_and_written_back_as_counts(table, tmp_path, capsys):
    covariates, genes = table
    counts = np.round(np.exp(genes + 6))  # whole numbers up to thousands
    path = tmp_path / "counts.csv"
    pd.concat([covariates, counts], axis=1).to_csv(path)
    out = tmp_path / "filled.csv"
    assert impute(path, out) == 0
    assert "read counts or TPM" in capsys.readouterr().out
    filled = pd.read_csv(out, index_col=0)[genes.columns].to_numpy()
    hidden = np.isnan(counts.to_numpy())
    assert (filled >= 0).all() and not np.isnan(filled).any()
    # the per-gene mean on the log scale, back as counts: within the gene's observed range
    low, high = np.nanmin(counts.to_numpy(), axis=0), np.nanmax(counts.to_numpy(), axis=0)
    assert ((filled >= low * (1 - 1e-4)) & (filled <= high * (1 + 1e-4)))[hidden].all()
    assert main(["impute", "--method", "mean", "--scale", "counts", "--input", str(path), "--output",
                 str(tmp_path / "again.csv")]) == 0


def test_the_real_cause_of_a_misread_table_is_named(table, tmp_path, capsys):
    covariates, genes = table
    good = pd.concat([covariates, genes], axis=1)
    semicolons = tmp_path / "semi.csv"
    good.to_csv(semicolons, sep=";")
    assert impute(semicolons, tmp_path / "semi-out.csv") == 0
    assert "separated by semicolons, not by commas" in capsys.readouterr().out
    assert (tmp_path / "semi-out.csv").read_text().splitlines()[0].count(";") == good.shape[1]
    capital = tmp_path / "capital.csv"
    good.rename(columns={"tissue": "Tissue", "age": "AGE"}).to_csv(capital)
    assert impute(capital, tmp_path / "capital-out.csv") == 0
    assert "'Tissue' as 'tissue'" in capsys.readouterr().out
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("".join(line + ",\n" for line in good.to_csv().splitlines()))
    assert impute(trailing, tmp_path / "trailing-out.csv") == 0
    assert "neither a header nor a value" in capsys.readouterr().out
    old = tmp_path / "old.csv"
    good.assign(age=["105"] + list(good["age"][1:])).to_csv(old)
    assert impute(old, tmp_path / "old-out.csv") == 0
    assert "aged over 100" in capsys.readouterr().out


def fake_model(genes: pd.DataFrame, added=(), offset=0.0):
    """An inductive model of ``genes``' columns (and ``added`` ones) on their own scale (shifted by ``offset``
    sds) that imputes each gene's mean."""
    from gaingtex.data import Standardizer

    fitted = Standardizer.fit(genes.to_numpy())
    n = len(added)
    scale = Standardizer(np.concatenate([fitted.mean + offset * fitted.std, np.zeros(n)]).astype(np.float32),
                         np.concatenate([fitted.std, np.ones(n)]).astype(np.float32))
    return SimpleNamespace(scenario="inductive", genes_=(*genes.columns, *added), scale_=scale, name="pmi", seed=0,
                           transform=lambda z, m, obs: np.where(m > 0, z, 0.0).astype(np.float32))


def test_one_sample_under_a_model_and_values_on_another_scale(table, tmp_path, monkeypatch, capsys):
    covariates, genes = table
    one = tmp_path / "one.csv"
    pd.concat([covariates, genes], axis=1).iloc[:1].to_csv(one)
    monkeypatch.setattr("gaingtex.cli.impute.load_model", lambda path: fake_model(genes, added=["TP53"]))
    out = tmp_path / "one-out.csv"
    assert main(["impute", "--model", "m.keras", "--input", str(one), "--output", str(out)]) == 0
    filled = pd.read_csv(out, index_col=0)
    assert filled.shape == (1, 3 + genes.shape[1] + 1) and not filled[list(genes.columns)].isna().any().any()
    monkeypatch.setattr("gaingtex.cli.impute.load_model", lambda path: fake_model(genes, offset=-12.0))
    assert main(["impute", "--model", "m.keras", "--input", str(one), "--output", str(tmp_path / "x.csv")]) == 2
    assert "on another scale than the data" in one_line(capsys.readouterr().err)


def test_damaged_checkpoints_are_refused_by_name(tmp_path):
    from gaingtex.imputers.deep import checkpoint as ckpt

    path = tmp_path / "m.keras.checkpoint.npz"
    state = {"epochs": 5, "history": [{"loss": 1.0 / (i + 1)} for i in range(5)],
             "stop": {"wait": 1, "best": 0.25, "best_epoch": 3, "best_weights": [np.ones(3, np.float32)]},
             "arrays": {"model_0": np.arange(6, dtype=np.float32), "seed_1": np.array([7, 9], np.uint32)}}
    ckpt.write(path, state, "key")
    good = path.read_bytes()
    assert ckpt.read(path, "key")["epochs"] == 5 and epochs_in(path) == 5
    flipped = bytearray(good)
    flipped[good.index(np.array([7, 9], np.uint32).tobytes())] ^= 1  # the random-generator state
    damaged = {"flipped": bytes(flipped), "truncated": good[: len(good) // 2], "garbage": b"PK\x03\x04garbage"}
    for name, content in damaged.items():
        path.write_bytes(content)
        with pytest.raises(ValueError, match=f"{path.name}: the training checkpoint .*delete it or pass --fresh"):
            ckpt.read(path, "key")
    with np.load(_write(tmp_path / "ok.npz", good)) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        arrays = {k: data[k] for k in data.files if k != "meta"}
    for change, message in (({"epochs": 10**9}, "records 1000000000 epochs but a history of 5"),
                            ({"stop": {"wait": 1, "best": 0.25}}, "early-stopping state is incomplete"),
                            ({"digest": None}, "written by an older gaingtex")):
        edited = {**meta, **change}
        if change.get("digest", "") is not None:
            edited["digest"] = ckpt._digest({k: v for k, v in edited.items() if k != "digest"}, arrays)
        np.savez(path, meta=np.frombuffer(json.dumps(edited).encode(), dtype=np.uint8), **arrays)
        with pytest.raises(ValueError, match=message):
            ckpt.read(path, "key")
    edited = {**meta, "epochs": 4, "history": meta["history"][:4]}  # edited, digest left as it was
    np.savez(path, meta=np.frombuffer(json.dumps(edited).encode(), dtype=np.uint8), **arrays)
    with pytest.raises(ValueError, match="do not match the digest"):
        ckpt.read(path, "key")
    # a well-formed file whose random-generator state was replaced: it would resume into other weights
    np.savez(path, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
             **{**arrays, "seed_1": np.array([8, 9], np.uint32)})
    with pytest.raises(ValueError, match="do not match the digest"):
        ckpt.read(path, "key")


def test_train_names_a_damaged_checkpoint_and_fresh_starts_over(tmp_path, capsys):
    out = tmp_path / "pmi.keras"
    checkpoint = tmp_path / "pmi.keras.checkpoint.npz"
    checkpoint.write_bytes(b"PK\x03\x04 a truncated checkpoint")
    args = ["train", "--preset", "smoke", "--model", "pmi", "--out", str(out)]
    assert main(args) == 2
    err = one_line(capsys.readouterr().err)
    assert f"{checkpoint}: the training checkpoint is damaged" in err and "pass --fresh" in err
    assert checkpoint.read_bytes() == b"PK\x03\x04 a truncated checkpoint" and not out.exists()
    assert main([*args, "--fresh"]) == 0
    assert out.is_file() and not checkpoint.exists()


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_a_checkpoint_of_the_wrong_shape_gets_our_message(tmp_path):
    from gaingtex.imputers.deep import checkpoint as ckpt

    class Var(SimpleNamespace):
        def assign(self, value):
            self.value = value

    optimizer = SimpleNamespace(build=lambda variables: None, variables=[])
    model = SimpleNamespace(variables=[Var(shape=(3,))], weights=[Var(shape=(3,))], optimizer=optimizer,
                            generator_weights=lambda: [])
    state = {"arrays": {"model_0": np.zeros(4)}, "stop": {"best_weights": None}, "path": str(tmp_path / "c.npz")}
    with pytest.raises(ValueError, match=r"c\.npz: the checkpoint's model_0 does not fit the model .*--fresh"):
        ckpt.restore(model, state)
    state = {"arrays": {"model_0": np.zeros(3)}, "stop": {"best_weights": [np.zeros(5)]}, "path": "c.npz"}
    with pytest.raises(ValueError, match="best weights do not fit the model"):
        ckpt.restore(model, state)
    assert not hasattr(model.variables[0], "value")  # nothing assigned from a snapshot that does not fit


def test_a_damaged_model_record_is_a_sentence(tmp_path, capsys):
    import json
    import zipfile

    from gaingtex.imputers.deep.imputer import MODEL_FORMAT

    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("gaingtex.json", json.dumps({"format": MODEL_FORMAT, "method": "pmi"}))
    assert main(["evaluate", "--preset", "smoke", "--model", str(path)]) == 2
    assert "the model's record (gaingtex.json) has no 'scenario' entry" in one_line(capsys.readouterr().err)
    path.write_bytes(path.read_bytes()[:30])
    assert main(["evaluate", "--preset", "smoke", "--model", str(path)]) == 2
    assert "is not a gaingtex model archive" in one_line(capsys.readouterr().err)


def test_a_full_disk_never_stops_training_at_a_checkpoint(monkeypatch):
    from gaingtex.imputers.deep import checkpoint as ckpt

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt, "write", full)
    monkeypatch.setattr(ckpt, "snapshot", lambda *args: {})
    callback = ckpt.Checkpointer(Path("m.keras.checkpoint.npz"), 5, "key", SimpleNamespace(state=dict), [])
    with pytest.warns(UserWarning, match="could not write the checkpoint m.keras.checkpoint.npz"):
        callback.on_epoch_end(4, {"loss": 1.0})
    callback.on_epoch_end(9, {"loss": 0.5})  # no second try, no error
    assert callback.path is None and len(callback.history) == 2


def test_rescues_are_numbered_and_name_the_space(tmp_path, monkeypatch):
    from gaingtex._outputs import Rescued, write_or_rescue

    monkeypatch.chdir(tmp_path)
    target = tmp_path / "full" / "result.json"

    def write(path):
        if Path(path) == target:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        Path(path).write_text("done")

    for name in ("result.rescued.json", "result.rescued-2.json"):
        with pytest.raises(Rescued, match=rf"No space left on device: .* free in .*, the output takes 4 bytes\); "
                                          rf"the results were written to .*{name}"):
            write_or_rescue(write, target)
        assert (tmp_path / name).read_text() == "done"


def test_a_second_run_to_the_same_output_is_refused(tmp_path, capsys):
    from gaingtex._outputs import lock_path, output_lock

    out = tmp_path / "cohort.h5ad"
    with output_lock(out):
        assert main(["cohort", "--preset", "smoke", "--out", str(out)]) == 2
        err = one_line(capsys.readouterr().err)
        assert f"another gaingtex run (process {os.getpid()}) is writing {out}" in err
    assert not out.exists() and not lock_path(out).exists()


def test_interrupts_end_with_one_line_saying_what_was_kept(tmp_path, monkeypatch, capsys):
    from gaingtex.imputers.deep import checkpoint as ckpt

    out = tmp_path / "pmi.keras"

    def interrupted(*args, checkpoint, **kwargs):
        ckpt.write(checkpoint, {"epochs": 5, "history": [{}] * 5, "arrays": {},
                                "stop": {"wait": 0, "best": 1.0, "best_epoch": 4, "best_weights": None}}, "key")
        raise KeyboardInterrupt

    monkeypatch.setattr("gaingtex.evaluation.scenarios.train_model", interrupted)
    assert main(["train", "--preset", "smoke", "--model", "pmi", "--out", str(out)]) == 130
    err = one_line(capsys.readouterr().err)
    assert "interrupted (Ctrl-C): the training state after epoch 5 is kept in" in err and "--fresh" in err
    monkeypatch.setattr("gaingtex.cli.cohort.run", lambda args: (_ for _ in ()).throw(KeyError("encoder")))
    assert main(["cohort", "--out", str(tmp_path / "c.h5ad")]) == 2
    assert "an expected entry 'encoder' is missing" in one_line(capsys.readouterr().err)
    script = ("import os, signal, time\nimport gaingtex.cli.cohort as c\nfrom gaingtex.cli import main\n"
              "def run(args):\n    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(30)\n"
              f"c.run = run\nraise SystemExit(main(['cohort', '--out', {str(tmp_path / 'x.h5ad')!r}]))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 128 + signal.SIGTERM
    assert result.stderr.strip().splitlines()[-1] == "interrupted (SIGTERM): nothing was written"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("budget", ["-5", "nan", "inf", "0"])
def test_a_budget_is_positive_and_finite(budget, tmp_path, capsys):
    assert main(["benchmark", "--preset", "smoke", "--budget", budget, "--out", str(tmp_path / "b.json")]) == 2
    assert "--budget must be a positive, finite number of seconds" in one_line(capsys.readouterr().err)


def test_a_single_seed_benchmark_writes_its_json(tmp_path, capsys):
    out = tmp_path / "one.json"
    assert main(["benchmark", "--preset", "smoke", "--seeds", "0", "--gene-sets", "panel", "--methods", "mean",
                 "--budget", "30", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["seeds"] == [0] and not any("r2_sd" in row for row in result["summary"])
    assert f"wrote {out}" in capsys.readouterr().out and not (tmp_path / "one.partial.json").exists()


def test_small_tissues_are_flagged_and_get_no_ratio():
    from gaingtex.book.tables import format_table
    from gaingtex.evaluation.comparison import summarise
    from gaingtex.evaluation.scoring import summary_table

    scores = pd.DataFrame({"method": ["oracle", "PMI"], "tissue": "Lung", "gene": "A", "r2": [-5.2, -10.0],
                           "rmse": 1.0, "samples": 7, "impute_seconds": 0.1})
    table = summary_table(scores)
    assert table["r2_vs_reference"].isna().all() and (table["small_tissues"] == 1).all()
    rows = pd.DataFrame({"method": ["oracle", "pmi"], "scenario": "inductive", "genes": "all", "seed": 0,
                         "status": "ok", "r2": [-5.2, -10.0], "rmse": 1.0, "fit_seconds": 1.0,
                         "impute_seconds": 0.1, "small_tissues": 1})
    summary = summarise(rows)
    assert summary["fraction"].isna().all()
    result = {"preset": "smoke", "seeds": [0], "missing_rate": 0.5, "device": "cpu", "matmul_flops": 1e9,
              "wall_seconds": 1.0, "summary": [{k: v for k, v in row.items() if not pd.isna(v)}
                                               for row in summary.to_dict(orient="records")],
              "calibration": {"oracle_r2": -5.2, "oracle_r2_per_tissue": {"Lung": -5.2}, "mean_r2": 0.0,
                              "oracle_r2_same_group_tissue": 0.0, "oracle_r2_other_group_tissue": 0.0,
                              "small_tissues": {"Lung": 7}, "shifted": {}}}
    text = format_table(result)  # one seed: no sd in any row (the KeyError 'r2_sd' of the single-seed run)
    assert "1 tissue < 20 samples" in text and "Lung (7)" in text and "—" in text


def test_xena_refuses_a_table_logged_twice(smoke, tmp_path, capsys):
    from gaingtex.data.export import write_xena_files
    from gaingtex.data.xena import read_xena

    f = write_xena_files(smoke[smoke.obs["cohort"] == "LAML-like"], tmp_path, "LAML")
    frame = pd.read_csv(f["expression"], sep="\t", index_col=0)
    twice = tmp_path / "TCGA-LAML.twice.tsv"
    np.log2(frame + 1).to_csv(twice, sep="\t")
    with pytest.raises(ValueError, match="look logged twice"):
        read_xena(twice, f["clinical"], smoke[smoke.obs["cohort"] == "GTEx"])
    with pytest.raises(ValueError, match=r"did you mean 'Whole_Blood'\?"):
        read_xena(f["expression"], f["clinical"], smoke[smoke.obs["cohort"] == "GTEx"], tissue="whole blood")


def test_gtex_refuses_counts_that_are_not_counts():
    from gaingtex.data.gtex import check_counts

    samples = ["S1", "S2"]
    counts = np.array([[0, 5, 100], [3, 2, 7]], dtype=np.float32)
    check_counts(counts, samples, "int", "x.gct")
    for values, normalise, message in (
            (counts * np.array([[1, -1, 1], [1, 1, 1]]), "int", r"1 values are negative, e.g. -5 in sample S1"),
            (np.concatenate([counts] * 60, axis=1) + np.eye(2, 180) * 0.5, "tmm-int",
             "whole read counts except 2, e.g. 0.5 in sample S1"),
            (counts, "none", "which --normalise none would keep")):
        with pytest.raises(ValueError, match=message):
            check_counts(values, samples, normalise, "x.gct")
        with pytest.raises(ValueError, match=message):  # a block a sample, checked on every core: the same line
            check_counts(values, samples, normalise, "x.gct", rows=1)
    # the first offender in file order names the error, whichever block is checked first
    many = np.repeat(counts, 50, axis=0)
    many[[7, 60], [1, 2]] = -1
    with pytest.raises(ValueError, match=r"2 values are negative, e.g. -1 in sample S7;"):
        check_counts(many, [f"S{i}" for i in range(100)], "int", "x.gct", rows=4)
