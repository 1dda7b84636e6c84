"""A run folder: the cohort, trained models and result tables that the notebooks of one book build share.

Layout of ``runs/<preset>-seed<seed>/``::

    run.json                  preset, seed and gaingtex version the folder was made with; the cohort's sources
                              and what later notebooks need to know of it (``facts``)
    cohort.h5ad               the embedded cohort, or a user's cohort with its external cohorts (notebook 01)
    models/<model>-<scenario>.keras             all genes (notebook 02)
    models/alzheimer-<model>-<scenario>.keras   the 273 pathway genes (notebook 06)
    models/panel-<model>-<scenario>.keras       the 59-gene panel (notebook 08)
    tables/<name>.csv         result tables a later notebook or reader may want

Notebooks never retrain a model that is already in the folder: they load it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from .. import __version__
from .._io import atomic_path
from ..config import PRESETS, SCENARIOS, check_choice
from ..imputers import registry

DETAIL_TABLES = ("comparison_pit", "comparison_tissues")

GENE_SETS = ("all", "alzheimer", "panel")


def default_run_dir(preset: str, seed: int, cohort: str | os.PathLike | None = None) -> Path:
    """``runs/<preset>-seed<seed>`` under the current directory, or ``runs/<cohort file stem>-<preset>-seed<seed>``
    for a user's cohort."""
    prefix = f"{Path(cohort).name.removesuffix('.h5ad')}-" if cohort else ""
    return Path("runs") / f"{prefix}{preset}-seed{seed}"


# A pathway analysis (notebook 06) needs at least this share of the 273 Alzheimer genes in the cohort.
ALZHEIMER_SHARE = 0.9


def alzheimer_needed() -> int:
    """How many of the Alzheimer-pathway genes a cohort needs for the pathway analysis."""
    from ..data import alzheimer_genes

    return math.ceil(ALZHEIMER_SHARE * len(alzheimer_genes()))


def check_sources(source, external=()) -> list[Path]:
    """A user's cohort file and its external cohorts' files, checked to exist (external ones need a source)."""
    paths = [Path(p) for p in ([source] if source else []) + list(external)]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"cohort file {path} does not exist")
    if external and not source:
        raise ValueError("external cohorts need a reference cohort (--cohort): the embedded cohort has its own "
                         "shifted cohorts")
    return paths
# A tissue-embedding analysis (notebook 07) needs this many tissues, brain and other tissues among them.
MIN_EMBEDDING_TISSUES = 10


def cohort_facts(adata) -> dict:
    """What the book's later steps need to know of a cohort: whether it has a generating model (an oracle), its
    shifted cohorts whose healthy tissue has GTEx samples, how many of the Alzheimer genes it has, and its
    tissues."""
    from ..data import GTEX, alzheimer_genes
    from ..evaluation.studies import brain_labels

    obs = adata.obs
    cohort = obs["cohort"].astype(str) if "cohort" in obs else pd.Series(GTEX, index=obs.index)
    gtex_tissues = set(obs.loc[(cohort == GTEX).to_numpy(), "tissue"].astype(str))
    shifted = [name for name in pd.unique(cohort[cohort != GTEX])
               if set(obs.loc[(cohort == name).to_numpy(), "tissue"].astype(str)) & gtex_tissues]
    tissues = sorted(gtex_tissues)
    return {"generator": "generator" in adata.uns, "shifted": [str(n) for n in shifted],
            "alzheimer_genes": len(set(alzheimer_genes()) & set(adata.var_names)),
            "genes": int(adata.n_vars), "tissues": len(tissues), "brain_tissues": int(brain_labels(tissues).sum())}


@dataclass
class Run:
    """One run folder, bound to a preset and a seed.

    Parameters
    ----------
    folder
        The folder; created when absent.
    preset, seed
        What the folder's cohort and models are made with. Opening a folder made with another preset, seed or
        gaingtex version raises, so that results of two configurations are never mixed.
    """

    folder: Path
    preset: str
    seed: int

    def __post_init__(self):
        self.folder = Path(self.folder)
        check_choice(self.preset, PRESETS, "preset")
        self.seed = int(self.seed)
        manifest = self.folder / "run.json"
        expected = {"preset": self.preset, "seed": self.seed}
        if manifest.is_file():
            found = json.loads(manifest.read_text())
            if {k: found.get(k) for k in expected} != expected:
                raise ValueError(f"{self.folder} holds a run with preset {found.get('preset')!r}, seed "
                                 f"{found.get('seed')!r}, not preset {self.preset!r}, seed {self.seed}; use another "
                                 "folder or delete this one")
            if found.get("gaingtex") != __version__:  # its models and tables were made by other code
                raise ValueError(f"{self.folder} was made by gaingtex {found.get('gaingtex')}, this is "
                                 f"{__version__}: its models may not match this version's preparation; start it "
                                 "anew (`gaingtex book --fresh`) or use another folder")
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(manifest, suffix=".json") as tmp:
                Path(tmp).write_text(json.dumps({**expected, "gaingtex": __version__}, indent=2))

    # ------------------------------------------------------------------------------------------------- cohort
    @property
    def cohort_path(self) -> Path:
        return self.folder / "cohort.h5ad"

    @property
    def manifest(self) -> dict:
        return json.loads((self.folder / "run.json").read_text())

    def make_cohort(self, source: str | os.PathLike | None = None, external=(), report=print):
        """Put the cohort into the folder unless it is already there; returns it.

        Without ``source`` it is the embedded cohort of the run's preset and seed; with it, the cohort read from
        that ``.h5ad`` file (``gaingtex gtex`` makes one), with the samples of each ``external`` file (``gaingtex
        xena``) appended as shifted cohorts. The sources' digests are recorded in ``run.json``; a folder made from
        other sources is refused.
        """
        from ..data import read_h5ad, write_h5ad
        from ..data.combine import with_external
        from ..data.embedded import make_cohort
        from ..fingerprint import file_digest

        paths = check_sources(source, external)
        sources = {"embedded": not source, "files": [p.name for p in paths],
                   "digests": [file_digest(p) for p in paths]}
        manifest = self.manifest
        if self.cohort_path.is_file():
            if manifest.get("sources", sources) != sources:
                held = ", ".join(manifest["sources"]["files"]) or "the embedded cohort"
                raise ValueError(f"{self.folder} holds a run on another cohort ({held}); use another folder or "
                                 "delete this one")
            return self.cohort
        if source:
            adata = with_external(read_h5ad(paths[0]), {p.name: read_h5ad(p) for p in paths[1:]}, self.seed, report)
        else:
            adata = make_cohort(self.preset, self.seed)
        write_h5ad(adata, self.cohort_path)
        with atomic_path(self.folder / "run.json", suffix=".json") as tmp:
            Path(tmp).write_text(json.dumps({**manifest, "sources": sources, "facts": cohort_facts(adata)}, indent=2))
        self.__dict__.pop("cohort", None)
        return self.cohort

    @property
    def facts(self) -> dict:
        """:func:`cohort_facts` of the folder's cohort, as recorded when it was made."""
        facts = self.manifest.get("facts")
        if facts is None:
            facts = cohort_facts(self.cohort)
        return facts

    @property
    def has_oracle(self) -> bool:
        return bool(self.facts["generator"])

    @property
    def references(self) -> list[str]:
        """The methods every result is measured against: the oracle, or without a generating model the learnt
        linear references (the registry's role ``"reference"``)."""
        return ["oracle"] if self.has_oracle else registry.names(role="reference")

    @cached_property
    def cohort(self):
        """The folder's cohort (AnnData)."""
        from ..data import read_h5ad

        if not self.cohort_path.is_file():
            raise FileNotFoundError(f"{self.cohort_path} does not exist: run notebook 01 (data) for this folder "
                                    "first, or `gaingtex cohort --out` it there")
        return read_h5ad(self.cohort_path)

    def genes(self, genes: str = "all") -> list[str] | None:
        """The gene symbols of a gene set (``None`` for all genes); the Alzheimer set is the pathway's genes that
        the cohort has, and must be at least :data:`ALZHEIMER_SHARE` of them."""
        from ..data import alzheimer_genes, panel_genes

        check_choice(genes, GENE_SETS, "gene set")
        if genes == "panel":
            return panel_genes(self.cohort.var_names)
        if genes == "all":
            return None
        have = set(self.cohort.var_names)
        present = [g for g in alzheimer_genes() if g in have]
        if len(present) < alzheimer_needed():
            raise ValueError(f"{self.cohort_path} has {len(present)} of the {len(alzheimer_genes())} Alzheimer-pathway "
                             f"genes; the pathway analysis needs at least {ALZHEIMER_SHARE:.0%} of them")
        return present

    def scenario(self, scenario: str, missing_rate: float = 0.5, genes: str = "all"):
        """The scenario's matrices and masks, drawn from the run's seed (the masks the models trained with)."""
        from ..evaluation.scenarios import scenario_data

        return scenario_data(self.cohort, scenario, missing_rate, self.seed, self.genes(genes),
                             source=str(self.cohort_path))

    def oracle(self, data, healthy_tissue: bool = False):
        """The cohort's oracle fitted to a scenario's scale and genes; ``healthy_tissue`` tells it that every
        sample comes from its GTEx tissue (for the shifted cohorts)."""
        from ..data.embedded import factor_model
        from ..imputers import get

        return get("oracle", generator=factor_model(self.cohort), healthy_tissue=healthy_tissue).fit(data.train)

    def methods(self, data, names, genes: str = "all") -> dict:
        """Fitted methods by label for a scenario: the deep models loaded from the folder (checked against the
        scenario's masks), every other registered method built and fitted on ``data``; the oracle only when the
        cohort has a generating model."""
        from ..data.embedded import factor_model
        from ..evaluation.scenarios import check_trained_masks
        from ..evaluation.scoring import build_methods

        generator = factor_model(self.cohort) if "generator" in self.cohort.uns else None
        out = {}
        for name in names:
            if registry.spec(name).trains:
                model = self.load_model(name, data.scenario, genes)
                check_trained_masks(model, data.missing_rate, data.seed)
                out[registry.label(model.name)] = model
            else:
                out.update(build_methods([name], data, self.preset, generator))
        return out

    # ------------------------------------------------------------------------------------------------- models
    def model_path(self, model: str, scenario: str, genes: str = "all") -> Path:
        check_choice(model, tuple(registry.names(trains=True)), "model")
        check_choice(scenario, SCENARIOS, "scenario")
        check_choice(genes, GENE_SETS, "gene set")
        prefix = "" if genes == "all" else f"{genes}-"
        return self.folder / "models" / f"{prefix}{model}-{scenario}.keras"

    def has_model(self, model: str, scenario: str, genes: str = "all") -> bool:
        return self.model_path(model, scenario, genes).is_file()

    def load_model(self, model: str, scenario: str, genes: str = "all"):
        """A trained model of the folder, with an error that says which notebook trains it when it is absent."""
        path = self.model_path(model, scenario, genes)
        if not path.is_file():
            hint = {"all": f"run notebook 02 (training) with model={model!r}, scenario={scenario!r}",
                    "alzheimer": "run notebook 06 (Alzheimer's pathway)", "panel": "run notebook 08 (comparison)"}[genes]
            raise FileNotFoundError(f"{path} does not exist: {hint} for this run folder first")
        return registry.load(path)

    def train_or_load(self, model: str, scenario: str, genes: str = "all", progress: bool = True):
        """Load the folder's model if present, else train it with the run's preset and seed and save it; its
        validation search is kept in the folder's ``searches/``, where GAIN-GTEx and GAIN-MSE share it.

        Returns ``(imputer, trained)`` where ``trained`` says whether it was trained now.
        """
        from ..evaluation.scenarios import train_model

        path = self.model_path(model, scenario, genes)
        if path.is_file():
            return self.load_model(model, scenario, genes), False
        imputer = train_model(self.cohort, model, scenario, self.preset, seed=self.seed, genes=self.genes(genes),
                              progress=progress, checkpoint=path.with_suffix(".checkpoint.npz"),
                              searches=self.folder / "searches", cohort=str(self.cohort_path), gene_set=genes)
        path.parent.mkdir(parents=True, exist_ok=True)
        imputer.save(path)
        return imputer, True

    def deep_models(self, deep_seeds, progress: bool = True):
        """Deep models for the comparison (:func:`gaingtex.evaluation.comparison.compare`): at the run's seed the
        folder's own (loaded, or trained once and saved; on the Alzheimer genes only those notebook 06 trained),
        at the other seeds of ``deep_seeds`` trained afresh, at any other seed left out."""
        from ..evaluation.comparison import train_deep

        deep_seeds = {int(s) for s in deep_seeds}
        fresh = train_deep(self.preset, progress)

        def provide(name, scenario, genes, seed, data):
            if seed == self.seed:
                if genes == "alzheimer" and not self.has_model(name, scenario, genes):
                    return None
                return self.train_or_load(name, scenario, genes, progress)[0]
            if seed not in deep_seeds:
                return None
            return fresh(name, scenario, genes, seed, data)

        return provide

    # ------------------------------------------------------------------------------------------------- tables
    def table_path(self, name: str) -> Path:
        return self.folder / "tables" / f"{name}.csv"

    def save_table(self, name: str, table: pd.DataFrame) -> Path:
        """Write a result table as CSV (atomically)."""
        path = self.table_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".csv") as tmp:
            table.to_csv(tmp, index=False)
        return path

    def read_table(self, name: str) -> pd.DataFrame:
        path = self.table_path(name)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: the notebook that writes it has not run in this folder")
        return pd.read_csv(path)

    def save_details(self, details) -> None:
        """Notebook 08's :class:`~gaingtex.evaluation.studies.uncertainty.Details`: its PIT histograms and
        per-tissue tables, for notebook 09 (:meth:`comparison_uncertainty`)."""
        for name, table in zip(DETAIL_TABLES, details.tables()):
            self.save_table(name, table)

    def comparison_uncertainty(self, methods, missing_rate: float) -> dict | None:
        """Notebook 09's uncertainty tables for ``methods`` as notebook 08's comparison measured them in this folder
        (:func:`~gaingtex.evaluation.studies.uncertainty.from_comparison`); ``None`` when it has not."""
        from ..evaluation.studies.uncertainty import from_comparison

        try:
            tables = [self.read_table(name) for name in ("comparison_rows", *DETAIL_TABLES)]
        except FileNotFoundError:
            return None
        return from_comparison(*tables, methods, self.seed, missing_rate)


def open_run(run_dir: str | os.PathLike | None, preset: str, seed: int, cohort: str | os.PathLike | None = None) -> Run:
    """The run folder for notebook parameters (``run_dir`` empty or ``None`` means the default folder, which for
    a user's ``cohort`` file is named after it)."""
    return Run(Path(run_dir) if run_dir else default_run_dir(preset, seed, cohort or None), preset, seed)
