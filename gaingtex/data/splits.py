"""Donor-grouped splits: no donor in two of train, validation and test."""

from __future__ import annotations

import numpy as np
import pandas as pd


def donor_split(donors: np.ndarray, seed: int, test: float = 0.25, valid: float = 0.2) -> dict[str, str]:
    """Assign every donor to ``train``, ``valid`` or ``test``: ``test`` of the donors to test, then ``valid`` of the rest
    to validation (the paper's 75/25 then 80/20, ≈ 60/15/25). No donor is in two splits by construction."""
    unique = np.array(sorted(set(donors)))
    if len(unique) < 3:
        raise ValueError(f"a donor split needs at least 3 donors, got {len(unique)}")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(unique)
    n_test = max(1, int(round(len(unique) * test)))
    n_valid = max(1, int(round((len(unique) - n_test) * valid)))
    out = {d: "test" for d in perm[:n_test]}
    out.update({d: "valid" for d in perm[n_test: n_test + n_valid]})
    out.update({d: "train" for d in perm[n_test + n_valid:]})
    return out



def check_donor_split(donors: np.ndarray, split: np.ndarray) -> None:
    """Raise if any donor appears in two splits."""
    frame = pd.DataFrame({"donor": donors, "split": split})
    n = frame.groupby("donor")["split"].nunique()
    leaked = n[n > 1].index.tolist()
    if leaked:
        raise ValueError(f"{len(leaked)} donors appear in more than one split (e.g. {leaked[:3]}); "
                         "splits must be grouped by donor")
