"""The same training every run: each deep model trained ``--runs`` times over in one process, on a machine kept
busy, with TensorFlow's graph optimiser (Grappler) as the package sets it and with its dependency optimiser on.

    .venv/bin/python -m benchmarks.determinism --out benchmarks/results/determinism.json

Each run trains ``--models`` (PMI, GAIN-GTEx, GAIN-MSE) from the same seed on the embedded ``--preset`` cohort's
59-gene panel, in place (``--scenario``), for ``--epochs`` epochs without the validation search, an epoch's steps
in one call and one call per step in turn (both paths of :mod:`benchmarks.epoch_call`), with the optimisers'
updates XLA-compiled alone (``--updates compiled``, a CPU's default) or in the step's graph (``graph``, as on a
GPU). Every core but one runs a matrix-multiply loop in another process meanwhile (``--no-load`` to leave them
idle): on an idle machine the differences this looks for came too rarely to see. A setting passes when every run
gives the same losses, epoch by epoch, to the bit (``distinct_histories`` 1).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ._report import check_out, finish

MODELS = ("pmi", "gain", "gain-mse")
SETTINGS = ("package", "dependency-optimiser-on")
_LOAD = "import numpy as np\na = np.random.default_rng(0).random((1500, 1500))\nwhile True:\n    a @ a\n"


def busy(cores: int) -> list[subprocess.Popen]:
    """``cores`` processes, each multiplying matrices until it is killed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return [subprocess.Popen([sys.executable, "-c", _LOAD], env=env) for _ in range(cores)]


def apply(setting: str, package: dict) -> None:
    """Grappler's options for the graphs traced from now on: the package's own (``package``, as its import left
    them), or those with the dependency optimiser back on."""
    import tensorflow as tf

    tf.config.optimizer.set_experimental_options(package if setting == "package"
                                                 else {**package, "dependency_optimization": True})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="smoke", help="the embedded cohort and the models' configuration")
    parser.add_argument("--scenario", default="inplace", choices=["inductive", "inplace"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--updates", nargs="+", default=["compiled"], choices=["compiled", "graph"])
    parser.add_argument("--runs", type=int, default=15, help="trainings per model and setting, each path")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--no-load", action="store_true", help="leave the other cores idle")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    started = time.perf_counter()

    import tensorflow as tf

    from .epoch_call import embedded, train, training_data

    data = training_data(embedded(args.preset), args.scenario, "panel")  # imports the deep models: their options
    package = tf.config.optimizer.get_experimental_options()
    load = [] if args.no_load else busy(max(1, (os.cpu_count() or 2) - 1))
    rows = []
    try:
        for setting in args.settings:
            apply(setting, package)
            for updates, name in ((u, m) for u in args.updates for m in args.models):
                tick = time.perf_counter()
                histories = [tuple(train(name, args.scenario, data, args.epochs, whole, args.preset,
                                         updates == "graph")["loss"])
                             for _ in range(args.runs) for whole in (False, True)]
                counts = Counter(histories)
                common = np.array(counts.most_common(1)[0][0])
                spread = max(float(np.max(np.abs(np.array(h) - common) / np.abs(common))) for h in counts)
                rows.append({"setting": setting, "updates": updates, "model": name, "trainings": len(histories),
                             "distinct_histories": len(counts), "most_common_count": counts.most_common(1)[0][1],
                             "largest_relative_difference": spread, "losses": [list(h) for h in counts],
                             "seconds": time.perf_counter() - tick})
                print(f"{setting:24s} {updates:8s} {name:8s} {len(counts)} distinct of {len(histories)} "
                      f"(largest relative difference {spread:.1e})", flush=True)
    finally:
        for process in load:
            process.kill()
            process.wait()
    printed = "\n".join(f"| {r['setting']} | {r['updates']} | {r['model']} | {r['trainings']} | "
                        f"{r['distinct_histories']} | {r['largest_relative_difference']:.1e} |" for r in rows)
    command = "python -m benchmarks.determinism " + " ".join(argv if argv is not None else sys.argv[1:])
    return finish({"command": command, "preset": args.preset, "scenario": args.scenario, "epochs": args.epochs,
                   "runs": args.runs, "load_processes": len(load)}, rows, started, printed, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
