"""Command line: ``gaingtex cohort | gtex | xena | train | evaluate | impute | benchmark | book``.

One module per command, each with ``add_parser(sub)`` and ``run(args)``; :mod:`.shared` holds what several of them
use. This module builds the parser and turns the errors a user can cause into one line and an exit status.
"""

from __future__ import annotations

import argparse
import sys

from . import benchmark, book, cohort, evaluate, gtex, impute, train, xena
from .shared import SEED_MAX, seed

__all__ = ["SEED_MAX", "build_parser", "main", "seed"]

COMMANDS = (cohort, gtex, xena, train, evaluate, impute, benchmark, book)  # in the order --help lists them


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; or, when ``argv`` names a command, only that command's. The others list the registry's
    methods as choices, which imports every imputer (scikit-learn, SciPy): start-up time and memory that a loader
    such as ``gaingtex gtex`` does not need (benchmarks/README.md, "The GTEx loader (issue 26)")."""
    parser = argparse.ArgumentParser(prog="gaingtex", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    first = [a for a in (argv or []) if a != "--debug"][:1]
    named = [c for c in COMMANDS if first and c.__name__.rsplit(".", 1)[-1] == first[0]]
    for command in named or COMMANDS:
        command.add_parser(sub)
    return parser


class Interrupted(SystemExit):
    """SIGTERM, turned into an exception that unwinds like Ctrl-C (temporary files are removed on the way)."""


def _terminate(signum, frame):
    """SIGTERM (what `timeout` and cluster schedulers send) unwinds like Ctrl-C, so temporary files are removed."""
    raise Interrupted(128 + signum)


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    args.argv = list(argv)  # the command line, for the records that say what made them
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return _run(args)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _sentence(err: KeyError) -> str:
    """A KeyError as a sentence: its message when it has one, else what was missing (never a bare key)."""
    key = err.args[0] if err.args else ""
    if isinstance(key, str) and " " in key.strip():
        return key
    return (f"an expected entry {key!r} is missing (a damaged file, or one not written by this gaingtex); rerun "
            "with --debug to see where")


def _run(args) -> int:
    import contextlib

    from .._outputs import Rescued, output_lock
    from ..book import BookError
    from ..data import SchemaError

    out = getattr(args, "out", None) or getattr(args, "output", None)
    try:
        with output_lock(out) if out is not None else contextlib.nullcontext():
            args.func(args)
    except (KeyboardInterrupt, Interrupted) as err:  # one line: what was kept, where, how to go on
        if args.debug:
            raise
        note = getattr(args, "on_interrupt", None)
        how = "Ctrl-C" if isinstance(err, KeyboardInterrupt) else "SIGTERM"
        print(f"interrupted ({how}): {note() if note else 'nothing was written'}", file=sys.stderr)
        return 130 if isinstance(err, KeyboardInterrupt) else int(err.code)
    except (SchemaError, ValueError, KeyError, FileNotFoundError) as err:
        if args.debug:
            raise
        print(f"error: {_sentence(err) if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 2
    except (BookError, Rescued) as err:  # a notebook or the book build failed; a refused write was rescued
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a read-only target, a full disk, a directory where a file was expected, …
        if args.debug:
            raise
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    return 0
