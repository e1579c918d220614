r"""Exploration helpers: one plotting function, two ways to move its parameters.

- :func:`live` wires ``plot(**params) -> Figure`` to ipywidgets sliders, for a
  reader running the notebook in Jupyter (needs a kernel).
- :func:`static_slider` renders the same function over a grid of parameter values
  into PNG frames plus a few lines of JavaScript: range inputs that swap the
  picture on a static, offline page, with no kernel.
"""
from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
from typing import Any, Callable, Mapping, Sequence

import matplotlib.pyplot as plt

__all__ = ["live", "static_slider", "StaticSlider"]


def live(plot: Callable[..., Any], **controls):
    """An ``ipywidgets.interactive`` that redraws ``plot(**params)`` as controls move.

    ``controls`` follow ``ipywidgets.interact``: ``(min, max, step)`` tuples, lists of
    values, or widgets.
    """
    import ipywidgets

    def draw(**params):
        plot(**params)
        plt.show()

    return ipywidgets.interactive(draw, **controls)


class StaticSlider:
    """Precomputed frames with one range input per parameter (see :func:`static_slider`)."""

    def __init__(self, names: Sequence[str], values: Sequence[Sequence], frames: list[str], start: Sequence[int]):
        self.names, self.values, self.frames, self.start = list(names), [list(v) for v in values], frames, list(start)
        key = json.dumps([self.names, [[str(x) for x in v] for v in self.values]]).encode()
        self.uid = "linres-slider-" + hashlib.sha1(key).hexdigest()[:10]

    def __repr__(self) -> str:
        shape = "x".join(str(len(v)) for v in self.values)
        return f"StaticSlider({', '.join(self.names)}; {shape} frames)"

    def _index(self, idx: Sequence[int]) -> int:
        flat = 0
        for i, v in zip(idx, self.values):
            flat = flat * len(v) + i
        return flat

    def _repr_html_(self) -> str:
        u = self.uid
        rows = []
        for k, (name, vals) in enumerate(zip(self.names, self.values)):
            labels = json.dumps([_fmt(x) for x in vals])
            rows.append(
                f'<label style="display:block;font-family:sans-serif;font-size:0.9em">'
                f'{name} = <span class="linres-value" data-labels=\'{labels}\'>{_fmt(vals[self.start[k]])}</span><br>'
                f'<input type="range" class="linres-range" aria-label="{name}" min="0" max="{len(vals) - 1}" '
                f'step="1" value="{self.start[k]}" style="width:60%"></label>'
            )
        first = self.frames[self._index(self.start)]
        return (
            f'<div class="linres-slider" id="{u}">'
            f'{"".join(rows)}'
            f'<img class="linres-frame" alt="precomputed figure" src="{first}" style="max-width:100%">'
            f"<script>(function(){{"
            f"var root=document.getElementById('{u}');"
            f"var frames={json.dumps(self.frames)};"
            f"var sizes={json.dumps([len(v) for v in self.values])};"
            f"var inputs=root.querySelectorAll('input.linres-range');"
            f"var spans=root.querySelectorAll('span.linres-value');"
            f"var img=root.querySelector('img.linres-frame');"
            f"function show(){{var f=0;for(var k=0;k<inputs.length;k++){{var i=parseInt(inputs[k].value);"
            f"f=f*sizes[k]+i;spans[k].textContent=JSON.parse(spans[k].dataset.labels)[i];}}img.src=frames[f];}}"
            f"for(var k=0;k<inputs.length;k++){{inputs[k].addEventListener('input',show);}}"
            f"}})();</script></div>"
        )


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def static_slider(
    plot: Callable[..., Any],
    grid: Mapping[str, Sequence],
    *,
    start: Mapping[str, int] | None = None,
    dpi: int = 72,
) -> StaticSlider:
    """Render ``plot(**params)`` (which returns a matplotlib Figure) at every point of
    ``grid`` (name → values) and return a :class:`StaticSlider`, which displays as HTML.

    ``start`` gives the index shown first for each parameter (default: the middle).
    Frames are PNG data URIs, so the page needs no server and no kernel.
    """
    if not grid:
        raise ValueError("grid must name at least one parameter")
    names = list(grid)
    values = [list(grid[k]) for k in names]
    if any(len(v) == 0 for v in values):
        raise ValueError("every parameter needs at least one value")
    frames = []
    for combo in itertools.product(*values):
        fig = plot(**dict(zip(names, combo)))
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
        plt.close(fig)
        frames.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
    start = dict(start or {})
    idx = [int(start.get(k, (len(v) - 1) // 2)) for k, v in zip(names, values)]
    return StaticSlider(names, values, frames, idx)
