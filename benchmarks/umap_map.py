"""Time notebook 01's map of the samples (:func:`gaingtex.evaluation.studies.umap_2d`) with UMAP's own approximate
neighbour search (pynndescent) and with the exact neighbour graph from scikit-learn handed to UMAP, each in a fresh
process, as a notebook's kernel meets it: the first call pays for compiling UMAP's numba code, a second call in the
same process does not.

    python -m benchmarks.umap_map [--cohort book] [--out benchmarks/results/umap-map.json]

Each row: ``import_seconds`` (``import umap``, which also imports TensorFlow), ``first_seconds`` and
``second_seconds`` (the map, the PCA to 50 components included), and the share of each sample's 15 neighbours
that the approximate search found exactly (``exact_share``, on the exact variant's row).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._report import check_out, finish

VARIANTS = ("pynndescent", "exact")


def child(variant: str, cohort: Path, neighbours: Path) -> dict:
    """One variant's timings in this (fresh) process."""
    import anndata as ad
    import numpy as np

    adata = ad.read_h5ad(cohort)
    x = np.asarray(adata.X[(adata.obs["cohort"] == "GTEx").to_numpy()])
    t0 = time.perf_counter()
    import umap

    imported = time.perf_counter() - t0
    from sklearn.decomposition import PCA

    from gaingtex.evaluation.studies import umap_2d

    def own_search():
        reduced = PCA(50, random_state=0).fit_transform(x)
        reducer = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=0, n_jobs=1)
        reducer.fit_transform(reduced)
        return reducer._knn_indices

    run = own_search if variant == "pynndescent" else (lambda: umap_2d(x, seed=0))
    seconds = []
    for _ in range(2):
        t0 = time.perf_counter()
        out = run()
        seconds.append(time.perf_counter() - t0)
    row = {"variant": variant, "samples": int(x.shape[0]), "genes": int(x.shape[1]), "import_seconds": imported,
           "first_seconds": seconds[0], "second_seconds": seconds[1]}
    if variant == "pynndescent":
        np.save(neighbours, out)
    else:
        from sklearn.neighbors import NearestNeighbors

        reduced = PCA(50, random_state=0).fit_transform(x)
        exact = NearestNeighbors(n_neighbors=15).fit(reduced).kneighbors(reduced)[1]
        approximate = np.load(neighbours)
        row["exact_share"] = float(np.mean([len(np.intersect1d(a, b)) / 15 for a, b in zip(approximate, exact)]))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cohort", default="book", help="an embedded cohort preset, or an .h5ad file")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/umap-map.json"))
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "COHORT", "NEIGHBOURS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]), Path(args.child[2]))))
        return 0
    check_out(args.out)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cohort = Path(args.cohort)
        if not cohort.is_file():
            from gaingtex.data.embedded import make_cohort

            cohort = Path(tmp) / "cohort.h5ad"
            make_cohort(args.cohort, seed=0).write_h5ad(cohort)
        rows = []
        for variant in VARIANTS:  # in this order: the exact variant compares with the neighbours found before it
            done = subprocess.run([sys.executable, "-m", "benchmarks.umap_map", "--child", variant, str(cohort),
                                   str(Path(tmp) / "neighbours.npy")], capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    lines = [f"{'variant':12} {'import s':>8} {'first s':>8} {'second s':>8}"]
    lines += [f"{r['variant']:12} {r['import_seconds']:8.1f} {r['first_seconds']:8.1f} {r['second_seconds']:8.1f}"
              for r in rows]
    lines.append(f"exact neighbours found by the approximate search: {rows[-1]['exact_share']:.3f}")
    return finish({"command": "python -m benchmarks.umap_map --cohort " + str(args.cohort), "cohort": args.cohort},
                  rows, started, "\n".join(lines), args.out)


if __name__ == "__main__":
    sys.exit(main())
