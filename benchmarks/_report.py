"""What the benchmark scripts share: the check of ``--out`` before any work, the machine a run was on, and the
atomic write of its JSON."""

from __future__ import annotations

import time
from pathlib import Path

from gaingtex._io import write_json
from gaingtex.provenance import machine


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that is not a ``.json`` path in an existing folder, before any work is done."""
    if out.suffix != ".json":
        raise SystemExit(f"error: --out must end in .json, got {out}")
    if not out.parent.is_dir():
        raise SystemExit(f"error: the folder of --out, {out.parent}, does not exist")


def write(result: dict, out: Path) -> None:
    write_json(result, out)
    print(f"wrote {out}")


def finish(fields: dict, rows: list[dict], started: float, printed: str, out: Path) -> int:
    """Print a run's table and write its record: ``fields``, the machine, the wall seconds since ``started``
    (``time.perf_counter``) and the rows as ``results``. Returns the exit status, 0."""
    print(printed)
    write({**fields, "machine": machine(), "wall_seconds": time.perf_counter() - started, "results": rows}, out)
    return 0
