"""The steps of a book build: which notebooks run, which models are trained beside them, in what order and which
may share the machine (:mod:`.schedule` runs them)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import SCENARIOS
from ..imputers.registry import label, names

NOTEBOOKS = ("01_data", "02_training", "03_inplace", "04_inductive", "05_tcga", "06_alzheimer", "07_embeddings",
             "08_comparison", "09_uncertainty")
SCENARIO_TITLES = {"inductive": "inductive", "inplace": "in-place"}
UNAVAILABLE = "unavailable"  # the notebook that stands in for one whose inputs the cohort lacks
TRAIN = "train"  # a step that trains one model into the run folder, without a page of its own
# The models that notebooks train themselves when the folder lacks them, trained as steps of their own so that they
# run beside notebook 02's: (gene set, model, scenario, the notebook that uses them).
OWN_MODELS = (("alzheimer", "pmi", "inductive", "06_alzheimer"),)
GENE_SET_TITLES = {"alzheimer": "Alzheimer-pathway genes", "panel": "59-gene panel"}
SHARED = ("02_training", TRAIN, "03_inplace", "04_inductive", "05_tcga", "06_alzheimer", "07_embeddings")


@dataclass(frozen=True)
class Step:
    """One papermill execution (a source notebook, the executed copy's name, its parameters and page title), or
    one model's training (``notebook`` :data:`TRAIN`). ``after``: the steps it waits for; ``shares``: it may run
    beside other such steps (:func:`~gaingtex.book.schedule.run_steps`)."""

    notebook: str
    output: str
    parameters: dict = field(default_factory=dict)
    title: str | None = None
    after: tuple[str, ...] = ()
    shares: bool = False


def missing_inputs(notebook: str, facts: dict) -> str | None:
    """Why a notebook cannot run on a cohort (from :func:`~gaingtex.book.runs.cohort_facts`), or ``None``."""
    from .runs import ALZHEIMER_SHARE, MIN_EMBEDDING_TISSUES, alzheimer_needed

    if notebook == "05_tcga" and not facts["shifted"]:
        return ("the cohort has no external cohort beside one of its GTEx tissues. Make one from a UCSC Xena TCGA "
                "file with `gaingtex xena` and pass it with `gaingtex book --external FILE.h5ad` (or "
                "`make book EXTERNAL=FILE.h5ad`).")
    if notebook == "06_alzheimer" and facts["alzheimer_genes"] < alzheimer_needed():
        return (f"the cohort has {facts['alzheimer_genes']} of the paper's 273 Alzheimer-pathway genes (KEGG "
                f"hsa05010); the analysis needs at least {ALZHEIMER_SHARE:.0%} of them. A cohort of all "
                "protein-coding genes (`gaingtex gtex --genes protein-coding`) has them.")
    brain, tissues = facts["brain_tissues"], facts["tissues"]
    if notebook == "07_embeddings" and (tissues < MIN_EMBEDDING_TISSUES or brain < 2 or tissues - brain < 2):
        return (f"the cohort has {tissues} tissues, {brain} of them brain; mapping the tissue embeddings needs at "
                f"least {MIN_EMBEDDING_TISSUES} tissues, two or more of them brain and two or more not.")
    return None


def plan(preset: str, seed: int, run_dir: Path, cohort: Path | None = None, external=()) -> list[Step]:
    """Every execution of a full build, in dependency order; notebook 01 reads the user's ``cohort`` and
    ``external`` files when given (else it builds the embedded cohort)."""
    from ..evaluation.presets import comparison_config

    common = {"preset": preset, "seed": seed, "run_dir": str(run_dir)}
    data = {**common, **({"cohort": str(cohort), "external": [str(e) for e in external]} if cohort else {})}
    steps = [Step("01_data", "01_data", data)]
    own = [("all", model, scenario, "02_training") for scenario in SCENARIOS for model in names(trains=True)]
    own += list(OWN_MODELS)
    if "panel" in comparison_config(preset).gene_sets:
        own += [("panel", model, scenario, "08_comparison") for scenario in SCENARIOS
                for model in names(trains=True)]
    for genes, model, scenario, user in own:
        # GAIN-MSE after GAIN-GTEx: it reads the validation search GAIN-GTEx keeps in the folder
        after = ("01_data",) + ((model_output(genes, "gain", scenario),) if model == "gain-mse" else ())
        if genes == "all":
            steps.append(Step("02_training", model_output(genes, model, scenario),
                              {**common, "model": model, "scenario": scenario},
                              title=f"Training {label(model)}, {SCENARIO_TITLES[scenario]}", after=after))
        else:
            steps.append(Step(TRAIN, model_output(genes, model, scenario),
                              {**common, "model": model, "scenario": scenario, "genes": genes, "for": user},
                              title=f"{label(model)}, {SCENARIO_TITLES[scenario]}, {GENE_SET_TITLES[genes]}, for "
                                    f"notebook {user[:2]}", after=after))
    # notebooks 03–07 wait for the models they read, not for the panel's, which only notebook 08 reads
    trained = tuple(s.output for s in steps[1:])
    read = tuple(s.output for s in steps[1:] if s.parameters.get("genes") != "panel")
    for name in NOTEBOOKS[2:]:
        after = {"08_comparison": trained, "09_uncertainty": ("08_comparison",)}.get(name, read)
        steps.append(Step(name, name, common, after=after))
    return [replace(s, shares=s.notebook in SHARED) for s in steps]


def model_output(genes: str, model: str, scenario: str) -> str:
    """The step that trains one model: notebook 02's executed copy for all genes, else a training of its own."""
    name = f"{model.replace('-', '_')}_{scenario}"
    return f"02_training_{name}" if genes == "all" else f"{TRAIN}_{genes}_{name}"


def with_parameters(steps: list[Step], parameters: dict[str, dict]) -> list[Step]:
    """``steps`` with more papermill parameters for the notebooks whose name starts with a key of
    ``parameters``."""
    out = []
    for step in steps:
        extra = {k: v for prefix, values in parameters.items() if step.output.startswith(prefix)
                 for k, v in values.items()}
        out.append(replace(step, parameters={**step.parameters, **extra}) if extra else step)
    return out


def select(steps: list[Step], only: list[str] | None) -> list[Step]:
    """The steps whose notebook starts with one of ``only`` (e.g. ``["04"]`` or ``["02_training", "07"]``)."""
    if not only:
        return steps
    chosen = [s for s in steps if any(s.notebook.startswith(o) or s.output.startswith(o) for o in only)]
    if not chosen:
        raise ValueError(f"--only {' '.join(only)} matches no notebook; notebooks are {', '.join(NOTEBOOKS)}")
    return chosen
