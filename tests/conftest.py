import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from gaingtex.cohort import make_cohort  # noqa: E402
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
