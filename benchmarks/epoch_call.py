"""One epoch in one call: the deep models' epoch time with Keras' compiled step loop returning to Python after
every step (``steps_per_execution=1``) and after a whole epoch (what training does on one device).

    .venv/bin/python -m benchmarks.epoch_call --out benchmarks/results/epoch-call.json

PMI, GAIN-GTEx and GAIN-MSE at the ``book`` preset's configuration for each scenario (``--preset``), on the
embedded ``book`` cohort's 2,000 genes and on its 59-gene panel, trained ``--epochs`` epochs without the validation search, the two
settings in turn, ``--repeats`` times. An epoch's seconds are the median over epochs after the first (which
traces the step); the ratio is the per-step setting's over the per-epoch one's. The two must give the same
losses, epoch by epoch (``same_losses``): the same steps run, only where they are called from changes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from unittest.mock import patch

import numpy as np

from ._report import check_out, finish

MODELS = ("pmi", "gain", "gain-mse")


def train(name: str, scenario: str, data, epochs: int, whole: bool, preset: str = "book",
          graph_updates: bool = False):
    """One training of ``epochs`` epochs; returns its history. ``graph_updates``: the optimisers update the weights
    in the step's graph, as on a GPU, instead of in their own XLA-compiled update (a CPU's default)."""
    from gaingtex.config import model_config
    from gaingtex.imputers import get
    from gaingtex.imputers.deep import training

    build = training.build_model

    def built(*a, **k):
        model = build(*a, **{**k, "whole_epochs": whole})
        if graph_updates:
            model.fused_updates.clear()
        return model

    config = model_config(preset, name, scenario, data.train.x.shape[1]).replace(max_epochs=epochs, patience=epochs)
    with patch.object(training, "build_model", built):
        imputer = get(name, scenario=scenario, preset=preset, seed=0, config=config).fit(**data.fit_args())
    return imputer.history_


def embedded(preset: str):
    """Every core for TensorFlow (set before its first work), then the embedded cohort of ``preset``."""
    from gaingtex.data.embedded.cohort import make_cohort
    from gaingtex.imputers.deep.backend import use_threads

    use_threads()
    return make_cohort(preset, seed=0)


def training_data(adata, scenario: str, genes: str):
    """``scenario``'s data with half the entries missing (mask seed 0), on all genes or on the 59-gene panel."""
    from gaingtex.data.preprocessing import panel_genes
    from gaingtex.evaluation.scenarios import scenario_data

    return scenario_data(adata, scenario, 0.5, 0, panel_genes(adata.var_names) if genes == "panel" else None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="book", help="the embedded cohort and the models' configuration")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--genes", nargs="+", default=["all", "panel"], choices=["all", "panel"])
    parser.add_argument("--scenarios", nargs="+", default=["inductive", "inplace"])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    started = time.perf_counter()

    adata = embedded(args.preset)
    rows = []
    for genes in args.genes:
        for scenario in args.scenarios:
            data = training_data(adata, scenario, genes)
            for name in MODELS:
                seconds, losses = {True: [], False: []}, {}
                for _ in range(args.repeats):
                    for whole in (False, True):  # in turn, so that a slower spell slows both
                        history = train(name, scenario, data, args.epochs, whole, args.preset)
                        seconds[whole].append(float(np.median(history["seconds"].iloc[1:])))
                        losses[whole] = history["loss"].to_numpy()
                step, epoch = float(np.median(seconds[False])), float(np.median(seconds[True]))
                rows.append({"model": name, "scenario": scenario, "genes": genes, "n_genes": data.train.x.shape[1],
                             "epoch_seconds_per_step_call": step, "epoch_seconds_per_epoch_call": epoch,
                             "ratio": step / epoch, "runs": seconds[False] + seconds[True],
                             "same_losses": bool(np.array_equal(losses[False], losses[True]))})
                print(f"{genes:5s} {scenario:9s} {name:8s} {step:6.3f} s → {epoch:6.3f} s a epoch "
                      f"({step / epoch:.2f} ×), same losses: {rows[-1]['same_losses']}", flush=True)
    printed = "\n".join(f"| {r['model']} | {r['scenario']} | {r['n_genes']} | {r['epoch_seconds_per_step_call']:.3f} | "
                        f"{r['epoch_seconds_per_epoch_call']:.3f} | {r['ratio']:.2f} | {r['same_losses']} |"
                        for r in rows)
    command = "python -m benchmarks.epoch_call " + " ".join(argv if argv is not None else sys.argv[1:])
    return finish({"command": command, "preset": args.preset, "epochs": args.epochs, "repeats": args.repeats},
                  rows, started, printed, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
