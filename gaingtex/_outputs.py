"""Outputs that never clobber an input and never lose finished work: paths checked before any long work, one run
at a time per output (a lock), and a write the file system refuses after the work is done rescued elsewhere, with a
message saying where."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


class Rescued(OSError):
    """The output could not be written where asked, and was written elsewhere instead."""


def resolved(path: Path) -> Path:
    """``path`` resolved, with a symbolic link that leads back to itself as a one-line error, not a RuntimeError."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError) as err:  # Python raises RuntimeError for a loop; newer versions OSError ELOOP
        raise ValueError(f"{path} is a symbolic link that leads back to itself (a loop); point it at a file") \
            from err


def check_input(path: str | os.PathLike, what: str = "input file") -> Path:
    """An input that must be a readable file: a loop of links, a folder or a missing path each gets its own
    message."""
    path = Path(path)
    resolved(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, not a file")
    if not path.is_file():
        if path.is_symlink():
            raise FileNotFoundError(f"{what} {path} is a symbolic link to {os.readlink(path)}, which does not exist")
        raise FileNotFoundError(f"{what} {path} does not exist")
    return path


def _size(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _free(folder: Path) -> str:
    while not folder.exists() and folder != folder.parent:  # a folder the write would have made
        folder = folder.parent
    try:
        return _size(shutil.disk_usage(folder).free)
    except OSError:
        return "unknown"


def rescue_path(path: Path, folder: Path) -> Path:
    """The first free name ``<stem>.rescued<suffix>``, ``<stem>.rescued-2<suffix>``, … in ``folder``: a rescue never
    replaces an earlier one."""
    suffix = "".join(path.suffixes[-1:])
    for n in range(1, 10_000):
        candidate = folder / f"{path.stem}.rescued{'' if n == 1 else f'-{n}'}{suffix}"
        if not candidate.exists():
            return candidate
    raise OSError(errno.EEXIST, f"too many earlier rescues of {path.name} in {folder}")


def write_or_rescue(write, path: Path) -> None:
    """``write(path)``; if the file system refuses (full disk, permissions changed during the run), write the
    finished work beside the working directory (or in the temporary folder) instead and say where, so that
    nothing is lost. On a full disk the message gives the space left there and the space the output takes."""
    try:
        write(path)
        return
    except OSError as err:
        reason = err.strerror or str(err)
        full = err.errno in (errno.ENOSPC, errno.EDQUOT)
    where = Path(path).resolve().parent
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        try:
            rescue = rescue_path(Path(path), folder)
            write(rescue)
        except OSError:
            continue
        need = f": {_free(where)} free in {where}, the output takes {_size(rescue.stat().st_size)}" if full else ""
        raise Rescued(f"could not write {path} ({reason}{need}); the results were written to {rescue} instead")
    need = f": {_free(where)} free in {where}" if full else ""
    raise Rescued(f"could not write {path} ({reason}{need}), nor a copy in {Path.cwd()} or {tempfile.gettempdir()}")


def check_output(path: Path, suffix: str, inputs) -> None:
    """Refuse an output with the wrong suffix, one that is an input, or one that cannot be written — before any
    long work."""
    target = resolved(path)
    for given in inputs:
        if given is not None and resolved(Path(given)) == target:
            raise ValueError(f"the output {path} is one of the command's inputs; choose another file")
    if path.is_dir():
        raise ValueError(f"the output {path} is a directory; give a file name")
    if suffix and path.suffix != suffix:
        raise ValueError(f"the output must end in {suffix}, got {path}")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"cannot write {path}: the file is read-only")
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"cannot write {path}: {parent} is not writable")


def beside(path: Path, tag: str) -> Path:
    """A companion of a text output, in its format and folder: ``out.csv`` → ``out.lower.csv``,
    ``out.tsv.gz`` → ``out.draw_1.tsv.gz`` (a name without a suffix gets the tag at its end)."""
    path = Path(path)
    name = path.name
    gz = ".gz" if name.lower().endswith(".gz") else ""
    core = name[: len(name) - len(gz)]
    stem, dot, ext = core.rpartition(".")
    return path.with_name(f"{stem}.{tag}.{ext}{gz}" if dot and stem else f"{core}.{tag}{gz}")


def lock_path(path: Path) -> Path:
    return Path(path).with_name(f".{Path(path).name}.gaingtex-lock")


@contextlib.contextmanager
def output_lock(path: Path) -> Iterator[None]:
    """Hold a lock on ``path`` for the run: a second run writing the same output is refused with a message that
    names the other process, instead of both reporting "wrote" while one silently replaces the other. The lock
    is the kernel's (``flock``), so a killed run never leaves a lock that blocks the next."""
    import fcntl

    path = Path(path)
    lock = lock_path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(path)
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = _locked(lock, fcntl)
    except OSError:  # no folder to lock in (a file in the way, no permission): the command's own check says why
        fd = None
    if isinstance(fd, str):
        raise ValueError(f"another gaingtex run (process {fd}) is writing {path} (lock {lock}); wait for it to "
                         "finish or choose another output")
    if fd is None:
        yield
        return
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def _locked(lock: Path, fcntl) -> int | str:
    """A descriptor of ``lock`` held exclusively, or the process id written in it when another run holds it."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            return other
        try:  # the run that held it may have removed the file meanwhile: lock the file that is there now
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
