"""The paper-size comparison's parts: ``gaingtex benchmark --scenarios/--deep-schedule``, the record's provenance,
and the book's reading of a committed record (:mod:`gaingtex.book.committed`)."""

import json
import platform

import pandas as pd
import pytest

from gaingtex.book import committed
from gaingtex.book.tables import display_summary, display_table
from gaingtex.cli import main
from gaingtex.config import DEEP_SCHEDULES, model_config, scheduled
from gaingtex.provenance import cpu_model


def test_a_schedule_changes_only_what_it_names():
    authors = model_config("paper", "gain", "inductive")
    cpu = scheduled(authors, "cpu")
    assert (cpu.hidden_layers, cpu.hidden_units, cpu.dropout) == (authors.hidden_layers, authors.hidden_units,
                                                                  authors.dropout)
    assert (cpu.batch_size, cpu.precision, cpu.max_epochs * cpu.steps_per_epoch) == (256, "bfloat16", 1000)
    assert scheduled(authors, "authors") == authors
    with pytest.raises(ValueError, match="deep schedule"):
        scheduled(authors, "fast")


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """A smoke-size comparison made as the paper-size one is: inductive only, deep models on the CPU schedule."""
    out = tmp_path_factory.mktemp("paper") / "paper-comparison.json"
    assert main(["benchmark", "--preset", "smoke", "--seeds", "0", "--gene-sets", "all", "--scenarios",
                 "inductive", "--deep-schedule", "cpu", "--methods", "mean", "oracle", "pmi", "factor-analysis",
                 "--budget", "300", "--no-intervals", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_the_record_says_what_made_it(record):
    assert record["scenarios"] == ["inductive"] and record["deep_schedule"] == "cpu"
    assert {r["scenario"] for r in record["results"]} == {"inductive"}
    assert record["intervals"] is False and not any("coverage_90" in r for r in record["results"])
    assert record["command"].startswith("gaingtex benchmark --preset smoke")
    assert "--deep-schedule cpu" in record["command"]
    assert record["commit"] is None or len(record["commit"].split("+")[0]) == 40
    pmi = next(r for r in record["results"] if r["method"] == "pmi")
    changes = DEEP_SCHEDULES["cpu"]
    assert (pmi["batch_size"], pmi["precision"]) == (changes["batch_size"], changes["precision"])
    assert pmi["steps"] <= changes["max_epochs"] * changes["steps_per_epoch"] and "search" not in pmi


def test_a_resume_refuses_another_schedule(record, tmp_path, capsys):
    partial = tmp_path / "run.partial.json"
    partial.write_text(json.dumps({**record, "deep_schedule": "authors"}))
    assert main(["benchmark", "--preset", "smoke", "--seeds", "0", "--gene-sets", "all", "--scenarios", "inductive",
                 "--deep-schedule", "cpu", "--methods", "mean", "--budget", "300", "--resume", str(partial), "--out",
                 str(tmp_path / "run.json")]) == 2
    assert "deep_schedule 'authors'" in capsys.readouterr().err


def test_the_page_repeats_only_the_record(record):
    text = committed.paper_scale_text(record)
    rows = {r["method"]: r for r in record["results"]}
    best = max((r for r in rows.values() if r["status"] == "ok" and r["method"] != "oracle"), key=lambda r: r["r2"])
    assert f"R² {best['r2']:.3f}" in text and committed.shown_command(record, committed.PAPER_COMPARISON) in text
    resumed = {**record, "command": "gaingtex benchmark --preset paper --resume /tmp/x/part.json --out /tmp/x/p.json"}
    shown = committed.shown_command(resumed, "p.json")
    assert shown == "gaingtex benchmark --preset paper --out benchmarks/results/p.json"
    assert "/tmp/" not in committed.paper_scale_text(resumed)
    assert record["machine"]["cpu"] and f"CPU cores ({record['machine']['cpu']}) in" in text
    assert "1,000 steps of 256" in text and "bfloat16" in text and "100,000 steps" in text
    beside = committed.beside_paper(record)
    assert beside.loc[beside["method"] == "per-tissue mean", "paper (real GTEx v8)"].item() == -0.023
    assert beside["this run (embedded cohort)"].iloc[-1] == pytest.approx(record["calibration"]["oracle_r2"])
    deep = committed.deep_training(record)
    assert list(deep["method"]) == ["PMI"] and 0 < deep["of matmul rate"].item() < 1.5
    assert committed.paper_scale_verdict(record).startswith(f"{committed.label(best['method'])} best")


def test_without_a_record_the_page_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(committed, "record_path", lambda name: None)
    assert committed.read_record(committed.PAPER_COMPARISON) is None
    assert "holds no committed" in committed.paper_scale_text(None)
    assert committed.paper_scale_verdict(None).startswith("not in this copy")
    bad = tmp_path / "paper-comparison.json"
    bad.write_text("{ not json")
    monkeypatch.setattr(committed, "record_path", lambda name: bad)
    with pytest.raises(ValueError, match="paper-comparison.json is not a benchmark record"):
        committed.read_record(committed.PAPER_COMPARISON)
    bad.write_text(json.dumps({"results": []}))
    with pytest.raises(ValueError, match="not a finished benchmark record"):
        committed.read_record(committed.PAPER_COMPARISON)


def test_the_committed_record_reads():
    record = committed.read_record(committed.PAPER_COMPARISON)  # a source checkout holds it
    assert record["cohort"]["genes"] == 12557 and record["deep_schedule"] == "cpu"
    text = committed.paper_scale_text(record)
    assert "Of the methods that learn from the data" in text
    assert f"on {record['machine']['cpus']} CPU cores" in text  # its processor where the record names it
    assert set(committed.deep_training(record)["method"]) == {"PMI", "GAIN-GTEx", "GAIN-MSE"}
    for table in (committed.beside_paper(record), committed.deep_training(record)):  # as notebook 08 shows them
        shown = display_table(table).to_html()
        assert "<table" in shown and ">nan<" not in shown  # the oracle has no paper value: a dash
    assert "<table" in display_summary(pd.DataFrame(record["summary"]), "all").to_html()


def test_a_record_names_the_processor(tmp_path):
    # timings from two sessions compare only on the same processor; a cloud machine names only its make
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
                    "model name\t: AMD EPYC\nflags\t\t: fpu: avx512f\n\nprocessor\t: 1\nmodel name\t: another\n")
    assert cpu_model(str(info)) == "AMD EPYC (cpu family 26, model 2)"
    assert cpu_model(str(tmp_path / "absent")) == (platform.processor() or platform.machine())
