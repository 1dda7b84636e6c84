"""Building blocks of the deep models: covariate embeddings and the hidden-block MLP."""

from __future__ import annotations

from ._keras import keras, ops


@keras.saving.register_keras_serializable(package="gaingtex")
class CovariateEmbedding(keras.layers.Layer):
    """One ``Embedding`` of size ``int(sqrt(vocabulary)) + 1`` per categorical covariate, concatenated with the
    numeric covariates. The first categorical covariate is the tissue."""

    def __init__(self, vocab_sizes, n_numeric=1, **kwargs):
        super().__init__(**kwargs)
        self.vocab_sizes = [int(v) for v in vocab_sizes]
        self.n_numeric = int(n_numeric)
        self.embeddings = [
            keras.layers.Embedding(v, int(v ** 0.5) + 1, name=f"embedding_{i}") for i, v in enumerate(self.vocab_sizes)
        ]
        self.output_dim = sum(int(v ** 0.5) + 1 for v in self.vocab_sizes) + self.n_numeric

    def build(self, input_shape=None):
        for emb in self.embeddings:
            emb.build((None,))
        self.built = True

    def call(self, cat, num):
        parts = [emb(cat[:, i]) for i, emb in enumerate(self.embeddings)]
        return ops.concatenate(parts + [ops.cast(num, "float32")], axis=-1)

    def get_config(self):
        return {**super().get_config(), "vocab_sizes": self.vocab_sizes, "n_numeric": self.n_numeric}


def mlp(n_in: int, n_out: int, layers: int, units: int, dropout: float, batchnorm: bool, name: str) -> keras.Sequential:
    """Hidden blocks Dense → BatchNorm → ReLU → Dropout, then a linear output layer."""
    blocks: list = [keras.Input((n_in,))]
    for i in range(layers):
        blocks.append(keras.layers.Dense(units, name=f"{name}_dense_{i}"))
        if batchnorm:
            blocks.append(keras.layers.BatchNormalization(name=f"{name}_bn_{i}"))
        blocks.append(keras.layers.ReLU(name=f"{name}_relu_{i}"))
        if dropout > 0:
            blocks.append(keras.layers.Dropout(dropout, name=f"{name}_dropout_{i}"))
    blocks.append(keras.layers.Dense(n_out, name=f"{name}_out"))
    return keras.Sequential(blocks, name=name)
