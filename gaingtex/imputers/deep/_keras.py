"""Keras 3, configured once for every deep module: on TensorFlow unless ``KERAS_BACKEND`` says ``jax``.

Whatever differs between the two backends lives in :mod:`.backend`; nothing else imports TensorFlow or JAX."""

import os

BACKENDS = ("tensorflow", "jax")

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ["KERAS_BACKEND"] not in BACKENDS:
    raise ImportError(f"gaingtex runs on Keras' TensorFlow or JAX backend, not KERAS_BACKEND="
                      f"{os.environ['KERAS_BACKEND']!r}")

import keras  # noqa: E402
from keras import ops  # noqa: E402

if keras.backend.backend() not in BACKENDS:  # Keras was imported before, on another backend
    raise ImportError(f"gaingtex runs on Keras' TensorFlow or JAX backend, but Keras was started on "
                      f"{keras.backend.backend()!r}")

__all__ = ["BACKENDS", "keras", "ops"]
