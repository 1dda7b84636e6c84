"""A comparison's fitted methods keep the imputations they made for their own rows, so that ``auto`` does not make
them again; the rows are exactly those made without keeping anything."""

import gc
from pathlib import Path

import numpy as np
import pandas as pd

from gaingtex.evaluation import comparison, remembered
from gaingtex.evaluation.remembered import Remembered, fingerprint


class Counting:
    """A method that imputes the shown entries' row mean, counting its calls."""

    name = "counting"

    def __init__(self):
        self.calls, self.chosen_ = 0, {"k": 3}

    def transform(self, x, mask, obs):
        self.calls += 1
        return np.where(mask > 0, x, np.nanmean(x, axis=1, keepdims=True)).astype(np.float32)

    def for_calibration(self, valid, valid_mask=None):
        return self


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    mask = (rng.random(x.shape) < 0.6).astype(np.float32)
    mask[:, 0] = 1.0
    obs = pd.DataFrame({"tissue": ["Lung"] * 6}, index=[f"s{i}" for i in range(6)])
    return np.where(mask > 0, x, np.nan).astype(np.float32), mask, obs


def test_an_imputation_is_made_once_per_input_until_keeping_stops():
    inner = Counting()
    kept = Remembered(inner)
    x, mask, obs = _inputs()
    first = kept.transform(x, mask, obs)
    first[:] = 99.0  # a copy: the caller's changes do not reach what is kept
    again = kept.transform(x.copy(), mask.astype(bool), obs.copy())  # equal inputs, other objects and mask dtype
    assert inner.calls == 1
    np.testing.assert_array_equal(again, inner.transform(x, mask, obs))
    other = _inputs(1)
    kept.transform(*other)
    assert inner.calls == 3
    kept.stop_keeping()
    kept.transform(*_inputs(2))
    kept.transform(*_inputs(2))  # not kept: made each time
    assert inner.calls == 5
    kept.transform(*other)  # kept before: still there
    assert inner.calls == 5
    assert kept.chosen_ == {"k": 3} and kept.name == "counting"  # everything else is the method's own
    assert kept.for_calibration(None) is kept


def test_a_large_imputation_is_kept_in_a_file_removed_with_the_wrapper(monkeypatch):
    monkeypatch.setattr(remembered, "IN_MEMORY_BYTES", 0)
    inner = Counting()
    kept = Remembered(inner)
    x, mask, obs = _inputs()
    first = kept.transform(x, mask, obs)
    folder = Path(kept._folder.name)
    assert [p.suffix for p in folder.iterdir()] == [".npy"]
    again = kept.transform(x, mask, obs)
    again[:] = 99.0  # each call its own copy
    np.testing.assert_array_equal(kept.transform(x, mask, obs), first)
    assert inner.calls == 1
    del kept
    gc.collect()
    assert not folder.exists()


def test_inputs_that_differ_anywhere_have_other_fingerprints():
    x, mask, obs = _inputs()
    base = fingerprint(x, mask, obs)
    shown = mask.copy()
    shown[0, 1] = 1 - shown[0, 1]
    renamed = obs.rename(index={"s0": "t0"})
    changed = x.copy()
    changed[0, 0] += 1
    assert len({base, fingerprint(x, shown, obs), fingerprint(x, mask, renamed), fingerprint(changed, mask, obs),
                fingerprint(x[:3], mask[:3], obs.iloc[:3])}) == 5


def test_a_calibration_copy_is_not_the_wrapper():
    """A method that calibrates as another object (the blood surrogate's copy that knows the validation donors'
    blood) is calibrated as that object, whose imputations are its own."""

    class Twin(Counting):
        def for_calibration(self, valid, valid_mask=None):
            return Counting()

    kept = Remembered(Twin())
    assert type(kept.for_calibration(None)) is Counting


def test_auto_reuses_the_kept_imputations_and_its_row_is_unchanged(smoke, monkeypatch):
    args = dict(seeds=[0], scenarios=["inductive"], genes=["all"], preset="smoke", budget=60.0, progress=False)
    methods = ["auto", "mean", "gaussian-pooled", "knn"]
    calls = []
    real = Remembered.transform

    def counted(self, x, mask, obs):
        calls.append((self.imputer.name, fingerprint(x, mask, obs) in self._kept))
        return real(self, x, mask, obs)

    monkeypatch.setattr(Remembered, "transform", counted)
    monkeypatch.setattr(remembered, "IN_MEMORY_BYTES", 0)  # every kept imputation in a file, as at the paper's size
    kept = comparison.compare(smoke, methods, **args)
    assert any(hit for _, hit in calls)  # auto's test matrix and calibration: imputations already made
    assert "knn" not in {name for name, _ in calls}  # not one of auto's members: nothing of it kept

    class Forgetful(Remembered):
        def __init__(self, imputer):
            super().__init__(imputer)
            self.keeping = False

    monkeypatch.setattr(comparison, "Remembered", Forgetful)
    made_again = comparison.compare(smoke, methods, **args)
    numbers = [c for c in kept.columns if c not in ("fit_seconds", "impute_seconds", "calibration_seconds",
                                                    "auto_blend_seconds", "auto_member_seconds")
               and pd.api.types.is_numeric_dtype(kept[c])]
    pd.testing.assert_frame_equal(kept[numbers], made_again[numbers])
