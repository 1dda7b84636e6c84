"""Command line: ``gaingtex cohort | gtex | xena | train | evaluate | impute | benchmark | book``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._outputs import Rescued, check_output, write_or_rescue
from .book import BookError
from .config import MODELS, PRESETS, SCENARIOS
from .data import SchemaError


def _cohort(args) -> None:
    from .data import write_h5ad
    from .data.embedded import make_cohort

    check_output(args.out, ".h5ad", [])
    adata = make_cohort(args.preset, args.seed)
    write_or_rescue(lambda path: write_h5ad(adata, path), args.out)
    gtex = adata.obs["cohort"] == "GTEx"
    print(f"wrote {args.out}: {int(gtex.sum())} GTEx-shaped samples from {adata.obs.loc[gtex, 'donor_id'].nunique()} "
          f"donors × {adata.n_vars} genes, plus {int((~gtex).sum())} shifted-cohort samples")


def _gtex(args) -> None:
    import warnings

    from .data import write_h5ad
    from .data.gene_ids import read_gene_list
    from .data.gtex import read_gtex

    check_output(args.out, ".h5ad", [*args.expression, args.samples, args.phenotypes])
    genes = args.genes if args.genes in ("protein-coding", "all") else read_gene_list(args.genes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        adata = read_gtex(args.expression, args.samples, args.phenotypes, tissues=args.tissues,
                          genotyped_only=args.genotyped_only, genes=genes, normalize=args.normalize,
                          min_samples=args.min_samples, progress=True)
    _print_report([str(w.message) for w in caught] + adata.uns["gaingtex"]["report"])
    write_or_rescue(lambda path: write_h5ad(adata, path), args.out)
    print(f"wrote {args.out}: {adata.n_obs} samples of {adata.obs['tissue'].nunique()} tissues from "
          f"{adata.obs['donor_id'].nunique()} donors × {adata.n_vars} genes (normalisation: "
          f"{adata.uns['gaingtex']['normalize']})")


def _xena(args) -> None:
    from .data import read_h5ad, write_h5ad
    from .data.xena import read_xena

    check_output(args.out, ".h5ad", [args.expression, args.clinical, args.genes_like])
    reference = read_h5ad(args.genes_like)
    adata = read_xena(args.expression, args.clinical, reference, tissue=args.tissue, code=args.code,
                      sample_types=args.sample_types)
    _print_report(adata.uns["gaingtex"]["report"])
    write_or_rescue(lambda path: write_h5ad(adata, path), args.out)
    print(f"wrote {args.out}: {adata.n_obs} TCGA-{adata.uns['gaingtex']['project']} samples (as "
          f"{adata.uns['gaingtex']['tissue']}) × {adata.n_vars} genes of {args.genes_like}")


def _print_report(lines) -> None:
    for line in lines:
        print(f"note: {line}")


def _cohort_of(args):
    from .data import alzheimer_genes, read_h5ad
    from .data.embedded import make_cohort

    adata = read_h5ad(args.cohort) if args.cohort else make_cohort(args.preset, args.seed or 0)
    return adata, (alzheimer_genes() if args.genes == "alzheimer" else None)


def _train(args) -> None:
    from .evaluation.scenarios import train_model

    check_output(args.out, ".keras", [args.cohort])
    adata, genes = _cohort_of(args)
    rate = 0.5 if args.missing_rate is None else args.missing_rate
    checkpoint = args.out.with_name(args.out.name + ".checkpoint.npz")  # resumed by a rerun after an interrupt
    imputer = train_model(adata, args.model, args.scenario, args.preset, seed=args.seed or 0, missing_rate=rate,
                          genes=genes, verbose=2 if args.verbose else 0, progress=True, checkpoint=checkpoint)
    if imputer.resumed_from_:
        print(f"resumed from {checkpoint} after epoch {imputer.resumed_from_}")
    imputer.info.update({"cohort": str(args.cohort or f"preset:{args.preset}"), "genes": args.genes})
    write_or_rescue(imputer.save, args.out)
    c = imputer.config
    chosen = f", chosen on validation: {imputer.chosen_['search']}" if imputer.chosen_.get("search") else ""
    print(f"trained {imputer.name} ({args.scenario}, {c.hidden_layers} × {c.hidden_units}, learning rate "
          f"{c.learning_rate:.2g}, dropout {c.dropout:g}{chosen}) in {imputer.fit_seconds_:.1f}s, "
          f"{len(imputer.history_)} epochs (best {imputer.best_epoch_}); wrote {args.out}")


def _evaluate(args) -> None:
    import pandas as pd

    from .data.embedded import factor_model
    from .evaluation.scenarios import check_trained_masks, scenario_data
    from .evaluation.scoring import build_methods, evaluate
    from .fingerprint import cohort_fingerprint
    from .imputers.deep.trainer import DeepImputer

    if args.out:
        check_output(args.out, ".json", [args.cohort, args.model])
    adata, genes = _cohort_of(args)
    imputer = DeepImputer.load(args.model)
    genes = _model_genes(imputer, adata, genes, args.model)
    info = imputer.info
    fingerprint = cohort_fingerprint(adata)
    hashes = imputer.hashes()
    print(f"model {args.model}: weights {hashes['weights']}, training inputs {hashes['inputs']}; cohort "
          f"{fingerprint} (trained on {info.get('cohort_fingerprint', 'unknown')})")
    if imputer.scenario == "inplace" and info.get("cohort_fingerprint") not in (None, fingerprint):
        raise ValueError(f"{args.model} was trained in place on another cohort (fingerprint "
                         f"{info['cohort_fingerprint']}, this one is {fingerprint}); an in-place model is scored on "
                         "its own cohort's hidden entries")
    if imputer.scenario == "inplace":  # scored on the mask it trained with, unless told otherwise (then refused)
        rate = info.get("missing_rate", 0.5) if args.missing_rate is None else args.missing_rate
        seed = info.get("mask_seed", 0) if args.seed is None else args.seed
        check_trained_masks(imputer, rate, seed)
    else:
        rate = 0.5 if args.missing_rate is None else args.missing_rate
        seed = args.seed or 0
    data = scenario_data(adata, imputer.scenario, rate, seed, genes, source=str(args.cohort or "cohort"))
    generator = factor_model(adata) if "generator" in adata.uns else None
    methods = {imputer.name: imputer, **build_methods(["mean", "oracle"], data, args.preset, generator)}
    table = evaluate(methods, data)
    table.insert(1, "scenario", imputer.scenario)
    with pd.option_context("display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    if args.out:
        from ._io import write_json

        write_or_rescue(lambda path: write_json({"missing_rate": rate, "seed": seed,
                                        "results": table.to_dict(orient="records")}, path), args.out)
        print(f"wrote {args.out}")


def _model_genes(imputer, adata, genes, path) -> list[str] | None:
    """The genes to score a model on, in the model's order, matched by symbol; an error names the genes the
    cohort lacks. Models that record no genes (older files) are checked by count."""
    wanted = getattr(imputer, "genes_", None)
    if wanted is None:
        n_genes = adata.n_vars if genes is None else len(genes)
        if imputer.n_genes != n_genes:
            raise ValueError(f"{path} was trained on {imputer.n_genes} genes, the cohort has {n_genes} (use the "
                             "same --genes as for training)")
        return genes
    lacking = [g for g in wanted if g not in set(adata.var_names)]
    if lacking:
        raise ValueError(f"the cohort lacks {len(lacking)} of the {len(wanted)} genes {path} was trained on, e.g. "
                         f"{lacking[:5]}; score it on a cohort with its genes (or impute them: gaingtex impute "
                         "--model)")
    if genes is not None and list(genes) != list(wanted):
        raise ValueError(f"{path} was trained on {len(wanted)} genes, not the {len(genes)} of --genes; use the same "
                         "--genes as for training")
    return list(wanted)


def _impute(args) -> None:
    from .data.user_tables import file_kind, read_user_file, write_like
    from .impute import impute_cohort, impute_with_model

    inputs = [args.input, args.obs, args.model]
    check_output(args.output, "", inputs)
    if file_kind(args.output) != file_kind(args.input):
        raise ValueError(f"the output {args.output} must have the input's format ({file_kind(args.input)}), like "
                         f"{args.input}")
    table = read_user_file(args.input, args.obs)
    _print_report(table.report)
    if args.model is not None:
        from .imputers.deep.trainer import DeepImputer

        result = impute_with_model(table.adata, DeepImputer.load(args.model), source=str(args.input))
        _print_report(result.uns["gaingtex_impute"]["report"])
        how = f"the model {args.model}"
    else:
        result = impute_cohort(table.adata, args.method, args.preset, args.seed or 0, source=str(args.input),
                               progress=True)
        how = args.method
    write_or_rescue(lambda path: write_like(table, result, path), args.output)
    info = result.uns["gaingtex_impute"]
    print(f"filled {info['filled_entries']:,} entries ({info['filled_fraction']:.1%}) of {args.input} with {how}; "
          f"wrote {args.output}")


def _benchmark(args) -> None:
    from ._io import write_json
    from .config import comparison_config
    from .data import read_h5ad
    from .evaluation.benchmark import format_table, run_benchmark

    check_output(args.out, ".json", [args.cohort, args.resume])
    if args.deep_seeds is not None and args.deep_seeds < 0:
        raise ValueError(f"--deep-seeds must be 0 or more, got {args.deep_seeds}")
    rate = 0.5 if args.missing_rate is None else args.missing_rate
    methods = _method_list(args.methods)
    if args.scaling:
        from .data.embedded import make_cohort
        from .evaluation.runtime import format_scaling, scaling

        adata = read_h5ad(args.cohort) if args.cohort else make_cohort("paper", args.seed or 0)
        budget = 300.0 if args.budget is None else args.budget
        table = scaling(adata, methods, missing_rate=rate, preset=args.preset, seed=args.seed or 0, budget=budget)
        result = {"preset": args.preset, "seed": args.seed or 0, "missing_rate": rate, "budget": budget,
                  "cohort_source": str(args.cohort or "preset:paper"), "scaling": table.to_dict(orient="records")}
        print(format_scaling(table))
    else:
        adata = read_h5ad(args.cohort) if args.cohort else None
        partial = args.out.with_name(f"{args.out.stem}.partial.json")
        resume = _read_resume(args.resume) if args.resume else None
        print(f"finished rows are written to {partial} as the run goes"
              + (f"; {len(resume['results'])} rows of {args.resume} are kept" if resume else ""))
        result = run_benchmark(args.preset, args.seed or 0, rate, seeds=args.seeds, methods=methods,
                               genes=args.gene_sets,
                               budget=comparison_config(args.preset).budget if args.budget is None else args.budget,
                               adata=adata, source=str(args.cohort or "cohort"), deep_seeds=args.deep_seeds,
                               partial=partial, resume=resume)
        print(format_table(result))
    write_or_rescue(lambda path: write_json(result, path), args.out)
    if not args.scaling:
        partial.unlink(missing_ok=True)
    print(f"wrote {args.out}")


def _read_resume(path: Path) -> dict:
    """A benchmark JSON (partial or whole) to resume from."""
    import json

    if not path.is_file():
        raise FileNotFoundError(f"--resume {path} does not exist")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"--resume {path} is not a benchmark JSON ({err})") from None


def _method_list(given: list[str] | None) -> list[str] | None:
    """Registry names, checked (a label such as ``PMI`` is accepted)."""
    from .imputers import spec

    return None if not given else [spec(name).name for name in given]


def _book(args) -> None:
    from .book.build import build_book

    build_book(args.preset, args.seed, args.run_dir, root=args.root, build_dir=args.build_dir, only=args.only,
               fresh=args.fresh, cohort=args.cohort, external=args.external or ())


def _inplace_methods() -> list[str]:
    from .imputers import names

    return names("inplace")


SEED_MAX = 2**32 - 1  # what numpy's and TensorFlow's generators take


def seed(text: str) -> int:
    """A seed as every command takes it: a whole number from 0 to 2³²−1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 … {SEED_MAX} (2³²−1)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gaingtex", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, cohort=True):
        p.add_argument("--preset", choices=PRESETS, default="book", help="size preset (default: book)")
        p.add_argument("--seed", type=seed, help="random seed (default: 0; an in-place model's own mask seed)")
        if cohort:
            p.add_argument("--cohort", type=Path, help="cohort .h5ad (default: generate the preset's embedded cohort)")
            p.add_argument("--genes", choices=["all", "alzheimer"], default="all",
                           help="all genes, or the 273 Alzheimer-pathway genes")
        p.add_argument("--missing-rate", type=float,
                       help="fraction of entries hidden (default 0.5; an in-place model's own rate)")

    p = sub.add_parser("cohort", help="generate the embedded GTEx-shaped cohort")
    p.add_argument("--preset", choices=PRESETS, default="book")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--out", type=Path, required=True, help="output .h5ad")
    p.set_defaults(func=_cohort)

    p = sub.add_parser("gtex", help="GTEx v8 files (eQTL BED files or a GCT, sample and phenotype tables) → a "
                       "cohort .h5ad")
    p.add_argument("--expression", type=Path, nargs="+", required=True,
                   help="<Tissue>.v8.normalized_expression.bed.gz files, or one GCT of read counts or TPM")
    p.add_argument("--samples", type=Path, required=True, help="GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt "
                   "or the v8 paper's GTEx_Analysis_v8_RNAseq_samples.txt")
    p.add_argument("--phenotypes", type=Path, required=True,
                   help="GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt")
    p.add_argument("--out", type=Path, required=True, help="output .h5ad")
    p.add_argument("--tissues", default="paper", help="paper (the 49), all (54) or comma-separated tissue ids")
    p.add_argument("--genotyped-only", action="store_true", help="only samples of donors with genotypes")
    p.add_argument("--genes", default="protein-coding",
                   help="protein-coding (default), all, or a file of symbols or Ensembl ids, one per line")
    p.add_argument("--normalize", choices=["tmm-int", "int", "none"],
                   help="per tissue: TMM then inverse-normal (default for a GCT), inverse-normal only (a gene "
                   "panel), or none (default for eQTL files, already normalised)")
    p.add_argument("--min-samples", type=int, default=10, help="leave out tissues with fewer samples (default 10)")
    p.set_defaults(func=_gtex)

    p = sub.add_parser("xena", help="a UCSC Xena TCGA FPKM table and clinical matrix → an external cohort .h5ad")
    p.add_argument("--expression", type=Path, required=True, help="TCGA-<CODE>.htseq_fpkm.tsv (log2(FPKM+1))")
    p.add_argument("--clinical", type=Path, required=True, help="<CODE>_clinicalMatrix")
    p.add_argument("--tissue", help="the matched GTEx tissue id (default: LAML → Whole_Blood, BRCA → "
                   "Breast_Mammary_Tissue, LUAD → Lung)")
    p.add_argument("--code", help="the TCGA project code (default: from the file name)")
    p.add_argument("--genes-like", type=Path, required=True, help="the GTEx cohort .h5ad whose genes to keep")
    p.add_argument("--sample-types", choices=["primary", "all"], default="primary",
                   help="primary tumours only (default) or every sample")
    p.add_argument("--out", type=Path, required=True, help="output .h5ad")
    p.set_defaults(func=_xena)

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

    p = sub.add_parser("impute", help="fill every missing entry of a file (CSV, TSV, GCT or .h5ad) with a method "
                       "trained on it, or with a trained inductive model")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--method", choices=_inplace_methods(), help="a method, trained on the file's observed entries")
    how.add_argument("--model", type=Path, help="an inductive .keras model written by `gaingtex train`")
    p.add_argument("--input", type=Path, required=True,
                   help="the incomplete file: .csv/.tsv (samples × genes plus tissue, sex, age columns), .gct or "
                   ".h5ad; empty cells, NA or NaN are missing")
    p.add_argument("--obs", type=Path, help="a CSV/TSV of covariates by sample id (tissue, sex, age, donor_id, "
                   "hardy), for a GCT or a table without them")
    p.add_argument("--output", type=Path, required=True, help="the completed file, in the input's format (never "
                   "the input)")
    p.add_argument("--preset", choices=PRESETS, default="book", help="model sizes for the deep methods")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default: 0)")
    p.set_defaults(func=_impute)

    p = sub.add_parser("benchmark", help="compare every method over several seeds (or, with --scaling, time them "
                       "against genes and samples)")
    common(p, cohort=False)
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
    p.add_argument("--budget", type=float,
                   help="seconds a method may take to fit or impute before it is reported as '> budget' "
                   "(default: the preset's, e.g. 120 for book; scaling: 300 per size)")
    p.add_argument("--scaling", action="store_true", help="time every method against the number of genes "
                   "(300 → 12,557) and training samples instead (default cohort: the paper preset's)")
    p.add_argument("--out", type=Path, required=True, help="output JSON")
    p.set_defaults(func=_benchmark)

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
    p.add_argument("--root", type=Path, default=Path("."), help="repository root (default: the current folder)")
    p.add_argument("--build-dir", type=Path, default=Path("_build"), help="output folder; the book goes to <it>/html")
    p.add_argument("--only", nargs="+", metavar="NN", help="re-execute only these notebooks (e.g. 04 07), reusing "
                   "the others' executed copies")
    p.add_argument("--fresh", action="store_true",
                   help="delete the run folder first: new cohort, every model retrained")
    p.set_defaults(func=_book)
    return parser


def _terminate(signum, frame):
    """SIGTERM (what `timeout` and cluster schedulers send) unwinds like Ctrl-C, so temporary files are removed."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    args = build_parser().parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return _run(args)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(args) -> int:
    try:
        args.func(args)
    except (SchemaError, ValueError, KeyError, FileNotFoundError) as err:
        if args.debug:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err  # a KeyError's str() is quoted
        print(f"error: {message}", file=sys.stderr)
        return 2
    except BookError as err:  # a notebook or the book build failed
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    except Rescued as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a read-only target, a full disk, a directory where a file was expected, …
        if args.debug:
            raise
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
