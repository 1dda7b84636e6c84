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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gaingtex", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _terminate(signum, frame):
    """SIGTERM (what `timeout` and cluster schedulers send) unwinds like Ctrl-C, so temporary files are removed."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    args = build_parser().parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return _run(args)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(args) -> int:
    from .._outputs import Rescued
    from ..book import BookError
    from ..data import SchemaError

    try:
        args.func(args)
    except (SchemaError, ValueError, KeyError, FileNotFoundError) as err:
        if args.debug:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err  # a KeyError's str() is quoted
        print(f"error: {message}", file=sys.stderr)
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

