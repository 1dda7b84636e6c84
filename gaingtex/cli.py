"""Command line: ``gaingtex cohort | train | evaluate | benchmark | book``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .book import BookError
from .config import MODELS, PRESETS, SCENARIOS


def _cohort(args) -> None:
    from .cohort import make_cohort, write_h5ad

    if args.out.suffix != ".h5ad":
        raise ValueError(f"--out must end in .h5ad, got {args.out}")
    adata = make_cohort(args.preset, args.seed)
    write_h5ad(adata, args.out)
    gtex = adata.obs["cohort"] == "GTEx"
    print(f"wrote {args.out}: {int(gtex.sum())} GTEx-shaped samples from {adata.obs.loc[gtex, 'donor_id'].nunique()} "
          f"donors × {adata.n_vars} genes, plus {int((~gtex).sum())} shifted-cohort samples")


def _load_prepared(args):
    from .cohort import make_cohort, read_h5ad
    from .data import alzheimer_genes, prepare

    adata = read_h5ad(args.cohort) if args.cohort else make_cohort(args.preset, args.seed)
    genes = alzheimer_genes() if args.genes == "alzheimer" else None
    return adata, prepare(adata, genes=genes)


def _train(args) -> None:
    from .workflow import train_model

    _, prepared = _load_prepared(args)
    imputer = train_model(prepared, args.model, args.scenario, args.preset, seed=args.seed,
                          missing_rate=args.missing_rate, verbose=2 if args.verbose else 0, progress=True)
    imputer.info.update({"cohort": str(args.cohort or f"preset:{args.preset}"), "genes": args.genes})
    imputer.save(args.out)
    print(f"trained {imputer.name} ({args.scenario}) in {imputer.fit_seconds_:.1f}s, {len(imputer.history_)} epochs "
          f"(best {imputer.best_epoch_}); wrote {args.out}")


def _evaluate(args) -> None:
    import pandas as pd

    from .imputers import MeanImputer, OracleImputer
    from .training import DeepImputer
    from .workflow import evaluate, scenario_data

    adata, prepared = _load_prepared(args)
    imputer = DeepImputer.load(args.model)
    if imputer.n_genes != len(prepared.genes):
        raise ValueError(f"{args.model} was trained on {imputer.n_genes} genes, the cohort has "
                         f"{len(prepared.genes)} (use the same --genes as for training)")
    rate = imputer.info.get("missing_rate", args.missing_rate)
    seed = imputer.info.get("mask_seed", args.seed) if imputer.scenario == "inplace" else args.seed
    data = scenario_data(prepared, imputer.scenario, rate, seed)
    methods = {imputer.name: imputer, "per-tissue mean": MeanImputer()}
    if "generator" in adata.uns:
        methods["oracle"] = OracleImputer.from_prepared(adata, prepared)
    table = evaluate(methods, data)
    table.insert(1, "scenario", imputer.scenario)
    with pd.option_context("display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    if args.out:
        from .benchmark import write_json

        write_json({"missing_rate": rate, "seed": seed, "results": table.to_dict(orient="records")}, args.out)
        print(f"wrote {args.out}")


def _benchmark(args) -> None:
    from .benchmark import format_table, run_benchmark, write_json

    result = run_benchmark(args.preset, args.seed, args.missing_rate)
    write_json(result, args.out)
    print(format_table(result))
    print(f"wrote {args.out}")


def _book(args) -> None:
    from .book import build_book

    build_book(args.preset, args.seed, args.run_dir, root=args.root, build_dir=args.build_dir, only=args.only,
               fresh=args.fresh)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gaingtex", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, cohort=True):
        p.add_argument("--preset", choices=PRESETS, default="book", help="size preset (default: book)")
        p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
        if cohort:
            p.add_argument("--cohort", type=Path, help="cohort .h5ad (default: generate the preset's embedded cohort)")
            p.add_argument("--genes", choices=["all", "alzheimer"], default="all",
                           help="all genes, or the 273 Alzheimer-pathway genes")
        p.add_argument("--missing-rate", type=float, default=0.5, help="fraction of entries missing (default 0.5)")

    p = sub.add_parser("cohort", help="generate the embedded GTEx-shaped cohort")
    p.add_argument("--preset", choices=PRESETS, default="book")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="output .h5ad")
    p.set_defaults(func=_cohort)

    p = sub.add_parser("train", help="train PMI, GAIN-GTEx or GAIN-MSE and save it as .keras")
    common(p)
    p.add_argument("--model", choices=MODELS, required=True)
    p.add_argument("--scenario", choices=SCENARIOS, default="inductive")
    p.add_argument("--out", type=Path, required=True, help="output .keras file")
    p.add_argument("--verbose", action="store_true", help="one line per epoch")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="score a saved model against the per-tissue mean and the oracle")
    common(p)
    p.add_argument("--model", type=Path, required=True, help="a .keras file written by `gaingtex train`")
    p.add_argument("--out", type=Path, help="optional JSON output")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("benchmark", help="train every model in both scenarios and score all methods")
    common(p, cohort=False)
    p.add_argument("--out", type=Path, required=True, help="output JSON")
    p.set_defaults(func=_benchmark)

    p = sub.add_parser("book", help="execute the notebooks with papermill and build the Jupyter Book")
    p.add_argument("--preset", choices=PRESETS, default="book", help="size preset (default: book)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--run-dir", type=Path,
                   help="run folder shared by the notebooks (default: runs/<preset>-seed<seed>)")
    p.add_argument("--root", type=Path, default=Path("."), help="repository root (default: the current folder)")
    p.add_argument("--build-dir", type=Path, default=Path("_build"), help="output folder; the book goes to <it>/html")
    p.add_argument("--only", nargs="+", metavar="NN", help="re-execute only these notebooks (e.g. 04 07), reusing "
                   "the others' executed copies")
    p.add_argument("--fresh", action="store_true",
                   help="delete the run folder first: new cohort, every model retrained")
    p.set_defaults(func=_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, KeyError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BookError as err:  # a notebook or the book build failed
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
