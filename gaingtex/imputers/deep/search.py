"""The validation search of a deep model's settings (:class:`~gaingtex.config.SearchConfig`): a successive halving
on the schedule of the final training, whose winner the final training goes on from.

A search is kept in an explicit store, never in a global: :class:`SearchStore` (in memory, for one caller) or
:class:`FolderStore` (a folder, shared across processes: the book's run folder). GAIN-GTEx and GAIN-MSE screen the
same generator (GAIN-GTEx without its discriminator is GAIN-MSE), so one search serves both. The store keeps the
winner where it stood (a :func:`~.checkpoint.snapshot`): PMI and GAIN-MSE go on from it, and so end on the same
weights whether the search ran in this call, earlier in the process, or in another process. GAIN-GTEx takes the
chosen setting and trains afresh with its discriminator."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..._io import atomic_path
from ...config import ModelConfig, SearchConfig
from ...fingerprint import text_digest
from ..registry import spec
from . import checkpoint as ckpt
from .backend import backend_name
from .training import TrainingRun


@dataclass
class Kept:
    """A finished search: its ``table`` (one row per candidate, with a ``config`` column and one ``chosen`` row)
    and the ``winner``'s snapshot."""

    table: pd.DataFrame
    winner: dict


class SearchStore:
    """Searches kept in memory, by the key of their inputs and settings; pass one store to the fits that should
    share their searches. With ``capacity``, only the most recent searches are kept (a winner's snapshot holds
    the model and its optimiser state): a search no longer kept is done again, with the same result."""

    def __init__(self, capacity: int | None = None):
        self._kept: dict[str, Kept] = {}
        self.capacity = capacity

    def get(self, key: str) -> Kept | None:
        kept = self._kept.get(key)
        return None if kept is None else Kept(kept.table.copy(), kept.winner)

    def put(self, key: str, kept: Kept) -> None:
        self._kept.pop(key, None)
        self._kept[key] = kept
        while self.capacity is not None and len(self._kept) > self.capacity:
            self._kept.pop(next(iter(self._kept)))

    def __len__(self) -> int:
        return len(self._kept)


class FolderStore(SearchStore):
    """Searches kept in a folder: per search a JSON table and the winner's snapshot (``.npz``), written atomically;
    any process that opens the same folder reads them."""

    def __init__(self, folder: str | os.PathLike):
        super().__init__(capacity=2)  # the folder keeps them all; memory only the pair that shares one
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"search-{text_digest(key)}.json"

    def get(self, key: str) -> Kept | None:
        kept = super().get(key)
        if kept is not None:
            return kept
        path = self.path(key)
        if not path.is_file():
            return None
        record = json.loads(path.read_text())
        winner = ckpt.read(path.with_suffix(".npz"), key) if record.get("key") == key else None
        if winner is None:  # another search under the same short name, or one kept without its winner: redo it
            return None
        table = pd.DataFrame(record["table"])
        table["config"] = [ModelConfig(**c) for c in record["configs"]]
        super().put(key, Kept(table, winner))
        return super().get(key)

    def put(self, key: str, kept: Kept) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        ckpt.write(path.with_suffix(".npz"), kept.winner, key)  # the winner first: a table without it is not read
        record = {"key": key, "table": kept.table.drop(columns="config").to_dict("records"),
                  "configs": [c.__dict__ for c in kept.table["config"]]}
        with atomic_path(path, suffix=".json") as tmp:
            tmp.write_text(json.dumps(record, indent=1))
        super().put(key, kept)


def as_store(searches) -> SearchStore:
    """A store from what a caller passed: a store as it is, a folder as a :class:`FolderStore`, ``None`` as a
    store of this call alone."""
    if searches is None:
        return SearchStore()
    return searches if isinstance(searches, SearchStore) else FolderStore(searches)


@dataclass
class Choice:
    """What a search gives the final training: the chosen ``config``, the ``start`` snapshot to go on from
    (``None``: train afresh), the ``table`` of candidates (without configs) and the chosen row's ``name`` and
    ``val_loss``. Where the search ran in this call, ``model`` is the winner itself, standing where ``start``
    says: going on with it ends on the same weights as a model restored from ``start``, without building and
    tracing another."""

    config: ModelConfig
    start: dict | None
    table: pd.DataFrame
    name: str
    val_loss: float
    model: object = None


def search(run: TrainingRun, settings: SearchConfig, base: ModelConfig, reference: int,
           store: SearchStore) -> Choice:
    """Choose ``run``'s configuration from candidates around ``base`` (tuned for ``reference`` genes), or read
    the choice from ``store`` where a search of the same inputs and settings is kept."""
    family = spec(run.model).family or run.model  # GAIN-GTEx and GAIN-MSE share theirs
    key = run.inputs_key + text_digest({"family": family, "scenario": run.scenario, "seed": run.seed,
                                        "base": base.__dict__, "reference": reference,
                                        "search": settings.__dict__, "backend": backend_name()})
    kept, winner = store.get(key), None
    if kept is None:
        kept, winner = _halving(run, settings, settings.candidates(base, run.model, run.n_genes, reference))
        store.put(key, kept)
    chosen = kept.table.loc[kept.table["chosen"]].iloc[0]
    screened_as_itself = run.model != "gain"  # GAIN-GTEx was screened without its discriminator
    return Choice(chosen["config"], kept.winner if screened_as_itself else None,
                  kept.table.drop(columns="config"), chosen["candidate"], float(chosen["val_loss"]),
                  winner if screened_as_itself else None)


def _halving(run: TrainingRun, settings: SearchConfig, candidates: list[tuple[str, ModelConfig]]) -> tuple:
    """Every candidate for ``rung_epochs``, the ``survivors`` best for ``second_rung_epochs`` more; the lowest
    validation loss among the survivors wins. Returns what to keep and the winning model."""
    runs = [_rung(run, name, config, None, settings.rung_epochs) for name, config in candidates]
    order = np.argsort([r["val_loss"] for r in runs], kind="stable")
    for i in order[: settings.survivors]:
        runs[i] = _rung(run, runs[i]["candidate"], candidates[i][1], runs[i], settings.second_rung_epochs)
    best = min(order[: settings.survivors], key=lambda i: runs[i]["val_loss"])
    winner = ckpt.snapshot(runs[best]["model"], runs[best]["epochs"], runs[best]["history"], runs[best]["stop"])
    table = pd.DataFrame([{k: v for k, v in r.items() if k not in ("model", "history", "stop")} for r in runs])
    table["chosen"] = np.arange(len(table)) == best
    table["config"] = [c for _, c in candidates]
    return Kept(table, winner), runs[best]["model"]


def _rung(run: TrainingRun, name: str, config: ModelConfig, state: dict | None, epochs: int) -> dict:
    """Train one candidate for ``epochs`` more epochs (from scratch when ``state`` is None), on the same seeded
    stream of batches as a run without a search."""
    t0 = time.perf_counter()
    if state is None:
        state = {"candidate": name, "hidden": f"{config.hidden_layers}x{config.hidden_units}",
                 "learning_rate": config.learning_rate, "dropout": config.dropout,
                 **({"objective": config.reconstruct} if run.model != "pmi" else {}),
                 "epochs": 0, "seconds": 0.0, "model": run.build(config, adversarial=False), "history": [],
                 "stop": None}
    stop = ckpt.ResumableStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True,
                                  state=state["stop"], restore_at_end=False)
    done = state["epochs"]
    logs = run.fit_epochs(state["model"], config, done, done + epochs, [stop]).history
    state["history"] += [{k: float(v[i]) for k, v in logs.items()} for i in range(len(logs["val_loss"]))]
    last = state["history"][-1]["val_loss"]
    state.update(epochs=done + epochs, stop=stop.state(), seconds=state["seconds"] + time.perf_counter() - t0,
                 val_loss=last if np.isfinite(last) else np.inf,
                 rising=len(state["history"]) > 1 and last > state["history"][0]["val_loss"])
    return state
