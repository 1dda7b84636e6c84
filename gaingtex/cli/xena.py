"""``gaingtex xena``: a UCSC Xena TCGA FPKM table and clinical matrix → an external cohort .h5ad."""

from __future__ import annotations

from pathlib import Path

from .._outputs import check_output, write_or_rescue
from .shared import print_report


def add_parser(sub) -> None:
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
    p.set_defaults(func=run)


def run(args) -> None:
    from ..data import read_h5ad, write_h5ad
    from ..data.xena import read_xena

    check_output(args.out, ".h5ad", [args.expression, args.clinical, args.genes_like])
    reference = read_h5ad(args.genes_like)
    adata = read_xena(args.expression, args.clinical, reference, tissue=args.tissue, code=args.code,
                      sample_types=args.sample_types)
    print_report(adata.uns["gaingtex"]["report"])
    write_or_rescue(lambda path: write_h5ad(adata, path), args.out)
    print(f"wrote {args.out}: {adata.n_obs} TCGA-{adata.uns['gaingtex']['project']} samples (as "
          f"{adata.uns['gaingtex']['tissue']}) × {adata.n_vars} genes of {args.genes_like}")
