"""``gaingtex book``: execute the notebooks with papermill and build the Jupyter Book."""

from __future__ import annotations

from pathlib import Path

from ..config import PRESETS
from .shared import check_budget, seed


def add_parser(sub) -> None:
    p = sub.add_parser("book", help="execute the notebooks with papermill and build the Jupyter Book")
    p.add_argument("--preset", choices=PRESETS, default="book", help="size preset (default: book)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default: 0)")
    p.add_argument("--run-dir", type=Path,
                   help="run folder shared by the notebooks (default: runs/<preset>-seed<seed>, or "
                   "runs/<cohort stem>-<preset>-seed<seed> with --cohort)")
    p.add_argument("--cohort", type=Path, help="your cohort (.h5ad, e.g. from `gaingtex gtex`) in place of the "
                   "embedded one; without a generating model every method is measured against learnt references")
    p.add_argument("--external", type=Path, nargs="+", metavar="H5AD", help="external cohorts beside --cohort "
                   "(e.g. TCGA from `gaingtex xena`), for notebook 05")
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="seconds each method of the comparison (notebook 08) may take to fit or impute before it is "
                   "reported as '> budget' (default: the preset's, gaingtex.evaluation.presets.COMPARISON_PRESETS); "
                   "a large cohort under a small preset needs more than the preset gives")
    p.add_argument("--root", type=Path, default=Path("."), help="repository root (default: the current folder)")
    p.add_argument("--build-dir", type=Path, default=Path("_build"), help="output folder; the book goes to <it>/html")
    p.add_argument("--only", nargs="+", metavar="NN", help="re-execute only these notebooks (e.g. 04 07), reusing "
                   "the others' executed copies")
    p.add_argument("--jobs", type=int, metavar="N", help="how many trainings (and notebooks 03-07) run at once, each "
                   "held to its share of the cores (default: 2 where there are two cores or more; 1: one after "
                   "another, each on every core)")
    p.add_argument("--fresh", action="store_true",
                   help="delete the run folder first: new cohort, every model retrained")
    p.set_defaults(func=run)


def run(args) -> None:
    from ..book.build import build_book

    from ..book.runs import default_run_dir

    check_budget(args.budget)
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, not {args.jobs}")
    folder = args.run_dir or args.root / default_run_dir(args.preset, args.seed, args.cohort)
    args.on_interrupt = lambda: (f"the run folder {folder} keeps the cohort and every model trained so far (a training "
                                 "cut short keeps its checkpoint); the same command without --fresh goes on from "
                                 "them, and the previous book was removed")
    build_book(args.preset, args.seed, args.run_dir, root=args.root, build_dir=args.build_dir, only=args.only,
               fresh=args.fresh, cohort=args.cohort, external=args.external or (), jobs=args.jobs,
               parameters={"08": {"budget": args.budget}} if args.budget is not None else None)
