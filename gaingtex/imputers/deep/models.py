"""PMI, GAIN-GTEx and GAIN-MSE as Keras 3 models with their own training step, on TensorFlow or JAX.

Every batch is a dict with ``x`` (samples × genes, standardised, 0 where missing), ``mask`` (1 = observed;
all ones for complete training data), ``cat`` (integer codes of tissue, sex, Hardy scale) and ``num``
(standardised age). Validation batches also hold ``eval_mask``: a fixed pseudo-mask that hides part of the
*observed* entries; the validation loss is the imputation error on exactly those entries, so early stopping
never looks at truly missing values.

The steps are written once, statefully, as ``_train`` and ``_test``: random draws, forward passes and losses in
``keras.ops``. What differs per backend is how a gradient step is taken and how Keras calls a step; the backend's
``Steps`` mixin (:mod:`.backend`) supplies ``train_step``/``test_step`` and ``_descend`` (TensorFlow:
``GradientTape``, each replica's loss divided by the replicas in sync; JAX: ``jax.value_and_grad`` inside a
``StatelessScope``).
"""

from __future__ import annotations

from ...config import PRECISIONS, RECONSTRUCT, check_choice
from ._keras import keras, ops
from .backend import Steps
from .layers import CovariateEmbedding, mlp
from .losses import adversarial_loss, discriminator_loss, masked_mse, pmi_loss


def _float32(output):
    """A network's output as float32: under ``precision="bfloat16"`` it comes out in bfloat16, and the losses'
    sums over thousands of genes, the mixing with observed values and the discriminator's logits stay float32."""
    return ops.cast(output, "float32")


def _uniform_keep(shape, low, high, seed):
    """Bernoulli(p) per entry with ``p ~ U(low, high)`` per sample (row)."""
    p = keras.random.uniform((shape[0], 1), minval=low, maxval=high, seed=seed)
    return ops.cast(keras.random.uniform(shape, seed=seed) < p, "float32")


class _Base(Steps, keras.Model):
    """Shared plumbing: covariate sizes, the seed generator, the loss tracker, and ``compile`` without a loss."""

    def __init__(self, n_genes, vocab_sizes, n_numeric=1, hidden_layers=1, hidden_units=256, dropout=0.0,
                 batchnorm=True, seed=0, precision="float32", **kwargs):
        super().__init__(**kwargs)
        self.n_genes = int(n_genes)
        self.vocab_sizes = [int(v) for v in vocab_sizes]
        self.n_numeric = int(n_numeric)
        self.hidden_layers = int(hidden_layers)
        self.hidden_units = int(hidden_units)
        self.dropout = float(dropout)
        self.batchnorm = bool(batchnorm)
        self.seed = int(seed)
        self.precision = check_choice(str(precision), PRECISIONS, "precision")
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def _net_config(self):
        return {"n_genes": self.n_genes, "vocab_sizes": self.vocab_sizes, "n_numeric": self.n_numeric,
                "hidden_layers": self.hidden_layers, "hidden_units": self.hidden_units, "dropout": self.dropout,
                "batchnorm": self.batchnorm, "seed": self.seed, "precision": self.precision}

    def get_compile_config(self):
        return None  # optimisers are not restored; a loaded model is for imputation (recompile to train more)

    def _validation_masks(self, data):
        mask = ops.cast(data["mask"], "float32")
        keep = ops.cast(data["eval_mask"], "float32")
        return mask * keep, mask * (1.0 - keep)

    def generator_weights(self):
        """What the imputation network's optimiser trains: its weights and its covariate embeddings'."""
        return self.net.trainable_weights + self.embed.trainable_weights

    def _test(self, data):
        """Imputation error on the observed entries hidden by the fixed ``eval_mask``."""
        x = ops.cast(data["x"], "float32")
        inputs, targets = self._validation_masks(data)
        prediction = self._predict(x, inputs, data, training=False)
        self.loss_tracker.update_state(masked_mse(x, prediction, targets))
        return {"loss": self.loss_tracker.result()}

    def tissue_embedding(self):
        """The (imputation network's) tissue embedding matrix, tissues × dimensions, as a NumPy array."""
        return keras.ops.convert_to_numpy(self.embed.embeddings[0].embeddings)


# -------------------------------------------------------------------------------------------------------- PMI

@keras.saving.register_keras_serializable(package="gaingtex")
class PMI(_Base):
    """Pseudo-mask imputer: an MLP trained to recover observed entries that it hides from itself.

    Per sample a keep-probability ``p ~ U(alpha, beta)`` and ``b ~ Bernoulli(p)`` per gene; the network sees
    ``x ⊙ m ⊙ b`` with mask ``m ⊙ b`` and is scored on ``m ⊙ (1 − b)``. Both ``alpha`` and ``beta`` are used
    (the original code ignored ``beta`` once ``alpha`` was set, fixing ``p`` at 0.5).
    """

    def __init__(self, n_genes, vocab_sizes, alpha=0.5, beta=0.5, **kwargs):
        super().__init__(n_genes, vocab_sizes, **kwargs)
        if not 0.0 <= alpha <= beta <= 1.0:
            raise ValueError(f"PMI needs 0 ≤ alpha ≤ beta ≤ 1, got alpha={alpha}, beta={beta}")
        self.alpha, self.beta = float(alpha), float(beta)
        self.embed = CovariateEmbedding(self.vocab_sizes, self.n_numeric, name="covariates")
        self.embed.build()
        self.net = mlp(2 * self.n_genes, self.embed.output_dim, self.n_genes, self.hidden_layers,
                       self.hidden_units, self.dropout, self.batchnorm, name="imputer", precision=self.precision)
        self.built = True

    def get_config(self):
        return {**super().get_config(), **self._net_config(), "alpha": self.alpha, "beta": self.beta}

    @property
    def metrics(self):
        return [self.loss_tracker]

    def _predict(self, x, mask, data, training):
        h = ops.concatenate([x * mask, mask], axis=-1)
        return _float32(self.net([h, self.embed(data["cat"], data["num"])], training=training))

    def call(self, inputs, training=False):
        x = ops.cast(inputs["x"], "float32")
        mask = ops.cast(inputs["mask"], "float32")
        return self._predict(x, mask, inputs, training)

    def compile(self, optimizer, jit_compile=False, run_eagerly=False, steps_per_execution=1):
        super().compile(optimizer=optimizer, jit_compile=jit_compile, run_eagerly=run_eagerly,
                        steps_per_execution=steps_per_execution)
        self._hold_optimizers([(optimizer, self.generator_weights())])

    def _train(self, data):
        x = ops.cast(data["x"], "float32")
        mask = ops.cast(data["mask"], "float32")
        keep = _uniform_keep(ops.shape(x), self.alpha, self.beta, self.seed_generator)

        def objective():
            prediction = self._predict(x, mask * keep, data, training=True)
            return pmi_loss(x, prediction, mask, keep), ()

        loss, _ = self._descend(self.optimizer, self.generator_weights(), objective)
        self.loss_tracker.update_state(loss)
        return {m.name: m.result() for m in self.metrics}


# ------------------------------------------------------------------------------------------------------- GAIN

@keras.saving.register_keras_serializable(package="gaingtex")
class GAIN(_Base):
    """GAIN-GTEx (``adversarial=True``) or its ablation GAIN-MSE (``adversarial=False``).

    The generator sees ``x ⊙ m``, ``m``, noise ``z ⊙ (1 − m)`` and the covariates; the discriminator, with its own
    embeddings, sees the imputed sample ``m ⊙ x + (1 − m) ⊙ x̂``, the hint ``h = b ⊙ m + 0.5 (1 − b)``
    (``b ~ Bernoulli(hint_rate)``) and the covariates, and predicts ``m``. One discriminator step, then one
    generator step (``λ`` × MSE on observed entries + adversarial loss), per batch.

    Parameters
    ----------
    draw_masks
        Inductive training: every batch gets a fresh mask with keep-probability ``U(keep_low, keep_high)``,
        combined with the data's own mask. In-place training uses the data's fixed mask only.
    """

    def __init__(self, n_genes, vocab_sizes, adversarial=True, hint_rate=0.5, lambda_mse=1.0, draw_masks=True,
                 keep_low=0.5, keep_high=0.5, reconstruct="observed", **kwargs):
        super().__init__(n_genes, vocab_sizes, **kwargs)
        self.reconstruct = check_choice(str(reconstruct), RECONSTRUCT, "reconstruct")
        self.adversarial = bool(adversarial)
        self.hint_rate = float(hint_rate)
        self.lambda_mse = float(lambda_mse)
        self.draw_masks = bool(draw_masks)
        self.keep_low, self.keep_high = float(keep_low), float(keep_high)
        self.embed = CovariateEmbedding(self.vocab_sizes, self.n_numeric, name="covariates")
        self.embed.build()
        self.net = mlp(3 * self.n_genes, self.embed.output_dim, self.n_genes, self.hidden_layers,
                       self.hidden_units, self.dropout, self.batchnorm, name="generator", precision=self.precision)
        if self.adversarial:
            self.disc_embed = CovariateEmbedding(self.vocab_sizes, self.n_numeric, name="disc_covariates")
            self.disc_embed.build()
            self.disc = mlp(2 * self.n_genes, self.disc_embed.output_dim, self.n_genes, self.hidden_layers,
                            self.hidden_units, self.dropout, self.batchnorm, name="discriminator",
                            precision=self.precision)
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.adv_loss_tracker = keras.metrics.Mean(name="adv_loss")
        self.mse_tracker = keras.metrics.Mean(name="mse_observed")
        self.built = True

    def get_config(self):
        return {**super().get_config(), **self._net_config(), "adversarial": self.adversarial,
                "hint_rate": self.hint_rate, "lambda_mse": self.lambda_mse, "draw_masks": self.draw_masks,
                "keep_low": self.keep_low, "keep_high": self.keep_high, "reconstruct": self.reconstruct}

    @property
    def metrics(self):
        extra = [self.d_loss_tracker, self.adv_loss_tracker] if self.adversarial else []
        return [self.loss_tracker, self.mse_tracker] + extra

    def _predict(self, x, mask, data, training, noise=None):
        if noise is None:
            noise = data["noise"] if "noise" in data else keras.random.normal(ops.shape(x), seed=self.seed_generator)
        noise = ops.cast(noise, "float32") * (1.0 - mask)
        h = ops.concatenate([x * mask, mask, noise], axis=-1)
        return _float32(self.net([h, self.embed(data["cat"], data["num"])], training=training))

    def call(self, inputs, training=False):
        x = ops.cast(inputs["x"], "float32")
        mask = ops.cast(inputs["mask"], "float32")
        return self._predict(x, mask, inputs, training)

    def compile(self, g_optimizer, d_optimizer=None, jit_compile=False, run_eagerly=False, steps_per_execution=1):
        """Two optimisers: the generator's and (GAIN-GTEx only) the discriminator's."""
        if self.adversarial and d_optimizer is None:
            raise ValueError("GAIN-GTEx needs a discriminator optimiser (d_optimizer)")
        super().compile(optimizer=g_optimizer, jit_compile=jit_compile, run_eagerly=run_eagerly,
                        steps_per_execution=steps_per_execution)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self._hold_optimizers([(g_optimizer, self.generator_weights())]
                              + ([(d_optimizer, self.discriminator_weights())] if self.adversarial else []))

    def discriminator_weights(self):
        """What the discriminator's optimiser trains (GAIN-GTEx): its weights and its covariate embeddings'."""
        return self.disc.trainable_weights + self.disc_embed.trainable_weights

    def _discriminate(self, imputed, hint, data, training):
        h = ops.concatenate([imputed, hint], axis=-1)
        return _float32(self.disc([h, self.disc_embed(data["cat"], data["num"])], training=training))

    def _train(self, data):
        x = ops.cast(data["x"], "float32")
        known = ops.cast(data["mask"], "float32")
        mask, target = known, known  # the paper's: the generator sees the observed entries and is scored on them
        if self.draw_masks or self.reconstruct == "hidden":
            mask = known * _uniform_keep(ops.shape(x), self.keep_low, self.keep_high, self.seed_generator)
            target = mask if self.reconstruct == "observed" else known - mask  # known but hidden from the generator
        noise = keras.random.normal(ops.shape(x), seed=self.seed_generator)
        hint = b = None
        if self.adversarial:
            b = ops.cast(keras.random.uniform(ops.shape(x), seed=self.seed_generator) < self.hint_rate, "float32")
            hint = b * mask + 0.5 * (1.0 - b)
            prediction = self._predict(x, mask, data, training=False, noise=noise)
            imputed = mask * x + (1.0 - mask) * prediction

            def d_objective():
                return discriminator_loss(mask, self._discriminate(imputed, hint, data, True), b), ()

            d_loss, _ = self._descend(self.d_optimizer, self.discriminator_weights(), d_objective)
            self.d_loss_tracker.update_state(d_loss)

        def g_objective():
            prediction = self._predict(x, mask, data, training=True, noise=noise)
            mse = masked_mse(x, prediction, target)
            loss, adv = self.lambda_mse * mse, None
            if self.adversarial:
                imputed = mask * x + (1.0 - mask) * prediction
                adv = adversarial_loss(mask, self._discriminate(imputed, hint, data, False), b)
                loss = loss + adv
            return loss, (mse, adv)

        loss, (mse, adv) = self._descend(self.g_optimizer, self.generator_weights(), g_objective)
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(mse)
        if self.adversarial:
            self.adv_loss_tracker.update_state(adv)
        return {m.name: m.result() for m in self.metrics}
