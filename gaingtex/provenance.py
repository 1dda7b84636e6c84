"""Where a trained model came from, as one typed record: what it was trained on (:class:`Origin`, which only the
caller knows) and how (:class:`Provenance`, which ``fit`` completes). Saved with the model and read back by its
hashes, ``evaluate``'s safety checks and the book; nobody fills it in after the fact."""

from __future__ import annotations

import dataclasses
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np

from .config import cpu_info

LIBRARIES = ("gaingtex", "keras", "tensorflow-cpu", "tensorflow", "jax", "numpy", "scikit-learn")


@dataclass(frozen=True)
class Origin:
    """What the training data were, as the caller knows it.

    Attributes
    ----------
    cohort
        Where the cohort came from: a file path, or ``preset:<name>`` for the embedded cohort.
    cohort_fingerprint
        :func:`gaingtex.fingerprint.cohort_fingerprint` of the whole cohort (an in-place model is scored on its own).
    gene_set
        ``all``, ``alzheimer`` or ``panel``.
    ensembl_ids
        The Ensembl id of each trained gene (``""`` where the cohort has none), to match genes by identity.
    missing_rate, mask_seed
        The scenario's masks (in place: the very entries that were hidden from training).
    """

    cohort: str | None = None
    cohort_fingerprint: str | None = None
    gene_set: str | None = None
    ensembl_ids: tuple[str, ...] | None = None
    missing_rate: float | None = None
    mask_seed: int | None = None


@dataclass(frozen=True)
class Provenance:
    """How a model was trained, and on what.

    Attributes
    ----------
    method, scenario, seed, preset
        The registry name, ``inductive`` or ``inplace``, the model's seed and the preset whose sizes it started from.
    config
        The trained configuration (:class:`~gaingtex.config.ModelConfig`'s fields).
    genes
        The trained genes, in the model's order (``None`` for a matrix without gene names).
    scale_mean, scale_std
        The standardisation its inputs were in (per gene), to apply to new samples.
    search, search_val_loss
        The setting the validation search chose, and its validation loss (``None`` without a search).
    epochs, best_epoch, fit_seconds
        Epochs trained, the epoch whose weights were kept, and the fit's wall time (the search's included).
    versions
        The libraries it was trained with.
    origin
        What the caller said the data were (:class:`Origin`).
    """

    method: str
    scenario: str
    seed: int
    preset: str
    config: dict
    genes: tuple[str, ...] | None
    scale_mean: tuple[float, ...] | None
    scale_std: tuple[float, ...] | None
    search: str | None
    search_val_loss: float | None
    epochs: int
    best_epoch: int
    fit_seconds: float
    versions: dict = field(default_factory=dict)
    origin: Origin = field(default_factory=Origin)

    def to_dict(self) -> dict:
        """Plain JSON-ready values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, record: dict) -> "Provenance":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(record) - fields
        if unknown:
            raise ValueError(f"a provenance record with unknown fields {sorted(unknown)}")
        origin = dict(record.get("origin") or {})
        if origin.get("ensembl_ids") is not None:
            origin["ensembl_ids"] = tuple(origin["ensembl_ids"])
        tuples = {k: None if record.get(k) is None else tuple(record[k]) for k in ("genes", "scale_mean", "scale_std")}
        return cls(**{**record, **tuples, "origin": Origin(**origin)})

    def standardizer(self):
        """The :class:`~gaingtex.data.Standardizer` of the training data, or ``None``."""
        from .data import Standardizer

        if self.scale_mean is None:
            return None
        return Standardizer(np.asarray(self.scale_mean, dtype=np.float32), np.asarray(self.scale_std, dtype=np.float32))


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model's numbers depend on (those installed), and Python's."""
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The processor's name, with its family and model numbers where the kernel gives them in ``cpuinfo`` (a cloud
    machine may call itself just "AMD EPYC", and its generation sets the speed of every timing), or
    ``platform.processor()`` without that file."""
    fields = cpu_info(cpuinfo)
    name = fields.get("model name") or platform.processor() or platform.machine()
    numbers = ", ".join(f"{k} {fields[k]}" for k in ("cpu family", "model") if k in fields)
    return f"{name} ({numbers})" if numbers else name


def machine() -> dict:
    """The machine a timing was measured on, for the records that hold timings: compare them only where it is the
    same."""
    return {"cpus": os.cpu_count(), "cpu": cpu_model(), "platform": platform.platform()}


def source_commit() -> str | None:
    """The git commit this package's source was checked out at, with ``+changes`` when its working tree differs
    from it; ``None`` outside a git checkout (an installed wheel) or without git."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+changes" if dirty else "")
