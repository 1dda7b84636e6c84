"""What a run's results say, in sentences: each function reads one notebook's numbers and returns the prose (or
table headers) that says only what this build showed, so a page never asserts a result its run did not give.
The wording that depends on the cohort alone lives in :mod:`.wording`."""

from __future__ import annotations


def embedding_verdict(model: str, check: dict) -> str:
    """Notebook 07's closing sentence on whether ``model``'s tissue embeddings cluster the brain tissues, from its
    :func:`gaingtex.evaluation.studies.embeddings.purity_check` (Markdown): the paper's finding only where the
    permutation test supports it."""
    if check["beats_null"]:
        return (f"{model}'s embedding clusters the brain tissues beyond chance (p = {check['p']:.3f} against random "
                "embeddings of the same shape): it learnt which tissues behave alike from expression alone, as the "
                "paper found.")
    return (f"This {model} did not learn a brain cluster that random embeddings cannot match (p = {check['p']:.3f}, "
            f"against a threshold of {check['level']:g}), so this build does not reproduce the paper's Fig. 3. On the "
            "embedded cohort the cluster appears only with enough training (`benchmarks/results/purity-bisect.json`).")


def embedding_design(checks: dict[str, dict], model: str, brain_tissues: int) -> str:
    """Notebook 07's paragraph on how much of a brain cluster the cohort itself hands the models (Markdown), from
    :func:`gaingtex.evaluation.studies.embeddings.purity_check` of each embedding: ``model``'s, PMI's when it was
    trained (``"PMI"``) and, on the embedded cohort, its generating model's (``"cohort design"``)."""
    pmi = checks.get("PMI")
    other = (f" PMI, trained on the same samples, scores {pmi['knn_purity']:.2f} (p = {pmi['p']:.3f})."
             if pmi is not None and model != "PMI" else "")
    design = checks.get("cohort design")
    if design is None:
        return ("Your cohort has no generating model, so nothing says how strongly its brain tissues resemble each "
                f"other except the models themselves.{other}")
    text = ("The embedded cohort is built so that the tissues of one group share latent factors no other tissue has: "
            f"its {brain_tissues} brain tissues share the brain group's. Scored as an embedding, each tissue's factor "
            f"amplitudes in the generating model give a brain 3-NN purity of {design['knn_purity']:.2f} "
            f"(p = {design['p']:.3f}).")
    if design["beats_null"]:
        text += (" The design plants the cluster, and a model that learns the cohort's structure is rewarded for "
                 "finding it; on real GTEx it would come from shared brain biology.")
    else:
        text += " Even the design's own description of the tissues does not cluster them beyond chance here."
    return text + other


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


# The paper's GAIN-GTEx and GAIN-MSE on 12,557 genes, extended test set (GAIN-GTEx as the preprint's code gives it).
PREPRINT_GAIN = "the preprint code's R² 0.660 and 0.650 ± 0.021, inductive, on real data"


def paper_why_inductive(values: dict, blood_r2: float | None) -> dict[str, str]:
    """The "why they differ" cells of the paper page's per-tissue mean, blood surrogate and GAIN-MSE rows, from
    notebook 04's values (:func:`gaingtex.evaluation.scoring.summary_values`, prefix ``inductive``): each says what
    this build shows, not what the paper's did."""
    mean = values.get("inductive_mean_r2")
    if mean is None:
        why_mean = "every gene is standardised within each tissue"
    elif abs(mean) < 0.05:
        why_mean = "≈ 0 in both: every gene is standardised within each tissue"
    elif mean < 0:
        why_mean = ("every gene is standardised within each tissue, so the mean can at best score ≈ 0; here it scores "
                    "below, by how far the training donors' tissue means lie from the test donors'")
    else:
        why_mean = ("every gene is standardised within each tissue on the training donors; here the mean scores above "
                    "0, so the test donors' tissue means lie closer to the training donors' than chance would put them")
    if blood_r2 is None:
        why_blood = "no test donor of this cohort gave Whole Blood and another tissue"
    elif mean is None:
        why_blood = "this build did not score the per-tissue mean to compare it with"
    elif blood_r2 < mean - 0.05:
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
                        f"within each other's spread ({PREPRINT_GAIN})")
    return {"why_mean": why_mean, "why_blood": why_blood, "why_gain_mse": why_gain_mse}


def paper_why_inplace(values: dict) -> str:
    """The "why they differ" cell of the paper page's in-place row, from notebook 03's values (prefix
    ``inplace``)."""
    gain, gain_mse = values.get("inplace_gain_r2"), values.get("inplace_gain_mse_r2")
    if gain is None or gain_mse is None:
        return "the cohort and the gene count"
    if abs(gain - gain_mse) < 0.02:
        return ("GAIN-GTEx and GAIN-MSE are close in place: the adversarial term adds little, as the paper's two are "
                f"close inductively ({PREPRINT_GAIN})")
    better = "GAIN-GTEx" if gain > gain_mse else "GAIN-MSE"
    return (f"here {better} is ahead of the other by {abs(gain - gain_mse):.3f} R² in place; the paper's two are "
            f"within each other's spread inductively ({PREPRINT_GAIN})")


def shift_verdict(table, models=("GAIN-GTEx", "PMI"), oracle: str = "oracle") -> str:
    """Notebook 05's reading of its :func:`gaingtex.evaluation.studies.at_fraction` table: how much R² the models
    and the healthy tissue's oracle lose from each GTEx tissue to its shifted cohort, averaged over the cohorts,
    and what that says (only what this build shows)."""
    from ..evaluation.studies.shifted import pairs

    def drop(method):
        values = [gtex - shifted for _, gtex, shifted in pairs(table, method).values()
                  if gtex == gtex and shifted == shifted]  # NaN: a cohort this method was not scored on
        return sum(values) / len(values) if values else float("nan")

    drops = [d for d in (drop(m) for m in models if m in table.columns) if d == d]
    if not drops:
        return "No model was scored on both a healthy tissue and its shifted cohort in this build."
    model = sum(drops) / len(drops)
    if model <= 0:
        return (f"Here the models score no lower on the shifted cohorts than on their healthy tissues ("
                f"{-model:.2f} R² higher on average), so this build shows no loss from the shift, unlike the "
                "paper's cohorts.")
    ideal = drop(oracle) if oracle in table.columns else float("nan")
    if ideal != ideal:
        return f"The models lose {model:.2f} R² on average from a healthy tissue to its shifted cohort."
    if ideal <= 0:
        return (f"The healthy-tissue oracle loses nothing from a healthy tissue to its shifted cohort "
                f"({-ideal:.2f} R² higher on average), the models {model:.2f}: the models lose accuracy of their own.")
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
    table = table.sort_index().dropna(axis=1, how="all")
    steady, peaked, unmoved, uneven = [], [], [], []
    for method in table.columns:
        r2 = table[method].dropna()
        if r2.max() - r2.min() < flat:
            unmoved.append(method)
        elif (r2.diff().dropna() <= flat / 2).all():
            steady.append(method)
        elif r2.idxmax() != r2.index[0]:
            peaked.append(f"{method} peaks at {r2.idxmax():.0%} missing (R² {r2.max():.3f})")
        else:
            uneven.append(method)
    parts = []
    if steady:
        parts.append(f"{', '.join(steady)} lose{'s' if len(steady) == 1 else ''} accuracy steadily as fewer genes are "
                     "observed: there is less to condition on")
    if peaked:
        parts.append("; ".join(peaked) + ", not at the lowest rate")
    if uneven:
        parts.append(f"{', '.join(uneven)} {'is' if len(uneven) == 1 else 'are'} best at the lowest rate but not "
                     "steadily worse after it")
    if unmoved:
        parts.append(f"{', '.join(unmoved)} barely move{'s' if len(unmoved) == 1 else ''} with the rate")
    if not parts:
        return "No method was scored at more than one missing rate."
    return ". ".join(p[0].upper() + p[1:] for p in parts) + "."
