"""Time and peak memory of `gaingtex gtex` on a GCT of the real GTEx v8 read-count matrix's size, beside `zcat`.

    .venv/bin/python -m benchmarks.gct_loading --out benchmarks/results/gct-loading.json
    .venv/bin/python -m benchmarks.gct_loading --genes 2000 --repeats 5 --out benchmarks/results/gct-loading-2000.json
    .venv/bin/python -m benchmarks.gct_loading --genes 2000 --samples 500 --out /tmp/small.json   # a quick try

It writes a synthetic GCT 1.2 of read counts (default 56,200 genes × 17,382 samples, as
GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_reads.gct.gz; the first 19,000 rows carry protein-coding Ensembl
ids), a Portal sample-attribute table spreading the samples over the 49 tissues in proportion to their GTEx v8
sample counts, and a phenotype table. Then, ``--repeats`` times in turn, it times `zcat` decompressing the GCT (the
floor: a loader must at least decompress it) and `gaingtex gtex --normalise tmm-int` on the three files, each in a
child process whose own peak resident memory (``ru_maxrss``) it reads. The JSON holds the sizes, the file size,
every run's seconds with their minimum and median, the loader's median over zcat's, the peak memory beside the
whole matrix as float32 and beside an interpreter that only imported the loader, and the command; the table
prints the same.
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gaingtex.data import reference

from ._report import check_out, machine, write


def write_inputs(folder: Path, n_genes: int, n_samples: int, seed: int = 0) -> dict[str, Path]:
    """The synthetic GCT (gzip level 1, written a block of rows at a time) and its two tables."""
    rng = np.random.default_rng(seed)
    tissues = reference.tissues()
    share = tissues["rnaseq_samples"] / tissues["rnaseq_samples"].sum()
    tissue = rng.choice(tissues.index.to_numpy(), size=n_samples, p=share.to_numpy())
    n_donors = max(3, n_samples // 18)
    donor = np.array([f"GTEX-{i:05X}" for i in rng.integers(0, n_donors, size=n_samples)])
    samples = [f"{d}-{i:04d}-SM-{i:05d}" for i, d in enumerate(donor)]
    table = pd.DataFrame({"SAMPID": samples, "SMTS": tissues.loc[tissue, "tissue_site"].to_numpy(),
                          "SMTSD": tissues.loc[tissue, "tissue_site_detail"].to_numpy(), "SMAFRZE": "RNASEQ"})
    table.to_csv(folder / "samples.txt", sep="\t", index=False)
    donors = sorted(set(donor))
    pd.DataFrame({"SUBJID": donors, "SEX": rng.integers(1, 3, len(donors)),
                  "AGE": rng.choice(["20-29", "40-49", "60-69"], len(donors)),
                  "DTHHRDY": rng.choice(["0", "2", ""], len(donors))}).to_csv(folder / "phenotypes.txt", sep="\t",
                                                                                index=False)
    coding = reference.protein_coding_genes()["ensembl_gene_id"].to_numpy()
    n_coding = min(len(coding), 19_000, n_genes)
    ids = [f"{e}.1" for e in coding[:n_coding]] + [f"ENSG9{i:010d}.1" for i in range(n_genes - n_coding)]
    level = rng.lognormal(3.0, 2.0, size=n_genes)  # gene means from a few reads to thousands
    library = rng.uniform(0.5, 2.0, size=n_samples)
    path = folder / "reads.gct.gz"
    with gzip.open(path, "wt", compresslevel=1) as handle:
        handle.write(f"#1.2\n{n_genes}\t{n_samples}\nName\tDescription\t" + "\t".join(samples) + "\n")
        for start in range(0, n_genes, 500):
            stop = min(start + 500, n_genes)
            counts = rng.poisson(level[start:stop, None] * library[None, :])
            block = pd.DataFrame(counts)
            block.insert(0, "Description", [f"G{i}" for i in range(start, stop)])
            block.insert(0, "Name", ids[start:stop])
            block.to_csv(handle, sep="\t", header=False, index=False)
    return {"expression": path, "samples": folder / "samples.txt", "phenotypes": folder / "phenotypes.txt"}


def run_child(command: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds and peak resident bytes of one child process (its own ``ru_maxrss``, from ``wait4``)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(command, child.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))
    return seconds, usage.ru_maxrss * 1024, done


def spread(values: list[float]) -> dict:
    return {"min": min(values), "median": float(np.median(values)), "max": max(values), "runs": values}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=56_200)
    parser.add_argument("--samples", type=int, default=17_382)
    parser.add_argument("--normalise", default="tmm-int", choices=["tmm-int", "int", "none"])
    parser.add_argument("--repeats", type=int, default=3, help="runs of zcat and of the loader, in turn")
    parser.add_argument("--out", type=Path, required=True, help="output JSON")
    parser.add_argument("--workdir", type=Path, help="where to write the synthetic files (default: a temporary "
                        "folder, removed afterwards)")
    args = parser.parse_args(argv)
    check_out(args.out)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        files = write_inputs(folder, args.genes, args.samples)
        write_seconds = time.perf_counter() - t0
        cohort = folder / "cohort.h5ad"
        exe = Path(sys.executable).with_name("gaingtex")
        load = [str(exe), "gtex", "--expression", str(files["expression"]), "--samples", str(files["samples"]),
                "--phenotypes", str(files["phenotypes"]), "--normalise", args.normalise, "--out", str(cohort)]
        # The interpreter with the loader's modules imported and nothing read: the floor of the loader's memory.
        _, idle_bytes, _ = run_child([sys.executable, "-c", "import gaingtex.cli, gaingtex.data.gtex, pyarrow.csv"])
        zcat, loads, peaks, load_average = [], [], [], [os.getloadavg()[0]]
        for _ in range(args.repeats):  # in turn, so that a slower spell of a shared machine slows both
            seconds, _, run = run_child(["sh", "-c", f"exec zcat '{files['expression']}' > /dev/null"])
            zcat.append(seconds)
            seconds, peak, run = run_child(load)
            if run.returncode != 0:
                print(run.stderr[-2000:], file=sys.stderr)
                return 1
            loads.append(seconds)
            peaks.append(peak)
        load_average.append(os.getloadavg()[0])  # other work on a shared machine slows the loader more than zcat
        matrix = args.genes * args.samples * 4
        result = {"genes": args.genes, "samples": args.samples, "cells": args.genes * args.samples,
                  "normalise": args.normalise, "gct_bytes": files["expression"].stat().st_size,
                  "write_seconds": write_seconds, "repeats": args.repeats,
                  "load_seconds": float(np.median(loads)), "zcat_seconds": float(np.median(zcat)),
                  "load": spread(loads), "zcat": spread(zcat),
                  "ratio_to_zcat": float(np.median(loads) / np.median(zcat)),
                  "ratio_to_zcat_pairs": [a / b for a, b in zip(loads, zcat)],
                  "peak_rss_bytes": max(peaks), "idle_rss_bytes": idle_bytes, "float32_matrix_bytes": matrix,
                  "peak_over_matrix": max(peaks) / matrix,
                  "peak_above_idle_over_matrix": (max(peaks) - idle_bytes) / matrix,
                  "cohort_bytes": cohort.stat().st_size, "machine": machine(),
                  "load_average_before_after": load_average,
                  "command": "python -m benchmarks.gct_loading " + " ".join(argv if argv is not None else sys.argv[1:]),
                  "summary": run.stdout.strip().splitlines()[-1]}
    print(f"GCT {args.genes:,} genes × {args.samples:,} samples ({result['gct_bytes'] / 1e9:.2f} GB gzipped): "
          f"written in {write_seconds:.0f} s")
    print(f"| zcat | {result['zcat_seconds']:.2f} s (median of {args.repeats}) |")
    print(f"| load (gaingtex gtex, {args.normalise}) | {result['load_seconds']:.2f} s (median; min "
          f"{min(loads):.2f}) | {result['ratio_to_zcat']:.1f} × zcat | peak memory {max(peaks) / 2**20:.0f} MiB, "
          f"{result['peak_over_matrix']:.2f} × the float32 matrix ({matrix / 2**20:.0f} MiB), "
          f"{idle_bytes / 2**20:.0f} MiB of it the interpreter and its imports |")
    print(result["summary"])
    write(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
