"""The paper's two scenarios as reusable steps: which data a model trains on, and which masked matrix it is scored on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .config import SCENARIOS, ModelConfig, check_choice, model_config
from .data import Prepared, Split, extended_index
from .masks import missing_mask

Scope = Literal["tissue", "all"]


@dataclass
class ScenarioData:
    """What a scenario trains on and what it is scored on.

    Attributes
    ----------
    scenario
        ``"inductive"`` or ``"inplace"``.
    train, valid, train_mask, valid_mask
        Arguments of ``Imputer.fit`` (masks ``None`` for complete inductive data).
    eval
        The matrix to impute: the extended test set (inductive) or the training matrix itself (in-place).
    eval_mask
        Its mask (1 = observed): fresh 50 %-style MCAR masks (inductive) or the training mask (in-place).
    scope
        ``"tissue"`` when most tissues have enough distinct samples to be scored alone (the others get no score),
        else ``"all"``: every tissue pooled, for cohorts too small to score tissue by tissue.
    """

    scenario: str
    train: Split
    valid: Split
    train_mask: np.ndarray | None
    valid_mask: np.ndarray | None
    eval: Split
    eval_mask: np.ndarray
    scope: Scope

    def fit_args(self) -> dict:
        return dict(train=self.train, valid=self.valid, train_mask=self.train_mask, valid_mask=self.valid_mask)


def scenario_data(prepared: Prepared, scenario: str, missing_rate: float = 0.5, seed: int = 0,
                  min_samples: int = 10) -> ScenarioData:
    """Masks and matrices of a scenario, all derived from ``seed`` so that every method sees identical masks.

    Inductive: train on complete training donors; impute the extended test set with entries missing
    completely at random. In-place: one fixed mask over the training (and validation) matrix; impute the
    training matrix's hidden entries.
    """
    check_choice(scenario, SCENARIOS, "scenario")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 5]))
    if scenario == "inductive":
        ev = prepared.test.take(extended_index(prepared.test.obs))
        mask = missing_mask(*ev.x.shape, missing_rate, rng)
        train_mask = valid_mask = None
        counts = prepared.test.obs["tissue"].astype(str).value_counts()
    else:
        train_mask = missing_mask(*prepared.train.x.shape, missing_rate, rng)
        valid_mask = missing_mask(*prepared.valid.x.shape, missing_rate, rng)
        ev, mask = prepared.train, train_mask
        counts = prepared.train.obs["tissue"].astype(str).value_counts()
    return ScenarioData(scenario, prepared.train, prepared.valid, train_mask, valid_mask, ev, mask,
                        scoring_scope(counts, min_samples))


def scoring_scope(counts: pd.Series, min_samples: int = 10) -> Scope:
    """``"tissue"`` when at least half of the tissues have ``min_samples`` distinct samples, else ``"all"``.

    Tissues below the threshold are still scored where they have :data:`~gaingtex.metrics.MIN_SAMPLES`; with
    fewer than about ten samples per tissue overall, per-tissue R² over a few masked values is noise, and
    every tissue is pooled instead.
    """
    return "tissue" if (counts >= min_samples).mean() >= 0.5 else "all"


def train_model(prepared: Prepared, model: str, scenario: str, preset: str = "book",
                config: ModelConfig | None = None, seed: int = 0, missing_rate: float = 0.5, verbose: int = 0,
                progress: bool = False):
    """Train one deep imputer in one scenario; returns the fitted :class:`~gaingtex.training.DeepImputer`."""
    from .training import DeepImputer

    data = scenario_data(prepared, scenario, missing_rate, seed)
    imputer = DeepImputer(model, scenario, config or model_config(preset, model, scenario), seed=seed,
                          verbose=verbose, progress=progress)
    imputer.fit(**data.fit_args())
    imputer.info.update({"missing_rate": missing_rate, "mask_seed": seed, "preset": preset})
    return imputer


def evaluate(imputers: dict, data: ScenarioData, genes=None) -> pd.DataFrame:
    """Score every imputer on the scenario's matrix and mask; one row per method (R², RMSE, impute seconds)."""
    from .metrics import compare

    for imputer in imputers.values():
        if getattr(imputer, "n_genes", None) is None:
            imputer.fit(**data.fit_args())
    return compare(imputers, data.eval.x, data.eval_mask, data.eval.obs, genes, by=data.scope)
