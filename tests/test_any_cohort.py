"""The book on any cohort: a user's cohort with external ones, what each notebook needs of it, the stand-in page
for a notebook whose inputs are absent, and references when there is no oracle."""

from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from gaingtex.book.build import ORACLE_TAGS, Step, execute, finish_notebook, missing_inputs, plan, stand_in
from gaingtex.book.pages import NOT_IN_BUILD, PAPER_ROWS
from gaingtex.book.runs import Run, cohort_facts, default_run_dir
from gaingtex.data import write_h5ad
from gaingtex.data.combine import with_external
from gaingtex.evaluation.scoring import reference_method, score_imputer, summary_table
from gaingtex.imputers import MeanImputer

ROOT = Path(__file__).resolve().parents[1]


def user_cohort(smoke):
    """The smoke cohort's GTEx samples as a loader leaves them: no generator, no split column."""
    gtex = smoke[smoke.obs["cohort"] == "GTEx"].copy()
    gtex.uns = {}
    gtex.obs = gtex.obs.drop(columns=["split"])
    return gtex


def external(smoke, name="LUAD-like", code="LUAD", genes=slice(None)):
    part = smoke[smoke.obs["cohort"] == name][:, genes].copy()
    part.uns = {}
    part.obs = part.obs.drop(columns=["age_bracket"])  # as from `gaingtex xena`: exact ages
    part.obs["cohort"] = code
    part.obs_names = [f"TCGA-{code}-{i}" for i in range(part.n_obs)]
    return part


def test_external_cohorts_are_appended_by_gene_symbol(smoke):
    base, lines = user_cohort(smoke), []
    ext = external(smoke, genes=slice(0, 200))[:, ::-1]  # fewer genes, in another order
    merged = with_external(base, {"tcga.h5ad": ext}, seed=0, report=lines.append)
    rows = (merged.obs["cohort"] == "LUAD").to_numpy()
    assert rows.sum() == ext.n_obs and (merged.obs.loc[rows, "split"] == "external").all()
    assert set(merged.obs.loc[~rows, "split"]) == {"train", "valid", "test"}  # the donor split, drawn here
    gene = ext.var_names[5]
    np.testing.assert_array_equal(merged[rows, gene].X.ravel(), ext[:, gene].X.ravel())
    assert np.isnan(merged[rows][:, base.var_names[250]].X).all()  # a gene the file lacks is missing, not zero
    assert "100 of the reference's 300 genes have no value there" in lines[0]
    assert "age_bracket" not in merged.obs and "exact years" in lines[1]
    assert with_external(base, {}, seed=0).obs["split"].notna().all()


def test_bad_external_cohorts(smoke):
    base = user_cohort(smoke)
    quiet = {"seed": 0, "report": lambda line: None}
    gtex_like = external(smoke)
    gtex_like.obs["cohort"] = "GTEx"
    with pytest.raises(ValueError, match="x.h5ad: an external cohort needs obs\\['cohort'\\]"):
        with_external(base, {"x.h5ad": gtex_like}, **quiet)
    clash = external(smoke)
    clash.obs_names = base.obs_names[: clash.n_obs]
    with pytest.raises(ValueError, match="y.h5ad: sample id .* is already in another cohort"):
        with_external(base, {"y.h5ad": clash}, **quiet)
    other = external(smoke)
    other.var_names = [f"NOT{i}" for i in range(other.n_vars)]
    with pytest.raises(ValueError, match="z.h5ad: none of its 300 genes is among"):
        with_external(base, {"z.h5ad": other}, **quiet)


def test_cohort_facts_say_what_each_notebook_can_use(smoke):
    facts = cohort_facts(smoke)
    assert facts["generator"] and facts["shifted"] == ["LAML-like", "BRCA-like", "LUAD-like"]
    assert facts["alzheimer_genes"] == 273 and facts["tissues"] == 49 and facts["brain_tissues"] == 13
    assert all(missing_inputs(n, facts) is None for n in ("05_tcga", "06_alzheimer", "07_embeddings"))
    panel = smoke[smoke.obs["cohort"] == "GTEx"][:, :59].copy()
    panel.uns = {}
    few = cohort_facts(panel[panel.obs["tissue"].isin(["Lung", "Brain_Cortex", "Liver"]).to_numpy()])
    assert not few["generator"] and few["shifted"] == []
    assert "no external cohort" in missing_inputs("05_tcga", few)
    assert f"has {few['alzheimer_genes']} of the paper's 273" in missing_inputs("06_alzheimer", few)
    assert "has 3 tissues, 1 of them brain" in missing_inputs("07_embeddings", few)
    assert missing_inputs("04_inductive", few) is None


def test_a_users_run_folder_records_its_sources(smoke, tmp_path):
    source, ext = tmp_path / "mine.h5ad", tmp_path / "luad.h5ad"
    write_h5ad(user_cohort(smoke), source)
    write_h5ad(external(smoke), ext)
    assert default_run_dir("smoke", 0, source) == Path("runs/mine-smoke-seed0")
    run = Run(tmp_path / "run", "smoke", 0)
    cohort = run.make_cohort(source, [ext], report=lambda line: None)
    assert cohort.n_obs == smoke.n_obs - 2 * external(smoke).n_obs
    assert run.manifest["sources"]["files"] == ["mine.h5ad", "luad.h5ad"]
    assert run.facts["shifted"] == ["LUAD"] and not run.has_oracle
    assert sorted(run.references) == ["factor-analysis", "gaussian"]  # the registry's learnt references
    assert Run(tmp_path / "run", "smoke", 0).make_cohort(source, [ext]).n_obs == cohort.n_obs  # read back
    with pytest.raises(ValueError, match="holds a run on another cohort \\(mine.h5ad, luad.h5ad\\)"):
        Run(tmp_path / "run", "smoke", 0).make_cohort(source)
    with pytest.raises(FileNotFoundError, match="cohort file .*absent.h5ad does not exist"):
        run.make_cohort(tmp_path / "absent.h5ad")
    with pytest.raises(ValueError, match="external cohorts need a reference cohort"):
        Run(tmp_path / "other", "smoke", 0).make_cohort(None, [ext])
    steps = plan("smoke", 0, tmp_path / "run", source, [ext])
    assert steps[0].parameters["cohort"] == str(source) and steps[0].parameters["external"] == [str(ext)]
    assert "cohort" not in steps[1].parameters


def test_alzheimer_genes_a_cohort_lacks(smoke, tmp_path):
    lacking = user_cohort(smoke)
    keep = [g for g in lacking.var_names if g not in {"APOE", "APP"}]
    source = tmp_path / "lacking.h5ad"
    write_h5ad(lacking[:, keep].copy(), source)
    run = Run(tmp_path / "run", "smoke", 0)
    run.make_cohort(source)
    genes = run.genes("alzheimer")
    assert len(genes) == 271 and "APOE" not in genes
    write_h5ad(lacking[:, 100:].copy(), tmp_path / "few.h5ad")
    few = Run(tmp_path / "few", "smoke", 0)
    few.make_cohort(tmp_path / "few.h5ad")
    with pytest.raises(ValueError, match="needs at least 90% of them"):
        few.genes("alzheimer")


def test_prose_for_the_other_kind_of_cohort_is_removed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text, metadata={"tags": tags})
                for text, tags in (("# T", []), ("oracle", ["if-oracle"]), ("learnt", ["if-no-oracle"]))]
    for oracle in (True, False):
        shown = [c.source for c in finish_notebook(nbformat.from_dict(nb), None, oracle).cells
                 if "remove-cell" not in c.metadata.get("tags", [])]
        assert shown == ["# T", "oracle" if oracle else "learnt"]
    assert set(ORACLE_TAGS) == {"if-oracle", "if-no-oracle"}


def test_every_notebook_tags_prose_for_both_kinds_or_neither():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        tags = {t for c in nbformat.read(path, as_version=4).cells for t in c.metadata.get("tags", [])}
        assert ("if-oracle" in tags) == ("if-no-oracle" in tags), path.name


def test_the_stand_in_page_says_why_and_glues_the_narrative_values(tmp_path):
    step = stand_in(Step("05_tcga", "05_tcga", {}), ROOT, "the cohort has no external cohort.")
    assert step.title == "Generalisation to shifted cohorts (TCGA)"
    nb = nbformat.read(execute(step, ROOT, tmp_path), as_version=4)
    assert nb.cells[0].source.startswith("# Generalisation to shifted cohorts (TCGA)")
    shown = "".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells for o in c.get("outputs", []))
    assert "did not run on this build's cohort: the cohort has no external cohort." in shown
    glued = {o["metadata"]["scrapbook"]["name"]: o["data"]["application/papermill.record/text/plain"]
             for c in nb.cells for o in c.get("outputs", []) if "scrapbook" in o.get("metadata", {})}
    assert glued == {key: repr(NOT_IN_BUILD) for key in PAPER_ROWS["05_tcga"]}


def test_without_an_oracle_the_best_learnt_reference_is_the_yardstick():
    def scores(methods):
        return pd.DataFrame([{"method": m, "tissue": "Lung", "gene": "A", "r2": r2, "rmse": 1.0, "n": 10,
                              "samples": 10, "impute_seconds": 0.1} for m, r2 in methods.items()])

    with_oracle = summary_table(scores({"PMI": 0.5, "oracle": 0.8}))
    assert with_oracle.attrs["reference"] == "oracle"
    assert with_oracle.set_index("method").loc["PMI", "r2_vs_reference"] == pytest.approx(0.625)
    learnt = scores({"PMI": 0.5, "factor analysis": 0.4, "Gaussian (per tissue)": 0.55, "k-NN": 0.6})
    assert reference_method(summary_table(learnt)) == "Gaussian (per tissue)"  # not k-NN: a reference is linear
    assert summary_table(scores({"PMI": 0.5, "k-NN": 0.6})).attrs["reference"] == "k-NN"
    with pytest.raises(ValueError, match="reference method 'oracle' is not among"):
        summary_table(scores({"PMI": 0.5}), reference="oracle")


def test_unknown_values_are_neither_read_nor_scored(smoke_prepared):
    test = smoke_prepared.test
    x = test.x.copy()
    x[:, 3] = np.nan  # a gene the file lacks
    seen = {}

    class Spy(MeanImputer):
        def transform(self, x, mask, obs):
            seen["mask"] = mask.copy()
            return super().transform(x, mask, obs)

    imputer = Spy().fit(smoke_prepared.train)
    mask = np.ones_like(x)
    mask[:, ::2] = 0
    scores, _ = score_imputer(imputer, x, mask, test.obs, genes=test.genes)
    assert (seen["mask"][:, 3] == 0).all()
    assert scores[scores["gene"] == test.genes[3]]["r2"].isna().all()
    assert scores[scores["gene"] == test.genes[2]]["r2"].notna().any()


# ------------------------------------------------------------------------------ the wording of each kind of cohort

def cohort_words(**changes):
    from gaingtex.book.wording import Cohort

    base = dict(oracle=False, files=("mine.h5ad",), genes=2000, tissues=49, shifted=(), alzheimer_genes=273)
    return Cohort(**{**base, **changes})


def test_each_kind_of_cohort_has_its_own_words():
    from gaingtex.book import wording

    embedded = cohort_words(oracle=True, files=())
    real, small = cohort_words(), cohort_words(genes=40, alzheimer_genes=2)
    assert [c.kind for c in (embedded, real, small)] == ["embedded", "real", "small"]
    assert "known optimum" in wording.footer(embedded) and "known optimum" in wording.data_title(embedded)
    for cohort in (real, small):
        text = " ".join([wording.footer(cohort), wording.data_title(cohort), wording.why_simple(cohort),
                         wording.data_note(cohort, 100, 10), *wording.paper_reasons(cohort).values()])
        assert "known optimum" not in text and "by construction" not in text and "synthetic" not in text
        assert "mine.h5ad" in wording.footer(cohort) and "/" not in wording.footer(cohort)
    assert "no smaller panel" in wording.panel_intro(small) and "59 genes of this cohort" in wording.panel_intro(real)
    assert "has 2 of the 273" in wording.alzheimer_comparison(small, False, True, "smoke")
    assert wording.alzheimer_comparison(real, True, True, "smoke") == ""
    assert "leaves the 273" in wording.alzheimer_comparison(real, False, False, "teach")
    assert set(wording.paper_reasons(embedded)) == set(wording.paper_reasons(real))


def test_scaling_sizes_fit_the_cohort():
    from gaingtex.book.wording import scaling_gene_counts

    assert scaling_gene_counts(2000) == [100, 300, 1000, 2000]
    assert scaling_gene_counts(300) == [75, 150, 300]  # the ladder would give two sizes only
    assert scaling_gene_counts(40) == [10, 20, 40] and scaling_gene_counts(12) == [10, 12]


def test_the_build_writes_the_footer_for_its_cohort(tmp_path):
    import yaml

    from gaingtex.book.build import write_config

    write_config(ROOT, tmp_path, cohort_words())
    written = yaml.safe_load((tmp_path / "_config.yml").read_text())
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "mine.h5ad" in written["html"]["extra_footer"] and "known optimum" not in written["html"]["extra_footer"]
    assert {k: v for k, v in written.items() if k != "html"} == {k: v for k, v in repository.items() if k != "html"}
    write_config(ROOT, tmp_path, cohort_words(oracle=True, files=()))
    assert "known optimum" in yaml.safe_load((tmp_path / "_config.yml").read_text())["html"]["extra_footer"]


def test_budget_stopped_rows_say_so_in_every_table():
    from gaingtex.book.tables import display_summary, format_table

    summary = pd.DataFrame([
        {"method": "gaussian", "scenario": "inductive", "genes": "all", "seeds": 1, "runs": 1, "status": "ok",
         "reference": "gaussian", "r2_mean": 0.5, "rmse_mean": 0.7, "fraction": 1.0, "fit_seconds_mean": 0.2,
         "impute_seconds_mean": 0.1},
        {"method": "missforest", "scenario": "inductive", "genes": "all", "seeds": 0, "runs": 1,
         "status": "> budget", "reference": "gaussian", "progress": "3 of 40 genes, projected 41 s"},
        {"method": "mice", "scenario": "inductive", "genes": "all", "seeds": 0, "runs": 1, "status": "> budget",
         "reference": "gaussian", "progress": "2 of 40 genes"}])
    html = display_summary(summary).to_html()
    assert "> budget (projected 41 s)" in html and "> budget (2 of 40 genes)" in html
    assert "nan" not in html.lower().replace("nanmean", "")
    result = {"summary": summary.to_dict("records"), "preset": "smoke", "seeds": 1, "missing_rate": 0.5,
              "device": "cpu", "matmul_flops": 1e9, "wall_seconds": 1.0}
    text = format_table(result)
    assert "> budget (projected 41 s)" in text and "nan" not in text
