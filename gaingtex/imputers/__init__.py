"""Imputation methods behind one contract (:mod:`.base`) and one registry (:mod:`.registry`).

``names()`` lists the registered methods, ``get(name, **params)`` builds one, ``spec(name)`` says what it is and
supports, ``load(path)`` reads a saved one back (:mod:`.archive` holds the file format).
One file per method: :mod:`.mean` and :mod:`.median`; the linear-Gaussian :mod:`.gaussian` (per tissue and
pooled), :mod:`.factor_analysis` and :mod:`.oracle`, which share the posteriors of :mod:`.posterior`;
:mod:`.knn`, :mod:`.mice` and :mod:`.missforest` (chained equations, :mod:`._chained`), :mod:`.sample_lasso`,
:mod:`.softimpute`, :mod:`.blood_surrogate`; and the deep models in :mod:`.deep`.
"""

from .base import Imputer, check_inputs, keep_observed, observed_mask
from .blood_surrogate import BloodSurrogate
from .factor_analysis import FactorAnalysisImputer, fit_factor_model
from .mean import MeanImputer
from .oracle import OracleImputer, conditional_mean
from .registry import MethodSpec, colour, get, label, load, names, register, spec

__all__ = ["BloodSurrogate", "FactorAnalysisImputer", "Imputer", "MeanImputer", "MethodSpec", "OracleImputer",
           "check_inputs", "colour", "conditional_mean", "fit_factor_model", "get", "keep_observed", "label", "load",
           "names", "observed_mask", "register", "spec"]
