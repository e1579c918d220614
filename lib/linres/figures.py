r"""The book's figure style, in one place.

Every chapter starts with ``figures.use()`` and draws with :func:`figure`, so that all
figures share one look, designed for the content column and a phone:

- drawn at the column's width, :data:`WIDTH` inches (100 CSS px per inch), and stored
  as PNG at 2× with their CSS size in the output's metadata, so that the page shows
  them at 100 % of their designed size, sharp on high-density screens;
- at most two panels side by side (more panels stack);
- every mathematical label goes through mathtext (``r"$\|\Phi-I\|_F$"``);
- text no smaller than 9 pt (12.5 CSS px at the designed size).

The style itself is ``book.mplstyle`` beside this module.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["WIDTH", "STYLE", "use", "figure", "distinct"]

#: Width of every figure, in inches: the book theme's content column at 1280 px is
#: 688 CSS px wide, and figures are drawn for 100 CSS px per inch.
WIDTH = 6.8
#: Path of the Matplotlib style file.
STYLE = Path(__file__).with_name("book.mplstyle")

_ROW_HEIGHT = {1: 3.0, 2: 2.7}


def use() -> None:
    """Apply the book's style; in IPython, store figures as 2× PNG at their exact size.

    The image keeps ``figsize`` exactly (no tight bounding box), and its CSS width is
    recorded in the output metadata, so the page shows it at its designed size.
    """
    import matplotlib.pyplot as plt

    plt.style.use(str(STYLE))
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is optional
        return
    ip = get_ipython()
    if ip is None:
        return
    from matplotlib.figure import Figure

    # The inline backend installs its own PNG printer when pyplot first resolves its
    # backend; resolve it now, so that ours is installed after and wins.
    plt.close(plt.figure())
    png = ip.display_formatter.formatters["image/png"]
    png.for_type(Figure, _png)


def _png(fig) -> tuple[bytes, dict]:
    """The figure as a 2× PNG with a 64-colour palette (a quarter of the bytes of a
    true-colour PNG; line art and the book's colour maps keep their look), and its CSS
    size in the output metadata."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=2 * fig.dpi, metadata={"Software": None})
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    out = io.BytesIO()
    img.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, format="png", optimize=True)
    w, h = fig.get_size_inches() * fig.dpi
    return out.getvalue(), {"width": int(round(w)), "height": int(round(h))}


def figure(nrows: int = 1, ncols: int = 1, *, height: float | None = None, **subplot_kw):
    r"""A figure at the column's width with ``nrows × ncols`` axes (``ncols`` ≤ 2).

    ``height`` is the whole figure's height in inches; by default each row gets
    3.0 in (one column) or 2.7 in (two columns). Extra keywords go to
    :func:`matplotlib.pyplot.subplots` (``sharey=True`` and so on).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> fig, (a, b) = figure(1, 2)
    >>> [float(round(v, 2)) for v in fig.get_size_inches()]
    [6.8, 2.7]
    """
    import matplotlib.pyplot as plt

    for name, v in (("nrows", nrows), ("ncols", ncols)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")
    if ncols > 2:
        raise ValueError(f"ncols must be 1 or 2 (more panels stack in rows, for phones); got {ncols}")
    if height is None:
        height = _ROW_HEIGHT[ncols] * nrows
    elif not (isinstance(height, (int, float)) and 0 < height <= 12):
        raise ValueError(f"height must be a number of inches in (0, 12]; got {height!r}")
    return plt.subplots(nrows, ncols, figsize=(WIDTH, float(height)), **subplot_kw)


def distinct(k: int) -> dict:
    """Line keywords that keep curve ``k`` visible when it coincides with others:
    a cycle of dash patterns and markers on top of the colour cycle.

    >>> distinct(1)["linestyle"]
    '--'
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative integer; got {k!r}")
    styles = ("-", "--", ":", "-.")
    markers = (None, "o", "s", "^")
    return {"color": f"C{k % 8}", "linestyle": styles[k % 4], "marker": markers[(k // 4) % 4],
            "markevery": 0.1}
