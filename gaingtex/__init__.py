"""gaingtex: reproducible companion to Viñas et al. (2021), deep-learning imputation of gene expression."""

__version__ = "0.2.0"
