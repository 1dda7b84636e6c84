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


def mlp(n_in: int, n_side: int, n_out: int, layers: int, units: int, dropout: float, batchnorm: bool,
        name: str, precision: str = "float32") -> keras.Model:
    """Hidden blocks Dense → BatchNorm → ReLU → Dropout, then a linear output layer, on two inputs: the data
    (``n_in`` columns) and the covariates' embedding (``n_side``).

    The first Dense layer is one Dense on the concatenation of the two, computed as two (``<name>_dense_0`` on the
    data, ``<name>_dense_0_covariates`` without bias on the embedding) and summed. Training then never forms the
    gradient with respect to the data, which nothing learns from; on one concatenated input it did, for the sake of
    the embedding's few columns, and PMI's training step on 2,000 genes took markedly longer (benchmarks/README.md,
    "One training step"). With ``precision="bfloat16"`` every layer computes in bfloat16 on float32 weights (its
    output is bfloat16: the models cast it back)."""
    policy = "mixed_bfloat16" if precision == "bfloat16" else "float32"
    data = keras.Input((n_in,), name=f"{name}_data")
    side = keras.Input((n_side,), name=f"{name}_covariates")

    def first(width: int, label: str):  # both kernels drawn as Glorot draws one kernel of the concatenation
        limit = (6.0 / (n_in + n_side + width)) ** 0.5
        init = keras.initializers.RandomUniform(-limit, limit)
        return keras.layers.Add(name=f"{label}_sum", dtype=policy)([
            keras.layers.Dense(width, kernel_initializer=init, name=label, dtype=policy)(data),
            keras.layers.Dense(width, use_bias=False, kernel_initializer=init, name=f"{label}_covariates",
                               dtype=policy)(side)])

    h = None
    for i in range(layers):
        h = (first(units, f"{name}_dense_0") if h is None
             else keras.layers.Dense(units, name=f"{name}_dense_{i}", dtype=policy)(h))
        if batchnorm:
            h = keras.layers.BatchNormalization(name=f"{name}_bn_{i}", dtype=policy)(h)
        h = keras.layers.ReLU(name=f"{name}_relu_{i}", dtype=policy)(h)
        if dropout > 0:
            h = keras.layers.Dropout(dropout, name=f"{name}_dropout_{i}", dtype=policy)(h)
    out = first(n_out, f"{name}_out") if h is None else keras.layers.Dense(n_out, name=f"{name}_out", dtype=policy)(h)
    return keras.Model([data, side], out, name=name)
