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


def test_missing_values_stay_missing(smoke):
    """NaN is a missing value: it stays NaN through preparation and never enters the training statistics."""
    holes = smoke.copy()
    train = np.flatnonzero((smoke.obs["split"] == "train").to_numpy())
    holes.X[train[:40], 5] = np.nan
    p = prepare(holes)
    assert np.isnan(p.train.x[:40, 5]).all() and p.train.mask[:40, 5].sum() == 0
    kept = np.asarray(smoke.X[train[40:], 5], dtype=np.float64)
    assert p.standardizer.mean[5] == pytest.approx(kept.mean(), abs=1e-6)
    assert p.standardizer.std[5] == pytest.approx(kept.std(ddof=1), abs=1e-6)


def test_bad_cohorts_give_clear_errors(smoke):
    liver_train = ((smoke.obs["tissue"] == "Liver") & (smoke.obs["split"] == "train")).to_numpy()
    no_train = smoke[~liver_train].copy()
    with pytest.raises(ValueError, match="no training sample.*Liver"):
        prepare(no_train)
    missing = smoke.copy()
    del missing.obs["age"]
    with pytest.raises(ValueError, match="obs has no 'age' column"):
        prepare(missing)


def test_without_a_split_column_the_donor_split_is_drawn_and_recorded(smoke):
    bare = smoke.copy()
    del bare.obs["split"]
    p, q = prepare(bare, seed=4), prepare(bare, seed=4)
    assert p.info["split_seed"] == 4 and "split_seed" not in prepare(smoke).info
    assert list(p.test.obs.index) == list(q.test.obs.index)
    assert set(p.train.obs["split"].astype(str)) == {"train"} and set(p.external.obs["split"].astype(str)) == {
        "external"}
    assert not set(p.train.obs["donor_id"]) & set(p.test.obs["donor_id"])


def test_inplace_standardisation_never_sees_the_hidden_entries(smoke):
    """The hidden entries of the in-place mask are NaN before anything is fitted: whatever they hold, the
    training statistics and the training matrix are bitwise the same, and equal those of the observed entries."""
    from gaingtex.evaluation.scenarios import scenario_data

    data = scenario_data(smoke, "inplace", 0.5, seed=0)
    rows = data.prepared.rows["train"]
    hidden = np.zeros(smoke.shape, dtype=bool)
    hidden[rows] = data.train_mask == 0
    for fill in (0.0, 1e6):
        other = smoke.copy()
        other.X[hidden] = fill
        again = scenario_data(other, "inplace", 0.5, seed=0)
        np.testing.assert_array_equal(again.prepared.standardizer.mean, data.prepared.standardizer.mean)
        np.testing.assert_array_equal(again.train.x, data.train.x)
    x = np.asarray(smoke.X[rows], dtype=np.float64)
    seen = data.train_mask > 0
    mean = (np.where(seen, x, 0).sum(0) / seen.sum(0))
    np.testing.assert_allclose(data.prepared.standardizer.mean, mean, rtol=1e-5, atol=1e-6)
    assert np.abs(data.prepared.standardizer.mean - x.mean(0)).max() > 1e-3  # the full matrix would differ
    np.testing.assert_array_equal(np.isnan(data.train.x), ~seen)
    scored = (data.eval_mask == 0) & ~data.held
    assert np.isfinite(data.eval.x[scored]).all()  # the truth of every hidden entry is kept for scoring


def test_inplace_holds_out_calibration_entries_from_every_fit_and_from_scoring(smoke):
    """In place, a tenth of the observed entries of the calibration rows is hidden from the fit (training matrix
    and standardisation), shown nowhere, never scored (the truth is NaN there), and kept apart with its truth."""
    from gaingtex.evaluation.scenarios import scenario_data

    data = scenario_data(smoke, "inplace", 0.5, seed=0)
    held = data.held
    assert held.shape == data.eval.x.shape and held.any()
    assert (data.train_mask[held] == 0).all() and np.isnan(data.train.x[held]).all()
    assert np.isnan(data.eval.x[held]).all()  # never scored
    rows = data.prepared.rows["train"]
    truth = data.prepared.standardizer.transform(np.asarray(smoke.X[rows], dtype=np.float32))
    np.testing.assert_allclose(data.held_values, truth[held], rtol=1e-6)
    # a tenth of what the scenario's mask showed in the rows that hold some out (stream "conformal", 2)
    some = held.any(axis=1)
    shown = (data.train_mask[some] > 0) | held[some]
    assert 0.07 < held[some].sum() / shown.sum() < 0.13
    again = scenario_data(smoke, "inplace", 0.5, seed=0)
    np.testing.assert_array_equal(again.held, held)
    assert scenario_data(smoke, "inductive", 0.5, seed=0).held is None


def test_encoder_rejects_unseen_categories(smoke):
    enc = CovariateEncoder.fit(smoke.obs)
    cat, num = enc.encode(smoke.obs.iloc[:5])
    assert cat.shape == (5, 3) and num.shape == (5, 1)
    odd = smoke.obs.iloc[:2].copy()
    odd["tissue"] = pd.Categorical(["Moon_Rock", "Liver"])
    with pytest.raises(ValueError, match="'tissue'.*Moon_Rock"):
        enc.encode(odd)
    assert CovariateEncoder.from_config(enc.to_config()) == enc
