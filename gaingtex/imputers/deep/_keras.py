"""Keras 3 on its TensorFlow backend, configured once for every deep module."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

if keras.backend.backend() != "tensorflow":  # pragma: no cover - configuration error
    raise ImportError(f"gaingtex needs Keras' TensorFlow backend, but KERAS_BACKEND={keras.backend.backend()!r}")

__all__ = ["keras", "ops", "tf"]
