"""The linear methods at a given cohort size: `gaingtex impute` in place, one method per fresh process.

    .venv/bin/python -m benchmarks.linear_scale --genes 2000 --out benchmarks/results/linear-scale-2000.json

The embedded cohort of ``--preset`` (default ``paper``: 15,201 GTEx samples) is generated with ``--genes`` genes
(its GTEx samples only, the shifted cohorts left out), ``--missing`` of its entries are hidden completely at random
(seeded), and it is written to a temporary .h5ad. Each method then runs in a new process, as ``gaingtex impute``
would: read the file, :func:`gaingtex.impute.impute_cohort` (a donor-grouped validation share, fit, transform),
and its wall-clock seconds and peak resident memory (``ru_maxrss``, the file's own matrix included) are recorded.
The imputed values are scored against the hidden truth afterwards: R² over all hidden entries, each gene centred
on its hidden values' mean. Prints a table and writes JSON: one row per method with seconds, peak GiB, R² and the
per-tissue mean's R² beside it. A method that raises (memory, a budget) gets its error in the row.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from gaingtex._io import write_json

from ._report import check_out, machine, write

METHODS = ("mean", "factor-analysis", "gaussian", "gaussian-pooled", "softimpute")


def make_input(preset: str, genes: int, samples: int | None, missing: float, seed: int, folder: Path) -> dict:
    """The masked cohort (``input.h5ad``) and the truth of its hidden entries (``truth.npy``, ``hidden.npy``)."""
    from gaingtex.config import cohort_config
    from gaingtex.data import GTEX
    from gaingtex.data.embedded.cohort import make_cohort
    from gaingtex.data.masks import missing_mask, stream

    cohort = make_cohort(preset, seed=seed, config=replace(cohort_config(preset), n_genes=genes))
    cohort = cohort[cohort.obs["cohort"].astype(str).to_numpy() == GTEX].copy()
    rng = stream(seed, "scaling")
    if samples is not None and samples < cohort.n_obs:
        keep = np.sort(rng.choice(cohort.n_obs, samples, replace=False))
        cohort = cohort[keep].copy()
    del cohort.uns["generator"]  # the oracle is not timed here; the file stays the size a user's would be
    x = np.asarray(cohort.X, dtype=np.float32)
    mask = missing_mask(*x.shape, missing, rng) > 0
    hidden = ~mask & ~np.isnan(x)
    np.save(folder / "truth.npy", x[hidden])
    np.save(folder / "hidden.npy", np.flatnonzero(hidden.ravel()))
    cohort.X = np.where(mask, x, np.nan).astype(np.float32)
    cohort.write_h5ad(folder / "input.h5ad")
    return {"samples": int(cohort.n_obs), "genes": int(cohort.n_vars), "missing": float(1 - mask.mean())}


def _run(method: str, folder: str, seed: int, queue) -> None:
    """In a fresh process: read, impute, time; the peak memory is this process's."""
    import resource

    import anndata as ad

    from gaingtex.impute import impute_cohort

    try:
        t0 = time.perf_counter()
        adata = ad.read_h5ad(Path(folder) / "input.h5ad")
        result = impute_cohort(adata, method, preset="paper", seed=seed)
        seconds = time.perf_counter() - t0
        np.save(Path(folder) / f"{method}.npy", np.asarray(result.X).ravel()[np.load(Path(folder) / "hidden.npy")])
        row = {"seconds": seconds}
    except Exception as error:  # noqa: BLE001 - a method that fails is a row of the table, not the end of it
        row = {"error": f"{type(error).__name__}: {error}"}
    row["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    queue.put(row)


def r2(truth: np.ndarray, prediction: np.ndarray, hidden: np.ndarray, genes: int) -> float:
    """1 − SSE/SST over the hidden entries, SST about each gene's mean of its hidden values."""
    column = hidden % genes
    count = np.bincount(column, minlength=genes)
    means = np.bincount(column, truth, minlength=genes) / np.maximum(count, 1)
    return float(1 - ((truth - prediction) ** 2).sum() / ((truth - means[column]) ** 2).sum())


def run(preset: str, genes: int, samples: int | None, methods: list[str], missing: float, seed: int,
        on_row=None) -> dict:
    """Every method on one generated input; ``on_row(shape, rows)`` after each method (partial results)."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="linear-scale-") as folder:
        t0 = time.perf_counter()
        shape = make_input(preset, genes, samples, missing, seed, Path(folder))
        shape["generate_seconds"] = time.perf_counter() - t0
        truth, hidden = np.load(Path(folder) / "truth.npy"), np.load(Path(folder) / "hidden.npy")
        rows = []
        for method in methods:
            queue = context.Queue()
            process = context.Process(target=_run, args=(method, folder, seed, queue))
            process.start()
            process.join()
            row = {"method": method, **(queue.get() if not queue.empty() else
                                        {"error": f"process ended with code {process.exitcode}"})}
            if "error" not in row:
                row["r2"] = r2(truth, np.load(Path(folder) / f"{method}.npy"), hidden, shape["genes"])
            rows.append(row)
            if on_row is not None:
                on_row(shape, rows)
            print(f"{method}: {row.get('seconds', float('nan')):.0f} s, {row['peak_gib']:.1f} GiB, "
                  f"R² {row.get('r2', float('nan')):.4f} {row.get('error', '')}", flush=True)
    mean = next((r["r2"] for r in rows if r["method"] == "mean" and "r2" in r), None)
    for row in rows:
        row["mean_r2"] = mean
    return {**shape, "results": rows}


def table(result: dict) -> str:
    lines = [f"{result['samples']} samples × {result['genes']} genes, {result['missing']:.0%} missing",
             "| method | seconds | peak GiB | R² | per-tissue mean's R² |", "|---|---|---|---|---|"]
    for r in result["results"]:
        seconds = f"{r['seconds']:.0f}" if "seconds" in r else r.get("error", "")
        score = f"{r['r2']:.4f}" if "r2" in r else ""
        mean = f"{r['mean_r2']:.4f}" if r.get("mean_r2") is not None else ""
        lines.append(f"| {r['method']} | {seconds} | {r['peak_gib']:.1f} | {score} | {mean} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper", help="cohort preset whose samples and design are used")
    parser.add_argument("--genes", type=int, required=True, help="genes of the generated cohort")
    parser.add_argument("--samples", type=int, default=None, help="a seeded subset of the GTEx samples")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help="registry names (first: mean)")
    parser.add_argument("--missing", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    if args.genes < 2 or not 0 < args.missing < 1:
        raise SystemExit(f"error: --genes must be at least 2 and --missing in (0, 1), got {args.genes}, "
                         f"{args.missing}")
    t0 = time.perf_counter()
    partial = args.out.with_suffix(".partial.json")

    def keep(shape, rows):  # an hour-long run at the paper's size keeps each finished method, whatever stops it
        write_json({"preset": args.preset, "seed": args.seed, "machine": machine(), **shape, "results": rows,
                    "partial": True}, partial)

    result = run(args.preset, args.genes, args.samples, args.methods, args.missing, args.seed, keep)
    result = {"preset": args.preset, "seed": args.seed, "machine": machine(), **result,
              "wall_seconds": time.perf_counter() - t0}
    print(table(result))
    write(result, args.out)
    partial.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
