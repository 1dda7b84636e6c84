"""The record of one book build, from what the build left behind, as benchmarks/results/book-build*.json hold it.

    /usr/bin/time -v .venv/bin/gaingtex book --preset book --seed 0 --fresh 2> time.log
    .venv/bin/python -m benchmarks.book_build --run book-seed0 --time-log time.log --commit COMMIT \
        --out benchmarks/results/book-build.json

It reads the per-notebook seconds (`_build/executed/<run>/timings.json`), the wall time and peak memory from
`/usr/bin/time -v`'s log, the seconds of notebook 08's comparison and scaling cells (papermill's cell durations),
and the comparison's rows (`runs/<run>/tables/comparison_rows.csv`): their fit and imputation seconds summed by
group, every row's R² and calibration measures (issue 27) and its own fit, imputation and calibration seconds. It also keeps Fig. 3's figure, the brain tissues'
3-NN purity that notebook 07 glued (issue 31). Prints the record without the R² and calibration, and writes it as
JSON.

A build run in parts (``gaingtex book … --only 01 02 …``, then the rest), as a paper-sized cohort needs on a 2-core
machine, is recorded part by part: ``--part`` takes the part's ``--only`` list, and the record holds that part's
notebooks' seconds beside every notebook's so far (``timings.json`` keeps them all), without notebook 08's
comparison when it has not run yet; ``--command`` names the command that made the part.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from ._report import check_out, machine, write

DEEP = ("pmi", "gain", "gain-mse")
CALIBRATION = ("coverage_90", "coverage_90_worst_gene", "coverage_90_worst_tissue", "width_90_vs_oracle",
               "crps_vs_oracle")


def wall_seconds(log: str) -> tuple[str, float, int]:
    """``/usr/bin/time -v``'s elapsed time as printed and in seconds, and its peak resident set (kB)."""
    elapsed = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", log)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", log)
    if elapsed is None or peak is None:
        raise SystemExit("error: --time-log holds no /usr/bin/time -v report (elapsed time and maximum resident set)")
    parts = [float(p) for p in elapsed.group(1).split(":")]
    return elapsed.group(1), sum(p * 60 ** i for i, p in enumerate(reversed(parts))), int(peak.group(1))


def cell_seconds(notebook: Path) -> dict[str, int]:
    """Seconds of the comparison and the scaling cells of an executed notebook 08."""
    import nbformat

    out = {}
    for cell in nbformat.read(notebook, 4).cells:
        seconds = cell.metadata.get("papermill", {}).get("duration") or 0
        for name, call in (("compare", "comparison.compare("), ("scaling", "runtime.scaling(")):
            if cell.cell_type == "code" and call in cell.source:
                out[name] = round(seconds)
    return out


def glued(notebook: Path, names: dict[str, str]) -> dict[str, float]:
    """Numbers an executed notebook glued (myst-nb's ``scrapbook`` outputs), under the names ``names`` maps them to;
    none where the notebook did not run (a stand-in page took its place)."""
    import nbformat

    out = {}
    for cell in (nbformat.read(notebook, 4).cells if notebook.is_file() else []):
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name in names:  # papermill records the value under its own mime prefix
                text = next(v for k, v in output["data"].items() if k.endswith("text/plain"))
                out[names[name]] = round(float(text.strip("'\"")), 4)
    return out


def comparison(rows_csv: Path) -> tuple[dict[str, int], dict[str, dict]]:
    """Fit and imputation seconds of the comparison's rows by group, and every row's R² (or its status). ``auto``'s
    row counts only what it spent itself: its fit time less that of the members it reused from the comparison
    (already counted in their own rows, or in notebook 02's training for the deep ones)."""
    import pandas as pd

    rows = _rows(rows_csv)
    seconds = rows["fit_seconds"].fillna(0) + rows["impute_seconds"].fillna(0)
    if "auto_reused" in rows:
        seconds = seconds - rows.apply(_reused_seconds, axis=1)
    deep = rows["method"].isin(DEEP)
    groups = {"other methods, all genes": seconds[(rows["genes"] == "all") & ~deep].sum(),
              "other methods, panel": seconds[(rows["genes"] == "panel") & ~deep].sum(),
              # trained by notebook 08 until the build trained them in steps of their own, beside notebook 02's
              "deep models, panel": seconds[(rows["genes"] == "panel") & deep].sum()}
    r2 = {}
    for row in rows.to_dict(orient="records"):
        r2.setdefault(row["block"], {})[row["method"]] = (
            row["status"] if pd.isna(row["r2"]) else round(float(row["r2"]), 4))
    return {k: int(round(v)) for k, v in groups.items()}, r2


def _rows(rows_csv: Path):
    """The comparison's rows, each with its ``block``: ``genes/scenario``, and ``/seed N`` when the comparison ran
    several seeds (each its own rows)."""
    import pandas as pd

    rows = pd.read_csv(rows_csv)
    keys = rows["genes"].astype(str) + "/" + rows["scenario"].astype(str)
    if "seed" in rows and rows["seed"].nunique() > 1:
        keys = keys + "/seed " + rows["seed"].astype(int).astype(str)
    return rows.assign(block=keys)


def _reused_seconds(row) -> float:
    """The fit seconds of the members a blend's row reused (``auto_member_seconds`` is "name s, name s")."""
    reused = str(row.get("auto_reused", "") or "")
    if reused in ("", "nan"):
        return 0.0
    spent = dict(item.rsplit(" ", 1) for item in str(row["auto_member_seconds"]).split(", "))
    return sum(float(spent[name]) for name in reused.split(",") if name in spent)


def calibration(rows_csv: Path) -> dict[str, dict]:
    """Every row's calibration measures (issue 27), by ``genes/scenario`` (:func:`_rows`) and method: the
    conformal 90 % interval's coverage, in the worst gene decile and the worst tissue, and its width and CRPS as
    ratios to the oracle's."""
    import pandas as pd

    rows = _rows(rows_csv)
    present = [c for c in CALIBRATION if c in rows]
    out = {}
    for row in rows[rows["coverage_90"].notna()].to_dict(orient="records") if "coverage_90" in rows else []:
        out.setdefault(row["block"], {})[row["method"]] = {
            c: round(float(row[c]), 4) for c in present if pd.notna(row[c])}
    return out


def row_seconds(rows_csv: Path) -> dict[str, dict]:
    """Every row's own seconds, by ``genes/scenario`` (:func:`_rows`) and method: fit, imputation and calibration
    as the row recorded them (a deep model loaded from notebook 02 records its training's seconds as its fit;
    ``auto``'s fit includes the members it reused)."""
    import pandas as pd

    rows = _rows(rows_csv)
    columns = {"fit": "fit_seconds", "impute": "impute_seconds", "calibration": "calibration_seconds"}
    out = {}
    for row in rows.to_dict(orient="records"):
        out.setdefault(row["block"], {})[row["method"]] = {
            k: round(float(row[c]), 1) for k, c in columns.items() if c in row and pd.notna(row[c])}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="the run folder's name, e.g. book-seed0")
    parser.add_argument("--preset", default="book")
    parser.add_argument("--time-log", type=Path, required=True, help="what /usr/bin/time -v printed for the build")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--caveat", default="run alone, nothing else on the machine")
    parser.add_argument("--command", help="the command that made the build (default: the book preset's fresh build)")
    parser.add_argument("--part", nargs="+", metavar="NN", help="a part of a build: the notebooks its --only named "
                        "(notebook 08 may not have run yet)")
    parser.add_argument("--root", type=Path, default=Path("."), help="the folder the build ran in, holding _build/ "
                        "and runs/ (default: the current folder)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    check_out(args.out)
    executed, tables = args.root / "_build/executed" / args.run, args.root / "runs" / args.run / "tables"
    comparison_made = (executed / "08_comparison.ipynb").is_file() and (tables / "comparison_rows.csv").is_file()
    needed = [executed / "timings.json", args.time_log]
    if not args.part:
        needed += [executed / "08_comparison.ipynb", tables / "comparison_rows.csv"]
    for path in needed:
        if not path.is_file():
            raise SystemExit(f"error: {path} does not exist: run the build first (see this script's docstring)")
    timings = json.loads((executed / "timings.json").read_text())
    elapsed, wall, peak_kb = wall_seconds(args.time_log.read_text())
    command = args.command or f"gaingtex book --preset {args.preset} --seed 0 --fresh"
    record = {"command": f"{command} (under /usr/bin/time -v)",
              "commit": args.commit, "machine": machine(), "wall_seconds": round(wall), "elapsed_time_v": elapsed,
              "peak_memory_gb": round(peak_kb / 1024 ** 2, 1), "max_rss_kb_time_v": peak_kb,
              "caveat": args.caveat, "notebook_seconds": timings,
              # 01–07 as in the records before notebook 09 existed; 09's seconds are in notebook_seconds
              "notebooks_01_07_seconds": round(sum(v for k, v in timings.items() if k[:2] < "08")),
              "training_seconds": round(sum(v for k, v in timings.items() if k.startswith("02"))),
              # the models notebooks 06 and 08 used to train themselves (gaingtex.book.steps.OWN_MODELS, the panel's)
              "own_training_seconds": round(sum(v for k, v in timings.items() if k.startswith("train_"))),
              # steps run side by side: the wall time of everything but notebooks 08 and 09 (the HTML's included)
              "wall_but_08_09_seconds": round(wall - timings.get("08_comparison", 0) - timings.get("09_uncertainty", 0)),
              "fig3": glued(executed / "07_embeddings.ipynb", {"emb_purity": "brain_knn_purity",
                                                              "emb_null_purity": "random_mean", "emb_p_purity": "p"})}
    if args.part:
        record["part"] = {k: v for k, v in timings.items() if any(k.startswith(p) for p in args.part)}
        record["part_seconds"] = round(sum(record["part"].values()))
        record["comparison_made"] = comparison_made
    if comparison_made:
        groups, r2 = comparison(tables / "comparison_rows.csv")
        record.update({"comparison_cells_seconds": cell_seconds(executed / "08_comparison.ipynb"),
                       "comparison_row_seconds": groups, "r2": r2,
                       "calibration": calibration(tables / "comparison_rows.csv"),
                       "row_seconds": row_seconds(tables / "comparison_rows.csv")})
    print(json.dumps({k: v for k, v in record.items() if k not in ("r2", "calibration", "row_seconds")}, indent=1))
    write(record, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
