"""Frozen configuration dataclasses and their named presets (``smoke``, ``teach``, ``book``, ``paper``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

Preset = Literal["smoke", "teach", "book", "paper"]
ModelName = Literal["pmi", "gain", "gain-mse"]
Scenario = Literal["inductive", "inplace"]
LrDecay = Literal["constant", "cosine"]

PRESETS: tuple[str, ...] = get_args(Preset)
MODELS: tuple[str, ...] = get_args(ModelName)
SCENARIOS: tuple[str, ...] = get_args(Scenario)
LR_DECAYS: tuple[str, ...] = get_args(LrDecay)


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` that lists them."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}: expected one of {', '.join(map(repr, choices))}")
    return value


@dataclass(frozen=True)
class CohortConfig:
    """Size and structure of the embedded GTEx-shaped cohort.

    Attributes
    ----------
    n_genes
        Number of protein-coding genes (the 273 Alzheimer-pathway genes are always included).
    sample_fraction
        1.0 reproduces GTEx v8's 15,201-sample, 838-donor design exactly; smaller values scale every tissue down.
    min_samples_per_tissue
        Floor on a scaled-down tissue's sample count.
    n_shifted
        Samples in each of the three TCGA-like shifted cohorts.
    n_shared_factors, n_group_factors, n_tissue_factors, n_donor_factors
        Latent factors shared by all tissues, by a tissue group, by one tissue, and by all samples of one donor.
    genes_per_module
        Average size of the generic co-expression modules.
    """

    name: str
    n_genes: int
    sample_fraction: float
    min_samples_per_tissue: int
    n_shifted: int
    n_shared_factors: int = 6
    n_group_factors: int = 3
    n_tissue_factors: int = 1
    n_donor_factors: int = 2
    genes_per_module: int = 100


COHORT_PRESETS: dict[str, CohortConfig] = {
    "smoke": CohortConfig("smoke", n_genes=300, sample_fraction=0.04, min_samples_per_tissue=8, n_shifted=40),
    "teach": CohortConfig("teach", n_genes=1000, sample_fraction=0.25, min_samples_per_tissue=20, n_shifted=150),
    "book": CohortConfig("book", n_genes=2000, sample_fraction=1.0, min_samples_per_tissue=0, n_shifted=300),
    "paper": CohortConfig("paper", n_genes=12557, sample_fraction=1.0, min_samples_per_tissue=0, n_shifted=400),
}


def cohort_config(preset: str) -> CohortConfig:
    """The cohort configuration of a named preset."""
    return COHORT_PRESETS[check_choice(preset, PRESETS, "preset")]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and training schedule of one deep imputer.

    Attributes
    ----------
    hidden_layers, hidden_units, dropout, batchnorm
        Hidden blocks Dense → BatchNorm → ReLU → Dropout (generator and discriminator alike).
    learning_rate
        Adam learning rate (both optimisers for GAIN).
    lr_decay
        ``"constant"``, or ``"cosine"``: the rate decays along a cosine to 5 % of its start over ``max_epochs``.
    batch_size, steps_per_epoch, max_epochs, patience
        One epoch is ``steps_per_epoch`` batches; training stops after ``patience`` epochs without a lower
        validation loss and restores the best weights.
    alpha, beta
        PMI pseudo-mask: per-sample keep-probability ``p ~ U(alpha, beta)``.
    train_keep_low, train_keep_high
        GAIN (inductive): per-sample probability of observing a gene in the training masks.
    hint_rate
        GAIN: probability that the hint reveals an entry of the mask.
    lambda_mse
        GAIN: weight λ of the reconstruction loss.
    """

    hidden_layers: int
    hidden_units: int
    dropout: float
    learning_rate: float
    batch_size: int = 32
    steps_per_epoch: int = 100
    max_epochs: int = 1000
    patience: int = 30
    batchnorm: bool = True
    alpha: float = 0.5
    beta: float = 0.5
    train_keep_low: float = 0.5
    train_keep_high: float = 0.5
    hint_rate: float = 0.5
    lambda_mse: float = 1.0
    lr_decay: LrDecay = "constant"

    def __post_init__(self):
        check_choice(self.lr_decay, LR_DECAYS, "lr_decay")

    def replace(self, **changes) -> "ModelConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


# The authors' tuned values for all 12,557 genes (paper.md); the dropout of the in-place models comes from the
# authors' default configuration files.
def _model_table(pmi_inductive: ModelConfig, pmi_inplace: ModelConfig, gain_inductive: ModelConfig,
                 gain_inplace: ModelConfig) -> dict[tuple[str, str], ModelConfig]:
    """One preset's sizes; GAIN-MSE, the ablation of GAIN-GTEx, shares its generator's."""
    return {("pmi", "inductive"): pmi_inductive, ("pmi", "inplace"): pmi_inplace,
            ("gain", "inductive"): gain_inductive, ("gain", "inplace"): gain_inplace,
            ("gain-mse", "inductive"): gain_inductive, ("gain-mse", "inplace"): gain_inplace}


_PAPER_MODELS = _model_table(
    ModelConfig(1, 3072, 0.2, 1e-4), ModelConfig(2, 1366, 0.2, 1e-4),
    ModelConfig(4, 1902, 0.2, 1e-3), ModelConfig(3, 296, 0.0, 1e-3),
)

# The CPU presets. `book` sizes were measured on the book cohort (2,000 genes) on 2 CPU cores: PMI keeps a wide
# single layer (1 × 512 underfits, dropout 0 overfits, dropout 0.5 underfits); GAIN, whose reconstruction loss sees
# observed entries only, needs a bottleneck narrow relative to the gene count, as the paper's 296 units for 12,557
# genes is (3 × 256 copies its inputs and imputes worse than 3 × 64). Batches of 256 with a learning rate of 3e-3
# are a speed choice for CPUs, and a cosine decay of the rate reaches in 40 epochs what a constant rate reached in
# 60 (PMI inductive 0.920 vs 0.923 of the oracle; GAIN in-place 0.876 vs 0.871). `teach` and `smoke` halve and
# quarter the widths.
_BOOK_MODELS = _model_table(
    ModelConfig(1, 1024, 0.2, 3e-3, lr_decay="cosine"), ModelConfig(2, 512, 0.2, 3e-3, lr_decay="cosine"),
    ModelConfig(4, 320, 0.2, 3e-3, lr_decay="cosine"), ModelConfig(3, 64, 0.0, 3e-3, lr_decay="cosine"),
)
_SCHEDULES: dict[str, dict] = {
    "smoke": dict(width=0.25, batch_size=64, steps_per_epoch=20, max_epochs=15, patience=5),
    "teach": dict(width=0.5, batch_size=128, steps_per_epoch=50, max_epochs=25, patience=6),
    "book": dict(width=1.0, batch_size=256, steps_per_epoch=100, max_epochs=40, patience=10),
}


def model_config(preset: str, model: str, scenario: str) -> ModelConfig:
    """The model configuration of a named preset for one model and scenario."""
    check_choice(preset, PRESETS, "preset")
    check_choice(model, MODELS, "model")
    check_choice(scenario, SCENARIOS, "scenario")
    if preset == "paper":
        return _PAPER_MODELS[(model, scenario)]
    base = _BOOK_MODELS[(model, scenario)]
    s = _SCHEDULES[preset]
    return base.replace(
        hidden_units=max(16, int(round(base.hidden_units * s["width"]))),
        batch_size=s["batch_size"],
        steps_per_epoch=s["steps_per_epoch"],
        max_epochs=s["max_epochs"],
        patience=s["patience"],
    )


@dataclass(frozen=True)
class ComparisonConfig:
    """How much of the comparison of methods (notebook 08, ``gaingtex benchmark``) a preset affords.

    Attributes
    ----------
    seeds
        Seeds per method (each redraws the masks and the method's own seed).
    deep_seeds
        Of those, how many the deep models are trained for (the first is the run's own model).
    budget
        Seconds a method may take to fit or to impute before it is reported as "> budget".
    scaling_budget
        Seconds per method and size in the scaling study.
    gene_sets
        Which of all genes, the Alzheimer genes and the 59-gene panel are compared.
    """

    seeds: int
    deep_seeds: int
    budget: float
    scaling_budget: float
    gene_sets: tuple[str, ...] = ("all", "alzheimer", "panel")


# `book` trains the deep models for one seed: three seeds of three models in two scenarios would triple the
# build's time; `gaingtex benchmark` trains them for every seed. `smoke` (the tests' book) keeps every stage,
# with two seeds, budgets of seconds (so that its slow methods meet them) and no Alzheimer set (273 of its 300
# genes: all genes again).
COMPARISON_PRESETS: dict[str, ComparisonConfig] = {
    "smoke": ComparisonConfig(seeds=2, deep_seeds=1, budget=5.0, scaling_budget=2.0, gene_sets=("all", "panel")),
    "teach": ComparisonConfig(seeds=3, deep_seeds=3, budget=300.0, scaling_budget=30.0),
    "book": ComparisonConfig(seeds=3, deep_seeds=1, budget=120.0, scaling_budget=30.0),
    "paper": ComparisonConfig(seeds=3, deep_seeds=1, budget=1800.0, scaling_budget=300.0),
}


def comparison_config(preset: str) -> ComparisonConfig:
    """The comparison's configuration of a named preset."""
    return COMPARISON_PRESETS[check_choice(preset, PRESETS, "preset")]
