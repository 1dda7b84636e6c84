"""Multiple imputation that changes a conclusion: an age effect tested on imputed data, where the truth is known.

A researcher measures some genes of a tissue's samples, imputes the rest, and regresses one gene on age (adjusted
for sex and the Hardy scale). The study repeats that experiment many times on the embedded cohort's generating
model (:mod:`gaingtex.data.embedded.factor_model`) and asks whether the 95 % interval for the age effect covers
the true effect, and how often a gene without an effect is called significant, when the imputed entries are

- ``truth``: not hidden at all (the complete data: the analysis' own coverage, about 0.95);
- ``complete cases``: dropped (valid here, since entries are hidden completely at random, but it uses half the
  samples);
- ``single``: one imputation, analysed as if measured;
- ``multiple``: ``M`` draws from the method's predictive distribution, each analysed, pooled by Rubin's rules
  (:func:`gaingtex.evaluation.pooling.rubin`).

**Design.** The covariates (sex, age, Hardy scale) of a reference, a calibration and a study sample are drawn once
from the cohort's donors of one tissue and kept fixed. Every replicate draws new expression for all three from the
generating model, a new mask of the study sample (stream ``"multiple-imputation"``), fits each method, calibrates
it on the calibration sample and imputes the study. Where a method is fitted is the scenario: ``"inductive"``, on
the complete reference sample (the paper's inductive use: a GTEx-like reference, a study with holes);
``"inplace"``, on the study's own incomplete matrix, its statistics from the study's observed entries. Refitting
per replicate, rather than fixing one fitted model across masks, is what makes the coverage a frequentist one:
the reference is a sample too, and a model fitted once would add the same error to every replicate.

**What decides the outcome** (the recorded runs, ``benchmarks/results/multiple-imputation*.json``): a model that
does not condition on the tested covariate (``gaussian``, ``mean``) biases the effect toward zero, and Rubin's
rules cannot undo a bias. With a congenial model fitted on a large complete reference, single imputation is close
to valid (its parameters are known almost exactly, and regression imputation with known parameters keeps the
slope and its variance) and multiple imputation is conservative (the model knows more than the study: Meng's
superefficiency). The textbook failure of single imputation appears in place, where the imputation's parameters
are estimated from the study's own incomplete data and the analysis counts the imputed entries as data.

**The target** is the generating model's coefficient ``r_j β_j,age`` (in expression units per 15 years). With the
design fixed and the analysis adjusting for every covariate the model's mean depends on, the complete-data
estimate is unbiased for it, so the two candidate targets (the generator's coefficient and the complete-data
estimate's expectation) coincide; the generator's is exact, the other would only be estimated. Targeting one
replicate's complete-data estimate would be wrong: the interval is for the population effect.

**The null gene.** Every gene of the generator has a small age effect, so the study zeroes the age coefficient of
one gene (the one whose effect is already the smallest) in a copy of the generator and draws every replicate from
that copy; its other effects and its co-expression are untouched.

**Proper imputation.** A draw must carry the uncertainty of the fitted parameters too (Rubin 1987): each of the
``M`` draws of a fitted method comes from a refit on a bootstrap resample of the reference (in place: of the
study's rows, with their masks). The single imputation and the calibration use the fit on the whole reference.
The deep models are left out: ``M + 1`` fits per replicate over hundreds of replicates is days of training on two
cores.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ...data import GTEX, Split, Standardizer
from ...data.embedded import FactorModel, encode_covariates, factor_model
from ...data.masks import missing_mask, stream
from ...imputers import get
from ...imputers.conformal import calibrate, own_spread
from ...imputers.predictive import Predictive, predictive
from ...imputers.with_covariates import WithCovariates
from ..pooling import Effect, design_matrix, ols_effect, rubin

TISSUE = "Muscle_Skeletal"  # GTEx's largest tissue, both sexes
AGE = 1  # the age column of encode_covariates: (age − 50) / 15
LEVEL = 0.95
METHODS = ("oracle", "gaussian", "gaussian+covariates", "knn", "mean")
GENES = ("effect", "null")
SCENARIOS = ("inductive", "inplace")
COVARIATES = "+covariates"  # a method name's suffix: the method given the covariates as columns (WithCovariates)
PARAMETER_FREE = ("oracle",)  # no fitted parameters: its draws need no bootstrap


@dataclass
class Design:
    """A study's fixed parts: the generator (null gene's age effect zeroed), its unit, the panel's genes (model
    indices, the effect gene first, the null gene second), each sample's covariates, and the true effects."""

    generator: FactorModel
    unit: int
    tissue: str
    genes: np.ndarray
    obs: dict[str, pd.DataFrame]
    targets: dict[str, float]
    seed: int

    @property
    def symbols(self) -> pd.Index:
        return pd.Index([self.generator.genes[g] for g in self.genes])


def age_effects(model: FactorModel, unit: int) -> np.ndarray:
    """Every gene's true age effect in ``unit``, in expression units per (age − 50) / 15."""
    return model.scale[unit].astype(np.float64) * model.beta[:, AGE].astype(np.float64)


def choose_panel(model: FactorModel, unit: int, n_genes: int, exclude: np.ndarray) -> tuple[int, int, np.ndarray]:
    """The gene with the largest age effect, the one with the smallest, and the panel: both, then the genes most
    correlated with either under the unit's model covariance (what an imputer can borrow from), in turns."""
    effect = age_effects(model, unit)
    allowed = ~exclude  # chrY genes: their variance is all sex, which swamps any age effect
    order = np.argsort(np.abs(effect))
    null_gene = int(order[allowed[order]][0])
    effect_gene = int(order[allowed[order]][-1])
    _, L = model.unit_loadings(unit)
    cov = L.astype(np.float64) @ L.T.astype(np.float64) + np.diag(model.noise[unit].astype(np.float64))
    sd = np.sqrt(np.diag(cov))
    panel = [effect_gene, null_gene]
    ranked = [iter(np.argsort(-np.abs(cov[g] / (sd[g] * sd)))) for g in panel]
    while len(panel) < min(n_genes, len(sd)):
        for it in ranked:
            for g in it:
                if g not in panel and allowed[g]:
                    panel.append(int(g))
                    break
    return effect_gene, null_gene, np.array(panel[:n_genes])


def make_design(adata, tissue: str = TISSUE, n_genes: int = 40, n_reference: int = 400, n_calibration: int = 200,
                n_study: int = 200, seed: int = 0) -> Design:
    """The study's fixed parts for an embedded cohort (``adata`` with its generator)."""
    model = factor_model(adata)
    unit = model.unit_index(tissue)
    obs = adata.obs[(adata.obs["cohort"].astype(str) == GTEX) & (adata.obs["tissue"].astype(str) == tissue)]
    if len(obs) < 10:
        raise ValueError(f"the cohort has {len(obs)} samples of {tissue}: too few donors to draw covariates from")
    chr_y = (adata.var["module"].astype(str) == "chrY").to_numpy() if "module" in adata.var else None
    exclude = np.zeros(len(model.genes), bool)
    if chr_y is not None:
        exclude[model.gene_index(adata.var_names[chr_y])] = True
    effect_gene, null_gene, genes = choose_panel(model, unit, n_genes, exclude)
    beta = model.beta.copy()
    beta[null_gene, AGE] = 0.0
    model = replace(model, beta=beta)
    rng = stream(seed, "multiple-imputation", 0)
    sizes = {"reference": n_reference, "calibration": n_calibration, "study": n_study}
    frames = {}
    for role, n in sizes.items():
        rows = obs.iloc[rng.integers(0, len(obs), n)]  # the tissue's donors' covariates, resampled
        frames[role] = pd.DataFrame({"donor_id": rows["donor_id"].astype(str).to_numpy(), "tissue": tissue,
                                     "sex": rows["sex"].astype(str).to_numpy(), "age": rows["age"].to_numpy(float),
                                     "hardy": rows["hardy"].astype(str).to_numpy(), "cohort": GTEX},
                                    index=[f"{role}-{i}" for i in range(n)])
    effects = age_effects(model, unit)
    return Design(model, unit, tissue, genes, frames, {"effect": float(effects[effect_gene]), "null": 0.0}, seed)


def simulate(design: Design, obs: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Expression of the panel's genes for samples with covariates ``obs``, drawn from the generator (each sample
    its own donor, so the donor factors are drawn like any other)."""
    model, u = design.generator, design.unit
    _, L = model.unit_loadings(u)
    L = L[design.genes].astype(np.float64)
    mu = model.mean(u, encode_covariates(obs))[:, design.genes]
    noise = np.sqrt(model.noise[u, design.genes].astype(np.float64))
    return mu + rng.standard_normal((len(obs), L.shape[1])) @ L.T + rng.standard_normal(mu.shape) * noise


def make_method(name: str, design: Design, seed: int, chosen: dict | None = None, scenario: str = "inductive"):
    """An unfitted imputer for a study's method name (``"gaussian+covariates"``: :class:`WithCovariates`)."""
    base = name[: -len(COVARIATES)] if name.endswith(COVARIATES) else name
    imputer = get(base, scenario=scenario, seed=seed, generator=design.generator, **(chosen or {}))
    return WithCovariates(imputer) if name.endswith(COVARIATES) else imputer


def _scaled(name: str, imputer) -> bool:
    return own_spread(imputer.inner if isinstance(imputer, WithCovariates) else imputer)


def completed(name: str, design: Design, reference: Split, calibration: Split, x: np.ndarray, mask: np.ndarray,
              draws: int, rng: np.random.Generator, seed: int,
              reference_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One method's single imputation ``(samples, genes)`` and ``draws`` completed matrices of the study, in
    the prepared scale (module docstring: calibration and bootstrap); ``reference_mask``: the reference's
    observed entries (in place, where the reference is the study itself)."""
    obs = design.obs["study"]
    shown = np.where(mask > 0, x, np.nan).astype(np.float32)
    scenario = "inductive" if reference_mask is None else "inplace"
    imputer = make_method(name, design, seed, scenario=scenario).fit(reference, calibration, reference_mask)
    single = imputer.transform(shown, mask, obs)
    scaled = _scaled(name, imputer)
    cal = None if name == "oracle" else calibrate(imputer, calibration, seed=seed, scaled=scaled,
                                                  shown=float(mask.mean()))
    if name in PARAMETER_FREE:
        fits, each = [imputer], draws
    else:
        fits, each = [], 1
        for _ in range(draws):
            rows = rng.integers(0, len(reference), len(reference))
            boot = Split(reference.x[rows], reference.obs.iloc[rows], reference.genes, reference.scale)
            boot_mask = None if reference_mask is None else reference_mask[rows]
            fits.append(make_method(name, design, seed, imputer.chosen_, scenario).fit(boot, calibration, boot_mask))
    out = []
    for fit in fits:
        if scaled and cal is not None:
            # Recalibrated own draws need the centre and the cell factors, not the spread: skip computing it.
            pred = Predictive(fit.transform(shown, mask, obs), None, mask, cal.group_index(obs), cal, cal.row_scale(obs))
        else:
            pred = predictive(fit, cal, shown, mask, obs)
        own = fit.draw(shown, mask, obs, each, rng) if scaled else None
        out.append(pred.draws(each, rng, own))
    return single, np.concatenate(out)


def replicate(design: Design, r: int, methods=METHODS, draws: int = 20, missing_rate: float = 0.5,
              level: float = LEVEL, scenario: str = "inductive") -> list[dict]:
    """One replicate: new expression, a new mask, every method; one row per approach × method × tested gene.

    ``scenario``: ``"inductive"``, each method fitted on the complete reference sample; ``"inplace"``, on the
    study's own incomplete matrix (no reference), as the paper's in-place scenario does."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}: expected one of {', '.join(SCENARIOS)}")
    rng = stream(design.seed, "multiple-imputation", 1, r)
    raw = {role: simulate(design, obs, rng) for role, obs in design.obs.items()}
    mask = missing_mask(*raw["study"].shape, missing_rate, rng)
    # In place the statistics come from the study's observed entries, as they would in a study without a reference.
    scale = Standardizer.fit(raw["reference"]) if scenario == "inductive" else Standardizer.fit(raw["study"], mask)
    splits = {role: Split(scale.transform(v), design.obs[role], design.symbols, scale) for role, v in raw.items()}
    reference, reference_mask = splits["reference"], None
    if scenario == "inplace":
        x_study = splits["study"].x
        reference = Split(np.where(mask > 0, x_study, np.nan), design.obs["study"], design.symbols, scale)
        reference_mask = mask
    D, column = design_matrix(encode_covariates(design.obs["study"]), AGE)
    tested = {"effect": 0, "null": 1}  # the panel's first two genes
    rows = []

    def record(approach, method, gene, effect: Effect):
        lo, hi = effect.interval(level)
        target = design.targets[gene]
        rows.append({"replicate": r, "approach": approach, "method": method, "gene": gene, "target": target,
                     "estimate": effect.estimate, "se": effect.se, "df": effect.df, "lower": lo, "upper": hi,
                     "covered": bool(lo <= target <= hi), "significant": bool(effect.p_value < 1.0 - level),
                     "missing_share": effect.missing_share})

    y = raw["study"]
    for gene, j in tested.items():
        record("truth", "", gene, ols_effect(y[:, j], D, column))
        seen = mask[:, j] > 0
        D_cc, column_cc = design_matrix(encode_covariates(design.obs["study"].iloc[np.flatnonzero(seen)]), AGE)
        record("complete cases", "", gene, ols_effect(y[seen, j], D_cc, column_cc))
    x = splits["study"].x
    for k, name in enumerate(methods):
        method_rng = stream(design.seed, "multiple-imputation", 2, r, k)
        single, many = completed(name, design, reference, splits["calibration"], x, mask, draws, method_rng,
                                 seed=design.seed * 100_003 + r, reference_mask=reference_mask)
        single, many = scale.inverse(single), scale.inverse(many)
        for gene, j in tested.items():
            record("single", name, gene, ols_effect(single[:, j], D, column))
            fits = [ols_effect(m[:, j], D, column) for m in many]
            record("multiple", name, gene, rubin([f.estimate for f in fits], [f.se ** 2 for f in fits], D.shape[0]
                                                 - D.shape[1]))
    return rows


def run(adata, replicates: int = 200, methods=METHODS, draws: int = 20, missing_rate: float = 0.5, seed: int = 0,
        level: float = LEVEL, progress: bool = False, scenario: str = "inductive", **sizes) -> pd.DataFrame:
    """Every replicate's rows (:func:`replicate`) for the study on ``adata`` (``sizes``: :func:`make_design`'s
    ``tissue``, ``n_genes``, ``n_reference``, ``n_calibration``, ``n_study``)."""
    from tqdm.auto import tqdm

    design = make_design(adata, seed=seed, **sizes)
    rows = []
    for r in tqdm(range(replicates), desc="multiple imputation", disable=not progress, leave=False):
        rows.extend(replicate(design, r, methods, draws, missing_rate, level, scenario))
    out = pd.DataFrame(rows)
    out.attrs.update({"scenario": scenario, "tissue": design.tissue, "genes": list(design.symbols[:2]),
                      "targets": design.targets,
                      "panel": len(design.genes), "draws": draws, "missing_rate": missing_rate, "level": level,
                      "sizes": {k: len(v) for k, v in design.obs.items()}})
    return out


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per approach × method × gene: the interval's coverage of the true effect, the share called significant
    (the false-positive rate for the null gene, the power for the other), the mean interval width, the bias, and
    the estimates' spread across replicates against the mean standard error (a method whose standard error is
    smaller than its estimates' spread is overconfident)."""
    keys = ["approach", "method", "gene"]
    order = {a: i for i, a in enumerate(("truth", "complete cases", "single", "multiple"))}
    out = rows.assign(width=rows["upper"] - rows["lower"], error=rows["estimate"] - rows["target"]).groupby(
        keys, sort=False).agg(replicates=("replicate", "size"), coverage=("covered", "mean"),
                              significant=("significant", "mean"), width=("width", "mean"), bias=("error", "mean"),
                              sd=("estimate", "std"), se=("se", "mean"), missing_share=("missing_share", "mean"))
    out = out.reset_index()
    return out.sort_values(["gene", "approach", "method"], key=lambda s: s.map(order) if s.name == "approach" else s,
                           kind="stable").reset_index(drop=True)


def coverage_se(coverage: float, replicates: int) -> float:
    """The Monte Carlo standard error of a coverage estimated from ``replicates`` independent replicates."""
    return float(np.sqrt(max(coverage * (1.0 - coverage), 1e-12) / max(replicates, 1)))


# The study's size in a book build, per preset: `smoke` only shows that it runs (its numbers are noise), `teach`
# and `book` show the pattern; the recorded runs (benchmarks/multiple_imputation.py, 200 replicates) measure it.
# In place, the plain Gaussian is left out: its EM refits cost most of the time, and its lesson (no covariate, a
# biased effect) is the inductive one.
IN_PLACE_METHODS = ("oracle", "gaussian+covariates", "knn", "mean")
PRESETS = {
    "smoke": dict(replicates=4, draws=5, n_genes=12, n_reference=200, n_calibration=100, n_study=100,
                  methods={"inductive": ("oracle", "gaussian", "gaussian+covariates", "mean"),
                           "inplace": ("oracle", "gaussian+covariates", "mean")}),
    "teach": dict(replicates=30, draws=5, n_genes=30, n_reference=400, n_calibration=200, n_study=200,
                  methods={"inductive": METHODS, "inplace": IN_PLACE_METHODS}),
    "book": dict(replicates=30, draws=5, n_genes=40, n_reference=400, n_calibration=200, n_study=200,
                 methods={"inductive": METHODS, "inplace": IN_PLACE_METHODS}),
}
PRESETS["paper"] = PRESETS["book"]


def preset_run(adata, preset: str, scenario: str, seed: int = 0, missing_rate: float = 0.5,
               replicates: int | None = None, draws: int | None = None) -> pd.DataFrame:
    """:func:`run` at a book preset's size (:data:`PRESETS`), ``replicates`` and ``draws`` overriding it."""
    size = dict(PRESETS[preset])
    methods = size.pop("methods")[scenario]
    size["replicates"] = size["replicates"] if replicates is None else int(replicates)
    size["draws"] = size["draws"] if draws is None else int(draws)
    return run(adata, methods=methods, missing_rate=missing_rate, seed=seed, scenario=scenario, **size)


def verdict(summary: pd.DataFrame, level: float = LEVEL) -> str:
    """One sentence per method on what single and multiple imputation did to the effect gene's coverage and the
    null gene's false-positive rate (Markdown list)."""
    def cell(approach, method, gene, column):
        hit = summary[(summary["approach"] == approach) & (summary["method"] == method) & (summary["gene"] == gene)]
        return float(hit[column].iloc[0]) if len(hit) else float("nan")

    nominal = 1.0 - level
    lines = [f"- complete data: coverage {cell('truth', '', 'effect', 'coverage'):.2f}, false positives "
             f"{cell('truth', '', 'null', 'significant'):.2f} (nominal {level:.2f} and {nominal:.2f})."]
    for method in [m for m in summary["method"].unique() if m]:
        s_cov, m_cov = cell("single", method, "effect", "coverage"), cell("multiple", method, "effect", "coverage")
        s_fp, m_fp = cell("single", method, "null", "significant"), cell("multiple", method, "null", "significant")
        lines.append(f"- `{method}`: coverage {s_cov:.2f} single, {m_cov:.2f} multiple; false positives "
                     f"{s_fp:.2f} single, {m_fp:.2f} multiple.")
    return "\n".join(lines)
