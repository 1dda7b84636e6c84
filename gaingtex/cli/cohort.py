"""``gaingtex cohort``: generate the embedded GTEx-shaped cohort."""

from __future__ import annotations

from pathlib import Path

from .._outputs import check_output, write_or_rescue
from ..config import PRESETS
from .shared import seed


def add_parser(sub) -> None:
    p = sub.add_parser("cohort", help="generate the embedded GTEx-shaped cohort")
    p.add_argument("--preset", choices=PRESETS, default="book")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--out", type=Path, required=True, help="output .h5ad")
    p.set_defaults(func=run)


def run(args) -> None:
    from ..data import write_h5ad
    from ..data.embedded import make_cohort

    check_output(args.out, ".h5ad", [])
    adata = make_cohort(args.preset, args.seed)
    write_or_rescue(lambda path: write_h5ad(adata, path), args.out)
    gtex = adata.obs["cohort"] == "GTEx"
    print(f"wrote {args.out}: {int(gtex.sum())} GTEx-shaped samples from {adata.obs.loc[gtex, 'donor_id'].nunique()} "
          f"donors × {adata.n_vars} genes, plus {int((~gtex).sum())} shifted-cohort samples")
