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


SLOW_FIXTURES = {"smoke_book", "pmi"}  # the whole smoke book; a trained PMI


def pytest_collection_modifyitems(items):
    """Tests that build the book or train a model are slow (``pytest -m "not slow"`` skips them)."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
