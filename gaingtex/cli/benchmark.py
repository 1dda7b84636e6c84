"""``gaingtex benchmark``: compare every method over several seeds, or (``--scaling``) time them against genes and
samples."""

from __future__ import annotations

from pathlib import Path

from .._outputs import check_output, write_or_rescue
from ..config import DEEP_SCHEDULES, SCENARIOS
from .shared import add_common, check_budget, method_list, read_resume, seed


def add_parser(sub) -> None:
    p = sub.add_parser("benchmark", help="compare every method over several seeds (or, with --scaling, time them "
                       "against genes and samples)")
    add_common(p, cohort=False)
    p.add_argument("--cohort", type=Path, help="cohort .h5ad (default: generate the preset's embedded cohort)")
    p.add_argument("--seeds", type=seed, nargs="+", help="seeds of the masks and methods (default: --seed and the "
                   "next two)")
    p.add_argument("--deep-seeds", type=int, help="train the deep models at only the first N seeds (default: all)")
    p.add_argument("--resume", type=Path, help="keep the rows of an interrupted run with the same settings (its "
                   "<out>.partial.json) and run only the rest")
    p.add_argument("--methods", nargs="+", help="registry names (default: every registered method)")
    p.add_argument("--gene-sets", nargs="+", choices=["all", "alzheimer", "panel"],
                   default=["all", "alzheimer", "panel"],
                   help="all genes, the 273 Alzheimer genes where the cohort has them, a 59-gene panel")
    p.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS),
                   help="which scenarios to compare (default: both)")
    p.add_argument("--deep-schedule", choices=list(DEEP_SCHEDULES), default="authors",
                   help="the deep models' schedule: the preset's own (authors), or the paper's sizes trained as the "
                   "book trains on a CPU (cpu: 1,000 steps of 256 in bfloat16, no search; gaingtex.config)")
    p.add_argument("--no-intervals", dest="intervals", action="store_false",
                   help="leave out the calibration of each method's 90 %% intervals (coverage, width, CRPS), which "
                   "at the paper's size costs more than most methods' fit")
    p.add_argument("--budget", type=float,
                   help="seconds a method may take to fit or impute before it is reported as '> budget' "
                   "(default: the preset's, e.g. 120 for book; scaling: 300 per size)")
    p.add_argument("--scaling", action="store_true", help="time every method against the number of genes "
                   "(300 → 12,557) and training samples instead (default cohort: the paper preset's)")
    p.add_argument("--out", type=Path, required=True, help="output JSON")
    p.set_defaults(func=run)


def run(args) -> None:
    import shlex

    from .._io import write_json
    from ..provenance import source_commit

    check_output(args.out, ".json", [args.cohort, args.resume])
    # what made the file, for the pages that quote it
    args.source = {"command": shlex.join(["gaingtex", *args.argv]), "commit": source_commit()}
    if args.deep_seeds is not None and args.deep_seeds < 0:
        raise ValueError(f"--deep-seeds must be 0 or more, got {args.deep_seeds}")
    check_budget(args.budget)
    rate = 0.5 if args.missing_rate is None else args.missing_rate
    methods = method_list(args.methods)
    if args.scaling:
        result = _scaling(args, methods, rate)
    else:
        partial = args.out.with_name(f"{args.out.stem}.partial.json")  # finished rows, kept if the run is stopped
        args.on_interrupt = lambda: (f"the finished rows are kept in {partial}; rerun with --resume {partial} to "
                                     "run only the rest" if partial.is_file() else "no row had finished; nothing "
                                     "was written")
        result = _comparison(args, methods, rate, partial)
    write_or_rescue(lambda path: write_json({**result, **args.source}, path), args.out)
    if not args.scaling:
        partial.unlink(missing_ok=True)
        _print_table(result)
    print(f"wrote {args.out}")


def _print_table(result: dict) -> None:
    """The comparison as text, after the JSON is safely written: a table that cannot be drawn loses nothing."""
    from ..book.tables import format_table

    print(format_table(result))


def _scaling(args, methods, rate) -> dict:
    from ..data import read_h5ad
    from ..data.embedded import make_cohort
    from ..evaluation.runtime import format_scaling, scaling

    adata = read_h5ad(args.cohort) if args.cohort else make_cohort("paper", args.seed or 0)
    budget = 300.0 if args.budget is None else args.budget
    table = scaling(adata, methods, missing_rate=rate, preset=args.preset, seed=args.seed or 0, budget=budget)
    print(format_scaling(table))
    return {"preset": args.preset, "seed": args.seed or 0, "missing_rate": rate, "budget": budget,
            "cohort_source": str(args.cohort or "preset:paper"), "scaling": table.to_dict(orient="records")}


def _comparison(args, methods, rate, partial: Path) -> dict:
    from ..evaluation.presets import comparison_config
    from ..data import read_h5ad
    from ..evaluation.benchmark import run_benchmark

    adata = read_h5ad(args.cohort) if args.cohort else None
    resume = read_resume(args.resume) if args.resume else None
    print(f"finished rows are written to {partial} as the run goes"
          + (f"; {len(resume['results'])} rows of {args.resume} are kept" if resume else ""))
    result = run_benchmark(args.preset, args.seed or 0, rate, seeds=args.seeds, methods=methods,
                           genes=args.gene_sets,
                           budget=comparison_config(args.preset).budget if args.budget is None else args.budget,
                           adata=adata, source=str(args.cohort or "cohort"), deep_seeds=args.deep_seeds,
                           partial=partial, resume=resume, scenarios=args.scenarios,
                           deep_schedule=args.deep_schedule, intervals=args.intervals)
    return result
