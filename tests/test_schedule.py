"""The book's steps side by side (gaingtex.book.schedule): order, held cores, failures."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gaingtex.book.schedule import THREAD_VARIABLES, core_shares, cores, run_steps

TWO_CORES = pytest.mark.skipif(len(cores()) < 2, reason="steps side by side need two cores")


@dataclass(frozen=True)
class Task:
    output: str
    after: tuple[str, ...] = ()
    shares: bool = False
    seconds: float = 0.0
    fails: bool = False


def record(task: Task, folder: str) -> None:
    """A step: writes when it ran, in which process, on which processors and with which thread variables."""
    start = time.time()
    time.sleep(task.seconds)
    if task.fails:
        raise ValueError(f"step {task.output} failed on purpose")
    env = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    Path(folder, f"{task.output}.json").write_text(json.dumps(
        {"start": start, "end": time.time(), "pid": os.getpid(), "cores": sorted(os.sched_getaffinity(0)),
         "env": env}))


def schedule(tasks, folder: Path, jobs: int):
    seen = []
    run_steps(tasks, record, lambda t: (t, str(folder)), jobs, started=lambda t: seen.append(("start", t.output)),
              finished=lambda t, s: seen.append(("end", t.output, s)))
    ran = {t.output: json.loads((folder / f"{t.output}.json").read_text()) for t in tasks
           if (folder / f"{t.output}.json").is_file()}
    return ran, seen


def test_core_shares_split_the_processors_without_overlap():
    mine = cores()
    shares = core_shares(2)
    assert len(shares) == min(2, len(mine))
    assert sorted(c for share in shares for c in share) == mine
    assert core_shares(1) == [tuple(mine)]
    assert len(core_shares(len(mine) + 5)) == len(mine)


@TWO_CORES
def test_shared_steps_run_side_by_side_each_held_to_its_cores_and_the_others_alone(tmp_path):
    tasks = [Task("first"), Task("a", ("first",), True, 1.5), Task("b", ("first",), True, 1.5),
             Task("c", ("a",), True, 0.2), Task("alone", ("a", "b", "c")), Task("last", ("alone",), True)]
    ran, seen = schedule(tasks, tmp_path, jobs=2)
    assert set(ran) == {t.output for t in tasks}
    here = os.getpid()
    assert ran["first"]["pid"] == here and ran["alone"]["pid"] == here  # alone: in this process, every core
    assert ran["alone"]["cores"] == cores()
    for name in ("a", "b", "c", "last"):
        assert ran[name]["pid"] != here
        assert len(ran[name]["cores"]) == len(cores()) // 2 or len(ran[name]["cores"]) == len(cores()) - len(cores()) // 2
        assert ran[name]["env"]["TF_NUM_INTRAOP_THREADS"] == str(len(ran[name]["cores"]))
    assert set(ran["a"]["cores"]).isdisjoint(ran["b"]["cores"])
    assert ran["a"]["start"] < ran["b"]["end"] and ran["b"]["start"] < ran["a"]["end"]  # side by side
    assert ran["c"]["start"] >= ran["a"]["end"]  # after what it waits for
    assert ran["alone"]["start"] >= max(ran[n]["end"] for n in "abc")
    assert ran["last"]["start"] >= ran["alone"]["end"]
    assert [e[1] for e in seen if e[0] == "end"][-1] == "last"
    assert sorted(os.sched_getaffinity(0)) == cores() == ran["first"]["cores"]  # this process is not held


def test_one_job_runs_every_step_in_this_process_in_order(tmp_path):
    tasks = [Task("first"), Task("a", ("first",), True), Task("b", ("first",), True), Task("last", ("a", "b"))]
    ran, seen = schedule(tasks, tmp_path, jobs=1)
    assert {r["pid"] for r in ran.values()} == {os.getpid()}
    assert [e[1] for e in seen if e[0] == "start"] == ["first", "a", "b", "last"]


@TWO_CORES
def test_a_failed_step_is_raised_and_no_later_step_starts(tmp_path):
    tasks = [Task("first"), Task("bad", ("first",), True, 0.2, fails=True), Task("slow", ("first",), True, 1.0),
             Task("after", ("bad",), True), Task("last", ("slow", "after"))]
    with pytest.raises(ValueError, match="step bad failed on purpose"):
        schedule(tasks, tmp_path, jobs=2)
    assert (tmp_path / "slow.json").is_file()  # the step beside it finished
    assert not (tmp_path / "after.json").exists() and not (tmp_path / "last.json").exists()


@TWO_CORES
def test_steps_that_wait_on_each_other_are_refused(tmp_path):
    tasks = [Task("a", ("b",), True), Task("b", ("a",), True)]
    with pytest.raises(RuntimeError, match="steps wait on each other: a, b"):
        schedule(tasks, tmp_path, jobs=2)
