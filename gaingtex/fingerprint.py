"""Content hashes that make a run checkable from its files: a cohort's fingerprint, a model's weights, and what a
model was trained from (cohort, genes, seed, configuration). Two runs with the same inputs and seed give the same
hashes, whatever the files' timestamps."""

from __future__ import annotations

import hashlib
import json

import numpy as np

COVARIATES = ("donor_id", "tissue", "sex", "age", "hardy", "split", "cohort")


def _update(digest, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())


def arrays_digest(arrays) -> str:
    """SHA-256 (hex, first 16 characters) of arrays' dtypes, shapes and bytes, in order."""
    digest = hashlib.sha256()
    for array in arrays:
        _update(digest, np.asarray(array))
    return digest.hexdigest()[:16]


def file_digest(path, chunk: int = 1 << 24) -> str:
    """SHA-256 (first 16 hex characters) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]


def cohort_fingerprint(adata) -> str:
    """A cohort's values (NaN where missing), sample ids, gene symbols and covariates."""
    digest = hashlib.sha256()
    _update(digest, np.asarray(adata.X, dtype=np.float32))
    for names in (adata.obs_names, adata.var_names):
        digest.update("\0".join(map(str, names)).encode())
    for column in COVARIATES:
        if column in adata.obs.columns:
            digest.update(column.encode() + b"\0" + "\0".join(adata.obs[column].astype(str)).encode())
    return digest.hexdigest()[:16]


def text_digest(obj) -> str:
    """SHA-256 (first 16 hex characters) of an object's canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]
