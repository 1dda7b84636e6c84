"""Two trainings one after the other, or side by side: what `gaingtex book` gains by running its trainings two at a
time, each held to its share of the cores (gaingtex.book.schedule).

    .venv/bin/python -m benchmarks.side_by_side --cohort runs/book-seed0/cohort.h5ad --model gain-mse \
        --scenario inplace --out benchmarks/results/side-by-side.json

Trains the same model (`gaingtex train`, the preset's search included) twice in three ways, each timed as a whole:
one after the other on every core; side by side, each held to one share of the cores (as the book does); side by
side, each free to use every core. `--repeats` runs the three in turn that many times (the machine's speed drifts
within minutes: the turns spread it over all three); each row holds every time, its median and its ratio to the
median of the first. It also compares the weights that every training wrote with those of the first training on
every core (the largest absolute difference). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from gaingtex.book.schedule import core_shares, hold

from ._report import check_out, finish


def train(cohort: Path, model: str, scenario: str, preset: str, out: Path, share=None) -> subprocess.Popen:
    """``gaingtex train`` in a process of its own, held to ``share`` as the book holds its steps when given."""
    command = [sys.executable, "-m", "gaingtex", "train", "--preset", preset, "--cohort", str(cohort), "--model",
               model, "--scenario", scenario, "--out", str(out), "--fresh"]
    held = None if share is None else (lambda: hold(share))
    return subprocess.Popen(command, preexec_fn=held, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed(processes) -> float:
    """Seconds until every process has ended; an error if one failed."""
    t0 = time.perf_counter()
    for p in processes:
        if p.wait() != 0:
            raise SystemExit(f"error: {' '.join(p.args)} failed with status {p.returncode}")
    return time.perf_counter() - t0


def weights(path: Path) -> list[np.ndarray]:
    """Every array of a saved Keras model's weights file."""
    import h5py

    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        out = []
        f.visititems(lambda name, item: out.append(np.asarray(item)) if isinstance(item, h5py.Dataset) else None)
        return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, required=True, help="a cohort .h5ad (a book run folder's)")
    parser.add_argument("--model", default="gain-mse")
    parser.add_argument("--scenario", default="inplace")
    parser.add_argument("--preset", default="book")
    parser.add_argument("--repeats", type=int, default=3, help="turns of the three settings (default 3)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    if args.repeats < 1:
        raise SystemExit(f"error: --repeats must be at least 1, not {args.repeats}")
    if not args.cohort.is_file():
        raise SystemExit(f"error: --cohort {args.cohort} does not exist")
    shares = core_shares(2)
    if len(shares) < 2:
        raise SystemExit("error: side by side needs two cores or more")
    started = time.perf_counter()
    times = {"alone": [], "held": [], "free": []}
    difference = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        path = lambda name: Path(tmp) / f"{name}.keras"  # noqa: E731
        fit = lambda name, share=None: train(args.cohort, args.model, args.scenario, args.preset, path(name), share)  # noqa: E731
        for turn in range(args.repeats):
            times["alone"].append(timed([fit(f"alone-{turn}-1")]) + timed([fit(f"alone-{turn}-2")]))
            times["held"].append(timed([fit(f"held-{turn}-1", shares[0]), fit(f"held-{turn}-2", shares[1])]))
            times["free"].append(timed([fit(f"free-{turn}-1"), fit(f"free-{turn}-2")]))
            reference = weights(path("alone-0-1"))
            for name in [f"{k}-{turn}-{i}" for k in times for i in (1, 2)]:
                difference = max([difference] + [float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
                                                  for a, b in zip(reference, weights(path(name)))])
    labels = {"alone": "one after the other, every core", "held": "side by side, each held to its share",
              "free": "side by side, each on every core"}
    base = float(np.median(times["alone"]))
    rows = [{"setting": labels[k], "seconds": float(np.median(v)), "ratio": float(np.median(v)) / base,
             "all_seconds": v} for k, v in times.items()]
    table = "\n".join(f"{r['setting']:<40} {r['seconds']:7.1f} s  {r['ratio']:.2f} ×  "
                      f"({', '.join(f'{t:.0f}' for t in r['all_seconds'])})" for r in rows)
    table += f"\nlargest weight difference from the first training: {difference:g}"
    fields = {"command": "python -m benchmarks.side_by_side " + " ".join(sys.argv[1:] if argv is None else argv),
              "model": args.model, "scenario": args.scenario, "preset": args.preset, "shares": shares,
              "repeats": args.repeats,
              "largest_weight_difference": difference}
    return finish(fields, rows, started, table, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
