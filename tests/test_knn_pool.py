"""k-NN's donor pool (gaingtex/imputers/_knn_pool.py) finds scikit-learn's ``KNNImputer`` neighbours, and the
k-NN method switches to it only above its size threshold."""

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import KNNImputer

from gaingtex.data import Split
from gaingtex.imputers import registry
from gaingtex.imputers._knn_pool import DonorPool


def awkward(rng, n=160, genes=40, extra=3):
    """Expression with a gene nobody observed, genes with fewer donors than k and genes observed by one group of
    samples only (the pool of a sample of the other group holds none of their donors), plus complete columns."""
    x = rng.normal(size=(n, genes + extra))
    x[:, genes:] *= 3.0
    x[:, :genes][rng.random((n, genes)) < 0.4] = np.nan
    x[:, 0] = np.nan  # never observed: 0
    x[rng.permutation(n)[:n - 3], 1] = np.nan  # 3 donors, fewer than k
    x[: n // 2, 2:6] = np.nan  # only the second half observed genes 2–5
    x[n // 2:, genes] += 20.0  # ... and the halves lie far apart, so a first-half pool holds none of their donors
    return x


@pytest.mark.parametrize("k", [1, 5, 12])
def test_the_pool_finds_knn_imputers_neighbours(k, monkeypatch):
    searched = []  # the entries whose pool held too few of their gene's donors, searched over all of them
    exact = DonorPool._exact
    monkeypatch.setattr(DonorPool, "_exact", lambda self, d, j, kk: searched.append(j) or exact(self, d, j, kk))
    rng = np.random.default_rng(k)
    train, genes = awkward(rng), 40
    query = awkward(rng, n=70)
    missing = np.isnan(query[:, :genes])
    expected = KNNImputer(n_neighbors=k, keep_empty_features=True).fit(train).transform(query)[:, :genes]
    got = DonorPool.from_features(train, genes).impute(query, missing, k)
    np.testing.assert_allclose(got[missing], expected[missing], rtol=1e-5, atol=1e-5)
    assert (got[:, 0] == 0).all()
    assert {1, 2} <= set(searched)


def _obs(n, rng):
    return pd.DataFrame({"tissue": rng.choice(["A", "B", "C"], n), "sex": rng.choice(["male", "female"], n),
                         "age": rng.uniform(20, 70, n)})


def test_knn_uses_the_pool_only_above_its_threshold_with_the_same_result():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 30)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    obs = _obs(300, rng)
    train, valid = Split(x[:200], obs.iloc[:200]), Split(x[200:], obs.iloc[200:])
    small = registry.get("knn").fit(train, valid)
    assert small.pool_ is None and small.knn_ is not None  # small data: scikit-learn, as before
    large = registry.get("knn", exact_below=1000).fit(train, valid)
    assert large.pool_ is not None
    assert large.validation_ == pytest.approx(small.validation_, rel=1e-5)
    assert large.n_neighbors_ == small.n_neighbors_
    query = x[200:]
    np.testing.assert_allclose(large.transform(query, None, obs.iloc[200:]),
                               small.transform(query, None, obs.iloc[200:]), rtol=1e-5, atol=1e-5)
