"""Faults a careless user or a cluster causes: bad seeds, bad output paths, full disks, SIGTERM and killed runs.
Each gets one line naming the path or value, and no finished work or half-written file is left behind."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gaingtex._outputs import Rescued
from gaingtex._io import atomic_path, remove_stale
from gaingtex.cli import main


@pytest.mark.parametrize("command", [["cohort", "--out", "x.h5ad"], ["train", "--model", "pmi", "--out", "m.keras"],
                                     ["benchmark", "--out", "b.json"], ["book"],
                                     ["impute", "--method", "mean", "--input", "a.csv", "--output", "b.csv"]])
@pytest.mark.parametrize("value, message", [("100000000000000000000000000", "outside 0 … 4294967295"),
                                            ("-1", "outside 0 …"), ("1.5", "is not a whole number")])
def test_every_command_takes_the_same_seeds(command, value, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--seed", value])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_bad_output_paths_are_refused_before_any_work(tmp_path, capsys):
    locked = tmp_path / "locked.h5ad"
    locked.write_text("")
    locked.chmod(0o444)
    a_file = tmp_path / "file"
    a_file.write_text("")
    cases = [(tmp_path, "is a directory"), (a_file / "x.h5ad", "is a file, not a folder")]
    if os.geteuid() != 0:  # root may write a read-only file
        cases.append((locked, "read-only"))
    for out, message in cases:
        assert main(["cohort", "--preset", "smoke", "--out", str(out)]) == 2
        assert message in capsys.readouterr().err


def test_a_full_disk_keeps_the_finished_work(tmp_path, monkeypatch, capsys):
    import errno

    from gaingtex.data import h5ad

    target = tmp_path / "out" / "cohort.h5ad"
    real = h5ad.write_h5ad

    def full(adata, path):
        if Path(path) == target:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(adata, path)

    monkeypatch.setattr("gaingtex.data.write_h5ad", full)
    monkeypatch.chdir(tmp_path)
    assert main(["cohort", "--preset", "smoke", "--out", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "cohort.rescued.h5ad" in err
    assert (tmp_path / "cohort.rescued.h5ad").is_file() and not target.exists()

    def broken(adata, path):
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr("gaingtex.data.write_h5ad", broken)
    assert main(["cohort", "--preset", "smoke", "--out", str(target)]) == 1
    assert "nor a copy in" in capsys.readouterr().err
    with pytest.raises(Rescued, match="Input/output error"):  # --debug: the traceback, not one line
        main(["--debug", "cohort", "--preset", "smoke", "--out", str(target)])


def test_sigterm_removes_the_temporary_file(tmp_path):
    script = (f"import os, signal, time\nfrom gaingtex import cli\nfrom gaingtex._io import atomic_path\n"
              f"signal.signal(signal.SIGTERM, cli._terminate)\n"
              f"with atomic_path({str(tmp_path / 'out.json')!r}) as tmp:\n"
              f"    tmp.write_text('half')\n    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(30)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_a_killed_runs_temporary_file_is_removed_by_the_next(tmp_path):
    target = tmp_path / "cohort.h5ad"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".cohort.h5ad.gaingtex-{int(dead.stdout)}-abc123.h5ad"
    live = tmp_path / f".cohort.h5ad.gaingtex-{os.getpid()}-def456.h5ad"  # a run still writing: left alone
    stale.write_text("half")
    live.write_text("half")
    with atomic_path(target, suffix=".h5ad") as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and not stale.exists() and live.exists()
    assert remove_stale(target, ".h5ad") == []


def test_a_missing_covariate_is_called_missing_not_unseen(smoke_prepared):
    from gaingtex.data import CovariateEncoder

    obs = smoke_prepared.train.obs.copy()
    encoder = CovariateEncoder.fit(obs)
    obs["sex"] = obs["sex"].astype(object)
    obs.iloc[0, obs.columns.get_loc("sex")] = None
    with pytest.raises(ValueError, match=r"'sex' is missing for 1 samples \(e\.g\. GTEX-"):
        encoder.encode(obs)


def test_a_folder_given_as_a_file_is_called_a_folder(tmp_path, capsys):
    assert main(["evaluate", "--preset", "smoke", "--model", str(tmp_path)]) == 2
    assert "is a folder, not a saved gaingtex model" in capsys.readouterr().err
    assert main(["evaluate", "--preset", "smoke", "--cohort", str(tmp_path), "--model", "m.keras"]) == 2
    assert "is a folder, not an .h5ad file" in capsys.readouterr().err


@pytest.mark.parametrize("rate, message", [("0", "with nothing hidden there is nothing to score"),
                                           ("0.99", "hides almost everything")])
def test_missing_rates_that_score_nothing_or_hide_everything(rate, message, tmp_path, capsys):
    assert main(["train", "--preset", "smoke", "--model", "pmi", "--scenario", "inplace", "--missing-rate", rate,
                 "--out", str(tmp_path / "never.keras")]) == 2
    assert message in capsys.readouterr().err
