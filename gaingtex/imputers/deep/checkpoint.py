"""Resumable training: a snapshot of everything the rest of a run depends on — the model's variables (weights,
batch-norm statistics, random-generator states), the optimisers' variables (moments, step count), the epochs done,
the history and the early-stopping state. Put back into a freshly built model, a snapshot goes on exactly as the
run it was taken from: the same weights, bit for bit, as a run that was never interrupted.

A checkpoint is a snapshot written atomically every few epochs; the validation search keeps its winner as one,
so that the model that goes on from it is the same whether the search ran now or earlier."""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..._io import atomic_path
from ._keras import keras


def optimizer_variables(model) -> list[tuple[object, list]]:
    """Each optimiser of a model with the variables it updates (PMI: one; GAIN-GTEx: the generator's and the
    discriminator's), in the order its ``train_step`` applies them."""
    pairs = [(getattr(model, "g_optimizer", None) or model.optimizer, model.generator_weights())]
    if getattr(model, "d_optimizer", None) is not None:
        pairs.append((model.d_optimizer, model.discriminator_weights()))
    return pairs


class ResumableStopping(keras.callbacks.EarlyStopping):
    """Early stopping whose state (wait, best value, best epoch, best weights) survives a restart; with
    ``restore_at_end=False`` a fit that ends keeps its last weights (a stage that training goes on from)."""

    def __init__(self, *args, state: dict | None = None, restore_at_end: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self._resume = state
        self.restore_at_end = restore_at_end
        self.best_epoch = state["best_epoch"] if state else 0  # read even when no epoch is left to run

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


FRESH = "delete it or pass --fresh to start afresh"


def _digest(meta: dict, arrays: dict) -> str:
    """A hash of everything a checkpoint holds (the record and every array's name, type, shape and bytes): a
    flipped bit anywhere, or an edited record, no longer matches the one written."""
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def write(path: Path, state: dict, key: str) -> None:
    """Write a :func:`snapshot` to ``path`` (``.npz``) atomically, under ``key`` (what its inputs were), with a
    digest of its contents that :func:`read` checks."""
    stop = {k: v for k, v in state["stop"].items() if k != "best_weights"}
    best = state["stop"]["best_weights"] or []
    arrays = {**state["arrays"], **{f"best_{i}": np.asarray(w) for i, w in enumerate(best)}}
    meta = {"key": key, "epochs": state["epochs"], "history": state["history"], "stop": stop, "n_best": len(best)}
    meta = json.loads(json.dumps(meta))  # as read back: the digest is of what the file holds
    meta["digest"] = _digest(meta, arrays)
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    with atomic_path(path, suffix=".npz") as tmp:
        Path(tmp).write_bytes(buffer.getvalue())


def _check_meta(meta) -> str | None:
    """What is wrong with a checkpoint's record, or ``None``."""
    if not isinstance(meta, dict):
        return "its record is not a mapping"
    for name, kind in (("key", str), ("epochs", int), ("history", list), ("stop", dict), ("n_best", int),
                       ("digest", str)):
        if not isinstance(meta.get(name), kind) or isinstance(meta.get(name), bool):
            return "it was written by an older gaingtex" if name == "digest" else f"its record has no valid {name!r}"
    if meta["epochs"] < 0 or meta["n_best"] < 0 or len(meta["history"]) != meta["epochs"]:
        return f"it records {meta['epochs']} epochs but a history of {len(meta['history'])}"
    stop = meta["stop"]
    if not all(isinstance(stop.get(k), (int, float)) and not isinstance(stop.get(k), bool)
               for k in ("wait", "best", "best_epoch")):
        return "its early-stopping state is incomplete"
    if not 0 <= stop["best_epoch"] <= max(meta["epochs"], 0) or stop["wait"] < 0:
        return f"its early-stopping state (best epoch {stop['best_epoch']}, wait {stop['wait']}) is impossible"
    return None


def read(path: Path, key: str) -> dict | None:
    """The snapshot :func:`write` kept in ``path``, or ``None`` when there is none; an error that names the file
    when it belongs to other inputs, is damaged (truncated, a flipped bit, an edited record or array) or is
    inconsistent — never a resumption into other weights."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: the training checkpoint is damaged or not a checkpoint ({type(err).__name__}); "
                         f"{FRESH}") from None
    problem = _check_meta(meta)
    if problem is None and meta.pop("digest") != _digest(meta, arrays):
        problem = "its contents do not match the digest written with them (a truncated or altered file)"
    if problem is None and any(f"best_{i}" not in arrays for i in range(meta["n_best"])):
        problem = "it lacks some of its best weights"
    if problem is not None:
        raise ValueError(f"{path}: the training checkpoint cannot be trusted: {problem}; {FRESH}")
    if meta["key"] != key:
        raise ValueError(f"{path} is a checkpoint of a run with other inputs (data, seed or configuration); delete "
                         "it, pass --fresh, or rerun with that run's arguments")
    best = [arrays.pop(f"best_{i}") for i in range(meta["n_best"])] or None
    return {"epochs": meta["epochs"], "history": meta["history"], "stop": {**meta["stop"], "best_weights": best},
            "arrays": arrays, "path": str(path)}


def restore(model, state: dict) -> None:
    """Put a snapshot's variables back into a freshly built model and its optimisers; an error naming the file
    (not other weights) when the snapshot does not fit the model."""
    arrays = state["arrays"]
    where = f"{state['path']}: " if state.get("path") else ""
    targets = [(f"model_{i}", v) for i, v in enumerate(model.variables)]
    for k, (optimizer, variables) in enumerate(optimizer_variables(model)):
        optimizer.build(variables)
        targets += [(f"opt{k}_{i}", v) for i, v in enumerate(optimizer.variables)]
    if len(targets) != len(arrays):
        raise ValueError(f"{where}the checkpoint holds {len(arrays)} arrays, the model has {len(targets)} "
                         f"variables: it is of another model; {FRESH}")
    for name, variable in targets:
        if name not in arrays or tuple(arrays[name].shape) != tuple(variable.shape):
            raise ValueError(f"{where}the checkpoint's {name} does not fit the model "
                             f"({arrays.get(name, np.empty(0)).shape} against {tuple(variable.shape)}); {FRESH}")
    best = state["stop"].get("best_weights")
    shapes = [tuple(w.shape) for w in model.weights]
    if best is not None and [tuple(np.shape(w)) for w in best] != shapes:
        raise ValueError(f"{where}the checkpoint's best weights do not fit the model ({len(best)} arrays against "
                         f"{len(shapes)}, or of other shapes); {FRESH}")
    for name, variable in targets:
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
            try:
                write(self.path, snapshot(self.model, epoch + 1, self.history, self.stop.state()), self.key)
            except OSError as err:  # a full disk: training goes on (its result is what matters), unresumable
                warnings.warn(f"could not write the checkpoint {self.path} ({err.strerror or err}); training goes "
                              "on without one, so an interrupt now loses the epochs done", stacklevel=2)
                self.path = None
