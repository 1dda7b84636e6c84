"""Notebook 08's comparison replayed on a book's run folder, with each row's seconds and peak resident memory: where
a comparison at a large cohort's size spends its memory.

    .venv/bin/python -m benchmarks.comparison_memory --run-dir runs/gtex-smoke-seed0 --preset smoke --budget 300 \\
        --out benchmarks/results/comparison-memory-paper.json

The call is notebook 08's own (the preset's seeds and gene sets, the run's deep models at its seed, ``--budget`` as
``gaingtex book --budget`` gives it). A row's peak is the kernel's high-water mark of the process's resident memory
since the row before it ended (:func:`gaingtex.evaluation.runtime.reset_peak`; the first row of a block includes
drawing the block's masks). Each row is written to ``<out>.partial.json`` as it ends; ``--resume`` that file to go
on after an interruption.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ._report import check_out, finish, write


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a book's run folder (its cohort and models)")
    parser.add_argument("--preset", default="book")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed")
    parser.add_argument("--budget", type=float, help="seconds per fit or imputation (default: the preset's)")
    parser.add_argument("--seeds", type=int, help="seeds compared (default: the preset's)")
    parser.add_argument("--resume", type=Path, help="a partial record of the same settings to go on from")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    if not (args.run_dir / "cohort.h5ad").is_file():
        raise SystemExit(f"error: {args.run_dir} holds no cohort.h5ad: it is not a book's run folder")
    started = time.perf_counter()

    from gaingtex.book.runs import open_run
    from gaingtex.data.embedded import factor_model
    from gaingtex.evaluation.comparison import compare
    from gaingtex.evaluation.presets import comparison_config
    from gaingtex.evaluation.runtime import peak_rss_mb, reset_peak
    from gaingtex.imputers.deep.backend import use_threads
    from gaingtex.provenance import source_commit

    use_threads()
    config = comparison_config(args.preset)
    budget = config.budget if args.budget is None else args.budget
    seeds = [args.seed + i for i in range(config.seeds if args.seeds is None else args.seeds)]
    command = "python -m benchmarks.comparison_memory " + " ".join(argv if argv is not None else sys.argv[1:])
    fields = {"command": command, "commit": source_commit(),
              "run_dir": args.run_dir.name, "preset": args.preset, "seeds": seeds, "budget": budget}
    done = []
    if args.resume is not None:
        earlier = json.loads(args.resume.read_text())
        if {k: earlier.get(k) for k in ("preset", "seeds", "budget")} != {k: fields[k] for k in
                                                                          ("preset", "seeds", "budget")}:
            raise SystemExit(f"error: {args.resume} was made with other settings; start afresh")
        done = earlier["results"]
    run = open_run(str(args.run_dir), args.preset, args.seed)
    cohort = run.cohort
    if not reset_peak():
        raise SystemExit("error: this system does not let a process reset its peak memory (Linux's clear_refs)")
    rows = list(done)
    partial = args.out.with_suffix(".partial.json")
    last = [time.perf_counter()]

    def on_row(row):
        peak = peak_rss_mb() / 1024
        reset_peak()
        now = peak_rss_mb() / 1024
        peak = max(peak, now)  # memory that grew between the two readings belongs to this row's peak too
        rows.append({**{k: row.get(k) for k in ("method", "scenario", "genes", "seed", "status", "r2")},
                     "seconds": time.perf_counter() - last[0], "peak_gib": peak, "after_gib": now})
        last[0] = time.perf_counter()
        print(f"{row['seed']} {row['scenario']:9s} {row['genes']:5s} {row['method']:16s} {row['status']:9s} "
              f"{rows[-1]['seconds']:6.0f} s  peak {peak:5.1f} GiB", flush=True)
        write({**fields, "results": rows, "partial": True}, partial)

    compare(cohort, seeds=seeds, missing_rate=0.5, preset=args.preset,
            generator=factor_model(cohort) if "generator" in cohort.uns else None, budget=budget,
            genes=config.gene_sets, deep=run.deep_models(seeds[:config.deep_seeds]), source=str(run.cohort_path),
            progress=False, done=[{k: v for k, v in r.items() if k not in ("seconds", "peak_gib", "after_gib")}
                                  for r in done], on_row=on_row)
    peak = max((r["peak_gib"] for r in rows), default=0.0)
    finish({**fields, "peak_gib": peak}, rows, started, f"{len(rows)} rows, peak {peak:.1f} GiB", args.out)
    partial.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
