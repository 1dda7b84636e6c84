"""Frozen configuration dataclasses and their named presets (``smoke``, ``teach``, ``book``, ``paper``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

Preset = Literal["smoke", "teach", "book", "paper"]
Scenario = Literal["inductive", "inplace"]
LrDecay = Literal["constant", "cosine"]
Reconstruct = Literal["observed", "hidden"]

PRESETS: tuple[str, ...] = get_args(Preset)
SCENARIOS: tuple[str, ...] = get_args(Scenario)
LR_DECAYS: tuple[str, ...] = get_args(LrDecay)
Precision = Literal["float32", "bfloat16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
RECONSTRUCT: tuple[str, ...] = get_args(Reconstruct)


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` that lists them."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}: expected one of {', '.join(map(repr, choices))}")
    return value


def is_gain(model: str) -> bool:
    """Whether a deep model is GAIN-GTEx or its ablation GAIN-MSE (one generator, one objective), as the registry
    records it (asked when needed: the registry's methods import this module)."""
    from .imputers.registry import spec

    return spec(model).family == "gain"


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
    precision
        ``"float32"``, or ``"bfloat16"``: the networks' products in bfloat16 (Keras' ``mixed_bfloat16``: weights,
        optimiser state, losses and the mixing of imputed with observed values stay float32).
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
    reconstruct: Reconstruct = "observed"
    precision: Precision = "float32"

    def __post_init__(self):
        check_choice(self.lr_decay, LR_DECAYS, "lr_decay")
        check_choice(self.precision, PRECISIONS, "precision")
        check_choice(self.reconstruct, RECONSTRUCT, "reconstruct")

    def replace(self, **changes) -> "ModelConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


# The authors' tuned values for all 12,557 genes (paper.md), with the paper's objective; the dropout of the in-place
# models comes from the authors' default configuration files.
def _model_table(pmi_inductive: ModelConfig, pmi_inplace: ModelConfig, gain_inductive: ModelConfig,
                 gain_inplace: ModelConfig) -> dict[tuple[str, str], ModelConfig]:
    """One preset's sizes; GAIN-MSE, the ablation of GAIN-GTEx, shares its generator's."""
    return {("pmi", "inductive"): pmi_inductive, ("pmi", "inplace"): pmi_inplace,
            ("gain", "inductive"): gain_inductive, ("gain", "inplace"): gain_inplace,
            ("gain-mse", "inductive"): gain_inductive, ("gain-mse", "inplace"): gain_inplace}


PAPER_GENES = 12557
_PAPER_MODELS = _model_table(
    ModelConfig(1, 3072, 0.2, 1e-4), ModelConfig(2, 1366, 0.2, 1e-4),
    ModelConfig(4, 1902, 0.2, 1e-3), ModelConfig(3, 296, 0.0, 1e-3),
)

# The CPU presets, sized on the book cohort (BOOK_GENES genes) on 2 CPU cores. PMI keeps a wide single layer (a
# narrower one underfits; dropout 0.2 lies between over- and underfitting). GAIN, whose paper objective scores the
# generator on the entries it is given, needs a bottleneck narrow relative to the gene count, or it learns to copy
# its inputs. Batches of 256 at a learning rate of 3e-3 are a speed choice for CPUs: half batches take longer for
# the same steps and impute worse; a cosine decay of the rate needs fewer epochs than a constant rate. 2,000 steps
# in all (20 epochs of 100) are a time choice for the book: twice as many buy little R² at twice the time, and
# GAIN-MSE in place peaks within them. Epochs stay 100 steps long because the search ranks its candidates after
# one, and after 50 steps the ranking can pick a setting that then stops training early. `teach` and `smoke` halve
# and quarter the widths. The search (SearchConfig) adjusts all of it to the data. The numbers:
# benchmarks/README.md, "The training schedule".
BOOK_GENES = 2000
_BOOK_MODELS = _model_table(
    ModelConfig(1, 1024, 0.2, 3e-3, lr_decay="cosine"), ModelConfig(2, 512, 0.2, 3e-3, lr_decay="cosine"),
    ModelConfig(4, 320, 0.2, 3e-3, lr_decay="cosine"), ModelConfig(3, 64, 0.0, 3e-3, lr_decay="cosine"),
)
_SCHEDULES: dict[str, dict] = {
    "smoke": dict(width=0.25, batch_size=64, steps_per_epoch=20, max_epochs=15, patience=5),
    "teach": dict(width=0.5, batch_size=128, steps_per_epoch=50, max_epochs=25, patience=6),
    "book": dict(width=1.0, batch_size=256, steps_per_epoch=100, max_epochs=20, patience=5, gain_epochs=48,
                 bfloat16=True),
}
# `book` trains in bfloat16 where the CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX): trained as the preset
# trains them, search included, PMI and GAIN-GTEx scored the R² they score in float32, with the same choices and
# epochs, in less time. Only on its cohort's gene count: on fewer genes (the 59-gene panel, where it trains for more
# epochs) PMI in place stopped earlier in bfloat16 and scored lower over three seeds, and a step there costs little
# either way. A CPU without those units would emulate it, slower than float32, so there it stays float32. `smoke`
# and `teach` stay float32 everywhere, so that the tests and a classroom get the same numbers on any machine. The
# numbers: benchmarks/README.md, "Precision and XLA".


def cpu_info(cpuinfo: str = "/proc/cpuinfo") -> dict[str, str]:
    """The first processor's fields in Linux's ``cpuinfo`` (``model name``, ``flags``, …); empty where it cannot be
    read."""
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            first = handle.read().split("\n\n")[0]
    except OSError:
        return {}
    pairs = (line.split(":", 1) for line in first.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (the ``avx512_bf16`` or ``amx_bf16`` flag of Linux's
    ``/proc/cpuinfo``; ``False`` where that cannot be read)."""
    flags = cpu_info().get("flags", "").split()
    return "avx512_bf16" in flags or "amx_bf16" in flags

# GAIN-GTEx's generator learns its tissue embedding (paper Fig. 3) more slowly than it learns to impute. On the book
# cohort, inductive, with the setting its search chose ("preset"), the brain tissues' 3-NN purity was far from
# perfect after the 12 epochs of 100 steps that the search left it, higher after 20, and perfect well before the
# 40th, its R² rising too, as in the earlier book that trained 40. So inductive at `book`, on its cohort's genes,
# it has `gain_epochs`: its search spends 8 and its training 40. At `teach` more epochs do not help: it stops early,
# its purity and R² no better. In place and on fewer genes (the panel) the schedule is unchanged (unmeasured). The
# numbers: benchmarks/README.md, "The tissue embeddings (Fig. 3)"; for `teach`,
# benchmarks/results/purity-teach-gain-2x.json.
MIN_UNITS = 16


def scaled_units(config: ModelConfig, model: str, n_genes: int, reference_genes: int) -> int:
    """Hidden units for ``n_genes`` from a size tuned at ``reference_genes``.

    A generator scored on the entries it is given (the paper's GAIN objective) must keep its bottleneck narrow
    relative to the genes, or it learns to copy them: its width follows the gene count both ways (never below
    :data:`MIN_UNITS`). Every other network grows with the square root of the gene count and does not shrink
    below the preset's width: on the 59-gene panel each imputed better the wider it was (benchmarks/README.md,
    "Widths on the panel").

    From the book's sizes at 2,000 genes the rules reach the paper's at 12,557 within 25 % (PMI 1 × 2,566 and
    2 × 1,283 for the paper's 3,072 and 1,366; GAIN-GTEx's paper objective 4 × 2,009 and 3 × 402 for 1,902 and
    296)."""
    ratio = n_genes / reference_genes
    if is_gain(model) and config.reconstruct == "observed":
        return max(MIN_UNITS, int(round(config.hidden_units * ratio)))
    return max(config.hidden_units, int(round(config.hidden_units * ratio ** 0.5)))


# A CPU preset's schedule is a compute budget for its own cohort's gene count, and a step on fewer genes costs less.
# So data with fewer genes than the preset's cohort train for √(cohort genes / genes) times its epochs, at most
# EPOCH_GROWTH times: on the 59-gene panel that still costs less than the preset on its own cohort, and with only
# the preset's epochs the deep models there stop while still improving. The paper preset keeps the authors'
# schedule. The numbers: benchmarks/README.md, "The deep models on the 59-gene panel".
EPOCH_GROWTH = 3.0


def epoch_growth(preset: str, n_genes: int | None) -> float:
    """How many times its epochs a CPU preset trains for on data of ``n_genes`` genes (1 at or above its cohort's
    gene count, and for the paper preset)."""
    if preset == "paper" or n_genes is None:
        return 1.0
    return float(min(EPOCH_GROWTH, max(1.0, (COHORT_PRESETS[preset].n_genes / int(n_genes)) ** 0.5)))


def preset_base(preset: str, model: str, scenario: str, n_genes: int | None = None) -> tuple[ModelConfig, int]:
    """A preset's configuration for one model and scenario, and the gene count its widths were tuned for; with
    ``n_genes``, its epochs are those for data of that many genes (:func:`epoch_growth`)."""
    check_choice(preset, PRESETS, "preset")
    check_choice(model, tuple(dict.fromkeys(m for m, _ in _BOOK_MODELS)), "model")
    check_choice(scenario, SCENARIOS, "scenario")
    if preset == "paper":
        return _PAPER_MODELS[(model, scenario)], PAPER_GENES
    base, s = _BOOK_MODELS[(model, scenario)], _SCHEDULES[preset]
    growth = epoch_growth(preset, n_genes)
    longer = (model, scenario) == ("gain", "inductive") and growth == 1.0 and "gain_epochs" in s
    epochs = int(round(s["gain_epochs" if longer else "max_epochs"] * growth))
    return base.replace(hidden_units=max(MIN_UNITS, int(round(base.hidden_units * s["width"]))),
                        batch_size=s["batch_size"], steps_per_epoch=s["steps_per_epoch"],
                        max_epochs=epochs, patience=s["patience"],
                        precision=("bfloat16" if s.get("bfloat16") and growth == 1.0 and native_bfloat16()
                                   else base.precision)), BOOK_GENES


def sized(config: ModelConfig, model: str, n_genes: int | None, reference_genes: int) -> ModelConfig:
    """``config`` with its width scaled from ``reference_genes`` to ``n_genes`` (:func:`scaled_units`)."""
    if n_genes is None:
        return config
    return config.replace(hidden_units=scaled_units(config, model, int(n_genes), reference_genes))


def model_config(preset: str, model: str, scenario: str, n_genes: int | None = None) -> ModelConfig:
    """The model configuration of a named preset for one model and scenario; with ``n_genes``, its widths are
    scaled to that many genes (:func:`scaled_units`) and its epochs grow for fewer genes (:func:`epoch_growth`)."""
    base, reference = preset_base(preset, model, scenario, n_genes)
    return sized(base, model, n_genes, reference)


# Named changes to a preset's deep schedule (``gaingtex benchmark --deep-schedule``). "authors": the preset's own.
# "cpu": the paper preset's sizes trained as the book preset trains on 2 CPU cores. The authors' schedule (batch 32,
# up to 1,000 epochs of 100 steps, patience 30) would take days there at 12,557 genes, where even one step of the
# authors' widths is slow. So it keeps the authors' widths and dropout and cuts the rest to the book's CPU recipe:
# batches of 256 at a learning rate of 3e-3 with cosine decay, in bfloat16 (the R² of float32 at book), for 1,000
# steps (10 epochs of 100; at book half of its 2,000 steps costs a little R²). What it cuts is said beside every
# table that quotes it. The numbers: benchmarks/README.md, "The comparison at the paper's size"; for the recipe,
# "The training schedule" and "Precision and XLA".
DEEP_SCHEDULES: dict[str, dict] = {
    "authors": {},
    "cpu": dict(batch_size=256, learning_rate=3e-3, lr_decay="cosine", steps_per_epoch=100, max_epochs=10,
                patience=5, precision="bfloat16"),
}


def scheduled(config: ModelConfig, schedule: str) -> ModelConfig:
    """``config`` with the changes of a named deep schedule (:data:`DEEP_SCHEDULES`)."""
    return config.replace(**DEEP_SCHEDULES[check_choice(schedule, tuple(DEEP_SCHEDULES), "deep schedule")])


@dataclass(frozen=True)
class SearchConfig:
    """The validation search of a deep model's learning rate, width, dropout and (GAIN) objective.

    Each candidate changes one setting of the preset's configuration: the width times each of ``widths``, the
    learning rate times each of ``learning_rates``, the dropout set to each of ``dropouts``, and for GAIN-GTEx and
    GAIN-MSE the other objective of :data:`GAIN_OBJECTIVES`. Widths are then scaled to the data's gene count
    (:func:`scaled_units`). A successive halving, on the schedule of the final training: every candidate (the
    preset's own first) trains for ``rung_epochs``; the ``survivors`` with the lowest validation loss at that point
    go on for ``second_rung_epochs`` more, so that a loss that climbs counts against a setting; the best goes on
    training. The epochs spent on the others are taken from the preset's ``max_epochs``: the search and the
    training together cost what training alone did. GAIN-GTEx screens its generator without the discriminator
    (as GAIN-MSE, at half the cost) and then trains afresh; GAIN-MSE reuses that search in the same process.
    """

    rung_epochs: int = 1
    second_rung_epochs: int = 3
    survivors: int = 2
    widths: tuple[float, ...] = (0.5, 2.0)
    learning_rates: tuple[float, ...] = (1 / 3,)
    dropouts: tuple[float, ...] = (0.5,)

    def candidates(self, base: ModelConfig, model: str, n_genes: int,
                   reference_genes: int) -> list[tuple[str, ModelConfig]]:
        """``(name, config)`` pairs for data of ``n_genes`` genes, the preset's own first, without duplicates;
        ``base`` is the configuration tuned at ``reference_genes``."""
        shortest = self.rung_epochs + self.second_rung_epochs
        base = base.replace(max_epochs=max(shortest, base.max_epochs - self.epochs(base, model)))
        out = [("preset", base)]
        out += [(f"width ×{w:g}", base.replace(hidden_units=max(MIN_UNITS, int(round(base.hidden_units * w)))))
                for w in self.widths]
        out += [(f"rate ×{r:.2g}", base.replace(learning_rate=base.learning_rate * r)) for r in self.learning_rates]
        out += [(f"dropout {d:g}", base.replace(dropout=d)) for d in self.dropouts if d != base.dropout]
        if is_gain(model):
            other = next(o for o in GAIN_OBJECTIVES if o != base.reconstruct)
            out.append((f"objective: {other} entries", base.replace(**GAIN_OBJECTIVES[other])))
        seen, unique = set(), []
        for name, config in out:
            config = sized(config, model, n_genes, reference_genes)
            if config not in seen:
                seen.add(config)
                unique.append((name, config))
        return unique

    def epochs(self, base: ModelConfig, model: str) -> int:
        """Epochs the search spends on the settings it does not choose (an upper bound: duplicates are dropped)."""
        n = 1 + len(self.widths) + len(self.learning_rates) + sum(d != base.dropout for d in self.dropouts)
        n += is_gain(model)
        return (n - 1) * self.rung_epochs + (min(self.survivors, n) - 1) * self.second_rung_epochs


# GAIN's two objectives. "observed", the paper's: the generator's error on the entries it is given (λ = 1). "hidden":
# on known entries hidden from it, as PMI's, with λ = 10. Under the paper's objective a generator wide relative to the
# gene count learns to copy its inputs, and on the 59-gene panel GAIN stops at its first epoch; scored on hidden
# entries it trains. There λ = 10, because with λ = 1 the adversarial term outweighs the reconstruction and the
# validation loss climbs. On the 2,000-gene cohort in place the paper's objective imputes better, so neither is
# fixed: the search chooses on validation. The numbers: benchmarks/README.md, "GAIN's objectives".
GAIN_OBJECTIVES: dict[str, dict] = {"observed": dict(reconstruct="observed", lambda_mse=1.0),
                                    "hidden": dict(reconstruct="hidden", lambda_mse=10.0)}


# The paper's sizes were tuned by its authors and are used as they are. Book: 5 candidates (GAIN: 6) for 1 epoch,
# 2 of them for 3 more; the chosen one trains for 13 (12) of the 20 epochs in all. `smoke` (the tests') tries the
# preset, twice the width and (GAIN) the other objective.
SEARCH_PRESETS: dict[str, SearchConfig | None] = {
    "smoke": SearchConfig(rung_epochs=1, second_rung_epochs=2, widths=(2.0,), learning_rates=(), dropouts=()),
    "teach": SearchConfig(rung_epochs=1, second_rung_epochs=2),
    "book": SearchConfig(rung_epochs=1, second_rung_epochs=3),
    "paper": None,
}


def search_config(preset: str) -> SearchConfig | None:
    """The validation search of a named preset (``None``: no search)."""
    return SEARCH_PRESETS[check_choice(preset, PRESETS, "preset")]
