"""R² and time of a deep model against the length of its training schedule, on the book cohort, without the
validation search: the evidence for the `book` preset's number of steps.

    python -m benchmarks.schedule [--out benchmarks/results/schedule.json] [--cohort runs/book-seed0/cohort.h5ad]
                                  [--schedules 40x100x256 20x100x256 20x50x256 20x100x128]

Each case trains one configuration for each schedule (epochs × steps per epoch × batch size; the cosine decay
spans the schedule) at seed 0 and scores it on the scenario's masked entries. Epochs only count the steps: 20 × 50
and 10 × 100 give the same model. R² does not depend on the machine; the seconds do, and are comparable only
within one run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._report import check_out, machine, write

CASES = [("pmi", "inductive", 512), ("gain-mse", "inplace", 128)]  # the widths the book's search chose
SCHEDULES = ["40x100x256", "20x100x256", "20x50x256", "20x100x128"]  # 4,000, 2,000 and 1,000 steps; half batches


def schedule(text: str) -> tuple[int, int, int]:
    """``EPOCHSxSTEPSxBATCH`` as three positive integers."""
    parts = text.split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"schedule {text!r}: expected EPOCHSxSTEPSxBATCH, e.g. 20x100x256")
    return tuple(int(p) for p in parts)


def run(adata, schedules: list[tuple[int, int, int]]) -> list[dict]:
    """One row per case and schedule: R², seconds and best step of the case's model trained on that schedule."""
    from gaingtex.config import model_config
    from gaingtex.evaluation import scoring
    from gaingtex.evaluation.scenarios import scenario_data
    from gaingtex.imputers import get

    rows = []
    for model, scenario, units in CASES:
        data = scenario_data(adata, scenario, 0.5, 0)
        for epochs, steps, batch in schedules:
            config = model_config("book", model, scenario, adata.n_vars).replace(
                hidden_units=units, max_epochs=epochs, steps_per_epoch=steps, batch_size=batch,
                patience=max(5, epochs // 4))
            imputer = get(model, scenario=scenario, config=config, seed=0)
            t0 = time.perf_counter()
            imputer.fit(**data.fit_args())
            seconds = time.perf_counter() - t0
            r2 = float(scoring.evaluate({model: imputer}, data)["r2"].iloc[0])
            rows.append({"model": model, "scenario": scenario, "hidden": f"{config.hidden_layers}x{units}",
                         "epochs": epochs, "steps_per_epoch": steps, "batch_size": batch, "steps": epochs * steps,
                         "fit_seconds": seconds, "r2": r2, "best_epoch": imputer.best_epoch_,
                         "best_step": imputer.best_epoch_ * steps})
            print(f"{model:8} {scenario:9} {epochs:3} × {steps:3} steps of {batch:3}   R² {r2:.4f}   best step "
                  f"{rows[-1]['best_step']:5}   {seconds:6.0f} s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/schedule.json"))
    parser.add_argument("--cohort", default="runs/book-seed0/cohort.h5ad",
                        help="a book-preset cohort (`gaingtex cohort --preset book`)")
    parser.add_argument("--schedules", nargs="+", type=schedule, default=[schedule(s) for s in SCHEDULES],
                        metavar="EPOCHSxSTEPSxBATCH")
    args = parser.parse_args(argv)
    check_out(args.out)
    from gaingtex.imputers.deep.backend import use_threads

    use_threads()  # every core, before any TensorFlow work
    import anndata as ad

    rows = run(ad.read_h5ad(args.cohort), args.schedules)
    command = "python -m benchmarks.schedule --schedules " + " ".join("x".join(map(str, s)) for s in args.schedules)
    write({"command": command, "cohort": args.cohort, "rows": rows, "machine": machine()}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
