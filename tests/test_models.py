import numpy as np
import pytest

from gaingtex.config import model_config
from gaingtex.evaluation.metrics import summarise
from gaingtex.evaluation.scoring import score_imputer
from gaingtex.imputers.deep.losses import adversarial_loss, discriminator_loss, masked_bce, masked_mse, pmi_loss
from gaingtex.imputers.deep import DeepImputer
from gaingtex.imputers import MeanImputer
from gaingtex.evaluation.scenarios import scenario_data

F = np.float32


def val(t):
    return float(np.asarray(t))


def test_masked_mse_by_hand():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], F)
    pred = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], F)
    w = np.array([[1, 1, 0], [0, 0, 0]], F)
    # sample 1: (1 + 4) / 2 = 2.5; sample 2: no weighted entry → 0; batch mean 1.25
    assert val(masked_mse(x, pred, w)) == pytest.approx(1.25)


def test_pmi_loss_scores_observed_but_pseudo_hidden_entries():
    x = np.array([[1.0, 2.0, 3.0, 4.0]], F)
    pred = np.zeros_like(x)
    mask = np.array([[1, 1, 1, 0]], F)  # gene 4 truly missing: never scored
    keep = np.array([[1, 0, 0, 0]], F)  # genes 2, 3 pseudo-hidden
    assert val(pmi_loss(x, pred, mask, keep)) == pytest.approx((4 + 9) / 2)


def test_bce_losses_by_hand():
    logits = np.array([[0.0, 2.0, -1.0]], F)
    mask = np.array([[1, 0, 0]], F)
    hint_known = np.array([[0, 0, 1]], F)  # entries 1, 2 have hidden hints
    bce = lambda y, z: np.log1p(np.exp(-z)) if y == 1 else np.log1p(np.exp(z))  # noqa: E731
    expected_d = (bce(1, 0.0) + bce(0, 2.0)) / 2
    assert val(discriminator_loss(mask, logits, hint_known)) == pytest.approx(expected_d, rel=1e-5)
    # generator: missing (mask 0) and hint hidden → only entry 2, pushed towards "observed"
    assert val(adversarial_loss(mask, logits, hint_known)) == pytest.approx(bce(1, 2.0), rel=1e-5)
    assert val(masked_bce(mask, logits, np.zeros_like(mask))) == 0.0


def quick(model, scenario, **changes):
    return model_config("smoke", model, scenario).replace(**changes)


@pytest.fixture(scope="module")
def inductive(smoke):
    return scenario_data(smoke, "inductive", 0.5, seed=0)


@pytest.fixture(scope="module")
def pmi(inductive):
    return DeepImputer("pmi", "inductive", quick("pmi", "inductive"), seed=0).fit(**inductive.fit_args())


@pytest.mark.parametrize("layers", [0, 1, 2])
def test_the_first_layer_is_one_dense_layer_on_data_and_covariates_together(layers):
    from gaingtex.imputers.deep.layers import mlp

    net = mlp(6, 3, 4, layers, 5, 0.0, False, name="net")
    rng = np.random.default_rng(0)
    data, side = rng.standard_normal((7, 6)).astype(F), rng.standard_normal((7, 3)).astype(F)
    weights = {w.path: w.numpy() for w in net.weights}
    first = "net_dense_0" if layers else "net_out"
    kernel = np.vstack([weights[f"{first}/kernel"], weights[f"{first}_covariates/kernel"]])
    h = np.hstack([data, side]) @ kernel + weights[f"{first}/bias"]  # one Dense on the concatenation
    for i in range(layers):
        h = np.maximum(h, 0.0)
        if i + 1 < layers:
            h = h @ weights[f"net_dense_{i + 1}/kernel"] + weights[f"net_dense_{i + 1}/bias"]
    if layers:
        h = h @ weights["net_out/kernel"] + weights["net_out/bias"]
    np.testing.assert_allclose(np.asarray(net([data, side])), h, rtol=1e-5, atol=1e-5)


def test_short_training_beats_the_per_tissue_mean(pmi, inductive):
    x, m, obs = inductive.eval.x, inductive.eval_mask, inductive.eval.obs
    r2_pmi = summarise(score_imputer(pmi, x, m, obs, by="all")[0])["r2"]
    r2_mean = summarise(score_imputer(MeanImputer().fit(inductive.train), x, m, obs, by="all")[0])["r2"]
    assert r2_pmi > r2_mean + 0.1
    assert pmi.history_["val_loss"].iloc[-1] < pmi.history_["val_loss"].iloc[0]


def test_tissue_embedding_has_one_row_per_tissue(pmi):
    emb = pmi.tissue_embedding()
    assert emb.shape == (49, 8)
    assert "Brain_Cortex" in emb.index


def test_bad_inputs(pmi, inductive, tmp_path):
    x, obs = inductive.eval.x[:5], inductive.eval.obs.iloc[:5]
    with pytest.raises(ValueError, match="mask has shape"):
        pmi.transform(x, np.ones((5, 3)), obs)
    bad = x.copy()
    bad[2, 7] = np.nan
    with pytest.raises(ValueError, match="observed entries.*NaN"):
        pmi.transform(bad, np.ones_like(x), obs)
    with pytest.raises(ValueError, match="genes, the imputer was fitted on"):
        pmi.transform(x[:, :10], np.ones((5, 10)), obs)
    with pytest.raises(ValueError, match="unknown model 'vae'"):
        DeepImputer("vae")
    with pytest.raises(ValueError, match="unknown scenario"):
        DeepImputer("pmi", "sideways")
    holes = inductive.train.with_values(np.where(np.eye(*inductive.train.x.shape) > 0, np.nan, inductive.train.x))
    with pytest.raises(ValueError, match="inductive training uses complete data"):
        DeepImputer("pmi", "inductive").fit(holes)
    with pytest.raises(RuntimeError, match="not fitted"):
        DeepImputer("pmi").transform(x, np.ones_like(x), obs)
    with pytest.raises(ValueError, match="alpha ≤ beta"):
        DeepImputer("pmi", config=quick("pmi", "inductive", alpha=0.9, beta=0.1)).fit(inductive.train,
                                                                                        inductive.valid)
    (tmp_path / "junk.keras").write_text("not a zip")
    with pytest.raises(ValueError, match="not a gaingtex model archive"):
        DeepImputer.load(tmp_path / "junk.keras")
    with pytest.raises(ValueError, match="end in .keras"):
        pmi.save(tmp_path / "model.h5")


@pytest.mark.slow
def test_pmi_honours_beta(monkeypatch, inductive):
    """The original code ignored beta; PMI's own training step must draw keep-probabilities across U(alpha, beta).
    A spy on the loss sees the pseudo-masks that ``train_step`` really used."""
    from gaingtex.imputers.deep import models

    kept, real = [], models.pmi_loss

    def spy(x, prediction, mask, keep):
        kept.append(np.asarray(keep).mean(axis=1))
        return real(x, prediction, mask, keep)

    monkeypatch.setattr(models, "pmi_loss", spy)
    config = quick("pmi", "inductive", alpha=0.1, beta=0.9, max_epochs=1, steps_per_epoch=6)
    DeepImputer("pmi", "inductive", config, seed=0, run_eagerly=True).fit(**inductive.fit_args())
    per_sample = np.concatenate(kept)
    assert len(per_sample) == 6 * config.batch_size
    assert per_sample.min() < 0.2 and per_sample.max() > 0.8  # U(0.1, 0.9), 300 genes: binomial sd ≤ 0.03
    assert 0.45 < per_sample.mean() < 0.55


@pytest.mark.slow
def test_without_validation_split_donors_are_held_out_whole(smoke_prepared):
    train = smoke_prepared.train
    imputer = DeepImputer("pmi", "inductive", quick("pmi", "inductive", max_epochs=1), seed=0).fit(train)
    assert imputer.history_["val_loss"].notna().all()
    held = train.obs["donor_id"].isin(imputer.holdout_donors_).to_numpy()
    assert 0 < held.sum() < len(train)
    # the encoder saw the remaining training donors only
    assert imputer.encoder_.age_mean == pytest.approx(train.obs["age"].to_numpy()[~held].mean())


def test_encoder_uses_training_samples_only(pmi, inductive):
    assert pmi.encoder_.age_mean == pytest.approx(inductive.train.obs["age"].mean())


def test_bfloat16_networks_compute_in_bfloat16_and_hand_back_float32(inductive, tmp_path):
    """``precision="bfloat16"``: every layer of the networks multiplies in bfloat16 on float32 weights; the
    losses and the imputation stay float32; a saved model comes back in the precision it was trained in."""
    config = quick("gain", "inductive", precision="bfloat16", max_epochs=2)
    gain = DeepImputer("gain", "inductive", config, seed=0).fit(**inductive.fit_args())
    for net in (gain.model_.net, gain.model_.disc):
        dense = [layer for layer in net.layers if type(layer).__name__ == "Dense"]
        assert {d.compute_dtype for d in dense} == {"bfloat16"} and {d.variable_dtype for d in dense} == {"float32"}
    assert np.isfinite(gain.history_["loss"]).all() and np.isfinite(gain.history_["val_loss"]).all()
    x, m, obs = inductive.eval.x, inductive.eval_mask, inductive.eval.obs
    out = gain.transform(np.where(m > 0, x, np.nan), m, obs)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    path = gain.save(tmp_path / "gain.keras")
    again = DeepImputer.load(path)
    assert again.config.precision == "bfloat16" and again.model_.precision == "bfloat16"
    np.testing.assert_array_equal(again.transform(np.where(m > 0, x, np.nan), m, obs), out)


def test_the_compiled_optimiser_update_is_the_graphs(inductive):
    """On a CPU the optimisers' update is XLA-compiled alone (TensorFlow): after a few steps of GAIN-GTEx, whose
    two optimisers both use it, the weights are those of the graph's own update, to float32 rounding."""
    import tensorflow as tf

    from gaingtex.imputers.deep._keras import keras
    from gaingtex.imputers.deep.backend import backend_name
    from gaingtex.imputers.deep.training import build_model

    if backend_name() != "tensorflow":
        pytest.skip("the compiled update is TensorFlow's (JAX compiles the whole step)")
    config = quick("gain", "inductive")
    rng = np.random.default_rng(0)
    batch = {"x": rng.standard_normal((16, 30)).astype(F), "mask": np.ones((16, 30), F),
             "cat": np.zeros((16, 3), np.int32), "num": np.zeros((16, 1), F)}
    weights = []
    for fused in (True, False):
        keras.utils.set_random_seed(0)  # the same initial weights
        model = build_model("gain", "inductive", config, 30, [49, 2, 5], seed=0)
        assert len(model.fused_updates) == 2  # generator and discriminator
        if not fused:
            model.fused_updates.clear()
        model.make_train_function()
        stream = iter(tf.data.Dataset.from_tensors(batch).repeat())
        for _ in range(3):
            model.train_function(stream)
        weights.append({w.path: w.numpy() for w in model.weights})
    # A hidden Dense layer's bias, which batch normalisation cancels, has a gradient of rounding noise: Adam scales
    # it to steps of the learning rate's size either way. Everything else agrees to float32 rounding.
    for path, a in weights[0].items():
        inert = "_dense_" in path and path.endswith("/bias")
        np.testing.assert_allclose(a, weights[1][path], rtol=1e-4, atol=1e-4 if inert else 1e-6, err_msg=path)


def test_graphs_are_built_without_grappler_s_dependency_optimiser():
    """With it on, GAIN-GTEx's losses differed in their last bits between runs of one process on a busy machine
    (benchmarks/determinism.py); importing the deep models turns it off, for TensorFlow's graphs."""
    from gaingtex.imputers.deep.backend import backend_name

    if backend_name() != "tensorflow":
        pytest.skip("Grappler is TensorFlow's")
    import tensorflow as tf

    assert tf.config.optimizer.get_experimental_options()["dependency_optimization"] is False


def test_one_device_trains_an_epoch_in_one_call(pmi):
    """On one device the compiled step loop runs a whole epoch's steps per call (the losses are those of one step
    a call: benchmarks/epoch_call.py checks it); built alone, or for several replicas, one step a call."""
    from gaingtex.imputers.deep.training import build_model

    config = quick("pmi", "inductive")
    assert build_model("pmi", "inductive", config, 30, [49, 2, 5], seed=0).steps_per_execution == 1
    whole = build_model("gain", "inductive", config, 30, [49, 2, 5], seed=0, whole_epochs=True)
    assert whole.steps_per_execution == config.steps_per_epoch
    assert pmi.model_.steps_per_execution == pmi.config.steps_per_epoch
