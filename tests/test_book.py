"""The book: notebook sources, the runner, and a `smoke` build of every page."""

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from gaingtex.book.build import BookError, NOTEBOOKS, build_book, finish_notebook, plan, select
from gaingtex.book.schedule import cores
from gaingtex.book.steps import TRAIN
from gaingtex.imputers import names

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc["parts"]:
        walk(part["chapters"])
    return files


# ------------------------------------------------------------------------------------------- notebook sources

@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_sources_are_clean_and_parameterised(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "notebooks are stored without outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    for name_ in ("preset", "seed", "run_dir"):
        assert re.search(rf"^{name_} = ", params[0].source, re.M)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for section in ("## Overview", "**Time to run**", "## Summary", "## Exercises"):
        assert section in text
    assert "import" in code[0].source or "import" in code[1].source  # imports come first


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_time_to_run_is_the_builds_own(name):
    """No hand-written running time: each overview points to the times this build measured (book/rerun.md)."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    line = text[text.index("**Time to run**"):].split("\n\n")[0]
    assert "<build-times>`" in line and not re.search(r"\d", line), line
    assert "(build-times)=" in (ROOT / "book" / "rerun.md").read_text()


def test_plan_matches_the_table_of_contents():
    outputs = [f"notebooks/{s.output}" for s in plan("smoke", 0, Path("run")) if s.notebook != TRAIN]
    assert sorted(outputs) == sorted(f for f in toc_files() if f.startswith("notebooks/"))
    assert outputs[0] == "notebooks/01_data" and outputs[-1] == "notebooks/09_uncertainty"
    assert sum(o.startswith("notebooks/02_training") for o in outputs) == 6
    assert [s.parameters["model"] for s in plan("smoke", 0, Path("run"))[1:4]] == names(trains=True)


def test_plan_trains_the_panel_and_alzheimer_models_beside_notebook_02():
    steps = {s.output: s for s in plan("smoke", 0, Path("run"))}
    own = [o for o, s in steps.items() if s.notebook == TRAIN]
    assert own == ["train_alzheimer_pmi_inductive"] + [f"train_panel_{m.replace('-', '_')}_{sc}"
                                                        for sc in ("inductive", "inplace") for m in names(trains=True)]
    assert all(steps[o].shares and steps[o].after[0] == "01_data" for o in own)
    # GAIN-MSE waits for GAIN-GTEx's validation search, which it reads
    assert steps["train_panel_gain_mse_inplace"].after == ("01_data", "train_panel_gain_inplace")
    assert steps["02_training_gain_mse_inductive"].after == ("01_data", "02_training_gain_inductive")
    # notebooks 03-07 wait for the models they read; notebook 08 for every model; 01, 08 and 09 run alone
    assert "train_alzheimer_pmi_inductive" in steps["06_alzheimer"].after
    assert not any(a.startswith("train_panel") for a in steps["04_inductive"].after)
    assert set(own) <= set(steps["08_comparison"].after)
    assert [o for o, s in steps.items() if not s.shares] == ["01_data", "08_comparison", "09_uncertainty"]


def test_select_and_its_errors(tmp_path):
    steps = plan("smoke", 0, tmp_path)
    assert [s.output for s in select(steps, ["04", "07"])] == ["04_inductive", "07_embeddings"]
    assert len(select(steps, ["02"])) == 6
    with pytest.raises(ValueError, match="matches no notebook"):
        select(steps, ["99"])
    with pytest.raises(ValueError, match="cannot be combined"):
        build_book("smoke", root=ROOT, build_dir=tmp_path, only=["04"], fresh=True)


def test_finish_notebook_hides_parameters_and_retitles():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Training a model\ntext"),
        nbformat.v4.new_code_cell("preset = 'teach'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("preset = 'smoke'", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("x = 1"),
    ])
    out = finish_notebook(nb, "Training PMI, inductive")
    assert out.cells[0].source == "# Training PMI, inductive\ntext"
    assert "remove-cell" in out.cells[1].metadata["tags"] and "remove-cell" in out.cells[2].metadata["tags"]
    assert "tags" not in out.cells[3].metadata


def test_a_failing_notebook_fails_the_build_and_removes_the_stale_book(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, root / name)
    shutil.copytree(ROOT / "book", root / "book")
    (root / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("preset = 'smoke'\nseed = 0\nrun_dir = ''", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("raise ValueError('the cohort file is broken')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, root / "notebooks" / "01_data.ipynb")
    stale = tmp_path / "build" / "html"
    stale.mkdir(parents=True)
    (stale / "index.html").write_text("an older book")
    with pytest.raises(BookError, match="01_data failed.*ValueError: the cohort file is broken"):
        build_book("smoke", 0, run_dir=tmp_path / "run", root=root, build_dir=tmp_path / "build",
                   log=lambda *a, **k: None)
    assert not stale.exists()
    executed = tmp_path / "build" / "executed" / "run"
    assert (executed / "01_data.failed.ipynb").is_file() and not (executed / "01_data.ipynb").exists()


def test_missing_repository_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="_config.yml does not exist"):
        build_book("smoke", root=tmp_path, build_dir=tmp_path / "b")


# ------------------------------------------------------------------------------------------- the smoke build

def test_every_page_exists(smoke_book):
    html, _, _ = smoke_book
    for page in toc_files():
        assert (html / f"{page}.html").is_file(), page
    assert (html / "index.html").is_file()
    assert (html / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()


@pytest.mark.parametrize("page", [f.split("/")[1] for f in toc_files() if f.startswith("notebooks/")])
def test_notebook_pages_hold_figures_and_no_errors(smoke_book, page):
    html, _, _ = smoke_book
    text = (html / "notebooks" / f"{page}.html").read_text()
    images = re.findall(r'<img[^>]+src="([^"]+)"', text)
    figures = [src for src in images if "_images/" in src]
    assert figures, f"{page} shows no figure"
    for src in figures:
        assert (html / "notebooks" / src).resolve().is_file(), src
    for marker in ("Traceback", "output error", 'class="output stderr"', "run_dir = "):
        assert marker not in text, f"{page} contains {marker!r}"


def test_training_pages_have_their_own_titles(smoke_book):
    html, _, _ = smoke_book
    text = (html / "notebooks" / "02_training_gain_inplace.html").read_text()
    assert "<title>Training GAIN-GTEx, in-place" in text


def test_every_glued_number_resolved(smoke_book):
    html, build, _ = smoke_book
    pasted = []
    for page in toc_files():
        text = (html / f"{page}.html").read_text()
        assert "{glue" not in text and "glue:text" not in text, page
        pasted += re.findall(r'<span class="pasted-text">([^<]*)</span>', text)
    assert len(pasted) > 60
    assert all(p.strip() and p.strip().lower() != "nan" for p in pasted), pasted
    # every key the narrative pages ask for exists in the executed notebooks
    keys = set()
    for nb_path in (build / "executed" / "run").glob("*.ipynb"):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            for out in cell.get("outputs", []):
                name = out.get("metadata", {}).get("scrapbook", {}).get("name")
                if name:
                    keys.add(name)
    for md in (ROOT / "book").glob("*.md"):
        for key in re.findall(r"::(\w+):", md.read_text()):
            assert key in keys, f"{md.name} asks for {key}"


def test_build_times_page(smoke_book):
    html, build, _ = smoke_book
    text = (html / "book" / "rerun.html").read_text()
    assert "Preset <code" in text and "all steps, one after another" in text and "Peak memory" in text
    assert ("ran 2 at a time" in text) == (len(cores()) >= 2)
    timings = json.loads((build / "executed" / "run" / "timings.json").read_text())
    assert set(timings) == {s.output for s in plan("smoke", 0, Path("run"))}


def test_rerunning_one_notebook_reuses_the_models(smoke_book):
    html, build, run = smoke_book
    models = sorted((run / "models").glob("*.keras"))
    assert len(models) == 13  # six for notebook 02, one for notebook 06, six on the gene panel for notebook 08
    stamps = {m: m.stat().st_mtime_ns for m in models}
    build_book("smoke", 0, run_dir=run, root=ROOT, build_dir=build, only=["07"], log=lambda *a, **k: None)
    assert {m: m.stat().st_mtime_ns for m in models} == stamps
    assert (html / "notebooks" / "07_embeddings.html").is_file()
