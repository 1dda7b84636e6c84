"""One deep model's training run: its inputs as tensors, the seeded stream of batches, the validation split with
its fixed pseudo-mask, and how a model of a configuration is built, trained, checkpointed and resumed.

The run is the training plan of the deep path (as scvi-tools separates it from the module and the model): the
networks and their ``train_step`` are in :mod:`.models`, the validation search in :mod:`.search`, and the
user-facing imputer, which puts them together, in :mod:`.imputer`."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from ...config import ModelConfig
from ...data import CovariateEncoder, Split
from ...data.masks import sample_mask
from ...fingerprint import arrays_digest, text_digest
from ..base import check_inputs, observed_mask
from . import checkpoint as ckpt
from ._keras import keras
from .backend import BatchSource, backend_name, default_strategy, validation_batches
from .models import GAIN, PMI


class EpochProgress(keras.callbacks.Callback):
    """A tqdm bar over epochs showing the training and validation losses."""

    def __init__(self, total: int, desc: str):
        super().__init__()
        self.total, self.desc, self.bar = total, desc, None

    def on_train_begin(self, logs=None):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.total, desc=self.desc, unit="epoch", leave=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.4f}",
                             val_loss=f"{logs.get('val_loss', float('nan')):.4f}")
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


class EpochTimer(keras.callbacks.Callback):
    """Adds each epoch's wall time, its validation pass included, to the epoch's logs as ``seconds`` (and so to
    the history); called before the callbacks that keep the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self.start


@dataclass
class Outcome:
    """How a training ended: its history (one dict per epoch), the epoch whose weights it kept (1-based), and the
    epoch a checkpoint resumed it from (0: not resumed)."""

    history: list[dict]
    best_epoch: int
    resumed_from: int


class TrainingRun:
    """The data and the rules of one model's training (``model``: ``pmi``, ``gain`` or ``gain-mse``).

    In the inductive scenario ``train`` and ``valid`` are complete. In the in-place scenario ``train_mask`` and
    ``valid_mask`` (default: the non-NaN entries) mark the observed entries; the missing ones are never read.
    Without ``valid``, a tenth of the training donors is held out (``holdout_donors``). Under a strategy with
    several replicas the validation set is cut to a multiple of the replica count.

    Every random draw comes from ``seed``, in a fixed order: the hold-out donors, the validation pseudo-mask, the
    validation noise, then (per built model) the weights and the batches.
    """

    def __init__(self, model: str, scenario: str, seed: int, train: Split, valid: Split | None = None,
                 train_mask: np.ndarray | None = None, valid_mask: np.ndarray | None = None, strategy=None,
                 jit_compile: bool = False, run_eagerly: bool = False):
        self.model, self.scenario, self.seed = model, scenario, int(seed)
        self.jit_compile, self.run_eagerly = bool(jit_compile), bool(run_eagerly)
        self.strategy = strategy or default_strategy()
        keras.utils.set_random_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        train_mask = observed_mask(train.x, train_mask, "train_mask")
        if scenario == "inductive" and train_mask.min() < 1:
            raise ValueError("inductive training uses complete data, but the training split has missing entries; "
                             "train in place instead")
        x_train, train_mask = check_inputs(train.x, train_mask, train.obs)
        self.holdout_donors = None
        if valid is None:  # hold out a tenth of the training donors (never samples: a donor stays on one side)
            donors = train.obs["donor_id"].astype(str).to_numpy()
            unique = np.unique(donors)
            self.holdout_donors = rng.choice(unique, size=max(1, len(unique) // 10), replace=False)
            hold = np.isin(donors, self.holdout_donors)
            valid, valid_mask = train.take(np.flatnonzero(hold)), train_mask[hold]
            x_train, train_mask, train = x_train[~hold], train_mask[~hold], train.take(np.flatnonzero(~hold))
        else:
            valid_mask = observed_mask(valid.x, valid_mask, "valid_mask")
        x_valid, valid_mask = check_inputs(valid.x, valid_mask, valid.obs)
        self.n_genes = x_train.shape[1]
        self.genes = None if train.genes is None else tuple(train.genes)
        self.scale = train.scale  # the standardisation its inputs were in: how to apply it to new samples
        self.encoder = CovariateEncoder.fit(train.obs)  # training statistics only
        data = self.inputs(x_train, train_mask, train.obs)
        self.batches = BatchSource(data, self.seed)
        vdata = self.inputs(x_valid, valid_mask, valid.obs)
        vdata["eval_mask"] = sample_mask(len(x_valid), self.n_genes, 0.5, 0.5, rng)
        vdata["noise"] = rng.standard_normal(x_valid.shape).astype(np.float32)
        replicas = self.strategy.num_replicas_in_sync
        if replicas > 1:  # every validation batch must split evenly across replicas: drop < `replicas` samples
            vdata = {k: v[: len(x_valid) // replicas * replicas] for k, v in vdata.items()}
        self.valid_batches = validation_batches(vdata, 512 * replicas)
        self.inputs_key = arrays_digest([x_train, train_mask, x_valid, valid_mask, data["cat"], vdata["cat"]])

    def inputs(self, x: np.ndarray, mask: np.ndarray, obs) -> dict:
        """A model's inputs for samples ``x`` (0 where missing) with ``mask`` and annotations ``obs``."""
        cat, num = self.encoder.encode(obs)
        return {"x": x.astype(np.float32), "mask": mask.astype(np.float32), "cat": cat, "num": num}

    # ---------------------------------------------------------------------------------------------- models
    def build(self, config: ModelConfig, adversarial: bool | None = None) -> keras.Model:
        """A freshly initialised, compiled model of ``config`` (weights drawn from the run's seed);
        ``adversarial=False`` builds GAIN-GTEx's generator alone (GAIN-MSE), as the search screens it."""
        keras.utils.set_random_seed(self.seed)
        with self.strategy.scope():
            return build_model(self.model, self.scenario, config, self.n_genes, self.encoder.vocab_sizes, self.seed,
                               adversarial, self.jit_compile, self.run_eagerly,
                               whole_epochs=self.strategy.num_replicas_in_sync == 1)

    def resume(self, config: ModelConfig, state: dict, adversarial: bool | None = None) -> keras.Model:
        """A model of ``config`` put where a :func:`~.checkpoint.snapshot` left it."""
        model = self.build(config, adversarial)
        ckpt.restore(model, state)
        return model

    def fit_epochs(self, model: keras.Model, config: ModelConfig, done: int, until: int, callbacks, verbose: int = 0):
        """Train from epoch ``done`` to ``until`` on the run's seeded stream of batches, taken up where ``done``
        epochs left it; returns Keras' history."""
        return model.fit(self.batches.stream(config.batch_size, done * config.steps_per_epoch),
                         validation_data=self.valid_batches, epochs=until, initial_epoch=done,
                         steps_per_epoch=config.steps_per_epoch, callbacks=callbacks, verbose=verbose,
                         shuffle=False)  # the stream shuffles itself, seeded

    def key(self, config: ModelConfig) -> str:
        """What a checkpoint of this run and configuration must match (the backend too: its batches and random
        streams differ, so another backend's checkpoint would end on weights that neither backend's run has)."""
        return self.inputs_key + text_digest({"model": self.model, "scenario": self.scenario, "seed": self.seed,
                                              "config": config.__dict__, "backend": backend_name()})

    def train(self, config: ModelConfig, start: dict | None = None, checkpoint: str | os.PathLike | None = None,
              checkpoint_every: int = 5, progress: str | None = None, verbose: int = 0,
              start_model: keras.Model | None = None) -> tuple[keras.Model, Outcome]:
        """Train a model of ``config`` with early stopping on the validation loss, from scratch or from a
        ``start`` snapshot (the search's winner; ``start_model``, where given, is that model itself, standing
        where the snapshot says); the best weights are restored at the end.

        With ``checkpoint`` (a ``.npz`` path) the run is written every ``checkpoint_every`` epochs; a run with the
        same inputs resumes from it and ends with the same weights as an uninterrupted run. The checkpoint is
        removed once training ends. ``progress``: a label for a bar over epochs."""
        state = ckpt.read(checkpoint, self.key(config)) if checkpoint is not None else None
        resumed_from = 0 if state is None else state["epochs"]
        state = state if state is not None else start
        if state is None:
            model = self.build(config)
        else:
            model = start_model if state is start and start_model is not None else self.resume(config, state)
        done = 0 if state is None else state["epochs"]
        history = [] if state is None else [dict(h) for h in state["history"]]
        stop = ckpt.ResumableStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True,
                                      state=None if state is None else state["stop"])
        callbacks = [EpochTimer(), stop]
        if progress and not verbose:
            callbacks.append(EpochProgress(config.max_epochs - done, progress))
        callbacks.append(ckpt.Checkpointer(checkpoint, checkpoint_every, self.key(config), stop, history))
        if done < config.max_epochs and not (state and state["stop"]["wait"] >= config.patience):
            self.fit_epochs(model, config, done, config.max_epochs, callbacks, verbose)
        elif state is not None and state["stop"]["best_weights"] is not None:
            model.set_weights(state["stop"]["best_weights"])  # it had ended: what fit would have ended on
        if checkpoint is not None:
            ckpt.remove(checkpoint)
        best = int(stop.best_epoch) + 1 if stop.best_epoch is not None else len(history)
        return model, Outcome(history, best, resumed_from)


def build_model(model: str, scenario: str, config: ModelConfig, n_genes: int, vocab_sizes, seed: int,
                adversarial: bool | None = None, jit_compile: bool = False, run_eagerly: bool = False,
                whole_epochs: bool = False) -> keras.Model:
    """The compiled Keras model of ``config``: PMI, GAIN-GTEx (``adversarial``, default for ``gain``) or GAIN-MSE.
    ``whole_epochs``: on one device, the compiled step loop runs an epoch's steps in one call (the same steps,
    without returning to Python between them, which was a measurable share of a step on the 59-gene panel:
    benchmarks/README.md, "One epoch in one call"); Keras cannot loop over a distributed iterator so."""
    adversarial = model == "gain" if adversarial is None else adversarial
    common = dict(n_genes=n_genes, vocab_sizes=vocab_sizes, n_numeric=1, hidden_layers=config.hidden_layers,
                  hidden_units=config.hidden_units, dropout=config.dropout, batchnorm=config.batchnorm, seed=seed,
                  precision=config.precision)
    steps = dict(jit_compile=jit_compile, run_eagerly=run_eagerly,
                 steps_per_execution=config.steps_per_epoch if whole_epochs else 1)
    if model == "pmi":
        net = PMI(alpha=config.alpha, beta=config.beta, **common)
        net.compile(optimizer(config), **steps)
        return net
    net = GAIN(adversarial=adversarial, hint_rate=config.hint_rate, lambda_mse=config.lambda_mse,
               draw_masks=scenario == "inductive", keep_low=config.train_keep_low, keep_high=config.train_keep_high,
               reconstruct=config.reconstruct, **common)
    net.compile(optimizer(config), optimizer(config) if adversarial else None, **steps)
    return net


def optimizer(config: ModelConfig) -> keras.optimizers.Optimizer:
    """Adam at the configuration's rate, constant or on a cosine decay to 5 % over the whole schedule."""
    rate = config.learning_rate
    if config.lr_decay == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=config.max_epochs * config.steps_per_epoch,
                                                      alpha=0.05)
    return keras.optimizers.Adam(rate)
