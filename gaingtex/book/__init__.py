"""The companion book: the run folder the notebooks share (:mod:`.runs`), figures (:mod:`.plots`), and the
papermill execution and Jupyter Book build (:mod:`.build`)."""

from .build import BookError, build_book

__all__ = ["BookError", "build_book"]
