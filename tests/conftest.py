import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from gaingtex.data.embedded import make_cohort  # noqa: E402
from gaingtex.data import prepare  # noqa: E402


@pytest.fixture(scope="session")
def book():
    """The full GTEx v8 design (15,201 samples), 2,000 genes: about two seconds to generate."""
    return make_cohort("book", seed=0)


@pytest.fixture(scope="session")
def smoke():
    return make_cohort("smoke", seed=0)


@pytest.fixture(scope="session")
def smoke_prepared(smoke):
    return prepare(smoke)


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """The whole book built with the `smoke` preset (about 3 minutes): ``(html folder, build folder, run folder)``."""
    from pathlib import Path

    from gaingtex.book.build import build_book

    base = tmp_path_factory.mktemp("smoke-book")
    root = Path(__file__).resolve().parents[1]
    html = build_book("smoke", 0, run_dir=base / "run", root=root, build_dir=base / "build", log=lambda *a, **k: None)
    return html, base / "build", base / "run"


# A user's real file is small here: the smoke cohort's GTEx samples on 40 of its genes, fewer than the 59-gene
# panel, so that the book on it is cheap to build and shows every "cannot apply" branch (no external cohort, no
# Alzheimer genes, no panel, a scaling axis of fractions of its genes).
REAL_GENES = 40


def real_cohort(smoke):
    """The smoke cohort as a user's real file would be: GTEx samples only, no generator, no split, no generator
    annotations of the genes, on :data:`REAL_GENES` genes evenly spaced along the gene order."""
    import numpy as np

    gtex = smoke[smoke.obs["cohort"] == "GTEx"].copy()
    columns = np.unique(np.linspace(0, gtex.n_vars - 1, REAL_GENES).round().astype(int))
    real = gtex[:, columns].copy()
    real.uns = {}
    real.obs = real.obs.drop(columns=["split"])
    real.var = real.var[["ensembl_id", "chromosome"]]
    return real


@pytest.fixture(scope="session")
def real_smoke_book(tmp_path_factory, smoke):
    """The smoke book built with ``cohort=`` a generator-less file (:func:`real_cohort`), as `gaingtex book
    --cohort` builds it: ``(html folder, build folder, run folder, cohort file)``."""
    from pathlib import Path

    from gaingtex.book.build import build_book
    from gaingtex.data import write_h5ad

    base = tmp_path_factory.mktemp("real-book")
    source = write_h5ad(real_cohort(smoke), base / "mine.h5ad")
    root = Path(__file__).resolve().parents[1]
    # One seed in the comparison: the smoke book above covers the several-seed design, and this build stays cheap.
    html = build_book("smoke", 0, run_dir=base / "run", root=root, build_dir=base / "build", cohort=source,
                      parameters={"08": {"n_seeds": 1}}, log=lambda *a, **k: None)
    return html, base / "build", base / "run", source


SLOW_FIXTURES = {"smoke_book", "real_smoke_book", "pmi"}  # the smoke book on both cohorts; a trained PMI


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    """Tests that build the book or train a model are slow (``pytest -m "not slow"`` skips them). Under
    ``pytest -n 2 --dist loadgroup`` (`make test`), the tests that share one slow session fixture run in one worker,
    so that each book is built once, while the other worker takes the rest."""
    for item in items:
        slow = sorted(SLOW_FIXTURES & set(getattr(item, "fixturenames", ())))
        if slow:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group(slow[0]))
