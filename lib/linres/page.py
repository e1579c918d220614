r"""Helpers for the book's pages: numbers quoted in the prose.

A measured number in a markdown cell is glued from the cell that measures it
(MyST-NB ``glue``), never typed. :func:`glue` stores the number already formatted, at
a precision that rounding cannot change (see CONTRIBUTING.md), so that the stored
output that nbval compares is exactly the text the reader sees.

In a markdown cell: ``{glue:text}`name```.
"""
from __future__ import annotations

__all__ = ["glue", "Quoted"]


class Quoted:
    """A formatted value that ``{glue:text}`` shows exactly as formatted."""

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        self.text = text

    def __repr__(self) -> str:
        # MyST-NB's {glue:text} passes text/plain through ast.literal_eval: a quoted
        # literal comes back as exactly this text ("8,753" would become a tuple, "0.50"
        # the float 0.5).
        return repr(self.text)

    def _repr_markdown_(self) -> str:
        return self.text


def glue(name: str, value, fmt: str = "") -> None:
    """Glue ``format(value, fmt)`` under ``name`` for ``{glue:text}`name``` in the prose.

    The stored text is ``format(value, fmt)``: ``glue("steps", 1234.0, ",.0f")`` shows
    ``1,234``.
    """
    if not (isinstance(name, str) and name.replace("_", "").replace("-", "").isalnum()):
        raise ValueError(f"name must be a non-empty identifier-like string; got {name!r}")
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be a format spec string; got {fmt!r}")
    q = Quoted(value if isinstance(value, str) and not fmt else format(value, fmt))
    from myst_nb import glue as _glue

    _glue(name, q, display=False)
