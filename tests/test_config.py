import dataclasses

import pytest

from gaingtex.config import MODELS, PRESETS, SCENARIOS, model_config


def test_paper_preset_uses_the_authors_tuned_sizes():
    def sizes(model, scenario):
        c = model_config("paper", model, scenario)
        return c.hidden_layers, c.hidden_units, c.learning_rate, c.batch_size

    assert sizes("pmi", "inductive") == (1, 3072, 1e-4, 32)
    assert sizes("pmi", "inplace") == (2, 1366, 1e-4, 32)
    assert sizes("gain", "inductive") == (4, 1902, 1e-3, 32)
    assert sizes("gain", "inplace") == (3, 296, 1e-3, 32)
    assert model_config("paper", "gain-mse", "inplace") == model_config("paper", "gain", "inplace")
    assert model_config("paper", "pmi", "inductive").patience == 30


def test_every_preset_model_and_scenario_has_a_config():
    for preset in PRESETS:
        for model in MODELS:
            for scenario in SCENARIOS:
                c = model_config(preset, model, scenario)
                assert c.hidden_units >= 16 and c.max_epochs >= 1


def test_configs_are_frozen_and_errors_are_clear():
    c = model_config("book", "pmi", "inductive")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.hidden_units = 3
    assert c.replace(hidden_units=3).hidden_units == 3
    with pytest.raises(ValueError, match="unknown model 'vae'"):
        model_config("book", "vae", "inductive")
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        model_config("huge", "pmi", "inductive")


def test_cosine_learning_rate_decays_to_five_percent():
    from gaingtex.imputers.deep.trainer import DeepImputer

    config = model_config("smoke", "pmi", "inductive").replace(lr_decay="cosine", learning_rate=1e-2)
    optimizer = DeepImputer("pmi", "inductive", config)._optimizer()
    total = config.max_epochs * config.steps_per_epoch
    schedule = optimizer._learning_rate
    assert float(schedule(0)) == pytest.approx(1e-2)
    assert float(schedule(total)) == pytest.approx(5e-4)
    constant = DeepImputer("pmi", "inductive", config.replace(lr_decay="constant"))._optimizer()
    assert float(constant.learning_rate) == pytest.approx(1e-2)
    with pytest.raises(ValueError, match="unknown lr_decay 'linear'"):
        config.replace(lr_decay="linear")
