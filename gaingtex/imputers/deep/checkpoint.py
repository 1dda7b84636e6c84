"""Resumable training: a snapshot of everything the rest of a run depends on — the model's variables (weights,
batch-norm statistics, random-generator states), the optimisers' variables (moments, step count), the epochs done,
the history and the early-stopping state. Put back into a freshly built model, a snapshot goes on exactly as the
run it was taken from: the same weights, bit for bit, as a run that was never interrupted.

A checkpoint is a snapshot written atomically every few epochs; the validation search keeps its winner as one,
so that the model that goes on from it is the same whether the search ran now or earlier."""

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


def snapshot(model, epochs: int, history: list[dict], stop: dict) -> dict:
    """Where a run stands, copied out of the model: ``epochs``, ``history``, ``stop`` (the early-stopping state,
    best weights included) and ``arrays`` (every model and optimiser variable)."""
    arrays = {f"model_{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.variables)}
    for k, (optimizer, _) in enumerate(optimizer_variables(model)):
        arrays.update({f"opt{k}_{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(optimizer.variables)})
    best = stop.get("best_weights")
    return {"epochs": int(epochs), "history": [dict(h) for h in history],
            "stop": {**stop, "best_weights": None if best is None else [np.array(w) for w in best]},
            "arrays": arrays}


def write(path: Path, state: dict, key: str) -> None:
    """Write a :func:`snapshot` to ``path`` (``.npz``) atomically, under ``key`` (what its inputs were)."""
    stop = {k: v for k, v in state["stop"].items() if k != "best_weights"}
    best = state["stop"]["best_weights"] or []
    arrays = {**state["arrays"], **{f"best_{i}": np.asarray(w) for i, w in enumerate(best)}}
    meta = {"key": key, "epochs": state["epochs"], "history": state["history"], "stop": stop, "n_best": len(best)}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    with atomic_path(path, suffix=".npz") as tmp:
        Path(tmp).write_bytes(buffer.getvalue())


def read(path: Path, key: str) -> dict | None:
    """The snapshot :func:`write` kept in ``path``, or ``None`` when there is none; an error when it belongs to
    other inputs or is damaged."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            arrays = {k: data[k] for k in data.files if k != "meta"}
        best = [arrays.pop(f"best_{i}") for i in range(meta["n_best"])] or None
    except (OSError, ValueError, KeyError, EOFError, TypeError) as err:
        raise ValueError(f"{path}: the training checkpoint is damaged ({type(err).__name__}); delete it to start "
                         "afresh") from None
    if meta["key"] != key:
        raise ValueError(f"{path} is a checkpoint of a run with other inputs (data, seed or configuration); delete "
                         "it, or rerun with that run's arguments")
    return {"epochs": meta["epochs"], "history": meta["history"], "stop": {**meta["stop"], "best_weights": best},
            "arrays": arrays}


def restore(model, state: dict) -> None:
    """Put a snapshot's variables back into a freshly built model and its optimisers; an error (not other
    weights) when the snapshot does not fit the model."""
    arrays = state["arrays"]
    targets = [(f"model_{i}", v) for i, v in enumerate(model.variables)]
    for k, (optimizer, variables) in enumerate(optimizer_variables(model)):
        optimizer.build(variables)
        targets += [(f"opt{k}_{i}", v) for i, v in enumerate(optimizer.variables)]
    if len(targets) != len(arrays):
        raise ValueError(f"the snapshot holds {len(arrays)} arrays, the model has {len(targets)} variables: it is "
                         "of another model; delete it to start afresh")
    for name, variable in targets:
        if name not in arrays or tuple(arrays[name].shape) != tuple(variable.shape):
            raise ValueError(f"the snapshot's {name} does not fit the model ({arrays.get(name, np.empty(0)).shape} "
                             f"against {tuple(variable.shape)}); delete it to start afresh")
        variable.assign(arrays[name])


def remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


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
            write(self.path, snapshot(self.model, epoch + 1, self.history, self.stop.state()), self.key)
