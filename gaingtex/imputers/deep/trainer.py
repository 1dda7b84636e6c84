"""Deep imputers (PMI, GAIN-GTEx, GAIN-MSE) behind the common ``fit`` / ``transform`` contract."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..._io import atomic_path
from ...fingerprint import arrays_digest, text_digest
from ...config import GAIN_MODELS, MODELS, PRESETS, SCENARIOS, ModelConfig, SearchConfig, check_choice, preset_base, sized
from ...data import CovariateEncoder, Split, Standardizer
from ...evaluation.masks import sample_mask
from ..base import Imputer, check_inputs, keep_observed, observed_mask
from ..registry import label
from ._keras import keras, tf
from .distribute import accelerator, default_strategy
from . import checkpoint as ckpt
from .models import GAIN, PMI


# The layout of a saved model: 2 since the first Dense layer is split into a data part and a covariate part
# (layers.mlp); 1 before, which this version cannot read.
MODEL_FORMAT = 2
_SCREENED: dict[str, pd.DataFrame] = {}  # searches done in this process, by inputs and settings (shared by GAIN's two)


def search_path(folder: str | os.PathLike, key: str) -> Path:
    """Where a search of inputs and settings ``key`` is kept in ``folder``."""
    return Path(folder) / f"search-{text_digest(key)}.json"


def save_search(folder: str | os.PathLike, key: str, table: pd.DataFrame) -> Path:
    """Keep a search's table (each candidate's ``ModelConfig`` as its fields) in ``folder``, written atomically."""
    path = search_path(folder, key)
    record = {"key": key, "table": table.drop(columns="config").to_dict("records"),
              "configs": [c.__dict__ for c in table["config"]]}
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    return path


def load_search(folder: str | os.PathLike, key: str) -> pd.DataFrame | None:
    """The table :func:`save_search` kept for ``key`` in ``folder``, or ``None`` when there is none."""
    path = search_path(folder, key)
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record.get("key") != key:  # another search under the same short name: do it again
        return None
    table = pd.DataFrame(record["table"])
    table["config"] = [ModelConfig(**c) for c in record["configs"]]
    return table


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


class DeepImputer(Imputer):
    """A PMI, GAIN-GTEx or GAIN-MSE model trained in the inductive or in-place scenario.

    Parameters
    ----------
    model
        ``"pmi"``, ``"gain"`` (GAIN-GTEx) or ``"gain-mse"``.
    scenario
        ``"inductive"`` (train on complete data, impute new samples) or ``"inplace"`` (train on the observed
        entries of an incomplete matrix and impute its missing ones).
    config
        Architecture and schedule, used as given; default ``preset``'s for this model and scenario, its widths
        scaled to the training data's gene count (:func:`~gaingtex.config.model_config`).
    preset
        The preset whose configuration is used when ``config`` is not given.
    search
        Choose the learning rate, width and dropout on the validation split before training
        (:class:`~gaingtex.config.SearchConfig`); ``None`` trains the configuration as it is.
    seed
        Seeds weights, batch order, training masks and the noise used at imputation.
    verbose
        Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.
    jit_compile
        XLA-compile the training step; default only on a GPU (on a 2-core CPU it made PMI's step 2.4× slower).
    progress
        Show a progress bar over epochs (when ``verbose`` is 0).
    run_eagerly
        Run the training step eagerly (for debugging and for tests that inspect it; much slower).
    strategy
        The ``tf.distribute`` strategy to build and train under; default
        :func:`~gaingtex.imputers.deep.distribute.default_strategy` (mirrored over two or more GPUs).
    """

    def __init__(self, model: str = "pmi", scenario: str = "inductive", config: ModelConfig | None = None,
                 seed: int = 0, verbose: int = 0, jit_compile: bool | None = None, progress: bool = False,
                 run_eagerly: bool = False, strategy=None, preset: str = "book", search: SearchConfig | None = None):
        super().__init__(seed)
        self.model_name = check_choice(model, MODELS, "model")
        self.scenario = check_choice(scenario, SCENARIOS, "scenario")
        self.preset = check_choice(preset, PRESETS, "preset")
        self.config = config  # None until fit: the preset's, sized to the data
        self.search = search
        self.search_: pd.DataFrame | None = None
        self.chosen_: dict = {}
        self.verbose = verbose
        self.progress = progress
        self.jit_compile = accelerator() == "GPU" if jit_compile is None else jit_compile
        self.info: dict = {}
        self.name = label(model)
        self.strategy = strategy
        self.run_eagerly = bool(run_eagerly)
        self.model_: keras.Model | None = None
        self.encoder_: CovariateEncoder | None = None
        self.history_: pd.DataFrame | None = None
        self.fit_seconds_: float | None = None

    # ----------------------------------------------------------------------------------------------- building
    def _build(self, n_genes: int, config: ModelConfig | None = None, adversarial: bool | None = None) -> keras.Model:
        """The Keras model of ``config`` (default the imputer's), compiled; ``adversarial=False`` builds GAIN-GTEx's
        generator alone (GAIN-MSE), as its search screens it."""
        c = config or self.config
        adversarial = self.model_name == "gain" if adversarial is None else adversarial
        common = dict(n_genes=n_genes, vocab_sizes=self.encoder_.vocab_sizes, n_numeric=1,
                      hidden_layers=c.hidden_layers, hidden_units=c.hidden_units, dropout=c.dropout,
                      batchnorm=c.batchnorm, seed=self.seed)
        if self.model_name == "pmi":
            model = PMI(alpha=c.alpha, beta=c.beta, **common)
            model.compile(self._optimizer(c), jit_compile=self.jit_compile, run_eagerly=self.run_eagerly)
        else:
            model = GAIN(adversarial=adversarial, hint_rate=c.hint_rate, lambda_mse=c.lambda_mse,
                         draw_masks=self.scenario == "inductive", keep_low=c.train_keep_low,
                         keep_high=c.train_keep_high, reconstruct=c.reconstruct, **common)
            d_opt = self._optimizer(c) if adversarial else None
            model.compile(self._optimizer(c), d_opt, jit_compile=self.jit_compile, run_eagerly=self.run_eagerly)
        return model

    @staticmethod
    def _optimizer(c: ModelConfig) -> keras.optimizers.Optimizer:
        rate = c.learning_rate
        if c.lr_decay == "cosine":
            rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=c.max_epochs * c.steps_per_epoch,
                                                          alpha=0.05)
        return keras.optimizers.Adam(rate)

    def _inputs(self, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame) -> dict:
        cat, num = self.encoder_.encode(obs)
        return {"x": x.astype(np.float32), "mask": mask.astype(np.float32), "cat": cat, "num": num}

    # -------------------------------------------------------------------------------------------------- fit
    def fit(self, train: Split, valid: Split | None = None, train_mask: np.ndarray | None = None,
            valid_mask: np.ndarray | None = None, checkpoint: str | os.PathLike | None = None,
            checkpoint_every: int = 5, searches: str | os.PathLike | None = None) -> "DeepImputer":
        """Train with early stopping on the validation imputation error; restores the best weights.

        In the inductive scenario ``train`` and ``valid`` are complete. In the in-place scenario ``train_mask``
        and ``valid_mask`` (default: the non-NaN entries) mark the observed entries; the missing ones are never
        read. Without ``valid``, a tenth of the training donors is held out. Under a strategy with several
        replicas, the global batch is ``batch_size`` (split across replicas) and the validation set is cut to a
        multiple of the replica count.

        With ``checkpoint`` (a ``.npz`` path), the run is checkpointed atomically every ``checkpoint_every``
        epochs; a later ``fit`` with the same inputs resumes from it and ends with the same weights as an
        uninterrupted run (:mod:`gaingtex.imputers.deep.checkpoint`). The checkpoint is removed once training ends.

        With ``searches`` (a folder), the validation search's table is kept there and a later fit on the same
        inputs with the same settings, in any process, reads it instead of searching again: GAIN-GTEx and GAIN-MSE
        screen the same generator, so the second of them to train takes the first's choice.
        """
        keras.utils.set_random_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        n_genes = train.x.shape[1]
        train_mask = observed_mask(train.x, train_mask, "train_mask")
        if self.scenario == "inductive" and train_mask.min() < 1:
            raise ValueError("inductive training uses complete data, but the training split has missing entries; "
                             "train in place instead")
        x_train, train_mask = check_inputs(train.x, train_mask, train.obs)
        if valid is None:  # hold out a tenth of the training donors (never samples: a donor stays on one side)
            donors = train.obs["donor_id"].astype(str).to_numpy()
            unique = np.unique(donors)
            self.holdout_donors_ = rng.choice(unique, size=max(1, len(unique) // 10), replace=False)
            hold = np.isin(donors, self.holdout_donors_)
            valid, valid_mask = train.take(np.flatnonzero(hold)), train_mask[hold]
            x_train, train_mask, train = x_train[~hold], train_mask[~hold], train.take(np.flatnonzero(~hold))
        else:
            valid_mask = observed_mask(valid.x, valid_mask, "valid_mask")
        x_valid, valid_mask = check_inputs(valid.x, valid_mask, valid.obs)
        self.n_genes = n_genes
        self.encoder_ = CovariateEncoder.fit(train.obs)  # training statistics only
        self.genes_ = None if train.genes is None else list(train.genes)
        self.scale_ = train.scale  # the standardisation its inputs were in: how to apply it to new samples
        strategy = self.strategy or default_strategy()
        data = self._inputs(x_train, train_mask, train.obs)
        n = len(x_train)
        tensors = {k: tf.constant(v) for k, v in data.items()}

        def batches(batch_size: int):  # a fresh seeded stream: every fit call sees the same batches
            index = tf.data.Dataset.range(n).shuffle(n, seed=self.seed, reshuffle_each_iteration=True).repeat()
            return (index.batch(min(batch_size, n), drop_remainder=True)
                    .map(lambda i: {k: tf.gather(v, i) for k, v in tensors.items()}).prefetch(2))

        vdata = self._inputs(x_valid, valid_mask, valid.obs)
        vdata["eval_mask"] = sample_mask(len(x_valid), n_genes, 0.5, 0.5, rng)
        vdata["noise"] = rng.standard_normal(x_valid.shape).astype(np.float32)
        replicas = strategy.num_replicas_in_sync
        if replicas > 1:  # every validation batch must split evenly across replicas: drop < `replicas` samples
            vdata = {k: v[: len(x_valid) // replicas * replicas] for k, v in vdata.items()}
        valid_ds = tf.data.Dataset.from_tensor_slices(vdata).batch(512 * replicas)
        inputs_key = arrays_digest([x_train, train_mask, x_valid, valid_mask, data["cat"], vdata["cat"]])
        base, reference = ((self.config, n_genes) if self.config is not None else
                           preset_base(self.preset, self.model_name, self.scenario, n_genes))
        start, t0 = None, time.perf_counter()  # the fit's time includes the search's
        if self.search is not None:
            self.config, start = self._screen(base, reference, inputs_key, strategy, batches, valid_ds, searches)
        else:
            self.config = sized(base, self.model_name, n_genes, reference)
        c = self.config
        if start is None:
            keras.utils.set_random_seed(self.seed)
            with strategy.scope():
                self.model_ = self._build(n_genes)
        else:  # the search's winner goes on from where it stands
            self.model_ = start["model"]
        key = inputs_key + text_digest(
            {"model": self.model_name, "scenario": self.scenario, "seed": self.seed, "config": c.__dict__})
        resumed = ckpt.load(checkpoint, key) if checkpoint is not None else None
        self.resumed_from_ = 0 if resumed is None else resumed["epochs"]
        if resumed is not None:
            ckpt.restore(self.model_, resumed)
        elif start is not None:
            resumed = {"epochs": start["epochs"], "history": start["history"], "stop": start["stop"]}
        done = 0 if resumed is None else resumed["epochs"]
        train_ds = batches(c.batch_size).skip(done * c.steps_per_epoch)  # the seeded stream, where the run stands
        history = [] if resumed is None else resumed["history"]
        stop = ckpt.ResumableStopping(monitor="val_loss", patience=c.patience, restore_best_weights=True,
                                      state=None if resumed is None else resumed["stop"])
        callbacks = [EpochTimer(), stop] + ([EpochProgress(c.max_epochs - done, f"{self.name} {self.scenario}")]
                              if self.progress and not self.verbose else [])
        callbacks.append(ckpt.Checkpointer(checkpoint, checkpoint_every, key, stop, history))  # keeps the history
        if done < c.max_epochs and not (resumed and resumed["stop"]["wait"] >= c.patience):
            self.model_.fit(train_ds, validation_data=valid_ds, epochs=c.max_epochs, initial_epoch=done,
                            steps_per_epoch=c.steps_per_epoch, callbacks=callbacks, verbose=self.verbose,
                            shuffle=False)  # the dataset shuffles itself, seeded
        elif resumed is not None and resumed["stop"]["best_weights"] is not None:
            # killed after its last epoch: what fit would have ended on
            self.model_.set_weights(resumed["stop"]["best_weights"])
        if checkpoint is not None:
            ckpt.remove(checkpoint)
        self.fit_seconds_ = time.perf_counter() - t0
        self.history_ = pd.DataFrame(history).rename_axis("epoch").reset_index()
        self.history_["epoch"] += 1
        self.best_epoch_ = int(stop.best_epoch) + 1 if stop.best_epoch is not None else len(self.history_)
        self.steps_ = len(self.history_) * c.steps_per_epoch
        return self

    def _screen(self, base: ModelConfig, reference: int, inputs_key: str, strategy, batches,
                valid_ds, searches=None) -> tuple[ModelConfig, dict | None]:
        """The search (:class:`~gaingtex.config.SearchConfig`): returns the chosen configuration and, where this
        call trained it, where it stands (``model``, ``epochs``, ``history``, ``stop``) to go on from. The table of
        candidates is ``search_``. ``base`` is tuned for ``reference`` genes. A search done in this process, or
        kept in the folder ``searches``, is not done again."""
        search = self.search
        family = "gain" if self.model_name in GAIN_MODELS else self.model_name
        key = inputs_key + text_digest({"family": family, "scenario": self.scenario, "seed": self.seed,
                                        "base": base.__dict__, "reference": reference, "search": search.__dict__})
        start = None
        if key not in _SCREENED and searches is not None:
            kept = load_search(searches, key)
            if kept is not None:
                _SCREENED[key] = kept
        if key not in _SCREENED:
            candidates = search.candidates(base, self.model_name, self.n_genes, reference)
            runs = [self._rung(name, config, strategy, batches, valid_ds, None, search.rung_epochs)
                    for name, config in candidates]
            order = np.argsort([r["val_loss"] for r in runs], kind="stable")
            for i in order[: search.survivors]:
                runs[i] = self._rung(runs[i]["candidate"], candidates[i][1], strategy, batches, valid_ds, runs[i],
                                     search.second_rung_epochs)
            best = min(order[: search.survivors], key=lambda i: runs[i]["val_loss"])
            table = pd.DataFrame([{k: v for k, v in r.items() if k not in ("model", "history", "stop")}
                                  for r in runs])
            table["chosen"] = np.arange(len(table)) == best
            table["config"] = [c for _, c in candidates]
            _SCREENED[key] = table
            if searches is not None:
                save_search(searches, key, table)
            if self.model_name != "gain":  # screened as itself (GAIN-GTEx without its discriminator is not)
                start = runs[best]
        table = _SCREENED[key]
        self.search_ = table.drop(columns="config")
        chosen = table.loc[table["chosen"]].iloc[0]
        self.chosen_ = {"search": chosen["candidate"], "search_val_loss": float(chosen["val_loss"])}
        return chosen["config"], start

    def _rung(self, name: str, config: ModelConfig, strategy, batches, valid_ds, run: dict | None,
              epochs: int) -> dict:
        """Train one candidate of the search for ``epochs`` more epochs (from scratch when ``run`` is None), on the
        same seeded stream of batches as a run without a search."""
        t0 = time.perf_counter()
        if run is None:
            keras.utils.set_random_seed(self.seed)
            with strategy.scope():
                model = self._build(self.n_genes, config, adversarial=False)
            run = {"candidate": name, "hidden": f"{config.hidden_layers}x{config.hidden_units}",
                   "learning_rate": config.learning_rate, "dropout": config.dropout,
                   **({"objective": config.reconstruct} if self.model_name != "pmi" else {}),
                   "epochs": 0, "seconds": 0.0, "model": model, "history": [], "stop": None}
        stop = ckpt.ResumableStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True,
                                      state=run["stop"], restore_at_end=False)
        done = run["epochs"]
        fitted = run["model"].fit(batches(config.batch_size).skip(done * config.steps_per_epoch),
                                  validation_data=valid_ds, epochs=done + epochs, initial_epoch=done,
                                  steps_per_epoch=config.steps_per_epoch, callbacks=[stop], verbose=0, shuffle=False)
        logs = fitted.history
        run["history"] += [{k: float(v[i]) for k, v in logs.items()} for i in range(len(logs["val_loss"]))]
        last = run["history"][-1]["val_loss"]
        run.update(epochs=done + epochs, stop=stop.state(), seconds=run["seconds"] + time.perf_counter() - t0,
                   val_loss=last if np.isfinite(last) else np.inf,
                   rising=len(run["history"]) > 1 and last > run["history"][0]["val_loss"])
        return run

    # -------------------------------------------------------------------------------------------- transform
    def transform(self, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame, batch_size: int = 1024) -> np.ndarray:
        if self.model_ is None:
            raise RuntimeError(f"{self.name} is not fitted: call fit() or DeepImputer.load() first")
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        inputs = self._inputs(x0, mask, obs)
        if self.model_name != "pmi":  # GAIN's noise is drawn from the imputer's seed: same seed, same imputation
            inputs["noise"] = np.random.default_rng(self.seed).standard_normal(x0.shape).astype(np.float32)
        out = np.empty_like(x0)
        for start in range(0, len(x0), batch_size):
            part = {k: v[start: start + batch_size] for k, v in inputs.items()}
            out[start: start + batch_size] = keras.ops.convert_to_numpy(self.model_(part, training=False))
        return keep_observed(x0, mask, out)

    def tissue_embedding(self) -> pd.DataFrame:
        """The imputation network's tissue embedding (tissues × dimensions)."""
        if self.model_ is None:
            raise RuntimeError(f"{self.name} is not fitted")
        emb = self.model_.tissue_embedding()
        return pd.DataFrame(emb, index=pd.Index(self.encoder_.categories["tissue"], name="tissue"))

    def training_flops(self) -> float:
        """Dense-layer floating-point operations of one training step (a backward pass counted as 2 forwards).

        PMI and GAIN-MSE: the imputation network forward and backward (3 F_g). GAIN-GTEx adds the discriminator
        step (F_g + 3 F_d) and the generator's pass through the discriminator (3 F_d): 4 F_g + 6 F_d.
        """
        if self.model_ is None:
            raise RuntimeError(f"{self.name} is not fitted")

        def forward(net) -> int:
            return sum(2 * int(w.shape[0]) * int(w.shape[1]) for w in net.trainable_weights if len(w.shape) == 2)

        per_sample = 3 * forward(self.model_.net)
        if self.model_name == "gain":
            per_sample = 4 * forward(self.model_.net) + 6 * forward(self.model_.disc)
        return float(per_sample * self.config.batch_size)

    # ------------------------------------------------------------------------------------------- save / load
    def save(self, path: str | os.PathLike) -> Path:
        """Write one ``.keras`` archive (weights, architecture, covariate encoder, config); atomic."""
        if self.model_ is None:
            raise RuntimeError(f"{self.name} is not fitted; nothing to save")
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"model files end in .keras, got {path.name}")
        meta = {"format": MODEL_FORMAT, "model": self.model_name, "scenario": self.scenario, "seed": self.seed,
                "hashes": self.hashes(), "config": self.config.__dict__, "encoder": self.encoder_.to_config(),
                "n_genes": self.n_genes, "genes": getattr(self, "genes_", None),
                "scale": None if getattr(self, "scale_", None) is None else
                {"mean": self.scale_.mean.tolist(), "std": self.scale_.std.tolist()},
                "fit_seconds": self.fit_seconds_, "best_epoch": getattr(self, "best_epoch_", None),
                "history": None if self.history_ is None else self.history_.to_dict(orient="list"),
                "search": None if self.search_ is None else self.search_.to_dict(orient="list"),
                "chosen": self.chosen_, "info": self.info}
        with atomic_path(path, suffix=".keras") as tmp:
            self.model_.save(tmp)
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr("gaingtex.json", json.dumps(meta))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DeepImputer":
        """Read a model written by :meth:`save`; its imputations are identical to the saved model's."""
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"{path} is a folder; --model takes a .keras file written by `gaingtex train`")
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} does not exist")
        try:
            with zipfile.ZipFile(path) as archive:
                meta = json.loads(archive.read("gaingtex.json"))
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not a gaingtex model archive ({err})") from None
        saved_format = meta.get("format", 1)  # models saved before the format was recorded are format 1
        if saved_format != MODEL_FORMAT:
            raise ValueError(f"{path} holds a model of format {saved_format}, saved by an earlier gaingtex; "
                             f"this version reads format {MODEL_FORMAT} (its first layer is split in two): retrain "
                             "it (`gaingtex train`, or `gaingtex book --fresh` for a run folder)")
        self = cls(meta["model"], meta["scenario"], ModelConfig(**meta["config"]), seed=meta["seed"])
        try:
            self.model_ = keras.saving.load_model(path, compile=False)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: the model archive is damaged ({type(err).__name__}: "
                             f"{str(err).strip().splitlines()[0][:200] if str(err).strip() else ''})") from None
        self.encoder_ = CovariateEncoder.from_config(meta["encoder"])
        self.n_genes = meta["n_genes"]
        self.genes_ = meta.get("genes")
        scale = meta.get("scale")
        self.scale_ = None if scale is None else Standardizer(np.asarray(scale["mean"], dtype=np.float32),
                                                              np.asarray(scale["std"], dtype=np.float32))
        self.fit_seconds_ = meta["fit_seconds"]
        self.best_epoch_ = meta["best_epoch"]
        self.info = meta.get("info", {})
        if meta["history"] is not None:
            self.history_ = pd.DataFrame(meta["history"])
        if meta.get("search") is not None:
            self.search_ = pd.DataFrame(meta["search"])
        self.chosen_ = meta.get("chosen", {})
        recorded = meta.get("hashes", {}).get("weights")
        if recorded is not None and recorded != self.hashes()["weights"]:
            raise ValueError(f"{path}: its weights do not match the hash recorded when it was saved ({recorded}); "
                             "the file is damaged or was altered")
        return self

    def hashes(self) -> dict[str, str]:
        """Content hashes: ``weights`` (every weight array, in order) and ``inputs`` (the training cohort's
        fingerprint, the genes, the seed and the configuration). Equal for two runs with the same inputs and
        seed."""
        if self.model_ is None:
            raise RuntimeError(f"{self.name} is not fitted")
        inputs = {"cohort": self.info.get("cohort_fingerprint"), "genes": getattr(self, "genes_", None),
                  "seed": self.seed, "model": self.model_name, "scenario": self.scenario,
                  "config": self.config.__dict__, "missing_rate": self.info.get("missing_rate"),
                  "mask_seed": self.info.get("mask_seed")}
        return {"weights": arrays_digest(keras.ops.convert_to_numpy(w) for w in self.model_.weights),
                "inputs": text_digest(inputs)}
