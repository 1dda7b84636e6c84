"""The companion book: the run folder the notebooks share (:mod:`.runs`), figures (:mod:`.plots`), and the
papermill execution and Jupyter Book build (:mod:`.build`).

:class:`BookError` lives here, and :func:`build_book` is imported on first use, so that every command can catch a
book's error without loading the build and the registry of methods (a second of a small command's start-up)."""


class BookError(RuntimeError):
    """A notebook or the book build failed."""


def __getattr__(name: str):
    if name == "build_book":
        from .build import build_book

        return build_book
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BookError", "build_book"]
