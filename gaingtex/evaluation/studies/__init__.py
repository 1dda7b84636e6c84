"""The paper's analyses as functions that return DataFrames; the notebooks call these and plot what they return.

:mod:`.cohort` describes the cohort, :mod:`.tissues` asks which tissues are hard, :mod:`.sweeps` varies the
missing rate, :mod:`.shifted` scores the TCGA-like cohorts, :mod:`.genes` ranks the Alzheimer genes and
:mod:`.embeddings` scores the tissue embeddings. :mod:`.uncertainty` measures every method's intervals and
:mod:`.multiple_imputation` tests an age effect on imputed data, single against multiple imputation (import them as
modules: their ``run`` and ``summarise`` would clash here).
"""

from .cohort import (coexpression_similarity, reference_tissues_per_donor_mean, sex_specific, tissue_table,
                     tissues_per_donor)
from .embeddings import (brain_labels, cluster_scores, design_embedding, embedding_null, permutation_p, purity_check,
                         umap_2d)
from .genes import (CORE_FAMILIES, PAPER_BRAIN_GENES, PAPER_LAST_GENES, SIGNALLING_FAMILY, family, family_table,
                    gene_ranking, named_genes, ranking_values)
from .shifted import (FRACTIONS, QUOTED_FRACTION, at_fraction, fraction_sentence, observed_fraction_sweep, paper_rows,
                      shifted_cohorts)
from .sweeps import blood_surrogate_r2, missing_rate_sweep
from .tissues import hardness, per_tissue, tissue_ends

__all__ = ["CORE_FAMILIES", "FRACTIONS", "PAPER_BRAIN_GENES", "PAPER_LAST_GENES", "QUOTED_FRACTION",
           "SIGNALLING_FAMILY", "at_fraction", "blood_surrogate_r2", "brain_labels", "cluster_scores",
           "coexpression_similarity", "design_embedding", "embedding_null", "family", "family_table",
           "fraction_sentence", "gene_ranking", "hardness", "missing_rate_sweep", "named_genes",
           "observed_fraction_sweep", "paper_rows", "per_tissue", "permutation_p", "purity_check", "ranking_values",
           "reference_tissues_per_donor_mean", "sex_specific", "shifted_cohorts", "tissue_ends", "tissue_table",
           "tissues_per_donor", "umap_2d"]
