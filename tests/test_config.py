import dataclasses

import pytest

from gaingtex import config
from gaingtex.config import PRESETS, SCENARIOS, model_config
from gaingtex.imputers import names


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


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_builds_the_network_it_describes(preset, smoke):
    """Each preset's configuration, for every model and scenario, becomes a network with exactly those hidden
    blocks: the layers, their widths, dropout and batch normalisation, and a discriminator for GAIN-GTEx only."""
    from gaingtex.data import CovariateEncoder
    from gaingtex.imputers.deep.training import build_model

    vocab_sizes = CovariateEncoder.fit(smoke.obs).vocab_sizes
    for model in names(trains=True):
        for scenario in SCENARIOS:
            config = model_config(preset, model, scenario)
            network = build_model(model, scenario, config, 20, vocab_sizes, seed=0)
            for net in [network.net] + ([network.disc] if model == "gain" else []):
                dense = [layer for layer in net.layers if type(layer).__name__ == "Dense"
                         and not layer.name.endswith("_covariates")]  # the first layer's covariate half
                assert [d.units for d in dense] == [config.hidden_units] * config.hidden_layers + [20]
                dropout = [layer.rate for layer in net.layers if type(layer).__name__ == "Dropout"]
                assert dropout == ([config.dropout] * config.hidden_layers if config.dropout > 0 else [])
                norms = [layer for layer in net.layers if type(layer).__name__ == "BatchNormalization"]
                assert len(norms) == (config.hidden_layers if config.batchnorm else 0)
            assert hasattr(network, "disc") == (model == "gain")


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
    from gaingtex.imputers.deep.training import optimizer as make_optimizer

    config = model_config("smoke", "pmi", "inductive").replace(lr_decay="cosine", learning_rate=1e-2)
    optimizer = make_optimizer(config)
    total = config.max_epochs * config.steps_per_epoch
    schedule = optimizer._learning_rate
    assert float(schedule(0)) == pytest.approx(1e-2)
    assert float(schedule(total)) == pytest.approx(5e-4)
    constant = make_optimizer(config.replace(lr_decay="constant"))
    assert float(constant.learning_rate) == pytest.approx(1e-2)
    with pytest.raises(ValueError, match="unknown lr_decay 'linear'"):
        config.replace(lr_decay="linear")


def test_fewer_genes_than_the_presets_cohort_train_for_more_epochs_up_to_the_cap():
    from gaingtex.config import EPOCH_GROWTH

    for preset, genes in (("smoke", 300), ("teach", 1000), ("book", 2000)):
        own = model_config(preset, "pmi", "inductive").max_epochs
        assert model_config(preset, "pmi", "inductive", genes).max_epochs == own  # its own cohort
        assert model_config(preset, "gain", "inplace", 4 * genes).max_epochs == own  # never fewer
        assert model_config(preset, "pmi", "inductive", genes // 4).max_epochs == 2 * own  # √4
        assert model_config(preset, "gain-mse", "inplace", 5).max_epochs == round(EPOCH_GROWTH * own)  # the cap
    assert model_config("book", "pmi", "inductive", 59).max_epochs == 60  # the 59-gene panel
    paper = model_config("paper", "pmi", "inductive")
    assert model_config("paper", "pmi", "inductive", 59).max_epochs == paper.max_epochs  # the authors' schedule


def test_book_trains_in_bfloat16_only_where_the_cpu_multiplies_it(monkeypatch):
    """bfloat16 emulated is slower than float32: the book preset takes it only on a CPU with native units, on its
    own cohort's gene count, and the presets the tests and classrooms use never do."""
    for native in (True, False):
        monkeypatch.setattr(config, "native_bfloat16", lambda native=native: native)
        for model in ("pmi", "gain", "gain-mse"):
            assert config.model_config("book", model, "inductive").precision == ("bfloat16" if native else "float32")
            assert config.model_config("book", model, "inplace", 2000).precision == ("bfloat16" if native else
                                                                                      "float32")
            # fewer genes than the preset's cohort (the panel): float32, whose R² bfloat16 did not keep there
            assert config.model_config("book", model, "inplace", 59).precision == "float32"
            for preset in ("smoke", "teach", "paper"):
                assert config.model_config(preset, model, "inplace").precision == "float32"
