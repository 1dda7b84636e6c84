"""The embedded cohort's sample design: GTEx v8's donors (sex, age, Hardy scale) and their samples per tissue."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...config import CohortConfig
from .. import reference
from ..schema import AGE_BRACKETS, HARDY_LEVELS, SEXES


def scaled_counts(counts: dict[str, int], total: int) -> dict[str, int]:
    """Largest-remainder rounding of ``counts`` to a new ``total``."""
    keys = list(counts)
    raw = np.array([counts[k] for k in keys], dtype=float) * total / sum(counts.values())
    out = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - out))[: total - out.sum()]:
        out[i] += 1
    return dict(zip(keys, out.tolist()))


def sample_design(cfg: CohortConfig, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Donors (sex, age, Hardy scale) and their samples (donor, tissue) with GTEx v8's counts."""
    tissues = reference.tissues()
    summary = reference.donor_summary()
    section = {name: dict(zip(g["value"], g["donors"])) for name, g in summary.groupby("section")}
    n_donors_full = sum(section["sex"].values())
    per_tissue = tissues["eqtl_samples"].to_dict()
    per_donor_hist = {int(k): v for k, v in section["tissues_per_donor"].items()}
    if cfg.sample_fraction >= 1.0:
        n_donors = n_donors_full
        k = np.repeat(list(per_donor_hist), list(per_donor_hist.values()))
    else:
        per_tissue = {
            t: max(cfg.min_samples_per_tissue, int(round(n * cfg.sample_fraction))) for t, n in per_tissue.items()
        }
        n_donors = max(cfg.min_samples_per_tissue * 2, int(round(n_donors_full * cfg.sample_fraction)))
        k = rng.choice(np.repeat(list(per_donor_hist), list(per_donor_hist.values())), size=n_donors)
    sexes = np.repeat(SEXES, [scaled_counts(section["sex"], n_donors)[s] for s in SEXES])
    sexes = rng.permutation(sexes)
    k = rng.permutation(k)
    # Each donor can give at most one sample per tissue it is eligible for.
    eligible = {
        s: np.array([tissues.loc[t, "donor_sex"] in ("both", s) for t in tissues.index]) for s in SEXES
    }
    cap = np.array([eligible[s].sum() for s in sexes])
    k = np.minimum(k, cap)
    n_samples = sum(per_tissue.values())
    while k.sum() != n_samples:  # adjust a scaled-down design to the exact sample total
        if k.sum() < n_samples:
            i = rng.choice(np.flatnonzero(k < cap))
            k[i] += 1
        else:
            i = rng.choice(np.flatnonzero(k > 1))
            k[i] -= 1
    # Greedy bipartite realisation: fill the sex-specific tissues first, then the others from largest to smallest,
    # each from the eligible donors with the most places left (random order among equals).
    remaining = k.astype(float)
    order = sorted(tissues.index, key=lambda t: (tissues.loc[t, "donor_sex"] == "both", -per_tissue[t]))
    rows = []
    for t in order:
        need = per_tissue[t]
        ok = np.array([tissues.loc[t, "donor_sex"] in ("both", s) for s in sexes]) & (remaining > 0)
        candidates = np.flatnonzero(ok)
        if len(candidates) < need:
            raise RuntimeError(f"cannot place {need} samples of {t}: only {len(candidates)} donors have room")
        priority = remaining[candidates] + rng.random(len(candidates))
        chosen = candidates[np.argsort(-priority)[:need]]
        remaining[chosen] -= 1
        rows.extend((d, t) for d in chosen)
    if remaining.sum() != 0:
        raise RuntimeError("the donor design could not be realised exactly; try another seed")
    # Donor attributes: age bracket and Hardy scale with the summary's counts.
    brackets = rng.permutation(np.repeat(AGE_BRACKETS, [scaled_counts(section["age_bracket"], n_donors)[b]
                                                        for b in AGE_BRACKETS]))
    hardy_counts = scaled_counts(section["hardy_scale"], n_donors)
    hardy = rng.permutation(np.repeat(HARDY_LEVELS, [hardy_counts[h] for h in HARDY_LEVELS]))
    lows = np.array([int(b[:2]) for b in brackets])
    ages = lows + rng.integers(0, 10, size=n_donors)
    ids = donor_ids(n_donors, rng)
    donors = pd.DataFrame(
        {"donor_id": ids, "sex": sexes, "age": ages, "age_bracket": brackets, "hardy": hardy, "n_tissues": k}
    )
    samples = pd.DataFrame(rows, columns=["donor", "tissue"])
    samples = samples.sort_values(["donor", "tissue"], kind="stable").reset_index(drop=True)
    return donors, samples


def donor_ids(n: int, rng: np.random.Generator, prefix: str = "GTEX-S") -> list[str]:
    alphabet = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))
    ids: set[str] = set()
    out = []
    while len(out) < n:
        candidate = prefix + "".join(rng.choice(alphabet, size=4))
        if candidate not in ids:
            ids.add(candidate)
            out.append(candidate)
    return out

