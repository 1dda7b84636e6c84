"""The paper's two scenarios as data: what a method trains on, and which masked matrix it is scored on.

Inductive: train on complete training donors; impute the extended test set (each tissue's test samples cycled
to the same count) with entries hidden completely at random. In place: one fixed mask over the training and
validation matrices; the hidden entries are NaN **before anything is fitted** (standardisation included), and
the training matrix's hidden entries are what is scored, but for a tenth of the observed entries of some rows,
held out of every fit to calibrate the methods' intervals on (:attr:`ScenarioData.held`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import anndata as ad
import numpy as np
import pandas as pd

from ..config import SCENARIOS, check_choice
from ..data import Prepared, Split, extended_index, prepare, select_genes, validate
from ..data.masks import missing_mask, stream
from ..data.preprocessing import split_labels
from ..imputers.conformal import holdout

Scope = Literal["tissue", "all"]


@dataclass
class ScenarioData:
    """What a scenario trains on and what it is scored on.

    Attributes
    ----------
    scenario
        ``"inductive"`` or ``"inplace"``.
    prepared
        The prepared cohort the methods see (in place: with the hidden entries already NaN).
    train, valid, train_mask, valid_mask
        Arguments of ``Imputer.fit`` (masks: 1 = observed).
    eval
        The matrix to impute, holding the **true** values: the extended test set (inductive) or the training
        matrix itself (in place). NaN only where the cohort itself has no value (never scored).
    eval_mask
        What the imputers are shown (1) and what is scored (0, where the truth is known).
    blood
        The Whole Blood samples of the donors in ``eval`` (for the blood surrogate; inductive only).
    scope
        ``"tissue"`` when most tissues have enough distinct samples to be scored alone, else ``"all"``.
    missing_rate, seed
        What the masks were drawn with.
    held, held_values
        In place: the calibration's held-out training entries (a boolean matrix over ``eval``) and their true
        values (flat, in the order of ``np.nonzero(held)``). They are hidden from every fit and from the
        imputation, and never scored (``eval`` is NaN there): the method's intervals are calibrated on them
        (:func:`~gaingtex.imputers.conformal.holdout`). ``None`` inductive.
    """

    scenario: str
    prepared: Prepared
    train: Split
    valid: Split
    train_mask: np.ndarray | None
    valid_mask: np.ndarray | None
    eval: Split
    eval_mask: np.ndarray
    blood: Split | None
    scope: Scope
    missing_rate: float
    seed: int
    held: np.ndarray | None = None
    held_values: np.ndarray | None = None

    def fit_args(self) -> dict:
        return dict(train=self.train, valid=self.valid, train_mask=self.train_mask, valid_mask=self.valid_mask)


MAX_RATE = 0.95  # above it, a sample keeps a handful of genes: too little to learn from or to impute with


def check_rate(missing_rate: float) -> float:
    """A missing rate the scenarios accept: above 0 (something to score) and at most ``MAX_RATE``."""
    if not 0.0 < float(missing_rate) < 1.0:
        raise ValueError(f"missing rate must be between 0 and 1 (exclusive), got {missing_rate}: with nothing hidden "
                         "there is nothing to score")
    if float(missing_rate) > MAX_RATE:
        raise ValueError(f"missing rate {missing_rate} hides almost everything (at most {MAX_RATE} is accepted): "
                         "the models would learn from a few values per sample")
    return float(missing_rate)


def scenario_data(adata: ad.AnnData, scenario: str, missing_rate: float = 0.5, seed: int = 0,
                  genes: Sequence[str] | None = None, min_samples: int = 10, source: str = "cohort") -> ScenarioData:
    """Masks and matrices of a scenario, all drawn from ``seed`` (stream ``"scenario"``) so that every method sees
    identical masks.

    Parameters
    ----------
    adata
        The cohort (schema of :mod:`gaingtex.data.schema`; NaN entries are missing and never scored).
    scenario
        ``"inductive"`` or ``"inplace"``.
    missing_rate
        Fraction of entries hidden completely at random.
    seed
        Seeds the masks (and the donor split when the cohort has none).
    genes
        Restrict to these gene symbols.
    """
    check_choice(scenario, SCENARIOS, "scenario")
    check_rate(missing_rate)
    rng = stream(seed, "scenario")
    if scenario == "inductive":
        prepared = prepare(adata, genes, seed, source=source)
        ev = prepared.test.take(extended_index(prepared.test.obs))
        mask = missing_mask(*ev.x.shape, missing_rate, rng) * ev.mask
        blood = prepared.test.take(np.flatnonzero(prepared.test.obs["tissue"].astype(str).to_numpy() == "Whole_Blood"))
        return ScenarioData(scenario, prepared, prepared.train, prepared.valid, None, None, ev, mask, blood,
                            scoring_scope(prepared.test.obs["tissue"].astype(str).value_counts(), min_samples),
                            missing_rate, seed)
    adata = validate(adata, source)
    labels, _ = split_labels(adata, seed)
    gene_index = np.arange(adata.n_vars) if genes is None else select_genes(adata.var_names, genes)
    X = np.asarray(adata.X[:, gene_index], dtype=np.float32)
    hidden = X.copy()
    for name in ("train", "valid"):  # train first, then valid: the order the masks are drawn in
        rows = np.flatnonzero(labels == name)
        keep = missing_mask(len(rows), X.shape[1], missing_rate, rng)
        hidden[rows] = np.where(keep > 0, X[rows], np.nan)
    # the calibration's held-out entries: hidden from every fit (standardisation included) and never scored
    train_rows = np.flatnonzero(labels == "train")
    held = holdout(~np.isnan(hidden[train_rows]), seed)
    block = hidden[train_rows]
    block[held] = np.nan
    hidden[train_rows] = block
    masked = ad.AnnData(X=hidden, obs=adata.obs.assign(split=labels), var=adata.var.iloc[gene_index],
                        uns=dict(adata.uns))
    prepared = prepare(masked, seed=seed, source=source, validated=True)  # a sample may now be all hidden
    prepared.gene_index = gene_index
    order = prepared.rows["train"]  # the training rows as prepared, indices into the cohort
    held = held[np.searchsorted(train_rows, order)]
    values = prepared.standardizer.transform(X[order])
    held_values = values[held].astype(np.float32)
    values[held] = np.nan  # never scored
    truth = prepared.train.with_values(values)
    train_mask = prepared.train.mask  # what the methods see, and (where 0) what is scored
    return ScenarioData(scenario, prepared, prepared.train, prepared.valid, train_mask, prepared.valid.mask,
                        truth, train_mask, None,
                        scoring_scope(prepared.train.obs["tissue"].astype(str).value_counts(), min_samples),
                        missing_rate, seed, held, held_values)


def scoring_scope(counts: pd.Series, min_samples: int = 10) -> Scope:
    """``"tissue"`` when at least half of the tissues have ``min_samples`` distinct samples, else ``"all"``.

    Tissues below the threshold are still scored where they have :data:`~gaingtex.evaluation.metrics.MIN_SAMPLES`;
    with fewer than about ten samples per tissue overall, per-tissue R² over a few masked values is noise, and
    every tissue is pooled instead.
    """
    return "tissue" if (counts >= min_samples).mean() >= 0.5 else "all"


def train_model(adata: ad.AnnData, model: str, scenario: str, preset: str = "book", config=None, seed: int = 0,
                missing_rate: float = 0.5, genes: Sequence[str] | None = None, verbose: int = 0,
                progress: bool = False, checkpoint=None, searches=None, cohort: str | None = None,
                gene_set: str | None = None):
    """Train one deep imputer in one scenario of ``adata``; returns the fitted
    :class:`~gaingtex.imputers.deep.imputer.DeepImputer`, whose provenance records the cohort (``cohort``: where
    it came from), the gene set and the rate and seed of its masks. ``checkpoint`` and ``searches`` go to its
    ``fit``."""
    from ..fingerprint import cohort_fingerprint
    from ..imputers import get
    from ..provenance import Origin

    data = scenario_data(adata, scenario, missing_rate, seed, genes)
    trained = list(data.train.genes) if data.train.genes is not None else []
    ids = adata.var["ensembl_id"].astype(str) if "ensembl_id" in adata.var else None
    origin = Origin(cohort=cohort, cohort_fingerprint=cohort_fingerprint(adata), gene_set=gene_set,
                    ensembl_ids=None if ids is None else tuple(ids.reindex(trained).fillna("")),
                    missing_rate=missing_rate, mask_seed=seed)
    imputer = get(model, scenario=scenario, preset=preset, config=config, seed=seed, verbose=verbose,
                  progress=progress)
    return imputer.fit(**data.fit_args(), checkpoint=checkpoint, searches=searches, origin=origin)


def check_trained_masks(imputer, missing_rate: float, seed: int) -> None:
    """An in-place model is scored on the very mask it was trained with: refuse another rate or seed, which would
    score entries that the model saw."""
    if getattr(imputer, "scenario", None) != "inplace" or getattr(imputer, "provenance_", None) is None:
        return
    origin = imputer.provenance_.origin
    trained = (origin.missing_rate, origin.mask_seed)
    if None not in trained and trained != (missing_rate, seed):
        from ..imputers import label

        raise ValueError(f"{label(imputer.name)} (in place) was trained with missing rate {trained[0]} and mask seed "
                         f"{trained[1]}; scoring it at rate {missing_rate}, seed {seed} would score entries it "
                         "trained on. Use the same rate and seed, or retrain")
