"""Committed benchmark records that a page quotes: where they are (``benchmarks/results`` in a source checkout,
``gaingtex/_results`` in a wheel), and what they say, as tables and sentences that repeat only the record.

A record too large to rerun in a book build, such as the comparison at the paper's size, is read here rather than
recomputed; the page names the command and the commit that made it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import DEEP_SCHEDULES, model_config
from ..evaluation.runtime import PAPER_MISSFOREST
from ..imputers.registry import label, spec

PAPER_COMPARISON = "paper-comparison.json"

# The paper's inductive R² at 50 % missing on 12,557 genes, extended test set (paper.md, "Numbers to set beside
# ours"); GAIN-GTEx's and GAIN-MSE's as the preprint's code gives them.
PAPER_R2 = {"gain": 0.660, "gain-mse": 0.650, "mean": -0.023, "median": -0.025, "blood-surrogate": -0.92}


def record_path(name: str) -> Path | None:
    """The committed record ``name`` (e.g. :data:`PAPER_COMPARISON`), or ``None`` where this copy has none."""
    here = Path(__file__).resolve().parents[1]  # the gaingtex package
    for candidate in (here / "_results" / name, here.parent / "benchmarks" / "results" / name):
        if candidate.is_file():
            return candidate
    return None


def read_record(name: str) -> dict | None:
    """A committed record as a dict, ``None`` where this copy has none; a file that is not JSON is an error that
    names it."""
    path = record_path(name)
    if path is None:
        return None
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a benchmark record ({err})") from None
    if not isinstance(record, dict) or "summary" not in record:
        raise ValueError(f"{path} is not a finished benchmark record (it has no summary)")
    return record


def _rows(record: dict) -> pd.DataFrame:
    """The record's inductive rows on all genes, one per method (the first seed's)."""
    rows = pd.DataFrame(record["results"])
    rows = rows[(rows["scenario"] == "inductive") & (rows["genes"] == "all") & (rows["seed"] == record["seed"])]
    return rows.set_index("method")


def _learnt(rows: pd.DataFrame) -> pd.DataFrame:
    """The finished rows of methods that learn from the data (not the oracle, which is handed the truth's law),
    best first."""
    learns = np.array([spec(name).role != "ceiling" for name in rows.index], dtype=bool)
    ok = rows[(rows["status"] == "ok").to_numpy() & learns]
    return ok.sort_values("r2", ascending=False)


def beside_paper(record: dict) -> pd.DataFrame:
    """The paper's inductive R² beside the record's, for the methods the paper reported, with the oracle's."""
    rows = _rows(record)
    out = []
    for name, paper in PAPER_R2.items():
        if name in rows.index:
            r2 = rows.loc[name].get("r2")
            out.append({"method": label(name), "paper (real GTEx v8)": paper,
                        "this run (embedded cohort)": None if pd.isna(r2) else float(r2)})
    oracle = record.get("calibration", {}).get("oracle_r2")
    if oracle is not None:
        out.append({"method": "oracle (the cohort's exact posterior)", "paper (real GTEx v8)": None,
                    "this run (embedded cohort)": float(oracle)})
    return pd.DataFrame(out)


def deep_training(record: dict) -> pd.DataFrame:
    """How each deep model trained in the record: its network, batches, steps, precision, fit seconds and
    training throughput as a fraction of the run's own matmul rate."""
    rows = _rows(record)
    deep = rows[rows["hidden"].notna()] if "hidden" in rows else rows.iloc[:0]
    return pd.DataFrame([{"method": label(name), "hidden": r["hidden"], "batch": int(r["batch_size"]),
                          "steps": int(r["steps"]), "best epoch": int(r["best_epoch"]), "precision": r["precision"],
                          "fit s": float(r["fit_seconds"]), "of matmul rate": float(r["matmul_fraction"])}
                         for name, r in deep.iterrows() if r.get("status") == "ok"])


def _schedule_words(record: dict) -> str:
    """What the record's deep schedule kept of the authors' and what it cut (from the configuration itself)."""
    schedule = record.get("deep_schedule", "authors")
    authors = model_config("paper", "pmi", "inductive")
    if schedule == "authors":
        return "The deep models trained on the authors' schedule."
    changes = DEEP_SCHEDULES[schedule]
    steps = changes.get("max_epochs", authors.max_epochs) * changes.get("steps_per_epoch", authors.steps_per_epoch)
    return (f"The deep models kept the authors' widths and dropout, but not their schedule, which a 2-core CPU "
            f"cannot finish at this size: batches of {authors.batch_size}, up to "
            f"{authors.max_epochs * authors.steps_per_epoch:,} steps with a patience of {authors.patience} epochs. "
            f"They trained on the `{schedule}` schedule instead (`gaingtex.config.DEEP_SCHEDULES`): at most "
            f"{steps:,} steps of {changes.get('batch_size', authors.batch_size)} at a learning rate of "
            f"{changes.get('learning_rate', authors.learning_rate):g} with {changes.get('lr_decay', 'constant')} "
            f"decay, in {changes.get('precision', 'float32')}, without a search. Their R² is therefore a lower bound "
            "on what the authors' schedule would give." + _faster_than_matmul(changes))


def _faster_than_matmul(changes: dict) -> str:
    if changes.get("precision") != "bfloat16":
        return ""
    return (" In bfloat16 a training step can outrun the float32 matmul rate it is measured against, so that "
            "fraction can exceed 1.")


def shown_command(record: dict, name: str) -> str:
    """The record's command as a page shows it: without the paths of the machine that ran it (``--resume`` is left
    out, the page says in how many parts the run was made; ``--out`` is the committed file)."""
    import shlex

    words = shlex.split(record.get("command") or "gaingtex benchmark --preset paper")
    shown, skip = [], False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        if word == "--resume":
            skip = True
            continue
        shown.append(f"benchmarks/results/{name}" if i and words[i - 1] == "--out" else word)
    return shlex.join(shown)


def _cores(machine: dict) -> str:
    """"2 CPU cores", with the processor where the record names it (records before it did not)."""
    return f"{machine['cpus']} CPU cores" + (f" ({machine['cpu']})" if machine.get("cpu") else "")


def paper_scale_text(record: dict | None) -> str:
    """The paragraph that introduces the committed paper-scale comparison (Markdown), or says that this copy has
    none; every number comes from the record."""
    if record is None:
        return (f"This copy of gaingtex holds no committed `{PAPER_COMPARISON}`, so the comparison at the paper's "
                "size is not shown here. `gaingtex benchmark --preset paper` makes it.")
    cohort, rows = record["cohort"], _rows(record)
    resumed = record.get("resumed", [])
    wall = record["wall_seconds"] + sum(part.get("wall_seconds") or 0.0 for part in resumed)
    parts = f" in {len(resumed) + 1} parts (`--resume`)" if resumed else ""
    # the preset's generated cohort unless the run was given a file (``--cohort``)
    where = (f" of the `{record['preset']}` preset's embedded cohort" if record.get("cohort_source") == "cohort"
             else f" of `{record.get('cohort_source')}`")
    ok = _learnt(rows)
    best = ok.index[0]
    text = (f"The comparison at the paper's size comes from a committed record, `benchmarks/results/"
            f"{PAPER_COMPARISON}`, made by `{shown_command(record, PAPER_COMPARISON)}` at commit "
            f"`{(record.get('commit') or 'unrecorded')[:12]}` on {_cores(record['machine'])} in "
            f"{wall / 3600:.1f} h{parts}: {cohort['samples']:,} samples × {cohort['genes']:,} genes{where}, "
            f"inductive, half of the test donors' entries hidden, one mask seed. It is not rerun when the book "
            f"builds. Of the methods that learn from the data, {label(best)} scores best there (R² "
            f"{ok.loc[best, 'r2']:.3f}")
    oracle = record.get("calibration", {}).get("oracle_r2")
    text += f", {ok.loc[best, 'r2'] / oracle:.2f} of the oracle's {oracle:.3f}" if oracle else ""
    if len(ok) > 1:
        text += f"), ahead of {label(ok.index[1])} ({ok['r2'].iloc[1]:.3f})."
    else:
        text += ")."
    if "pmi" in ok.index and best != "pmi":
        text += f" PMI scores {ok.loc['pmi', 'r2']:.3f}."
    stopped = rows[rows["status"] != "ok"]
    if len(stopped):
        text += (" Stopped by the budget of " f"{record['budget']:.0f} s, each with its projected time where it "
                 f"measured one: {', '.join(label(m) for m in stopped.index)}. The paper's MissForest took about "
                 f"{PAPER_MISSFOREST['seconds'] / 3600:.1f} h on {PAPER_MISSFOREST['samples']:,} samples of this "
                 "size.")
    return text + " " + _schedule_words(record)


def paper_scale_verdict(record: dict | None) -> str:
    """One cell of the paper page: the best method at the paper's size and the deep models' R², from the record."""
    if record is None:
        return "not in this copy (no committed record)"
    ok = _learnt(_rows(record))
    parts = [f"{label(ok.index[0])} best, R² {ok['r2'].iloc[0]:.3f}"]
    parts += [f"{label(m)} {ok.loc[m, 'r2']:.3f}" for m in ("pmi", "gain") if m in ok.index and m != ok.index[0]]
    oracle = record.get("calibration", {}).get("oracle_r2")
    tail = f" (oracle {oracle:.3f}; committed run, notebook 08)" if oracle is not None else " (committed run)"
    return "; ".join(parts) + tail
