"""What the book says about the cohort it ran on, in one place: the embedded cohort with its oracle, a user's real
cohort (no generating model, so learnt references), or a small one (no more genes than the 59-gene panel).

The run folder records its cohort (``run.json``: ``sources`` and ``facts``, :func:`gaingtex.book.runs.cohort_facts`);
:class:`Cohort` reads that record, and every sentence below is chosen from it. The build writes the book's footer
from it (:func:`book_config`), notebook 01 glues the introduction's note and the paper page's reasons from it, and
the later notebooks glue their cohort-dependent sentences from it, so no notebook carries its own copy. Sentences
that read a run's results rather than its cohort are in :mod:`.readings`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.preprocessing import PANEL_SIZE

EMBEDDED_FOOTER = ("Data: a synthetic GTEx-shaped cohort with a known optimum (the embedded cohort). Every number "
                   "comes from the executed notebooks.")


@dataclass(frozen=True)
class Cohort:
    """What the wording needs to know of a run's cohort."""

    oracle: bool  # it has a generating model: the embedded cohort
    files: tuple[str, ...]  # the user's files, by name (empty: built in memory)
    genes: int
    tissues: int
    shifted: tuple[str, ...]  # external cohorts beside a GTEx tissue
    alzheimer_genes: int

    @classmethod
    def from_manifest(cls, manifest: dict) -> "Cohort":
        """From a run folder's ``run.json`` (written by notebook 01)."""
        facts, sources = manifest["facts"], manifest.get("sources", {})
        return cls(oracle=bool(facts["generator"]), files=tuple(sources.get("files", ())), genes=int(facts["genes"]),
                   tissues=int(facts["tissues"]), shifted=tuple(facts["shifted"]),
                   alzheimer_genes=int(facts["alzheimer_genes"]))

    @classmethod
    def of(cls, run) -> "Cohort":
        """From a :class:`gaingtex.book.runs.Run` whose cohort exists."""
        return cls.from_manifest({**run.manifest, "facts": run.facts})

    @property
    def kind(self) -> str:
        """``"embedded"`` (an oracle), ``"small"`` (real, no more genes than the panel) or ``"real"``."""
        if self.oracle:
            return "embedded"
        return "small" if self.genes <= PANEL_SIZE else "real"

    @property
    def has_panel(self) -> bool:
        """Whether a 59-gene panel is smaller than the cohort (notebook 08 compares the methods on it)."""
        return self.genes > PANEL_SIZE

    @property
    def name(self) -> str:
        """How a page names the cohort: ``the embedded cohort`` or ``your cohort (file.h5ad)``."""
        if self.oracle and not self.files:
            return "the embedded cohort"
        return f"your cohort ({', '.join(self.files[:1])})" if self.files else "your cohort"


def data_title(cohort: Cohort) -> str:
    """Notebook 01's page title (the navigation shows it)."""
    if cohort.oracle:
        return "The data: a GTEx-shaped cohort with a known optimum"
    return f"The data: {cohort.genes:,} genes of {cohort.tissues} tissues"


def footer(cohort: Cohort) -> str:
    """The footer of every page."""
    if cohort.oracle:
        return EMBEDDED_FOOTER
    return (f"Data: {cohort.name}, {cohort.genes:,} genes of {cohort.tissues} tissues, with no known generating "
            "model; methods are measured against learnt linear references. Every number comes from the executed "
            "notebooks.")


def book_config(config: dict, cohort: Cohort) -> dict:
    """The book's ``_config.yml`` for a build on ``cohort``: the footer says what data the pages ran on. (Jupyter
    Book 1.x reads its configuration once, so the build writes this into its staged sources.)"""
    html = {**config.get("html", {}), "extra_footer": footer(cohort)}
    return {**config, "html": html}


def data_note(cohort: Cohort, n_samples: int, n_donors: int) -> str:
    """The introduction's note on what data the build ran on (plain text: another page pastes it)."""
    if cohort.oracle:
        return ("The data in this book are synthetic. GTEx and TCGA need an account and hours of download, so "
                "every page here runs on an *embedded cohort* built to GTEx v8's exact design — its 49 tissues with "
                f"their real sample counts ({n_samples:,} samples from {n_donors:,} donors), the real sex, age and "
                "tissues-per-donor distributions, and real gene symbols — with expression drawn from a known "
                "linear-Gaussian model. Because the model is known, so is the best possible imputation (the "
                "oracle), and every method is measured against that ceiling. The numbers below are therefore not "
                "the paper's numbers.")
    files = ", ".join(cohort.files)
    shifted = (f" The external cohorts {', '.join(cohort.shifted)} stand beside their GTEx tissues in notebook 05."
               if cohort.shifted else "")
    small = (f" With {cohort.genes} genes, no more than the paper's 59-gene panel, the analyses that need more genes "
             "say so on their pages." if cohort.kind == "small" else "")
    return (f"This build ran on your cohort, {files}: {n_samples:,} GTEx samples from {n_donors:,} donors, "
            f"{cohort.tissues} tissues and {cohort.genes:,} genes.{shifted} Real data have no known generating "
            "model, so there is no oracle: every method is measured against the better of two learnt linear "
            "references, the per-tissue Gaussian conditional mean and factor analysis, each tuned on the "
            f"validation donors.{small} A notebook whose inputs the cohort lacks says so on its page.")


def paper_reasons(cohort: Cohort) -> dict[str, str]:
    """The "why they differ" column of the paper-and-companion page, glued by notebook 01 as ``why_<row>`` (plain
    text)."""
    from .runs import alzheimer_needed

    if cohort.oracle:
        return {
            "why_intro": "This build ran on the embedded cohort, a synthetic GTEx-shaped cohort whose best possible "
                         "R² — the oracle's — is known.",
            "why_worst": "the embedded cohort makes cell lines and blood least predictable",
            "why_best": "in the embedded cohort, gastrointestinal tissues are the most predictable group",
            "why_embedding": "the embedded cohort shares factors within tissue groups, as real brain regions share "
                             "biology",
            "why_tcga": "the embedded cohort's shifted cohorts are simulated: perturbed loadings, cancer factors, "
                        "older donors",
            "why_alz_top": "built into the embedded cohort's modules, not discovered",
        }
    return {
        "why_intro": f"This build ran on {cohort.name}, {cohort.genes:,} genes of {cohort.tissues} tissues, which has "
                     "no known generating model: every method is measured against the better of the learnt linear "
                     "references.",
        "why_worst": "the cohort's genes and training samples per tissue",
        "why_best": "as above",
        "why_embedding": "the tissue embeddings are learnt from this cohort's expression",
        "why_tcga": ("the external cohorts are UCSC Xena TCGA files (gaingtex xena), on this cohort's genes"
                     if cohort.shifted else "this build was given no external cohort"),
        "why_alz_top": ("measured on this cohort, not built in" if cohort.alzheimer_genes >= alzheimer_needed() else
                        f"the cohort has {cohort.alzheimer_genes} of the pathway's 273 genes, too few"),
    }


def why_simple(cohort: Cohort) -> str:
    """Notebook 08's paragraph on why the per-tissue Gaussian can win, for this cohort (Markdown)."""
    if cohort.oracle:
        gaussian = ("When expression within a tissue is jointly Gaussian, as it is in the embedded cohort, whose "
                    "generating model is linear-Gaussian,")
    else:
        gaussian = ("When expression within a tissue is close to jointly Gaussian — each gene is marginally Gaussian "
                    "after GTEx's rank-based inverse-normal transform, though their joint law need not be —")
    text = (f"{gaussian} the conditional mean E[missing | observed] under the tissue's covariance is the best "
            "possible imputation, and every method here approximates it. Its only difficulty is the covariance: a "
            "per-tissue covariance of *g* genes has *g*(*g* + 1)/2 entries to estimate from a few hundred samples. "
            "With a few dozen genes that is easy, and the per-tissue Gaussian is hard to beat; with thousands, the "
            "shrinkage has to pull it far toward the identity, and a pooled covariance or a low-rank model (factor "
            "analysis, a network's bottleneck) can estimate it better. ")
    if cohort.has_panel:
        return text + (f"This cohort has {cohort.genes:,} genes; the {PANEL_SIZE}-gene panel below asks the same "
                       "question at a smaller size.")
    return text + (f"This cohort has {cohort.genes} genes, the size at which the per-tissue covariance is easy to "
                   "estimate.")


def panel_intro(cohort: Cohort) -> str:
    """Notebook 08's panel section after its sentence on the paper: what it compares here, or why there is
    nothing to compare (Markdown)."""
    if not cohort.has_panel:
        return (f"This cohort has {cohort.genes} genes, no more than a {PANEL_SIZE}-gene panel, so the comparison "
                "above is already a panel-sized one; there is no smaller panel to compare.")
    return (f"Here every method is compared again on {PANEL_SIZE} genes of this cohort, evenly spaced along its "
            "gene order, with the deep models trained on the panel: with fewer genes the per-tissue covariance is "
            "easier to estimate, and the question is whether the paper's ordering survives at that size.")


def panel_summary(cohort: Cohort, inductive_verdict: str | None) -> str:
    """The comparison's closing paragraph: the panel's verdict where there is a panel, and what a reference ahead
    of the paper's models means (Markdown)."""
    closing = ("Where a linear-Gaussian reference is ahead of the paper's models, that is the honest result on this "
               "cohort: the deep models have to beat it to earn their cost, and the time figures show what each "
               "method's accuracy costs.")
    if not cohort.has_panel or inductive_verdict is None:
        return closing
    return f"On the {PANEL_SIZE}-gene panel, inductive: {inductive_verdict} {closing}"


def scaling_note(counts: list[int], budget: float) -> str:
    """Notebook 08's scaling section: which sizes it times (Markdown)."""
    genes = ", ".join(f"{c:,}" for c in counts)
    samples_at = counts[1] if len(counts) > 1 else counts[0]
    return (f"How each method's time grows with the number of genes ({genes}; all training samples) and of "
            f"training samples (a quarter, a half and all of each tissue's, on {samples_at:,} genes), on 200 test "
            f"samples, until it needs more than {budget:.0f} s at one size. The deep models train two short "
            "epochs, and their fit time is projected to the preset's whole schedule at the second epoch's rate (an "
            "upper bound: early stopping may end a training sooner). The star is the paper's MissForest on 2,000 "
            "samples × 12,557 genes.")


def alzheimer_comparison(cohort: Cohort, compared: bool, in_preset: bool, preset: str) -> str:
    """Notebook 08's sentence on the Alzheimer-pathway genes when they are not compared there (``""`` when they
    are)."""
    from .runs import alzheimer_needed

    if compared:
        return ""
    if cohort.alzheimer_genes < alzheimer_needed():
        return (f"This cohort has {cohort.alzheimer_genes} of the 273 Alzheimer-pathway genes, too few for the "
                "pathway analysis, so they are not compared here.")
    if not in_preset:
        return (f"The `{preset}` preset leaves the 273 Alzheimer-pathway genes out of this comparison, to keep the "
                "build short: notebook 06 scores PMI against the references on them, and `gaingtex benchmark "
                "--gene-sets alzheimer` compares every method there.")
    return "No model was trained on the Alzheimer-pathway genes in this run folder (notebook 06 trains one)."


# The scaling study's gene counts on a large cohort: the sizes of the committed scaling records, up to the cohort's.
SCALING_LADDER = (100, 300, 1000, 3000, 10000)


def scaling_gene_counts(genes: int, points: int = 3, smallest: int = 10) -> list[int]:
    """Gene counts for notebook 08's scaling study that make sense for a cohort of ``genes``: the ladder of
    :data:`SCALING_LADDER` below its size plus its size when that gives ``points`` sizes or more, else halvings of
    its size (a quarter, a half, all of it), never fewer than ``smallest`` genes, so that the curves have points
    whatever the cohort."""
    ladder = [c for c in SCALING_LADDER if c < genes] + [genes]
    if len(ladder) >= points:
        return ladder
    return sorted({max(min(smallest, genes), round(genes / 2 ** k)) for k in range(points)})


def shifted_note(cohort: Cohort) -> str:
    """Notebook 01's sentence on the external (shifted) cohorts."""
    if cohort.shifted:
        kind = "shifted cohorts" if cohort.oracle else "external cohorts"
        return (f"The {kind} used in notebook 05 ({', '.join(cohort.shifted)}) are separate donors, outside all "
                "three splits:")
    return ("This cohort has no external cohort beside its GTEx tissues, so notebook 05 (TCGA) says what it needs "
            "instead of running.")


def tissue_values(hard: dict | None) -> dict[str, str]:
    """Notebook 04's sentences on PMI's hardest and easiest tissue (from
    :func:`gaingtex.evaluation.studies.hardness`), or, where R² is pooled over tissues (``hard`` is ``None``:
    too few test samples per tissue), why no tissue is ranked."""
    if hard is None:
        pooled = "not ranked: too few test samples per tissue, R² pooled over tissues"
        return {"worst_tissue_row": pooled, "best_tissue_row": pooled,
                "inductive_tissue_sentence": "With too few test samples per tissue, R² is pooled over tissues "
                                             "here, so no tissue is ranked."}
    worst, best = (f"{hard[k]}, {hard[k + '_r2']:.2f}" for k in ("worst_tissue", "best_tissue"))
    return {"worst_tissue_row": worst, "best_tissue_row": best,
            "inductive_tissue_sentence": f"PMI's hardest tissue is {hard['worst_tissue']} "
                                         f"({hard['worst_tissue_r2']:.2f}), its easiest {hard['best_tissue']} "
                                         f"({hard['best_tissue_r2']:.2f})."}


def pooled_note(min_samples: int = 10, instead: str = "") -> str:
    """Why a page shows no per-tissue analysis on a cohort with few samples per tissue (Markdown); ``instead``:
    what the page shows in its place."""
    return (f"Most tissues of this cohort have fewer than {min_samples} samples to score, too few for a tissue's "
            "own R², so every score on this page is pooled over all tissues and there is no per-tissue figure or "
            f"ranking to show{'; ' + instead if instead else ''}. A cohort with more samples per tissue (the "
            "`teach` or `book` preset, or a full GTEx download) has them.")


def hardness_text(hard: dict | None, oracle: bool) -> str:
    """Notebook 04's paragraph on why a tissue is hard: two rank correlations across tissues, or nothing to
    correlate where R² is pooled over tissues (Markdown)."""
    if hard is None:
        return "Pooled over tissues, R² says nothing of which tissues are hard."
    reference = ("the oracle, which no amount of training data changes" if oracle else
                 "a learnt reference, which learns from the same samples, so the second correlation is weaker "
                 "evidence than an oracle's would be")
    text = ("Is a tissue hard because it has few training samples, or because of its biology? Two rank "
            "correlations across tissues answer it: PMI's R² against the number of training samples, "
            f"ρ = {hard['rho_training_samples']:.2f}")
    if "rho_reference" in hard:
        text += f", and PMI's R² against the reference's, ρ = {hard['rho_reference']:.2f}. The reference is {reference}"
    return text + "."
