"""`gaingtex impute`'s in-place path at the paper's size: the standardiser and the per-tissue baselines work in
blocks, and the imputation keeps few whole-matrix copies, with the same values as the plain whole-matrix
expressions (the reference below is the path as it was written before the blocks)."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest

import gaingtex.data.preprocessing as preprocessing
import gaingtex.imputers.mean as mean_module
from gaingtex.data import Split, Standardizer, validate
from gaingtex.impute import impute_cohort, validation_donors
from gaingtex.imputers import registry


def plain_standardizer(x, mask=None):
    """The whole-matrix float64 estimate, as it was before the blocks."""
    w = ~np.isnan(x) if mask is None else (np.asarray(mask) > 0) & ~np.isnan(x)
    w = w.astype(np.float64)
    xv = np.where(w > 0, x, 0.0).astype(np.float64)
    n = w.sum(axis=0)
    mean = xv.sum(axis=0) / n
    std = np.sqrt((w * (xv - mean) ** 2).sum(axis=0) / (n - 1))
    std[std == 0] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def plain_impute(adata, method, seed=0):
    """`impute_cohort` as whole-matrix expressions (no blocks, every copy)."""
    adata = validate(adata, "input")
    X = np.asarray(adata.X, dtype=np.float32)
    observed = ~np.isnan(X)
    valid = validation_donors(adata.obs, seed)
    mean, std = plain_standardizer(X[~valid])
    scale = Standardizer(mean, std)
    Z = ((X - mean) / std).astype(np.float32)
    train, held = (Split(Z[rows], adata.obs.iloc[rows], adata.var_names, scale)
                   for rows in (np.flatnonzero(~valid), np.flatnonzero(valid)))
    imputer = registry.get(method, scenario="inplace", preset="smoke", seed=seed)
    imputer.fit(train, held if len(held) else None)
    filled = imputer.transform(Z, observed.astype(np.float32), adata.obs) * std + mean
    return np.where(observed, X, filled).astype(np.float32)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few hundred entries, so that a small cohort crosses many block edges."""
    monkeypatch.setattr(preprocessing, "BLOCK_ENTRIES", 700)
    monkeypatch.setattr(mean_module, "BLOCK_ENTRIES", 700)


@pytest.fixture(scope="module")
def holes(smoke):
    g = smoke[smoke.obs["cohort"] == "GTEx"].copy()
    x = np.asarray(g.X, dtype=np.float32)
    g.X = np.where(np.random.default_rng(1).random(x.shape) < 0.4, np.nan, x).astype(np.float32)
    del g.obs["split"]
    return g


def test_standardizer_in_blocks_is_the_whole_matrix_estimate(small_blocks):
    rng = np.random.default_rng(0)
    x = (rng.normal(3.0, 2.0, (57, 23)) * rng.uniform(0.1, 5, 23)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 4] = 7.0  # a constant gene: sd 1
    mask = (rng.random(x.shape) < 0.8).astype(np.float32)
    rows = np.sort(rng.choice(57, 40, replace=False))
    for got, (mean, std) in [(Standardizer.fit(x), plain_standardizer(x)),
                             (Standardizer.fit(x, mask), plain_standardizer(x, mask)),
                             (Standardizer.fit(x, rows=rows), plain_standardizer(x[rows])),
                             (Standardizer.fit(x, mask, rows=rows), plain_standardizer(x[rows], mask[rows]))]:
        np.testing.assert_array_equal(got.mean, mean)
        np.testing.assert_array_equal(got.std, std)
    scale = Standardizer.fit(x)
    whole = ((x - scale.mean) / scale.std).astype(np.float32)
    np.testing.assert_array_equal(scale.transform(x), whole)
    np.testing.assert_array_equal(scale.transform(x, rows), whole[rows])
    assert scale.transform(x, rows[:0]).shape == (0, 23)


def test_standardizer_still_refuses_a_gene_with_one_value(small_blocks):
    x = np.ones((30, 40), dtype=np.float32)
    x[1:, 33] = np.nan
    with pytest.raises(ValueError, match="1 genes have fewer than 2 observed training values .*'g33'"):
        Standardizer.fit(x, names=[f"g{j}" for j in range(40)])


@pytest.mark.parametrize("method", ["mean", "median", "knn"])
def test_impute_cohort_gives_the_whole_matrix_values(holes, small_blocks, method):
    got = np.asarray(impute_cohort(holes, method, preset="smoke").X)
    np.testing.assert_array_equal(got, plain_impute(holes, method))


def test_per_tissue_mean_in_blocks_keeps_its_checks(small_blocks):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 30)).astype(np.float32)
    obs = pd.DataFrame({"tissue": rng.choice(["a", "b"], 50)})
    imputer = registry.get("mean").fit(Split(x, obs))
    bad = x.copy()
    bad[45, 7] = np.nan  # marked observed, holding NaN: the message names the whole matrix's sample
    with pytest.raises(ValueError, match="first at sample 45, gene 7"):
        imputer.transform(bad, np.ones_like(x), obs)
    with pytest.raises(ValueError, match="obs has 49 rows, x has 50 samples"):
        imputer.transform(x, None, obs.iloc[:49])
    with pytest.raises(ValueError, match="mask has shape"):
        imputer.transform(x, np.ones((50, 29)), obs)
    assert imputer.transform(x[:0], None, obs.iloc[:0]).shape == (0, 30)


def test_impute_cohort_keeps_few_copies_of_the_matrix(smoke):
    """The per-tissue mean at 6,000 × 1,500 (36 MB as float32) allocates at most 3.2 matrices beyond the input
    (the standardised copy, the output, the observed flags and blocks); it allocated 7.7 before the blocks."""
    import anndata as ad

    rng = np.random.default_rng(3)
    n, g = 6000, 1500
    x = rng.normal(size=(n, g)).astype(np.float32)
    x[rng.random((n, g)) < 0.5] = np.nan
    gtex = smoke.obs[smoke.obs["cohort"] == "GTEx"]
    obs = gtex.iloc[rng.integers(0, len(gtex), n)].drop(columns="split").copy()
    obs.index = [f"s{i}" for i in range(n)]
    obs["donor_id"] = [f"d{i // 3}" for i in range(n)]
    adata = ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=[f"G{j}" for j in range(g)]))
    impute_cohort(adata[:300].copy(), "mean", preset="smoke")  # the imports' allocations are not the method's
    tracemalloc.start()
    try:
        impute_cohort(adata, "mean", preset="smoke")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / x.nbytes <= 3.2, f"peak {peak / x.nbytes:.2f} matrices"


def test_blocks_on_several_threads_give_the_same_values_and_check_in_order():
    """in_row_blocks with threads: every block predicted once, the values of one thread, the clock's checks in
    row order in the calling thread, and a block's bad input still named by the whole matrix's sample."""
    import threading

    from gaingtex.imputers._blocks import in_row_blocks

    rng = np.random.default_rng(3)
    x = rng.normal(size=(103, 6)).astype(np.float32)
    mask = (rng.random(x.shape) > 0.3).astype(np.float32)
    obs = pd.DataFrame({"tissue": ["a"] * 103})
    seen, checked = [], []

    def predict(x0, m, o, start):
        seen.append(start)
        return x0 * 2 + start

    one = in_row_blocks(x, mask, obs, 6, 10, predict)
    main = threading.get_ident()
    three = in_row_blocks(x, mask, obs, 6, 10, predict, threads=3,
                          check=lambda start: checked.append((start, threading.get_ident() == main)))
    np.testing.assert_array_equal(three, one)
    assert sorted(seen) == sorted(2 * list(range(0, 103, 10)))
    assert checked == [(s, True) for s in range(0, 103, 30)]
    bad = x.copy()
    bad[57, 2] = np.nan
    with pytest.raises(ValueError, match="first at sample 57, gene 2"):
        in_row_blocks(bad, np.ones_like(x), obs, 6, 10, predict, threads=3)


def test_shared_rows_run_blas_on_one_thread_and_give_its_threads_back():
    """shared_rows limits BLAS to one thread per worker through one cached controller (_blocks.one_blas_thread),
    every time it is called, and leaves the process's BLAS threads as they were."""
    from threadpoolctl import threadpool_info

    from gaingtex.imputers._blocks import shared_rows

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before, inside = blas_threads(), []
    for _ in range(2):
        shared_rows(8, lambda rows: inside.append(blas_threads()))
    assert inside and all(threads == [1] * len(before) for threads in inside)
    assert blas_threads() == before
