"""The embedded GTEx-shaped cohort: GTEx v8's design with expression from a known linear-Gaussian factor model.

Expression of sample ``i`` (tissue ``t``, donor ``d``, covariates ``c_i``) is, gene by gene,

    x_i = r_t ⊙ (β (c_i − c̄_t) + (B · a_t) f_i) + sqrt(ψ_t) ⊙ ε_i,   f_i, ε_i ~ N(0, I)

(:mod:`.factor_model`). The design (:mod:`.design`) has GTEx v8's tissues, sample counts and donors; the genes
(:mod:`.genes`) are real protein-coding symbols in co-expression modules; :mod:`.shifted` adds TCGA-like cohorts.
Because the model is known, the best possible imputation is known too (:mod:`gaingtex.imputers.oracle`).
"""

from .cohort import factor_model, make_cohort
from .factor_model import FactorModel, encode_covariates
from .genes import NAMED_MODULES, Y_GENES
from .shifted import SHIFTED_COHORTS

__all__ = ["FactorModel", "NAMED_MODULES", "SHIFTED_COHORTS", "Y_GENES", "encode_covariates", "factor_model",
           "make_cohort"]
