"""``gaingtex book``: execute the notebooks with papermill into one run folder, then build the Jupyter Book.

Order: 01 data → 02 training (once per trained method of the registry and scenario), beside it the models that
notebooks 06 and 08 would otherwise train themselves → 03 … 09. The trainings and notebooks 03–07 run two at a time
where there are two cores or more, each held to its share (:mod:`.schedule`). Every notebook reads what earlier
ones left in the run folder (cohort, models) and never retrains a model that is there. The book is built from the
executed copies with execution off and warnings as errors; a failed notebook or build removes the previously built
HTML, so no stale page is left looking current.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat

from .._io import atomic_path
from . import BookError
from .runs import Run, check_sources, default_run_dir
from .schedule import default_jobs, run_steps
from .steps import NOTEBOOKS, TRAIN, UNAVAILABLE, Step, missing_inputs, plan, select, with_parameters

__all__ = ["NOTEBOOKS", "Step", "build_book", "plan", "select"]

HIDDEN_TAGS = ("parameters", "injected-parameters")
# Prose cells written for one kind of cohort: shown only when the cohort has a generating model (an oracle), or
# only when it has none (a real cohort, measured against the learnt references).
ORACLE_TAGS = {"if-oracle": True, "if-no-oracle": False}


def mathjax_dir() -> Path:
    """Where ``make install`` put MathJax (``<venv>/share/mathjax``)."""
    return Path(sys.prefix) / "share" / "mathjax"


def finish_notebook(nb: nbformat.NotebookNode, title: str | None, oracle: bool = True) -> nbformat.NotebookNode:
    """Hide the parameter cells from the page, keep only the prose written for this kind of cohort (with or
    without an ``oracle``; :data:`ORACLE_TAGS`) and give a repeated notebook its own title."""
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        other_kind = any(ORACLE_TAGS.get(t, oracle) != oracle for t in tags)
        if (other_kind or any(t in tags for t in HIDDEN_TAGS)) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    if title:
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source.startswith("# "):
                first, _, rest = cell.source.partition("\n")
                cell.source = f"# {title}\n{rest}"
                break
    return nb


def check_outputs(nb: nbformat.NotebookNode, name: str) -> None:
    """Raise if any cell of an executed notebook holds an error output."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise BookError(f"notebook {name}, cell {i}: {out.get('ename')}: {out.get('evalue')}")


@contextlib.contextmanager
def kernel_log(path: Path):
    """Send this process's standard error — which the kernel inherits, TensorFlow's start-up notices included —
    to ``path`` for the duration, so that the progress lines stay readable."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "w") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def notebook_title(path: Path) -> str:
    """The first ``# `` heading of a notebook."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.partition("\n")[0][2:].strip()
    raise BookError(f"{path} has no '# ' title")


def page_title(notebook: str, cohort) -> str | None:
    """A title chosen from the cohort, for the notebooks whose source title names the embedded cohort."""
    from .wording import data_title

    return data_title(cohort) if notebook == "01_data" else None


def run_cohort(run: Path, preset: str, seed: int):
    """The run folder's :class:`~gaingtex.book.wording.Cohort`, or ``None`` before notebook 01 has made it."""
    from .wording import Cohort

    folder = Run(run, preset, seed)
    return Cohort.of(folder) if folder.cohort_path.is_file() else None


def write_config(root: Path, src: Path, cohort) -> None:
    """The book's ``_config.yml`` for this build: the repository's, with the footer written for the run's
    cohort (:func:`gaingtex.book.wording.book_config`). Jupyter Book 1.x reads its configuration once, before
    any page, so the cohort's wording goes into the staged copy rather than into the pages."""
    import yaml

    from .wording import book_config

    config = yaml.safe_load((root / "_config.yml").read_text())
    if cohort is not None:
        config = book_config(config, cohort)
    header = "# Written by `gaingtex book` from the repository's _config.yml and this build's cohort.\n"
    (src / "_config.yml").write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def stand_in(step: Step, root: Path, reason: str) -> Step:
    """The step that renders a short page saying why ``step``'s notebook cannot run on this cohort; it glues the
    values the narrative pages read from that notebook (:data:`gaingtex.book.pages.PAPER_ROWS`) as "not in this
    build"."""
    from .pages import PAPER_ROWS

    title = notebook_title(root / "notebooks" / f"{step.notebook}.ipynb")
    return Step(UNAVAILABLE, step.output, {"title": title, "notebook": step.notebook, "reason": reason,
                                           "keys": list(PAPER_ROWS.get(step.notebook, ()))}, title=title)


def execute(step: Step, root: Path, executed: Path, cohort=lambda: None) -> Path:
    """Run one notebook with papermill; the executed copy appears only on success (failures are kept beside it
    as ``*.failed.ipynb``; the kernel's standard error goes to ``<name>.log``). ``cohort()``, asked after the
    run, gives the run's :class:`~gaingtex.book.wording.Cohort` (or ``None``): whether it has an oracle says
    which prose cells to keep, and it titles the data page."""
    import papermill

    source = root / "notebooks" / f"{step.notebook}.ipynb"
    if not source.is_file():
        raise FileNotFoundError(f"notebook {source} does not exist")
    target = executed / f"{step.output}.ipynb"
    failed = executed / f"{step.output}.failed.ipynb"
    target.unlink(missing_ok=True)  # a stale copy must not survive a failed rerun
    failed.unlink(missing_ok=True)
    with atomic_path(target, suffix=".ipynb") as tmp:
        try:
            with kernel_log(executed / f"{step.output}.log"):
                papermill.execute_notebook(str(source), str(tmp), parameters=step.parameters, kernel_name="python3",
                                           progress_bar=False, cwd=str(root / "notebooks"))
        except papermill.PapermillExecutionError as err:
            shutil.copyfile(tmp, failed)
            raise BookError(f"notebook {step.output} failed in cell {err.exec_count}: {err.ename}: {err.evalue} "
                            f"(the executed notebook is kept as {failed})") from None
        except Exception as err:  # the kernel died, could not start, or timed out
            raise BookError(f"notebook {step.output} could not run: {type(err).__name__}: {err} (kernel log: "
                            f"{executed / (step.output + '.log')})") from err
        nb = nbformat.read(tmp, as_version=4)
        check_outputs(nb, step.output)
        facts = cohort()
        title = step.title or (page_title(step.notebook, facts) if facts else None)
        nbformat.write(finish_notebook(nb, title, facts.oracle if facts else True), tmp)
    return target


def run_step(step: Step, root: Path, executed: Path, run: Path, preset: str, seed: int) -> None:
    """Run one step of a build in this process: execute its notebook, or train its model into the run folder
    (its progress in ``<output>.log``); a model whose genes the cohort lacks is not trained (its notebook says
    why, or has no such part)."""
    if step.notebook != TRAIN:
        execute(step, root, executed, cohort=lambda: run_cohort(run, preset, seed))
        return
    from ..evaluation.comparison import gene_sets

    folder, genes = Run(run, preset, seed), step.parameters["genes"]
    if missing_inputs(step.parameters["for"], folder.facts) or (genes == "panel"
                                                                and not gene_sets(folder.cohort, ["panel"])):
        return
    with kernel_log(executed / f"{step.output}.log"):
        folder.train_or_load(step.parameters["model"], step.parameters["scenario"], genes)


def timings_table(timings: dict, steps: list[Step], preset: str, seed: int, jobs: int = 1,
                  wall: float | None = None) -> str:
    """A Markdown table of each step's execution time in this build (with ``wall``, the steps' time in all)."""
    from ..provenance import cpu_model

    lines = ["| step | seconds |", "|---|---|"]
    for step in steps:
        lines.append(f"| {step.title or step.output} | {timings.get(step.output, float('nan')):.0f} |")
    lines.append(f"| **all steps, one after another** | **{sum(timings.get(s.output, 0.0) for s in steps):.0f}** |")
    machine = f"{os.cpu_count()} CPU cores, {cpu_model()} (notebook 02 says where each model trained)"
    side = (f"\n\nThe trainings and notebooks 03–07 ran {jobs} at a time, each on its share of the cores"
            + (f": the steps took {wall:.0f} s in all" if wall is not None else "") + "." if jobs > 1 else "")
    memory = (f"\n\nPeak memory of a notebook's kernel: {peak_memory_gb():.1f} GB. A training notebook that found its "
              "model in the run folder loaded it instead of training it; `gaingtex book --fresh` times a full run.\n")
    return (f"Preset `{preset}`, seed {seed}, on {machine}:\n\n" + "\n".join(lines) + side + memory)


def peak_memory_gb() -> float:
    """The largest resident set size reached by this process or any finished child (the notebook kernels)."""
    import resource

    usage = (resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return max(usage) / 1024 ** 2  # kB on Linux


def stage(root: Path, executed: Path, src: Path, steps: list[Step], times: str, cohort=None) -> None:
    """Lay out the book's sources: configuration (:func:`write_config`, for the run's ``cohort``), narrative
    pages, executed notebooks, this build's running times (``book/build_times.md``) and MathJax."""
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    write_config(root, src, cohort)
    shutil.copy2(root / "_toc.yml", src / "_toc.yml")
    shutil.copytree(root / "book", src / "book")
    (src / "book" / "build_times.md").write_text(times)
    (src / "notebooks").mkdir()
    for step in (s for s in steps if s.notebook != TRAIN):
        notebook = executed / f"{step.output}.ipynb"
        if not notebook.is_file():
            raise BookError(f"{notebook} has not been executed; run without --only first")
        shutil.copy2(notebook, src / "notebooks" / notebook.name)
    mathjax = mathjax_dir()
    if not (mathjax / "tex-mml-chtml.js").is_file():
        raise BookError(f"MathJax is not installed in {mathjax}: run `make install` (it fetches MathJax from the "
                        "npm registry once, so that the book renders math offline)")
    shutil.copytree(mathjax, src / "_static" / "mathjax")


def build_html(src: Path, out: Path) -> None:
    """``jupyter-book build`` with warnings as errors; replaces ``out`` only when the build succeeds."""
    import subprocess

    staging = out.parent / f".{out.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(src), "--path-output", str(staging),
               "--warningiserror", "--keep-going", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise BookError(f"jupyter-book build failed:\n{tail}")
    shutil.rmtree(out, ignore_errors=True)
    (staging / "_build" / "html").replace(out)
    shutil.rmtree(staging, ignore_errors=True)


def build_book(preset: str = "book", seed: int = 0, run_dir: str | os.PathLike | None = None,
               root: str | os.PathLike = ".", build_dir: str | os.PathLike = "_build", only: list[str] | None = None,
               fresh: bool = False, cohort: str | os.PathLike | None = None, external=(), parameters=None,
               jobs: int | None = None, log=print) -> Path:
    """Execute the notebooks and build the book; returns the HTML folder (``<build_dir>/html``).

    Parameters
    ----------
    preset, seed
        Passed to every notebook.
    run_dir
        The run folder (default ``runs/<preset>-seed<seed>`` under ``root``, or ``runs/<cohort stem>-<preset>-
        seed<seed>`` with a ``cohort``).
    cohort, external
        A user's cohort (``.h5ad``, e.g. from ``gaingtex gtex``) and external cohorts beside it (``gaingtex
        xena``), in place of the embedded cohort. A notebook whose inputs the cohort lacks (no external cohort,
        no Alzheimer genes, too few tissues) becomes a short page that says why.
    root
        The repository root (holds ``notebooks/``, ``book/``, ``_config.yml`` and ``_toc.yml``).
    build_dir
        Where the executed notebooks, the staged sources and ``html/`` go.
    only
        Re-execute only these notebooks (prefixes such as ``"04"``), reusing the others' executed copies.
    fresh
        Delete the run folder first, so that the cohort and every model are made anew.
    parameters
        More papermill parameters by notebook prefix, e.g. ``{"08": {"n_seeds": 1}}`` (a shorter comparison).
    jobs
        How many of the steps that may share the machine run at once, each held to its share of the cores
        (default: two where there are two cores or more; 1: one step after another, each on every core).
    """
    root, build = Path(root).resolve(), Path(build_dir).resolve()
    for name in ("_config.yml", "_toc.yml", "book", "notebooks"):
        if not (root / name).exists():
            raise FileNotFoundError(f"{root / name} does not exist: run from the repository root or pass --root")
    check_sources(cohort, external)  # before any notebook runs
    cohort = Path(cohort).resolve() if cohort else None
    external = [Path(e).resolve() for e in external]
    run = Path(run_dir).resolve() if run_dir else (root / default_run_dir(preset, seed, cohort)).resolve()
    if fresh and only:
        raise ValueError("--fresh remakes every model, so it cannot be combined with --only")
    if fresh:
        shutil.rmtree(run, ignore_errors=True)
    html = build / "html"
    steps = with_parameters(plan(preset, seed, run, cohort, external), parameters or {})
    todo = select(steps, only)
    executed = build / "executed" / run.name
    executed.mkdir(parents=True, exist_ok=True)
    timings_file = executed / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
    t_start = time.perf_counter()
    jobs = default_jobs() if jobs is None else int(jobs)
    number = {step.output: i for i, step in enumerate(todo, start=1)}

    def args(step: Step) -> tuple:
        """What runs ``step``, asked when it starts: a notebook whose inputs the cohort lacks becomes a page that
        says why."""
        facts = Run(run, preset, seed).facts if step.notebook != "01_data" else None
        reason = missing_inputs(step.notebook, facts) if facts and step.notebook != TRAIN else None
        timings.pop(step.output, None)
        return (stand_in(step, root, reason) if reason else step), root, executed, run, preset, seed

    def started(step: Step) -> None:
        label = step.output if not step.title else f"{step.output} ({step.title})"
        log(f"[{number[step.output]}/{len(todo)}] {label} …", flush=True)

    def finished(step: Step, seconds: float) -> None:
        timings[step.output] = seconds
        log(f"[{number[step.output]}/{len(todo)}] {step.output}: {seconds:.0f} s", flush=True)
        with atomic_path(timings_file, suffix=".json") as tmp:
            tmp.write_text(json.dumps(timings, indent=1))

    try:
        run_steps(todo, run_step, args, jobs, started, finished)
        wall = time.perf_counter() - t_start
        log("building the book …", end="", flush=True)
        t0 = time.perf_counter()
        stage(root, executed, build / "src", steps, timings_table(timings, steps, preset, seed, jobs, wall),
              run_cohort(run, preset, seed))
        build_html(build / "src", html)
        log(f" {time.perf_counter() - t0:.0f} s")
    except BaseException:
        log("")
        shutil.rmtree(html, ignore_errors=True)  # never leave an older book looking current
        raise
    log(f"book ({preset}, seed {seed}) in {html} after {time.perf_counter() - t_start:.0f} s; peak memory "
        f"{peak_memory_gb():.1f} GB")
    return html
