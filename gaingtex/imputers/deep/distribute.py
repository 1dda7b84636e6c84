"""Where the device helpers used to live; they are :mod:`.backend`'s now, for every Keras backend."""

from .backend import accelerator, default_strategy, use_threads

__all__ = ["accelerator", "default_strategy", "use_threads"]
