"""What a book page needs beyond a figure: named values glued for the prose."""

from __future__ import annotations

from typing import Mapping


def glue_values(values: Mapping[str, object]) -> None:
    """Glue every value under its name (myst-nb ``glue``, not displayed), for ``{glue:text}`` in the prose."""
    from myst_nb import glue

    for name, value in values.items():
        glue(name, value, display=False)
