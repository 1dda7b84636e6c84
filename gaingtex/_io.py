"""Atomic file writing: nothing is half-written."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale(path: Path, suffix: str) -> list[Path]:
    """Remove the temporary files that a killed run (SIGKILL, a power cut) left beside ``path``: those whose
    writing process is gone. Returns what was removed."""
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.gaingtex-*-*{suffix}"):
        pid = tmp.name[len(path.name) + 1:].split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; once the block succeeds, rename it over ``path``.

    The final file gets the usual permissions (0666 less the umask); on error or interrupt (SIGINT; SIGTERM under
    the ``gaingtex`` command) the temporary file is removed, and one left by a killed run is removed by the next.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path, suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.gaingtex-{os.getpid()}-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(obj: dict, path: str | os.PathLike) -> Path:
    """Write JSON atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=float))
    return Path(path)
