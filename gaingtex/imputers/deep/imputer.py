"""The deep imputers (PMI, GAIN-GTEx, GAIN-MSE) behind the common ``fit`` / ``transform`` contract: a training
run (:mod:`.training`), the validation search (:mod:`.search`) and the network (:mod:`.models`) put together, saved
as one ``.keras`` archive with its :class:`~gaingtex.provenance.Provenance`."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..._io import atomic_path
from ...config import PRESETS, SCENARIOS, ModelConfig, SearchConfig, check_choice, preset_base, sized
from ...data import CovariateEncoder, Split
from ...fingerprint import arrays_digest, text_digest
from ...provenance import Origin, Provenance, library_versions
from ..base import Imputer, check_inputs, keep_observed
from ..conformal import calibrate
from ..mondrian import Calibration
from ..registry import label, names
from ._keras import keras
from .backend import default_jit
from .search import as_store, search
from .training import TrainingRun

# The layout of a saved model: 3 since its origin is a typed provenance record; 2 (an untyped `info` dict) is
# still read; 1 (one Dense layer on the concatenated inputs) is not.
MODEL_FORMAT = 3
CALIBRATION = "gaingtex-calibration.npz"  # the conformal calibration's scores, beside gaingtex.json (optional)


class DeepImputer(Imputer):
    """A PMI, GAIN-GTEx or GAIN-MSE model trained in the inductive or in-place scenario.

    Parameters
    ----------
    model
        ``"pmi"``, ``"gain"`` (GAIN-GTEx) or ``"gain-mse"``: the registry name, which is also ``name``.
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
        XLA-compile the training step; default the backend's (:func:`~gaingtex.imputers.deep.backend.default_jit`).
    progress
        Show a progress bar over epochs (when ``verbose`` is 0).
    run_eagerly
        Run the training step eagerly (for debugging and for tests that inspect it; much slower).
    strategy
        The distribution strategy to build and train under; default the backend's
        (:func:`~gaingtex.imputers.deep.backend.default_strategy`).
    """

    def __init__(self, model: str = "pmi", scenario: str = "inductive", config: ModelConfig | None = None,
                 seed: int = 0, verbose: int = 0, jit_compile: bool | None = None, progress: bool = False,
                 run_eagerly: bool = False, strategy=None, preset: str = "book", search: SearchConfig | None = None):
        super().__init__(seed)
        self.name = check_choice(model, tuple(names(trains=True)), "model")
        self.scenario = check_choice(scenario, SCENARIOS, "scenario")
        self.preset = check_choice(preset, PRESETS, "preset")
        self.config = config  # None until fit: the preset's, sized to the data
        self.search = search
        self.verbose, self.progress, self.run_eagerly, self.strategy = verbose, progress, bool(run_eagerly), strategy
        self.jit_compile = default_jit() if jit_compile is None else jit_compile
        self.model_: keras.Model | None = None
        self.encoder_: CovariateEncoder | None = None
        self.provenance_: Provenance | None = None
        self.history_: pd.DataFrame | None = None
        self.search_: pd.DataFrame | None = None
        self.resumed_from_ = 0
        self.holdout_donors_ = None
        self.calibration_ = None

    @property
    def calibration_(self):
        """The split conformal calibration made at training time (:func:`~..conformal.calibrate`). A loaded model
        builds it from its archive when first asked: a comparison calibrates the model on its own entries, and at
        12,557 genes each loaded model's would have held a gigabyte it never used."""
        if self._calibration is None and self._calibration_npz is not None:
            with np.load(io.BytesIO(self._calibration_npz)) as arrays:
                self._calibration = Calibration.from_arrays(arrays)
            self._calibration_npz = None
        return self._calibration

    @calibration_.setter
    def calibration_(self, value):
        self._calibration, self._calibration_npz = value, None

    # The provenance record's facts, as the contract's other imputers name theirs.
    genes_ = property(lambda self: None if self.provenance_ is None or self.provenance_.genes is None
                      else list(self.provenance_.genes))
    scale_ = property(lambda self: None if self.provenance_ is None else self.provenance_.standardizer())
    best_epoch_ = property(lambda self: None if self.provenance_ is None else self.provenance_.best_epoch)
    fit_seconds_ = property(lambda self: None if self.provenance_ is None else self.provenance_.fit_seconds)

    @property
    def steps_(self) -> int:
        return 0 if self.history_ is None else len(self.history_) * self.config.steps_per_epoch

    # -------------------------------------------------------------------------------------------------- fit
    def fit(self, train: Split, valid: Split | None = None, train_mask: np.ndarray | None = None,
            valid_mask: np.ndarray | None = None, checkpoint: str | os.PathLike | None = None,
            checkpoint_every: int = 5, searches=None, origin: Origin | None = None) -> "DeepImputer":
        """Train with early stopping on the validation imputation error; restores the best weights.

        The data and their masks are as :class:`~.training.TrainingRun` takes them. ``checkpoint`` (a ``.npz``
        path) makes the run resumable (:meth:`~.training.TrainingRun.train`). ``searches`` keeps the validation
        search (a :class:`~.search.SearchStore` or a folder; default: this call's alone), so that fits that share
        it search once and end on the same weights as if each had searched. ``origin`` says what the data were;
        with the rest it becomes ``provenance_``.
        """
        t0 = time.perf_counter()  # the fit's time includes the search's
        run = TrainingRun(self.name, self.scenario, self.seed, train, valid, train_mask, valid_mask,
                          self.strategy, self.jit_compile, self.run_eagerly)
        self.n_genes, self.encoder_, self.holdout_donors_ = run.n_genes, run.encoder, run.holdout_donors
        base, reference = ((self.config, run.n_genes) if self.config is not None else
                           preset_base(self.preset, self.name, self.scenario, run.n_genes))
        choice = None
        if self.search is not None:
            choice = search(run, self.search, base, reference, as_store(searches))
            self.config, self.search_ = choice.config, choice.table
            self.chosen_ = {"search": choice.name, "search_val_loss": choice.val_loss}
        else:
            self.config = sized(base, self.name, run.n_genes, reference)
        bar = f"{label(self.name)} {self.scenario}" if self.progress else None
        self.model_, outcome = run.train(self.config, None if choice is None else choice.start, checkpoint,
                                         checkpoint_every, bar, self.verbose, None if choice is None else choice.model)
        self.resumed_from_ = outcome.resumed_from
        self.history_ = pd.DataFrame(outcome.history).rename_axis("epoch").reset_index()
        self.history_["epoch"] += 1
        scale = run.scale
        self.provenance_ = Provenance(
            method=self.name, scenario=self.scenario, seed=int(self.seed), preset=self.preset,
            config=dict(self.config.__dict__), genes=run.genes,
            scale_mean=None if scale is None else tuple(scale.mean.tolist()),
            scale_std=None if scale is None else tuple(scale.std.tolist()),
            search=None if choice is None else choice.name,
            search_val_loss=None if choice is None else choice.val_loss, epochs=len(outcome.history),
            best_epoch=outcome.best_epoch, fit_seconds=time.perf_counter() - t0,
            versions={**library_versions(), "keras_backend": keras.backend.backend()},
            origin=origin or Origin())
        # intervals and draws for new samples need a calibration on data the weights were not fitted to: the
        # validation split's, on entries drawn apart from those early stopping scored (conformal.calibrate)
        self.calibration_ = (calibrate(self, valid, valid_mask, seed=self.seed)
                             if valid is not None and len(valid) else None)
        return self

    # -------------------------------------------------------------------------------------------- transform
    def transform(self, x: np.ndarray, mask: np.ndarray, obs: pd.DataFrame, batch_size: int = 1024) -> np.ndarray:
        if self.model_ is None:
            raise RuntimeError(f"{label(self.name)} is not fitted: call fit() or DeepImputer.load() first")
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        cat, num = self.encoder_.encode(obs)
        inputs = {"x": x0, "mask": mask, "cat": cat, "num": num}
        if self.name != "pmi":  # GAIN's noise is drawn from the imputer's seed: same seed, same imputation
            inputs["noise"] = np.random.default_rng(self.seed).standard_normal(x0.shape).astype(np.float32)
        out = np.empty_like(x0)
        for start in range(0, len(x0), batch_size):
            part = {k: v[start: start + batch_size] for k, v in inputs.items()}
            out[start: start + batch_size] = keras.ops.convert_to_numpy(self.model_(part, training=False))
        return keep_observed(x0, mask, out)

    def tissue_embedding(self) -> pd.DataFrame:
        """The imputation network's tissue embedding (tissues × dimensions)."""
        self._fitted()
        emb = self.model_.tissue_embedding()
        return pd.DataFrame(emb, index=pd.Index(self.encoder_.categories["tissue"], name="tissue"))

    def training_flops(self) -> float:
        """Dense-layer floating-point operations of one training step (a backward pass counted as 2 forwards).

        PMI and GAIN-MSE: the imputation network forward and backward (3 F_g). GAIN-GTEx adds the discriminator
        step (F_g + 3 F_d) and the generator's pass through the discriminator (3 F_d): 4 F_g + 6 F_d.
        """
        self._fitted()

        def forward(net) -> int:
            return sum(2 * int(w.shape[0]) * int(w.shape[1]) for w in net.trainable_weights if len(w.shape) == 2)

        per_sample = 3 * forward(self.model_.net)
        if self.name == "gain":
            per_sample = 4 * forward(self.model_.net) + 6 * forward(self.model_.disc)
        return float(per_sample * self.config.batch_size)

    def _fitted(self) -> None:
        if self.model_ is None:
            raise RuntimeError(f"{label(self.name)} is not fitted")

    # ------------------------------------------------------------------------------------------- save / load
    def save(self, path: str | os.PathLike) -> Path:
        """Write one ``.keras`` archive (weights, architecture, covariate encoder, provenance); atomic."""
        self._fitted()
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"model files end in .keras, got {path.name}")
        meta = {"format": MODEL_FORMAT, "method": self.name, "scenario": self.scenario, "seed": self.seed,
                "hashes": self.hashes(), "config": self.config.__dict__, "encoder": self.encoder_.to_config(),
                "n_genes": self.n_genes, "provenance": self.provenance_.to_dict(),
                "history": None if self.history_ is None else self.history_.to_dict(orient="list"),
                "search": None if self.search_ is None else self.search_.to_dict(orient="list"),
                "chosen": self.chosen_}
        with atomic_path(path, suffix=".keras") as tmp:
            self.model_.save(tmp)
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr("gaingtex.json", json.dumps(meta))
                if self._calibration_npz is not None:  # loaded and never asked for: saved as it was read
                    archive.writestr(CALIBRATION, self._calibration_npz)
                elif self.calibration_ is not None:
                    buffer = io.BytesIO()
                    np.savez_compressed(buffer, **self.calibration_.to_arrays())
                    archive.writestr(CALIBRATION, buffer.getvalue())
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
                calibration = (archive.read(CALIBRATION) if CALIBRATION in archive.namelist() else None)
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError,
                zlib.error) as err:
            raise ValueError(f"{path} is not a gaingtex model archive, or a damaged one ({err})") from None
        saved_format = meta.get("format", 1)  # models saved before the format was recorded are format 1
        if saved_format not in (2, MODEL_FORMAT):
            raise ValueError(f"{path} holds a model of format {saved_format}, saved by an earlier gaingtex; "
                             f"this version reads formats 2 and {MODEL_FORMAT} (its first layer is split in two): "
                             "retrain it (`gaingtex train`, or `gaingtex book --fresh` for a run folder)")
        method = meta.get("method", meta.get("model"))
        with _record(path):
            self = cls(method, meta["scenario"], ModelConfig(**meta["config"]), seed=meta["seed"],
                       preset=meta.get("provenance", {}).get("preset", "book"))
        try:
            self.model_ = keras.saving.load_model(path, compile=False)
        except Exception as err:  # noqa: BLE001 — a damaged archive fails deep inside Keras, in many ways
            raise ValueError(f"{path}: the model archive is damaged ({type(err).__name__}: "
                             f"{str(err).strip().splitlines()[0][:200] if str(err).strip() else ''})") from None
        with _record(path):
            self.encoder_ = CovariateEncoder.from_config(meta["encoder"])
            self.n_genes = meta["n_genes"]
            self.provenance_ = (Provenance.from_dict(meta["provenance"]) if saved_format == MODEL_FORMAT
                                else _format_2_provenance(meta))
            if meta["history"] is not None:
                self.history_ = pd.DataFrame(meta["history"])
            if meta.get("search") is not None:
                self.search_ = pd.DataFrame(meta["search"])
            self.chosen_ = meta.get("chosen", {})
            if calibration is not None:  # a model saved before calibrations were: none, and no intervals
                with np.load(io.BytesIO(calibration)) as arrays:  # every array read (and checked) now
                    lengths = {len(arrays[k]) for k in ("scores", "gene", "group")}
                if len(lengths) != 1:
                    raise ValueError("its calibration's scores, genes and groups differ in length")
                self._calibration_npz = calibration
        recorded = meta.get("hashes", {}).get("weights")
        if recorded is not None and recorded != self.hashes()["weights"]:
            raise ValueError(f"{path}: its weights do not match the hash recorded when it was saved ({recorded}); "
                             "the file is damaged or was altered")
        return self

    def hashes(self) -> dict[str, str]:
        """Content hashes: ``weights`` (every weight array, in order) and ``inputs`` (the training cohort's
        fingerprint, the genes, the seed, the configuration and the masks). Equal for two runs with the same
        inputs and seed."""
        self._fitted()
        origin = self.provenance_.origin if self.provenance_ is not None else Origin()
        inputs = {"cohort": origin.cohort_fingerprint, "genes": self.genes_, "seed": self.seed, "model": self.name,
                  "scenario": self.scenario, "config": self.config.__dict__, "missing_rate": origin.missing_rate,
                  "mask_seed": origin.mask_seed}
        return {"weights": arrays_digest(keras.ops.convert_to_numpy(w) for w in self.model_.weights),
                "inputs": text_digest(inputs)}


@contextlib.contextmanager
def _record(path):
    """A model record (``gaingtex.json``) that lacks an entry or holds one of the wrong kind: one sentence naming
    the file, not a bare key."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        if isinstance(err, ValueError):
            raise ValueError(f"{path}: the model's record (gaingtex.json) is not valid: {err}") from None
        what = f"no {err.args[0]!r} entry" if isinstance(err, KeyError) and err.args else "a malformed entry"
        raise ValueError(f"{path}: the model's record (gaingtex.json) has {what}; the file is damaged or was not "
                         "written by `gaingtex train`") from None


def _format_2_provenance(meta: dict) -> Provenance:
    """The record of a model saved with an untyped ``info`` dict (format 2)."""
    info, scale, chosen = meta.get("info") or {}, meta.get("scale"), meta.get("chosen") or {}
    ids = info.get("ensembl_ids")
    origin = Origin(cohort=info.get("cohort"), cohort_fingerprint=info.get("cohort_fingerprint"),
                    gene_set=info.get("genes"), ensembl_ids=None if ids is None else tuple(ids),
                    missing_rate=info.get("missing_rate"), mask_seed=info.get("mask_seed"))
    history = meta.get("history") or {}
    return Provenance(method=meta["model"], scenario=meta["scenario"], seed=meta["seed"],
                      preset=info.get("preset", "book"), config=meta["config"],
                      genes=None if meta.get("genes") is None else tuple(meta["genes"]),
                      scale_mean=None if scale is None else tuple(scale["mean"]),
                      scale_std=None if scale is None else tuple(scale["std"]),
                      search=chosen.get("search"), search_val_loss=chosen.get("search_val_loss"),
                      epochs=len(history.get("epoch", [])), best_epoch=meta.get("best_epoch"),
                      fit_seconds=meta.get("fit_seconds"), versions={}, origin=origin)
