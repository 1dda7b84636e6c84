"""Cohort files: ``.h5ad`` written atomically, read through the schema."""

from __future__ import annotations

import os
from pathlib import Path

import anndata as ad

from .._io import atomic_path
from .schema import SchemaError, validate


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike) -> Path:
    """Write ``adata`` atomically: to a temporary file beside ``path``, then renamed over it."""
    with atomic_path(path, suffix=".h5ad") as tmp:
        adata.write_h5ad(tmp)
    return Path(path)


def read_h5ad(path: str | os.PathLike, empty_genes: bool = False) -> ad.AnnData:
    """Read a cohort and validate it against the schema (:func:`gaingtex.data.schema.validate`; ``empty_genes``:
    genes with no observed value are allowed, for a trained model to fill).

    A cohort without a ``split`` column is accepted: :func:`gaingtex.data.prepare` draws the donor split.
    """
    from .._outputs import resolved

    path = Path(path)
    resolved(path)  # a loop of symbolic links: its own message
    if path.is_dir():
        raise SchemaError(f"{path} is a folder, not an .h5ad file")
    if not path.is_file():
        raise FileNotFoundError(f"cohort file {path} does not exist (make one with `gaingtex cohort --out {path}`)")
    try:
        adata = ad.read_h5ad(path)
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise SchemaError(f"{path}: not a readable .h5ad file ({type(err).__name__}: {err})") from None
    return validate(adata, str(path), empty_genes=empty_genes)
