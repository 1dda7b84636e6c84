"""``gaingtex gtex``: GTEx v8 files (eQTL BED files or a GCT, sample and phenotype tables) → a cohort .h5ad."""

from __future__ import annotations

from pathlib import Path

from .._outputs import check_output, write_or_rescue
from .shared import print_report


def add_parser(sub) -> None:
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
    # --normalize: the spelling of releases before the project settled on British English, still accepted
    p.add_argument("--normalise", "--normalize", dest="normalise", choices=["tmm-int", "int", "none"],
                   help="per tissue: TMM then inverse-normal (default for a GCT), inverse-normal only (a gene "
                   "panel), or none (default for eQTL files, already normalised)")
    p.add_argument("--min-samples", type=int, default=10, help="leave out tissues with fewer samples (default 10)")
    p.set_defaults(func=run)


def run(args) -> None:
    import warnings

    from ..data import write_h5ad
    from ..data.gene_ids import read_gene_list
    from ..data.gtex import read_gtex

    check_output(args.out, ".h5ad", [*args.expression, args.samples, args.phenotypes])
    _small_pages()
    genes = args.genes if args.genes in ("protein-coding", "all") else read_gene_list(args.genes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        adata = read_gtex(args.expression, args.samples, args.phenotypes, tissues=args.tissues,
                          genotyped_only=args.genotyped_only, genes=genes, normalise=args.normalise,
                          min_samples=args.min_samples, progress=True)
    print_report([str(w.message) for w in caught] + adata.uns["gaingtex"]["report"])
    write_or_rescue(lambda path: write_h5ad(adata, path), args.out)
    print(f"wrote {args.out}: {adata.n_obs} samples of {adata.obs['tissue'].nunique()} tissues from "
          f"{adata.obs['donor_id'].nunique()} donors × {adata.n_vars} genes (normalisation: "
          f"{adata.uns['gaingtex']['normalize']})")


def _small_pages() -> None:
    """Ordinary pages for this command's arrays. numpy asks the kernel for huge pages for large arrays; where the
    kernel then compacts memory as they are first touched (``transparent_hugepage/defrag`` = ``madvise``, a common
    default), the loader's matrix and temporaries stall on it: more system time, and a slower load
    (``benchmarks/README.md``, *The GTEx loader*). The process does nothing else afterwards."""
    import numpy as np

    setting = getattr(getattr(np, "_core", None), "multiarray", None)
    if hasattr(setting, "_set_madvise_hugepage"):  # numpy's own switch (NUMPY_MADVISE_HUGEPAGE at start-up)
        setting._set_madvise_hugepage(False)
