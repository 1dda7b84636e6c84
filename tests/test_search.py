"""Models that adapt to the data: widths sized to the gene count, GAIN's two objectives, and the validation search,
checked on the embedded 59-gene panel (the size of the real GTEx panel on which the book preset's sizes failed)."""

import numpy as np
import pytest

from gaingtex.config import (GAIN_OBJECTIVES, SCENARIOS, SEARCH_PRESETS, ModelConfig, SearchConfig,
                             model_config, preset_base, search_config)
from gaingtex.data.preprocessing import PANEL_SIZE, panel_genes
from gaingtex.evaluation.scenarios import scenario_data
from gaingtex.imputers import get, names
from gaingtex.imputers.deep import models as deep_models
from gaingtex.imputers.deep import DeepImputer


def test_widths_follow_the_gene_count():
    # the square root for PMI: the book's 1 × 1,024 at 2,000 genes is 1 × 2,566 at the paper's 12,557 (paper 3,072)
    assert model_config("book", "pmi", "inductive", 12557).hidden_units == 2566
    assert model_config("book", "pmi", "inplace", 12557).hidden_units == 1283
    # the paper's GAIN objective keeps a bottleneck narrow relative to the genes: linear both ways, floor 16
    assert model_config("book", "gain", "inductive", 12557).hidden_units == 2009
    assert model_config("paper", "gain", "inplace", 2000).hidden_units == 47
    assert model_config("paper", "gain", "inductive", PANEL_SIZE).hidden_units == 16
    # nothing else shrinks below the preset's width on a small panel
    assert model_config("book", "pmi", "inductive", PANEL_SIZE).hidden_units == 1024
    hidden = model_config("book", "gain", "inductive").replace(**GAIN_OBJECTIVES["hidden"])
    from gaingtex.config import sized

    assert sized(hidden, "gain", PANEL_SIZE, 2000).hidden_units == 320
    assert model_config("paper", "pmi", "inductive", 12557) == model_config("paper", "pmi", "inductive")


@pytest.mark.parametrize("preset", [p for p, s in SEARCH_PRESETS.items() if s is not None])
def test_every_search_fits_in_the_presets_epochs(preset):
    search = search_config(preset)
    for model in names(trains=True):
        for scenario in SCENARIOS:
            base, reference = preset_base(preset, model, scenario)
            candidates = search.candidates(base, model, PANEL_SIZE, reference)
            labels = [name for name, _ in candidates]
            assert labels[0] == "preset" and len(set(labels)) == len(labels)
            assert len({config for _, config in candidates}) == len(candidates)  # no setting twice
            spent = search.epochs(base, model)
            for _, config in candidates:  # the chosen one's epochs and the others' together: the preset's
                assert config.max_epochs + spent == base.max_epochs
            if model != "pmi":
                objectives = {c.reconstruct: c.lambda_mse for _, c in candidates}
                assert objectives == {"observed": 1.0, "hidden": 10.0}


def test_the_book_search_tries_each_setting_once():
    base, reference = preset_base("book", "pmi", "inductive")
    candidates = dict(search_config("book").candidates(base, "pmi", 2000, reference))
    assert candidates["width ×2"].hidden_units == 2048 and candidates["width ×0.5"].hidden_units == 512
    assert candidates["rate ×0.33"].learning_rate == pytest.approx(1e-3)
    assert candidates["dropout 0.5"].dropout == 0.5
    # the four candidates not chosen train one epoch each and the other survivor three more: the rest is the winner's
    assert candidates["preset"].max_epochs == base.max_epochs - (4 * 1 + 1 * 3) > 0
    assert search_config("paper") is None  # the authors' sizes, as they are


@pytest.mark.parametrize("reconstruct", ["observed", "hidden"])
def test_gain_scores_the_entries_its_objective_names(smoke, monkeypatch, reconstruct):
    """The paper's objective scores the generator on the entries it is given; "hidden" on known entries hidden
    from it, never on a truly missing one."""
    seen, scored = [], []
    real_predict, real_mse = deep_models.GAIN._predict, deep_models.masked_mse

    def predict(self, x, mask, data, training, noise=None):
        if training:
            seen.append(np.asarray(mask))
        return real_predict(self, x, mask, data, training, noise)

    def mse(x, prediction, weight):
        scored.append(np.asarray(weight))
        return real_mse(x, prediction, weight)

    monkeypatch.setattr(deep_models.GAIN, "_predict", predict)
    monkeypatch.setattr(deep_models, "masked_mse", mse)
    data = scenario_data(smoke, "inplace", 0.5, 0, panel_genes(smoke.var_names))
    config = model_config("smoke", "gain-mse", "inplace").replace(
        max_epochs=1, steps_per_epoch=2, **GAIN_OBJECTIVES[reconstruct])
    DeepImputer("gain-mse", "inplace", config, run_eagerly=True).fit(**data.fit_args())
    mask, target = seen[0], scored[0]
    assert mask.shape == target.shape and target.sum() > 0
    if reconstruct == "observed":
        np.testing.assert_array_equal(target, mask)
    else:
        assert not (target * mask).any()  # nothing the generator was given is scored
        assert 0.3 < target.sum() / (target + mask).sum() < 0.7  # half of the known entries, hidden


@pytest.fixture(scope="module")
def panel(smoke):
    return {s: scenario_data(smoke, s, 0.5, 0, panel_genes(smoke.var_names)) for s in SCENARIOS}


def test_the_search_chooses_on_validation_and_goes_on_from_its_winner(panel, tmp_path):
    data = panel["inductive"]
    pmi = get("pmi", scenario="inductive", preset="smoke", seed=0).fit(**data.fit_args())
    table = pmi.search_
    assert table["chosen"].sum() == 1
    chosen = table.loc[table["chosen"]].iloc[0]
    survivors = table.nsmallest(2, "val_loss")  # only two go on to the second rung
    assert set(table.loc[table["epochs"] > 1, "candidate"]) <= set(survivors["candidate"])
    assert chosen["val_loss"] == table.loc[table["epochs"] > 1, "val_loss"].min()
    assert pmi.chosen_["search"] == chosen["candidate"]
    assert f"{pmi.config.hidden_layers}x{pmi.config.hidden_units}" == chosen["hidden"]
    # the winner's rung epochs are its first epochs: the history starts there and the budget holds
    base, _ = preset_base("smoke", "pmi", "inductive", data.train.x.shape[1])  # the panel's epochs
    assert base.max_epochs > preset_base("smoke", "pmi", "inductive")[0].max_epochs
    assert len(pmi.history_) <= base.max_epochs - search_config("smoke").epochs(base, "pmi")
    assert pmi.config.max_epochs == base.max_epochs - search_config("smoke").epochs(base, "pmi")
    loaded = DeepImputer.load(pmi.save(tmp_path / "pmi.keras"))
    assert loaded.chosen_ == pmi.chosen_ and list(loaded.search_["candidate"]) == list(table["candidate"])
    fixed = get("pmi", scenario="inductive", config=model_config("smoke", "pmi", "inductive"), seed=0)
    assert fixed.fit(**data.fit_args()).search_ is None  # a given configuration is trained as it is


def test_gain_gtex_shares_its_search_with_gain_mse(panel):
    from gaingtex.imputers.deep.search import SearchStore

    data, store = panel["inplace"], SearchStore()
    gain = get("gain", scenario="inplace", preset="smoke", seed=0).fit(**data.fit_args(), searches=store)
    assert len(store) == 1
    mse = get("gain-mse", scenario="inplace", preset="smoke", seed=0).fit(**data.fit_args(), searches=store)
    assert len(store) == 1  # reused, not redone
    assert gain.config == mse.config and "objective" in gain.search_.columns
    assert np.isfinite(gain.history_["val_loss"]).all()


def test_a_kept_search_is_read_by_another_process_and_not_redone(panel, tmp_path, monkeypatch):
    from gaingtex.imputers.deep import search
    from gaingtex.imputers.deep.search import FolderStore

    data = panel["inductive"]
    mse = get("gain-mse", scenario="inductive", preset="smoke", seed=0).fit(**data.fit_args(), searches=tmp_path)
    kept = list(tmp_path.glob("search-*.json"))
    assert len(kept) == 1 and mse.chosen_["search"] in kept[0].read_text()
    assert kept[0].with_suffix(".npz").is_file()  # the winner, which GAIN-MSE went on from

    def no_search(*args, **kwargs):
        raise AssertionError("the kept search was done again")

    monkeypatch.setattr(search, "_rung", no_search)  # a fresh store on the folder: only the folder remembers
    gain = get("gain", scenario="inductive", preset="smoke", seed=0).fit(**data.fit_args(), searches=tmp_path)
    assert gain.config == mse.config and gain.chosen_ == mse.chosen_
    assert list(gain.search_["candidate"]) == list(mse.search_["candidate"])
    np.testing.assert_allclose(gain.search_["val_loss"], mse.search_["val_loss"])
    record = __import__("json").loads(kept[0].read_text())
    assert FolderStore(tmp_path).get(record["key"] + "another") is None  # nothing kept under that key


ORDER_SCRIPT = """
import sys
from gaingtex.config import model_config, search_config
from gaingtex.data.embedded import make_cohort
from gaingtex.data.preprocessing import panel_genes
from gaingtex.evaluation.scenarios import scenario_data
from gaingtex.imputers import get

# A short schedule around the smoke search: the point is which weights come out, not how good they are
SHORT = model_config("smoke", "gain-mse", "inplace").replace(max_epochs=8, steps_per_epoch=10)


def fit(name, data, searches=None):
    model = get(name, scenario="inplace", config=SHORT, search=search_config("smoke"), seed=0)
    return model.fit(**data.fit_args(), searches=searches).hashes()["weights"]


if __name__ == "__main__":
    adata = make_cohort("smoke", seed=0)
    data = scenario_data(adata, "inplace", 0.5, 0, panel_genes(adata.var_names))
    print([fit(name, data, sys.argv[1]) for name in sys.argv[2:]][-1])
"""


def test_a_model_is_the_same_whatever_ran_before_it(panel, tmp_path):
    """GAIN-MSE alone, after GAIN-GTEx with a shared store, in this process and in a fresh one: one set of weights.
    (The search's winner is kept in the store, so GAIN-MSE goes on from it whoever searched.)"""
    import subprocess
    import sys

    from gaingtex.imputers.deep.search import SearchStore

    script = tmp_path / "order.py"
    script.write_text(ORDER_SCRIPT)
    sys.path.insert(0, str(tmp_path))
    try:
        from order import fit
    finally:
        sys.path.remove(str(tmp_path))
    data = panel["inplace"]
    alone = fit("gain-mse", data)
    store = SearchStore()
    fit("gain", data, store)
    assert fit("gain-mse", data, store) == alone  # after GAIN-GTEx, in this process
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "kept"), "gain", "gain-mse"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split()[-1] == alone  # after GAIN-GTEx (kept in a folder), in a fresh process


def test_a_search_is_a_stated_setting():
    with pytest.raises(ValueError, match="unknown reconstruct 'both'"):
        ModelConfig(1, 8, 0.0, 1e-3, reconstruct="both")
    assert SearchConfig().survivors == 2


def test_on_the_panel_the_paper_objective_copies_and_the_hidden_one_learns(panel):
    """Why GAIN's validation loss climbed on small panels: a generator wider than the gene count (3 × 256 for 59
    genes), scored on the entries it is given, learns to copy them (its training error falls towards 0) while its
    error on entries it is not given climbs after a few epochs. Scored on hidden entries, it keeps improving."""
    curves = {}
    for objective in GAIN_OBJECTIVES:
        config = model_config("smoke", "gain-mse", "inplace").replace(
            hidden_units=256, max_epochs=12, patience=12, **GAIN_OBJECTIVES[objective])
        fitted = DeepImputer("gain-mse", "inplace", config, seed=0).fit(**panel["inplace"].fit_args())
        curves[objective] = fitted.history_
    copied, learnt = curves["observed"], curves["hidden"]
    assert copied["mse_observed"].iloc[-1] < 0.15  # it reproduces what it is given
    assert copied["val_loss"].iloc[-1] > copied["val_loss"].min() + 0.01  # and imputes worse as it does
    assert copied["val_loss"].idxmin() < 6
    assert learnt["val_loss"].iloc[-1] < learnt["val_loss"].min() + 0.01
    assert learnt["val_loss"].idxmin() >= 6
