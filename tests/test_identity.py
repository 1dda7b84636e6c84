"""Gene identity end to end, and reproducibility checkable from the files: models carry their genes, their
standardisation and content hashes; evaluation aligns a cohort to the model by symbol."""

import json
import re
import zipfile

import numpy as np
import pytest

from gaingtex.cli import main
from gaingtex.data import read_h5ad, write_h5ad
from gaingtex.data.embedded import make_cohort
from gaingtex.fingerprint import cohort_fingerprint
from gaingtex.imputers.deep import DeepImputer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("identity")
    cohort = base / "smoke.h5ad"
    write_h5ad(make_cohort("smoke", 0), cohort)
    models = {}
    for name, model, scenario in (("a", "pmi", "inductive"), ("b", "pmi", "inductive"),
                                  ("inplace", "gain-mse", "inplace")):
        models[name] = base / f"{name}.keras"
        assert main(["train", "--preset", "smoke", "--cohort", str(cohort), "--model", model, "--scenario", scenario,
                     "--out", str(models[name])]) == 0
    return base, cohort, models


def r2_of(out: str, label: str = "PMI") -> float:
    line = next(line for line in out.splitlines() if line.strip().startswith(label))
    return float(line.split()[2])


def test_same_seed_same_hashes_and_evaluate_prints_them(trained, capsys):
    base, cohort, models = trained
    a, b = DeepImputer.load(models["a"]), DeepImputer.load(models["b"])
    assert a.hashes() == b.hashes() and len(a.hashes()["weights"]) == 16
    origin = a.provenance_.origin
    assert origin.cohort_fingerprint == cohort_fingerprint(read_h5ad(cohort)) and origin.cohort == str(cohort)
    assert origin.ensembl_ids[0].startswith("ENSG") and len(origin.ensembl_ids) == len(a.genes_)
    capsys.readouterr()
    assert main(["evaluate", "--preset", "smoke", "--cohort", str(cohort), "--model", str(models["a"])]) == 0
    out = capsys.readouterr().out
    assert f"weights {a.hashes()['weights']}, training inputs {a.hashes()['inputs']}" in out
    assert re.search(r"cohort (\w+) \(trained on \1\)", out)


def test_evaluation_aligns_genes_by_symbol(trained, tmp_path, capsys):
    base, cohort, models = trained
    capsys.readouterr()
    assert main(["evaluate", "--preset", "smoke", "--cohort", str(cohort), "--model", str(models["a"])]) == 0
    straight = r2_of(capsys.readouterr().out)
    adata = read_h5ad(cohort)
    shuffled = adata[:, np.random.default_rng(0).permutation(adata.n_vars)].copy()
    write_h5ad(shuffled, tmp_path / "shuffled.h5ad")
    assert main(["evaluate", "--preset", "smoke", "--cohort", str(tmp_path / "shuffled.h5ad"), "--model",
                 str(models["a"])]) == 0
    assert r2_of(capsys.readouterr().out) == pytest.approx(straight, abs=1e-4) and straight > 0.3
    fewer = adata[:, 3:].copy()
    write_h5ad(fewer, tmp_path / "fewer.h5ad")
    assert main(["evaluate", "--preset", "smoke", "--cohort", str(tmp_path / "fewer.h5ad"), "--model",
                 str(models["a"])]) == 2
    assert "lacks 3 of the 300 genes" in capsys.readouterr().err
    assert main(["evaluate", "--preset", "smoke", "--cohort", str(cohort), "--model", str(models["a"]), "--genes",
                 "alzheimer"]) == 2
    assert "trained on 300 genes, not the 273 of --genes" in capsys.readouterr().err


def test_an_inplace_model_is_refused_on_another_cohort(trained, tmp_path, capsys):
    base, cohort, models = trained
    other = read_h5ad(cohort)
    other.X[0, 0] += 1.0
    write_h5ad(other, tmp_path / "other.h5ad")
    assert main(["evaluate", "--preset", "smoke", "--cohort", str(tmp_path / "other.h5ad"), "--model",
                 str(models["inplace"])]) == 2
    assert "trained in place on another cohort" in capsys.readouterr().err


def test_damaged_model_files(trained, tmp_path, capsys):
    base, cohort, models = trained
    raw = models["a"].read_bytes()
    cases = {"truncated.keras": raw[: len(raw) // 2]}
    with zipfile.ZipFile(models["a"]) as archive:
        entries = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    for name, drop in (("noconfig.keras", "config.json"), ("nometa.keras", None)):
        with zipfile.ZipFile(tmp_path / name, "w") as out:
            for entry, data in entries.items():
                if entry == drop:
                    continue
                out.writestr(entry, data if (entry != "gaingtex.json" or drop) else b"{not json")
    meta = json.loads(entries["gaingtex.json"])
    with zipfile.ZipFile(tmp_path / "format1.keras", "w") as out:  # saved before the format was recorded
        for entry, data in entries.items():
            old = {k: v for k, v in meta.items() if k != "format"}
            out.writestr(entry, json.dumps(old) if entry == "gaingtex.json" else data)
    meta["hashes"]["weights"] = "0" * 16
    with zipfile.ZipFile(tmp_path / "altered.keras", "w") as out:
        for entry, data in entries.items():
            out.writestr(entry, json.dumps(meta) if entry == "gaingtex.json" else data)
    with zipfile.ZipFile(models["a"]) as archive:
        info = archive.getinfo("model.weights.h5")
        flip = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    cases["crc.keras"] = raw[:flip] + bytes([raw[flip] ^ 0xFF]) + raw[flip + 1:]
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    for name, message in (("truncated.keras", "is not a gaingtex model archive"),
                          ("noconfig.keras", "the model archive is damaged"),
                          ("crc.keras", "Bad CRC-32 for file 'model.weights.h5'"),
                          ("nometa.keras", "is not a gaingtex model archive"),
                          ("altered.keras", "do not match the hash recorded"),
                          ("format1.keras", "holds a model of format 1, saved by an earlier gaingtex")):
        assert main(["evaluate", "--preset", "smoke", "--cohort", str(cohort), "--model",
                     str(tmp_path / name)]) == 2, name
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (name, err)
