"""``auto``: the best imputation for the data at hand — registered methods fitted on the training split, blended
per gene (and per tissue group) with weights chosen on pseudo-masked entries of the validation donors.

Which method leads depends on the cohort: factor analysis inductively on the embedded 2,000-gene cohort, the
pooled Gaussian and SoftImpute in place (benchmarks/results/book-comparison.json), the per-tissue Gaussian on
small real panels. ``auto`` fits them all (each within the time budget), has each impute entries hidden from it
(stream ``"blend"``, not the members' own validation choice), and chooses between the best member and several
blends, per gene and tissue group (:mod:`._blend`), by cross-fitting over two donor halves. Nothing it chooses
looks at the entries a comparison scores.

- Inductive: the entries are half of the validation donors' values, imputed from the other half (the task: new
  donors, half shown). A comparison's fitted members are reused.
- In place: 10 % of the observed *training* entries (:data:`HOLDOUT`), hidden from the members' fit, imputed as
  the members complete the training matrix — the task itself. On validation rows SoftImpute would be judged on
  another task (it completes new rows alone, without the training matrix), and was: auto trailed it by 0.02 R²
  on the smoke cohort. The members are refitted without those entries, so a comparison's cannot be reused.

Members: every registered method of the scenario that needs neither the embedded cohort's generating model (the
oracle) nor the imputed donors' blood (the blood surrogate), and does not train by gradient descent, except
kNN, and MissForest in place (:data:`NOT_BY_DEFAULT`), and in place on many genes the per-tissue Gaussian and MICE
(:data:`NOT_IN_PLACE_BEYOND_EM`). The deep models are members only when named (``members=``) or
already fitted in the same inductive comparison (``fitted=``; in place they would be trained again): on CPU they
cost minutes to hours to train, even on the 2,000-gene cohort, and were behind the best linear-Gaussian member
in every measured cell (book-comparison.json, teach-comparison.json).

It is not saveable: its members (the baselines) are not.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ..data.masks import stream
from . import _blend
from .base import BudgetExceeded, Imputer, check_inputs, keep_observed, observed_mask
from .gaussian import EM_MAX_GENES
from .registry import get, names, register, spec

# The order members are fitted and listed in: the measured leaders first (factor analysis, the pooled Gaussian,
# SoftImpute, the per-tissue Gaussian), then the rest by their fit time on the `teach` cohort
# (teach-comparison.json), MissForest, the slowest by far, last. A method not listed comes after these.
ORDER = ("mean", "gaussian-pooled", "factor-analysis", "softimpute", "gaussian", "sample-lasso", "knn", "median",
         "mice", "missforest")
VALID_ROWS = 1500  # validation rows the blend is chosen on (evenly spaced, every tissue kept): ≥ 300 entries a gene
MIN_HIDE = 0.1  # the least share of a row's observed entries hidden at once (as conformal calibration does)
MAX_FOLDS = 5  # at most this many transforms per member: at 10 % hidden, half of the observed entries scored
HOLDOUT = 0.1  # in place: the share of observed training entries hidden from the members to choose the blend on
SHOWN = 0.5  # the share of entries an inductive imputation is shown (the scenarios' missing rate of 0.5)


# Not a member unless named: kNN. On the `book` cohort it scored far below the leading members and drew almost no
# weight in any cell, while its imputation was the slowest of any member's: in place, where auto imputes the
# training matrix to choose its blend, it was most of the blend's time and made auto's fit much slower than its
# members'. In place, not MissForest: grown on both cores it finishes within the budget on the panel, but auto's
# refit of it was most of auto's fit for almost no weight, and auto scored as well without it in a fraction of the
# time. On all genes it runs past the budget. The numbers: benchmarks/README.md, "`auto`".
NOT_BY_DEFAULT = {"inductive": ("knn",), "inplace": ("knn", "missforest")}
# In place on more genes than the per-tissue Gaussian refines by EM (EM_MAX_GENES; the book cohort's 2,000), not
# the per-tissue Gaussian either: there it is the pairwise-observed covariance kept to rank 100, which scored far
# below the pooled Gaussian and drew almost no weight, for a large share of auto's refitting; without it auto
# scored as well. On the panel, where EM fits its full covariance, it draws a real share of the weight and stays.
# Nor MICE: auto refits every member in place without its held-out entries, and MICE's refit on the book cohort's
# 2,000 genes took nearly half of auto's fit for no weight. On a panel its refit takes seconds and it stays: it
# drew a real share of the weight and raised auto on the `teach` and `paper` panels, and moved it little either way
# on `book`'s. Its weight is chosen on held-out training entries, never on the scored ones. The numbers:
# benchmarks/README.md, "`auto`".
NOT_IN_PLACE_BEYOND_EM = ("gaussian", "mice")


def default_members(scenario: str, n_genes: int | None = None, em_max_genes: int = EM_MAX_GENES) -> list[str]:
    """The methods ``auto`` fits itself in ``scenario`` (on ``n_genes`` genes, when known), in :data:`ORDER`."""
    left_out = NOT_BY_DEFAULT.get(scenario, ())
    if scenario == "inplace" and n_genes is not None and n_genes > em_max_genes:
        left_out += NOT_IN_PLACE_BEYOND_EM
    found = [n for n in names(scenario) if n != "auto" and not spec(n).trains and not spec(n).needs_generator
             and not spec(n).needs_blood and n not in left_out]
    return sorted(found, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


def member_names(members) -> list[str]:
    """``members`` as a list of registry names (a comma-separated string is accepted: it is how a comparison's
    row records the choice)."""
    if isinstance(members, str):
        members = [m.strip() for m in members.split(",") if m.strip()]
    return [spec(m).name for m in members]


def pooled_scope(obs, min_samples: int = 10) -> bool:
    """Whether R² is pooled over tissues rather than averaged over them: most tissues have fewer than
    ``min_samples`` samples (the comparison's rule, :func:`gaingtex.evaluation.scenarios.scoring_scope`), and the
    blend's loss follows the score."""
    counts = obs["tissue"].astype(str).value_counts()
    return bool((counts >= min_samples).mean() < 0.5)


def groups_of(obs) -> np.ndarray:
    from .mondrian import tissue_groups  # the Mondrian groups of the intervals: GTEx's organ systems

    return tissue_groups(obs)


@register("auto", "auto (blend)", stochastic=True, colour="#e31a1c", chooses=("members",), blend=True)
class AutoImputer(Imputer):
    """Fit the members, choose the blend on validation, impute with it.

    Parameters
    ----------
    members
        Registry names (list, or comma-separated); ``None``: :func:`default_members`, or, with ``fitted``, those
        of them (and any deep model) found fitted there.
    fitted
        ``{name: (fitted imputer, fit seconds)}`` of methods fitted on the same training data (a comparison's run):
        reused, not fitted again; their fit time counts in ``auto``'s.
    budget
        Seconds each member it fits may take (as in the comparison, where every method has the same budget): a
        member past it is dropped, and said so. ``None``: no limit. Its own fit time is the sum of its members'.
    member_params
        ``{name: {setting: value}}`` passed to a member's constructor.
    shown
        Inductive: the share of entries the imputations will be shown (default 0.5); the validation entries are
        hidden so as to leave about that share.
    """

    name = "auto"

    def __init__(self, scenario: str = "inductive", preset: str = "book", seed: int = 0, budget: float | None = None,
                 progress: bool = False, members: Sequence[str] | str | None = None, fitted: dict | None = None,
                 member_params: dict | None = None, shown: float | None = None, max_rows: int | None = VALID_ROWS):
        super().__init__(seed)
        self.scenario, self.preset, self.budget, self.progress = scenario, preset, budget, progress
        self.members = None if members is None else member_names(members)
        self.fitted, self.member_params = dict(fitted or {}), dict(member_params or {})
        self.shown, self.max_rows = shown, max_rows

    # ------------------------------------------------------------------------------------------------ members
    @staticmethod
    def takes(name: str, scenario: str) -> bool:
        """Whether ``auto`` reuses ``name`` when a comparison has fitted it (``fitted=``): a default member, or
        inductive a deep model (in place every member is refitted without the held-out entries, and a deep model
        would train again). A comparison keeps the others' fits no longer than their own rows."""
        return name in default_members(scenario) or (scenario == "inductive" and name in names(scenario, trains=True))

    def _candidates(self) -> list[str]:
        if self.members is not None:
            return list(self.members)
        em = self.member_params.get("gaussian", {}).get("em_max_genes", EM_MAX_GENES)
        base = default_members(self.scenario, self.n_genes, em)
        if self.fitted:  # a comparison's run: the members it fitted, nothing more
            deep = [n for n in self.fitted if spec(n).trains and self.takes(n, self.scenario)]
            return [n for n in base if n in self.fitted] + deep
        return base

    def _fit_members(self, fit_args: dict, reuse: bool = True) -> None:
        self.members_, self.member_seconds_, self.dropped_ = {}, {}, {}
        for name in self._candidates():
            if reuse and name in self.fitted:
                imputer, seconds = self.fitted[name]
                self.members_[name], self.member_seconds_[name] = imputer, float(seconds)
                continue
            t0 = time.perf_counter()
            try:
                imputer = get(name, scenario=self.scenario, preset=self.preset, seed=self.seed, budget=self.budget,
                              progress=self.progress, **self.member_params.get(name, {}))
                self.members_[name] = imputer.fit(**fit_args)
                self.member_seconds_[name] = float(getattr(imputer, "fit_seconds_", time.perf_counter() - t0))
            except BudgetExceeded as stop:
                self.dropped_[name] = f"past the budget ({stop.progress})"
            except ValueError as error:  # a method that cannot fit this cohort (too few samples): not a member
                self.dropped_[name] = f"failed: {error}"
        if not self.members_:
            raise ValueError(f"auto fitted no member ({'; '.join(f'{k}: {v}' for k, v in self.dropped_.items())})")

    # ------------------------------------------------------------------------------------------- validation
    def _validation(self, valid, valid_mask, shown: float):
        """The validation rows, their observed mask, and each entry's fold (``-1``: not hidden)."""
        mask = observed_mask(valid.x, valid_mask, "valid_mask")
        rows = np.arange(len(valid.x))
        if self.max_rows is not None and len(rows) > self.max_rows:
            rows = np.unique(np.linspace(0, len(rows) - 1, self.max_rows).round().astype(int))
        x, mask, obs = valid.x[rows], mask[rows], valid.obs.iloc[rows]
        seen = float(mask.mean())
        hide = 0.5 if seen == 0 else float(np.clip(1.0 - shown / seen, MIN_HIDE, 0.5))
        folds = min(int(np.ceil(0.5 / hide - 1e-9)), MAX_FOLDS)
        fold = np.floor(stream(self.seed, "blend").random(x.shape) / hide).astype(np.int64)
        fold = np.where((mask > 0) & (fold < folds), fold, -1)
        return x, mask, obs, fold, folds

    def _halves(self, obs) -> np.ndarray:
        """Each validation row's half (0 or 1), donor-grouped: a donor's samples share their errors."""
        donors = obs["donor_id"].astype(str).to_numpy() if "donor_id" in obs else np.arange(len(obs)).astype(str)
        unique, index = np.unique(donors, return_inverse=True)
        order = stream(self.seed, "blend", 1).permutation(len(unique))
        return (order[index] % 2).astype(np.int64)

    def _predictions(self, order: list[str], shape: tuple, jobs) -> np.ndarray:
        """``(members, *shape)``: each member's imputation of the entries each job hides (``(targets, impute)``
        pairs). A member that runs past its budget here (a busy machine) is dropped and said so, as one that
        ran past it while fitting: the blend is chosen among the others."""
        pred = np.zeros((len(order), *shape), dtype=np.float32)
        for m, name in enumerate(order):
            try:
                for targets, impute in jobs:
                    pred[m][targets] = impute(self.members_[name])[targets]
            except BudgetExceeded as stop:
                self.dropped_[name] = f"past the budget imputing ({stop.progress})"
        kept = [m for m, name in enumerate(order) if name not in self.dropped_]
        if not kept:
            raise ValueError(f"auto kept no member ({'; '.join(f'{k}: {v}' for k, v in self.dropped_.items())})")
        for name in order:  # its fit time still counts in auto's: it was spent
            if name in self.dropped_:
                self.members_.pop(name, None)
        return pred[kept]

    def _holdout(self, train, train_mask):
        """In place: the training entries hidden from every member (stream ``"blend"``), at most
        :data:`HOLDOUT_ROWS` rows evenly spaced, and the training data the members are fitted on without them."""
        mask = observed_mask(train.x, train_mask, "train_mask")
        rows = np.arange(len(train.x))
        if self.max_rows is not None and len(rows) > 2 * self.max_rows:
            rows = np.unique(np.linspace(0, len(rows) - 1, 2 * self.max_rows).round().astype(int))
        hidden = np.zeros(mask.shape, dtype=bool)
        hidden[rows] = (stream(self.seed, "blend").random((len(rows), mask.shape[1])) < HOLDOUT) & (mask[rows] > 0)
        kept = (mask * ~hidden).astype(np.float32)
        return rows, hidden, kept, train.with_values(np.where(kept > 0, train.x, np.nan))

    def fit(self, train, valid=None, train_mask=None, valid_mask=None):
        super().fit(train)
        if valid is None or len(valid) == 0:
            raise ValueError("auto needs held-out validation donors (its members choose their settings, and it "
                             "cross-fits its blend, on them), and there are none: pass valid (a donor-grouped split; "
                             "`gaingtex impute` needs at least 3 donors)")
        inplace = self.scenario == "inplace"
        if inplace:  # members fitted without the held-out training entries, so they cannot be reused
            rows, hidden, kept, fit_on = self._holdout(train, train_mask)
            self._fit_members(dict(train=fit_on, valid=valid, train_mask=kept, valid_mask=valid_mask), reuse=False)
        else:
            self._fit_members(dict(train=train, valid=valid, train_mask=train_mask, valid_mask=valid_mask))
        t0 = time.perf_counter()
        if inplace:
            # the task itself: each member completes the training matrix it was fitted on, and is scored on the
            # entries it was not shown (SoftImpute, scored on new rows, would be judged on another task)
            x, obs, mask = train.x[rows], train.obs.iloc[rows], observed_mask(train.x, train_mask)[rows]
            targets = hidden[rows]
            shown_x = np.where(kept > 0, train.x, np.nan).astype(np.float32)
            pred = self._predictions(list(self.members_), x.shape, [(targets, lambda member: member.transform(
                shown_x, kept, train.obs)[rows])])
            scored = targets.astype(np.float64)
        else:
            x, mask, obs, fold, folds = self._validation(valid, valid_mask, SHOWN if self.shown is None else
                                                         self.shown)
            def impute(member, f):  # fold f hidden; built per member, so that one fold's copy is held at a time
                inputs = (mask * (fold != f)).astype(np.float32)
                return member.transform(np.where(inputs > 0, x, np.nan).astype(np.float32), inputs, obs)

            jobs = [(fold == f, lambda member, f=f: impute(member, f)) for f in range(folds)]
            pred = self._predictions(list(self.members_), x.shape, jobs)
            scored = (fold >= 0).astype(np.float64)
        tissue = obs["tissue"].astype(str).to_numpy()
        if pooled_scope(train.obs):  # as the comparison scores such a cohort: every tissue in one group
            tissue = np.full(len(tissue), "all")
        weight = _blend.entry_weights(x, mask, scored, tissue)
        self.groups_, group = np.unique(groups_of(obs), return_inverse=True)
        G = len(self.groups_)
        cell = self._halves(obs) * G + group
        stats = _blend.statistics(pred, np.where(mask > 0, x, 0.0), weight, cell, 2 * G)
        del pred
        self.blend_ = _blend.choose(stats)
        self.order_ = list(self.members_)
        self.blend_seconds_ = time.perf_counter() - t0
        self.fit_seconds_ = sum(self.member_seconds_.values()) + self.blend_seconds_
        self._record()
        if self.progress:
            print(self.summary())
        return self

    # --------------------------------------------------------------------------------------------- imputing
    def transform(self, x, mask, obs):
        x0, mask = check_inputs(x, mask, obs, self.n_genes)
        at = {g: i for i, g in enumerate(self.groups_)}
        group = np.array([at.get(g, len(self.groups_)) for g in groups_of(obs)], dtype=np.int64)
        shown = np.where(mask > 0, x0, np.nan).astype(np.float32)
        out = np.zeros(x0.shape, dtype=np.float64)
        for m, name in enumerate(self.order_):
            w = self.blend_.table[:, :, m]
            if not (w > 0).any():
                continue  # a member no gene uses is not run
            out += w[group] * self.members_[name].transform(shown, mask, obs)
        return keep_observed(x0, mask, out.astype(np.float32))

    # ---------------------------------------------------------------------------------------------- record
    def weights(self) -> dict[str, float]:
        """Each member's mean weight over genes (gene-level weights)."""
        mean = self.blend_.table[-1].mean(0)
        return {name: float(mean[m]) for m, name in enumerate(self.order_)}

    def _record(self) -> None:
        self.chosen_ = {"members": ",".join(self.order_)}
        weights = sorted(self.weights().items(), key=lambda kv: -kv[1])
        self.info_ = {
            "auto_members": len(self.order_),
            "auto_policy": self.blend_.policy,
            "auto_fallback": self.blend_.fallback(),
            "auto_weights": ", ".join(f"{n} {w:.2f}" for n, w in weights if w >= 0.005),
            "auto_member_seconds": ", ".join(f"{n} {s:.1f}" for n, s in self.member_seconds_.items()),
            "auto_reused": ",".join(n for n in self.order_ if self.members_[n] is self.fitted.get(n, (None,))[0]),
            "auto_dropped": "; ".join(f"{n}: {why}" for n, why in self.dropped_.items()),
            "auto_blend_seconds": self.blend_seconds_,
            "auto_validation_gain": self.blend_.gain(),
        }

    def summary(self) -> str:
        """One line: members and their weights, how genes were blended, what it cost."""
        info = self.info_
        dropped = f"; left out {info['auto_dropped']}" if info["auto_dropped"] else ""
        return (f"auto: {len(self.order_)} members (weights {info['auto_weights']}); {info['auto_policy']}, "
                f"single member in {info['auto_fallback']:.0%} of genes; validation loss {info['auto_validation_gain']:+.1%} "
                f"vs the best member; fit {self.fit_seconds_:.1f} s = members "
                f"{sum(self.member_seconds_.values()):.1f} s + blend {self.blend_seconds_:.1f} s{dropped}")
