"""Data: the cohort schema, shipped reference facts, the embedded cohort, donor splits, preparation, h5ad I/O, and
missingness masks with the named random streams they are drawn from (:mod:`.masks`)."""

from .h5ad import read_h5ad, write_h5ad
from .preprocessing import (CovariateEncoder, Prepared, Split, Standardizer, alzheimer_genes, extended_index,
                            panel_genes, prepare, select_genes)
from .schema import GTEX, SchemaError, validate
from .splits import check_donor_split, donor_split

__all__ = ["GTEX", "CovariateEncoder", "Prepared", "SchemaError", "Split", "Standardizer", "alzheimer_genes",
           "check_donor_split", "donor_split", "extended_index", "panel_genes", "prepare", "read_h5ad", "select_genes",
           "validate", "write_h5ad"]
