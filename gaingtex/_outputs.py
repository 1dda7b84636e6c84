"""Outputs that never clobber an input and never lose finished work: paths checked before any long work, and a
write the file system refuses after the work is done rescued elsewhere, with a message saying where."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class Rescued(OSError):
    """The output could not be written where asked, and was written elsewhere instead."""


def write_or_rescue(write, path: Path) -> None:
    """``write(path)``; if the file system refuses (full disk, permissions changed during the run), write the
    finished work beside the working directory (or in the temporary folder) instead and say where, so that
    nothing is lost."""
    try:
        write(path)
        return
    except OSError as err:
        reason = err.strerror or str(err)
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        rescue = folder / f"{path.stem}.rescued{''.join(path.suffixes[-1:])}"
        try:
            write(rescue)
        except OSError:
            continue
        raise Rescued(f"could not write {path} ({reason}); the results were written to {rescue} instead")
    raise Rescued(f"could not write {path} ({reason}), nor a copy in {Path.cwd()} or {tempfile.gettempdir()}")


def check_output(path: Path, suffix: str, inputs) -> None:
    """Refuse an output with the wrong suffix, one that is an input, or one that cannot be written — before any
    long work."""
    for given in inputs:
        if given is not None and Path(given).resolve() == path.resolve():
            raise ValueError(f"the output {path} is one of the command's inputs; choose another file")
    if path.is_dir():
        raise ValueError(f"the output {path} is a directory; give a file name")
    if suffix and path.suffix != suffix:
        raise ValueError(f"the output must end in {suffix}, got {path}")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"cannot write {path}: the file is read-only")
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"cannot write {path}: {parent} is not writable")
