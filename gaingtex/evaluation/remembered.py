"""A fitted method that keeps the imputations it made for its own row of a comparison, by their inputs, for the
comparison's blend of methods (``auto``), which reuses the methods fitted there.

``auto`` imputes the test matrix, and the rows its intervals are calibrated on, by asking each member for its
imputation of the very matrices the comparison has just given that member for its own row (the same masks, the same
calibration folds). Kept, those are not made twice: at the `book` preset the members' imputations had been a large
part of ``auto``'s row, on all genes and on the panel (benchmarks/README.md, "The whole book"). A method's
imputation depends on its inputs alone (GAIN's noise is drawn from the imputer's own seed), so a kept one is the one
a new call would make.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

# An imputation larger than this is kept in a temporary file rather than in memory: at the paper's 8,624 test
# samples × 12,557 genes each member's is 433 MB, and a dozen of them kept in memory, beside the methods still
# to run, took the comparison past a 24 GB machine's memory (benchmarks/README.md, "The book on a GTEx download of
# the paper's size"). Read back, one costs a fraction of a second.
IN_MEMORY_BYTES = 64 << 20


def fingerprint(x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame) -> str:
    """A digest of one imputation's inputs: the shown values (NaN where hidden), which entries are shown, and the
    samples (their ids and annotations, which the covariates come from)."""
    digest = hashlib.blake2b(digest_size=16)
    values = np.ascontiguousarray(x, dtype=np.float32)
    digest.update(repr(values.shape).encode())
    digest.update(memoryview(values).cast("B"))
    digest.update(np.packbits(np.asarray(mask) > 0).tobytes())
    digest.update(pd.util.hash_pandas_object(obs, index=True).to_numpy().tobytes())
    return digest.hexdigest()


class Remembered:
    """``imputer`` keeping the imputations it makes, by :func:`fingerprint`, until :meth:`stop_keeping` (once the
    comparison has made the method's own row: what is asked later, such as ``auto``'s own validation folds, is
    new and is not kept). Everything else is the imputer's own. Each call returns its own copy, so that a caller
    may change it."""

    def __init__(self, imputer):
        self.imputer, self.keeping = imputer, True
        self._kept: dict[str, np.ndarray | Path] = {}
        self._folder: tempfile.TemporaryDirectory | None = None  # removed with this wrapper

    def __getattr__(self, name: str):  # only for what this wrapper does not define itself
        return getattr(self.__dict__["imputer"], name)

    def transform(self, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame) -> np.ndarray:
        key = fingerprint(x, mask, obs)
        if key in self._kept:
            kept = self._kept[key]
            return np.load(kept) if isinstance(kept, Path) else kept.copy()
        out = self.imputer.transform(x, mask, obs)
        if self.keeping:
            self._kept[key] = self._keep(key, out)
        return out

    def _keep(self, key: str, out: np.ndarray) -> np.ndarray | Path:
        if out.nbytes <= IN_MEMORY_BYTES:
            return out.copy()
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="gaingtex-kept-")
        path = Path(self._folder.name) / f"{key}.npy"
        np.save(path, out)
        return path

    def stop_keeping(self) -> None:
        self.keeping = False

    def for_calibration(self, valid, valid_mask=None):
        """The imputer as it would impute the validation donors: this wrapper where that is the imputer itself."""
        inner = self.imputer.for_calibration(valid, valid_mask)
        return self if inner is self.imputer else inner
