"""Resumable training: a checkpoint every few epochs holding everything the rest of the run depends on — the model's
variables (weights, batch-norm statistics, random-generator states), the optimisers' variables (moments, step
count), the epochs done, the history and the early-stopping state — written atomically. A run with the same
inputs resumes from it and ends with the same weights, bit for bit, as a run that was never interrupted."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from ..._io import atomic_path
from ._keras import keras


def optimizer_variables(model) -> list[tuple[object, list]]:
    """Each optimiser of a model with the variables it updates (PMI: one; GAIN-GTEx: the generator's and the
    discriminator's), in the order its ``train_step`` applies them."""
    generator = model.net.trainable_weights + model.embed.trainable_weights
    pairs = [(getattr(model, "g_optimizer", None) or model.optimizer, generator)]
    if getattr(model, "d_optimizer", None) is not None:
        pairs.append((model.d_optimizer, model.disc.trainable_weights + model.disc_embed.trainable_weights))
    return pairs


class ResumableStopping(keras.callbacks.EarlyStopping):
    """Early stopping whose state (wait, best value, best epoch, best weights) survives a restart; with
    ``restore_at_end=False`` a fit that ends keeps its last weights (a stage that training goes on from)."""

    def __init__(self, *args, state: dict | None = None, restore_at_end: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self._resume = state
        self.restore_at_end = restore_at_end

    def on_train_end(self, logs=None):
        if self.restore_at_end:
            super().on_train_end(logs)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._resume:
            self.wait, self.best = self._resume["wait"], self._resume["best"]
            self.best_epoch, self.best_weights = self._resume["best_epoch"], self._resume["best_weights"]

    def state(self) -> dict:
        return {"wait": int(self.wait), "best": float(self.best), "best_epoch": int(self.best_epoch),
                "best_weights": self.best_weights}


class Checkpointer(keras.callbacks.Callback):
    """Keeps the run's history and, with a ``path``, writes the checkpoint at the end of every ``every``-th
    epoch."""

    def __init__(self, path: Path | None, every: int, key: str, stop: ResumableStopping, history: list[dict]):
        super().__init__()
        self.path = None if path is None else Path(path)
        self.every, self.key, self.stop, self.history = int(every), key, stop, history

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({k: float(v) for k, v in (logs or {}).items()})
        if self.path is not None and (epoch + 1) % self.every == 0:
            save(self.path, self.model, epoch + 1, self.key, self.history, self.stop.state())


def save(path: Path, model, epochs: int, key: str, history: list[dict], stop: dict) -> None:
    arrays = {f"model_{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.variables)}
    for k, (optimizer, _) in enumerate(optimizer_variables(model)):
        arrays.update({f"opt{k}_{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(optimizer.variables)})
    best = stop.pop("best_weights") or []
    arrays.update({f"best_{i}": np.asarray(w) for i, w in enumerate(best)})
    meta = {"key": key, "epochs": epochs, "history": history, "stop": stop, "n_best": len(best)}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    with atomic_path(path, suffix=".npz") as tmp:
        Path(tmp).write_bytes(buffer.getvalue())


def load(path: Path, key: str) -> dict | None:
    """The checkpoint's contents, or ``None`` when there is none; an error when it belongs to other inputs."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise ValueError(f"{path}: the training checkpoint is damaged ({type(err).__name__}); delete it to start "
                         "afresh") from None
    if meta["key"] != key:
        raise ValueError(f"{path} is a checkpoint of a run with other inputs (data, seed or configuration); delete "
                         "it, or rerun with that run's arguments")
    meta["stop"]["best_weights"] = [arrays[f"best_{i}"] for i in range(meta["n_best"])] or None
    meta["arrays"] = arrays
    return meta


def restore(model, checkpoint: dict) -> None:
    """Put the checkpoint's variables back into a freshly built model and its optimisers."""
    arrays = checkpoint["arrays"]
    for i, v in enumerate(model.variables):
        v.assign(arrays[f"model_{i}"])
    for k, (optimizer, variables) in enumerate(optimizer_variables(model)):
        optimizer.build(variables)
        for i, v in enumerate(optimizer.variables):
            v.assign(arrays[f"opt{k}_{i}"])


def remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
