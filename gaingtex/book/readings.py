"""What a run's results say, in sentences: each function reads one notebook's numbers and returns the prose (or
table headers) that says only what this build showed, so a page never asserts a result its run did not give.
The wording that depends on the cohort alone lives in :mod:`.wording`."""

from __future__ import annotations

from .wording import Cohort


def embedding_verdict(model: str, check: dict) -> str:
    """Notebook 07's closing sentence on whether ``model``'s tissue embeddings cluster the brain tissues, from its
    :func:`gaingtex.evaluation.studies.embeddings.purity_check` (Markdown): the paper's finding only where the
    permutation test supports it."""
    if check["beats_null"]:
        return (f"{model}'s embedding clusters the brain tissues beyond chance (p = {check['p']:.3f} against random "
                "embeddings of the same shape): it learnt which tissues behave alike from expression alone, as the "
                "paper found.")
    return (f"This {model} did not learn a brain cluster that random embeddings cannot match (p = {check['p']:.2f}, "
            "against a threshold of 0.01), so this build does not reproduce the paper's Fig. 3. On the embedded "
            "cohort the cluster appears only with enough training (`benchmarks/results/purity-bisect.json`).")


def embedding_design(cohort: Cohort, checks: dict[str, dict], model: str) -> str:
    """Notebook 07's paragraph on how much of a brain cluster the cohort itself hands the models (Markdown), from
    :func:`gaingtex.evaluation.studies.embeddings.purity_check` of each embedding: ``model``'s, PMI's when it was
    trained (``"PMI"``) and, on the embedded cohort, its generating model's (``"cohort design"``)."""
    pmi = checks.get("PMI")
    other = (f" PMI, trained on the same samples, scores {pmi['knn_purity']:.2f} (p = {pmi['p']:.3f})."
             if pmi is not None and model != "PMI" else "")
    if "cohort design" in checks:
        return ("The embedded cohort is built so that the tissues of one group share latent factors no other tissue "
                "has: the 13 brain tissues share the brain group's. Scored as an embedding, each tissue's factor "
                f"amplitudes in the generating model give a brain 3-NN purity of "
                f"{checks['cohort design']['knn_purity']:.2f}. The design plants the cluster, and a model that learns "
                "the cohort's structure is rewarded for finding it; on real GTEx it would come from shared brain "
                f"biology.{other}")
    return ("Your cohort has no generating model, so nothing says how strongly its brain tissues resemble each other "
            f"except the models themselves.{other}")


def blood_surrogate_text(blood_r2: float | None, mean_r2: float | None) -> str:
    """Notebook 04's verdict on the paper's blood surrogate, from this run's R² of it and of the per-tissue mean
    (``None``: no test donor gave Whole Blood and another tissue, or the mean was not scored)."""
    if blood_r2 is None:
        return ("No test donor of this cohort gave both Whole Blood and another tissue, so the surrogate cannot be "
                "scored here.")
    said = f"Scored on the test samples whose donor also gave blood, it reaches R² {blood_r2:.2f}"
    if mean_r2 is None:
        return said + "."
    gap = blood_r2 - mean_r2
    if gap < -0.05:
        verdict = "worse than"
        tail = ": a donor's blood says little about the donor's other tissues."
    elif gap > 0.05:
        verdict, tail = "better than", "."
    else:
        verdict, tail = "about as good as", "."
    return f"{said}, {verdict} the per-tissue mean ({mean_r2:.2f} on the extended test set){tail}"


def tissue_boxplot_caption(by_tissue: bool, model: str = "PMI") -> str:
    """The caption of notebook 04's Figure 2 boxplot, or nothing where R² is pooled over tissues (no figure)."""
    if not by_tissue:
        return ""
    return (f"Boxes are per-gene R² of {model} in each tissue, ordered by median and coloured by the tissue's number "
            "of training samples, as in the paper's figure.")


def paper_why_inductive(values: dict, blood_r2: float | None) -> dict[str, str]:
    """The "why they differ" cells of the paper page's per-tissue mean, blood surrogate and GAIN-MSE rows, from
    notebook 04's values (:func:`gaingtex.evaluation.scoring.summary_values`, prefix ``inductive``): each says what
    this build shows, not what the paper's did."""
    mean = values.get("inductive_mean_r2")
    if mean is None:
        why_mean = "every gene is standardised within each tissue"
    elif abs(mean) < 0.05:
        why_mean = "≈ 0 in both: every gene is standardised within each tissue"
    else:
        why_mean = ("every gene is standardised within each tissue, so the mean can at best score ≈ 0; here it scores "
                    "below, by how far the training donors' tissue means lie from the test donors'")
    if blood_r2 is None:
        why_blood = "no test donor of this cohort gave Whole Blood and another tissue"
    elif mean is not None and blood_r2 < mean - 0.05:
        why_blood = "below the mean in both"
    else:
        why_blood = "the paper's is far below the mean; this build's is not"
    gain, gain_mse = values.get("inductive_gain_r2"), values.get("inductive_gain_mse_r2")
    if gain is None or gain_mse is None:
        why_gain_mse = "as above"
    elif abs(gain - gain_mse) < 0.02:
        why_gain_mse = "as above; the adversarial term adds little in both"
    else:
        better = "GAIN-GTEx" if gain > gain_mse else "GAIN-MSE"
        why_gain_mse = (f"as above; here {better} is ahead by {abs(gain - gain_mse):.3f}, where the paper's two are "
                        "0.010 apart (0.660 and 0.650)")
    return {"why_mean": why_mean, "why_blood": why_blood, "why_gain_mse": why_gain_mse}


def paper_why_inplace(values: dict) -> str:
    """The "why they differ" cell of the paper page's in-place row, from notebook 03's values (prefix
    ``inplace``)."""
    gain, gain_mse = values.get("inplace_gain_r2"), values.get("inplace_gain_mse_r2")
    if gain is None or gain_mse is None:
        return "the cohort and the gene count"
    if abs(gain - gain_mse) < 0.02:
        return ("GAIN-GTEx and GAIN-MSE are close: the adversarial term adds little, as the preprint's 0.660 against "
                "0.650 suggests on real data")
    better = "GAIN-GTEx" if gain > gain_mse else "GAIN-MSE"
    return (f"here {better} is ahead of the other by {abs(gain - gain_mse):.3f} R² in place; the preprint's 0.660 "
            "against 0.650 (inductive, real data) puts them close")


def shift_verdict(table, models=("GAIN-GTEx", "PMI"), oracle: str = "oracle") -> str:
    """Notebook 05's reading of its :func:`gaingtex.evaluation.studies.at_fraction` table: how much R² the models
    and the healthy tissue's oracle lose from each GTEx tissue to its shifted cohort, averaged over the cohorts,
    and what that says (only what this build shows)."""
    from ..evaluation.studies.shifted import pairs

    def drop(method):
        values = pairs(table, method).values()
        return sum(gtex - shifted for _, gtex, shifted in values) / len(values)

    model = sum(drop(m) for m in models) / len(models)
    if model <= 0:
        return (f"Here the models score no lower on the shifted cohorts than on their healthy tissues ("
                f"{-model:.2f} R² higher on average), so this build shows no loss from the shift; the paper's "
                "cohorts lost about 40 % of their GTEx R² (0.68 → 0.39, 0.72 → 0.41, 0.71 → 0.44; its Fig. 4).")
    if oracle not in table.columns:
        return f"The models lose {model:.2f} R² on average from a healthy tissue to its shifted cohort."
    ideal = drop(oracle)
    if ideal >= 0.5 * model:
        return (f"The healthy-tissue oracle loses {ideal:.2f} R² on average from a healthy tissue to its shifted "
                f"cohort, the models {model:.2f}: most of the loss comes from the shift, not from overfitting to "
                "GTEx.")
    return (f"The healthy-tissue oracle loses only {ideal:.2f} R² on average from a healthy tissue to its shifted "
            f"cohort, the models {model:.2f}: beyond the shift itself, the models lose accuracy of their own.")


def r2_spread(r2: float, sd: float | None, by_tissue: bool) -> str:
    """A mean R² with its spread over tissues, or marked as pooled where the cohort has too few samples per
    tissue for a tissue's own R² (there is then no spread to show)."""
    if by_tissue and sd is not None:
        return f"R² {r2:.3f} (± {sd:.3f} over tissues)"
    return f"R² {r2:.3f} (pooled over tissues)"


# Notebook 09's table columns as its prose names them.
UNCERTAINTY_HEADERS = {"r2": "R²", "coverage_90": "coverage", "width_90": "width", "crps": "CRPS",
                       "coverage_90_worst_gene": "worst gene decile", "coverage_90_worst_tissue": "worst tissue",
                       "width_90_vs_oracle": "width × oracle", "crps_vs_oracle": "CRPS × oracle",
                       "missing_share": "missing share"}


def tissue_coverage_note(test_samples: float, few: int = 10) -> str:
    """Notebook 09's reading of its coverage-per-tissue figure, from the median number of test samples a tissue
    has in this cohort."""
    note = ("Calibration is by gene within a *tissue group*, so coverage may drift in a tissue whose residuals "
            "differ from its group's.")
    if test_samples < few:
        note += (f" Here a tissue has {test_samples:.0f} test samples (the median), so the spread between tissues is "
                 "mostly chance.")
    return note


def missing_rate_text(table, flat: float = 0.02) -> str:
    """Notebook 04's reading of its R²-against-missing-rate table (index: missing rates, one column per method):
    which methods lose accuracy steadily as the rate rises, which peak elsewhere, which do not move."""
    table = table.sort_index()
    steady, peaked, unmoved = [], [], []
    for method in table.columns:
        r2 = table[method]
        if r2.max() - r2.min() < flat:
            unmoved.append(method)
        elif (r2.diff().dropna() <= flat / 2).all():
            steady.append(method)
        else:
            peaked.append(f"{method} peaks at {r2.idxmax():.0%} missing (R² {r2.max():.3f})")
    parts = []
    if steady:
        parts.append(f"{', '.join(steady)} lose{'s' if len(steady) == 1 else ''} accuracy steadily as fewer genes are "
                     "observed: there is less to condition on")
    if peaked:
        parts.append("; ".join(peaked) + ", not at the lowest rate")
    if unmoved:
        parts.append(f"{', '.join(unmoved)} barely move{'s' if len(unmoved) == 1 else ''}, as a method that ignores "
                     "the observed genes should")
    return ". ".join(p[0].upper() + p[1:] for p in parts) + "."
