"""A saved imputer's file: a zip archive holding ``gaingtex.json`` (what the method needs to rebuild itself, under
its registry name, ``"method"``) and, for methods that save numbers rather than a Keras model, one ``.npy`` per
array. A method that saves writes with :func:`write_archive` and reads with :func:`read_meta` and
:func:`read_arrays`; :func:`gaingtex.imputers.registry.load` reads any of them back.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._io import atomic_path

META = "gaingtex.json"
ARRAYS = "arrays/"


def write_archive(path: str | os.PathLike, method: str, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``meta`` (with ``"method": method``) and ``arrays`` into one zip archive at ``path``, atomically."""
    path = Path(path)
    with atomic_path(path, suffix=path.suffix or ".zip") as tmp:
        with zipfile.ZipFile(tmp, "w") as archive:
            archive.writestr(META, json.dumps({**meta, "method": method}))
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.save(buffer, np.asarray(array), allow_pickle=False)  # no pickles: a model file runs no code
                archive.writestr(f"{ARRAYS}{name}.npy", buffer.getvalue())
    return path


def _open(path: str | os.PathLike) -> Path:
    from .._outputs import resolved

    path = Path(path)
    resolved(path)  # a loop of symbolic links: its own message
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a saved gaingtex model")
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    return path


def read_meta(path: str | os.PathLike) -> dict:
    """The ``gaingtex.json`` of a saved model; a file that is not such an archive is a ``ValueError`` naming it."""
    path = _open(path)
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read(META))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, zlib.error, EOFError,
            OSError) as err:
        raise ValueError(f"{path} is not a gaingtex model archive ({type(err).__name__})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} is not a gaingtex model archive (its {META} holds no record)")
    return meta


def method_of(meta: dict) -> str | None:
    """The registry name a saved model records: ``"method"``, or ``"model"`` in deep models written before every
    saveable method shared this format."""
    return meta.get("method", meta.get("model"))


def read_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays :func:`write_archive` stored, by name."""
    path = _open(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return {name[len(ARRAYS):-len(".npy")]: np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
                    for name in archive.namelist() if name.startswith(ARRAYS) and name.endswith(".npy")}
    except (zipfile.BadZipFile, ValueError, OSError, zlib.error, EOFError) as err:
        raise ValueError(f"{path}: the model archive is damaged ({type(err).__name__})") from None
