import numpy as np
import pandas as pd
import pytest

from gaingtex.data import (CovariateEncoder, Standardizer, alzheimer_genes, check_donor_split, extended_index,
                           prepare, select_genes)


def test_no_donor_in_two_splits(book):
    p = prepare(book)
    donors = [set(s.obs["donor_id"]) for s in (p.train, p.valid, p.test)]
    assert not (donors[0] & donors[1]) and not (donors[0] & donors[2]) and not (donors[1] & donors[2])
    n = len(p.train) + len(p.valid) + len(p.test)
    assert n == 15201
    assert 0.55 < len(p.train) / n < 0.65 and 0.2 < len(p.test) / n < 0.3
    assert len(p.external) == 900


def test_resplit_is_donor_grouped_and_seeded(smoke):
    a, b = prepare(smoke, resplit=True, seed=1), prepare(smoke, resplit=True, seed=1)
    assert list(a.test.obs.index) == list(b.test.obs.index)
    assert not set(a.train.obs["donor_id"]) & set(a.test.obs["donor_id"])


def test_leak_is_detected():
    with pytest.raises(ValueError, match="more than one split"):
        check_donor_split(np.array(["d1", "d1", "d2"]), np.array(["train", "test", "train"]))


def test_standardisation_uses_training_statistics_only(smoke):
    p = prepare(smoke)
    assert np.abs(p.train.x.mean(axis=0)).max() < 1e-4
    assert np.abs(p.train.x.std(axis=0, ddof=1) - 1).max() < 1e-3
    assert np.abs(p.test.x.mean(axis=0)).max() > 1e-3  # test data is not re-centred on itself
    shifted = smoke.copy()
    test = (shifted.obs["split"] == "test").to_numpy()
    shifted.X[test] += 5.0
    q = prepare(shifted)
    np.testing.assert_allclose(q.standardizer.mean, p.standardizer.mean)
    np.testing.assert_allclose(q.train.x, p.train.x)


def test_standardizer_with_mask_ignores_hidden():
    x = np.array([[1.0, 2.0], [3.0, 100.0], [5.0, 4.0]])
    mask = np.array([[1, 1], [1, 0], [1, 1]])
    s = Standardizer.fit(x, mask)
    np.testing.assert_allclose(s.mean, [3.0, 3.0])


def test_extended_test_set_cycles_each_tissue(smoke_prepared):
    obs = smoke_prepared.test.obs
    idx = extended_index(obs)
    counts = obs.iloc[idx]["tissue"].astype(str).value_counts()
    largest = obs["tissue"].astype(str).value_counts().max()
    assert (counts == largest).all()
    assert set(obs.iloc[idx].index) == set(obs.index)
    assert (obs.iloc[extended_index(obs, per_tissue=7)]["tissue"].astype(str).value_counts() == 7).all()


def test_gene_subset(book):
    p = prepare(book, genes=alzheimer_genes())
    assert list(p.genes) == alzheimer_genes()
    assert p.train.x.shape[1] == 273
    with pytest.raises(KeyError, match="NOTAGENE"):
        select_genes(book.var_names, ["APP", "NOTAGENE"])


def test_bad_cohorts_give_clear_errors(smoke):
    nan = smoke.copy()
    nan.X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        prepare(nan)
    liver_train = ((smoke.obs["tissue"] == "Liver") & (smoke.obs["split"] == "train")).to_numpy()
    no_train = smoke[~liver_train].copy()
    with pytest.raises(ValueError, match="no training sample.*Liver"):
        prepare(no_train)
    missing = smoke.copy()
    del missing.obs["age"]
    with pytest.raises(KeyError, match="'age'"):
        prepare(missing)


def test_encoder_rejects_unseen_categories(smoke):
    enc = CovariateEncoder.fit(smoke.obs)
    cat, num = enc.encode(smoke.obs.iloc[:5])
    assert cat.shape == (5, 3) and num.shape == (5, 1)
    odd = smoke.obs.iloc[:2].copy()
    odd["tissue"] = pd.Categorical(["Moon_Rock", "Liver"])
    with pytest.raises(ValueError, match="'tissue'.*Moon_Rock"):
        enc.encode(odd)
    assert CovariateEncoder.from_config(enc.to_config()) == enc
