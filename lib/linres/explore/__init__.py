r"""Explore figures: one frame function per chapter, drawn two ways.

A chapter's *Explore* section lets the reader move the parameters that its text
names. The data of one picture come from one pure function in this package,
``frame(**params) -> Frame``, declared with its controls as an :class:`Explorer`
in ``linres.explore.<chapter>``. The same function feeds

- :func:`static`: every frame over the product grid of the controls' values,
  precomputed and drawn by Vega-Lite (through Altair) on the static page, with
  one control per parameter, hover values and axes fitted to each frame;
- :func:`live`: an ipywidgets panel in Jupyter that calls the function again at
  every move and redraws it with Matplotlib in the book's style.

No algorithm runs in the browser: the page only filters the precomputed rows.
"""
from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["Control", "Series", "Frame", "Explorer", "static", "live", "draw", "chapter", "CHAPTERS",
           "depth_control", "step_control", "LOSS_AXES", "real", "depth"]

#: Chapters with an Explore section, by notebook name (module ``linres.explore.<name>``).
CHAPTERS = ("model", "near_identity", "far_from_identity", "spd", "negative_eigenvalue",
            "positive_margin", "beyond")

_KINDS = ("measured", "bound", "reference")
# measured curves take the colour cycle; bounds are dashed black; references dotted grey
_WEB_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


@dataclass(frozen=True)
class Control:
    r"""One parameter of a frame function.

    - ``name``: the keyword of the frame function (``"delta"``);
    - ``label``: how the book writes it, in Unicode, shown beside the control (``"δ"``);
    - ``tex``: how the Explore text writes it in math mode (``r"\delta"``); a test
      checks that the text names exactly the controls;
    - ``values``: the grid of the static figure, numbers in increasing order;
    - ``default``: the value shown first (one of ``values``).
    """

    name: str
    label: str
    tex: str
    values: tuple
    default: Any = None

    def __post_init__(self):
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ValueError(f"name must be a Python identifier; got {self.name!r}")
        vals = tuple(self.values)
        if len(vals) < 1:
            raise ValueError(f"values of {self.name!r} must not be empty")
        for v in vals:
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(float(v)):
                raise TypeError(f"values of {self.name!r} must be finite real numbers; got {v!r}")
        vals = tuple(int(v) if isinstance(v, (int, np.integer)) else float(v) for v in vals)
        if any(b <= a for a, b in zip(vals, vals[1:])):
            raise ValueError(f"values of {self.name!r} must be strictly increasing")
        object.__setattr__(self, "values", vals)
        default = vals[(len(vals) - 1) // 2] if self.default is None else self.default
        if default not in vals:
            raise ValueError(f"default of {self.name!r} must be one of its values; got {default!r}")
        object.__setattr__(self, "default", default)

    @property
    def uniform(self) -> bool:
        """True when the values are evenly spaced (drawn as a range slider)."""
        v = np.asarray(self.values, dtype=float)
        if v.size < 3:
            return False
        step = np.diff(v)
        return bool(np.allclose(step, step[0], rtol=1e-9, atol=0))


@dataclass(frozen=True)
class Series:
    """One curve of a frame: ``kind`` is ``"measured"``, ``"bound"`` or ``"reference"``."""

    name: str
    x: np.ndarray
    y: np.ndarray
    kind: str = "measured"

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}; got {self.kind!r}")
        x = np.asarray(self.x, dtype=float).ravel()
        y = np.asarray(self.y, dtype=float).ravel()
        if x.shape != y.shape:
            raise ValueError(f"x and y of series {self.name!r} must have the same length")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)


@dataclass(frozen=True)
class Frame:
    """What one setting of the controls shows: a few series and an optional note."""

    series: tuple
    note: str = ""

    def __post_init__(self):
        s = tuple(self.series)
        if not s or not all(isinstance(x, Series) for x in s):
            raise TypeError("series must be a non-empty sequence of Series")
        object.__setattr__(self, "series", s)


@dataclass(frozen=True)
class Explorer:
    r"""A chapter's Explore figure: the frame function, its controls and its axes.

    ``x_title``/``y_title`` are the axis titles in Unicode (for the web page);
    ``x_math``/``y_math`` the same in mathtext (for Matplotlib; default: the titles).
    ``description`` is the figure's alt text: what it shows.
    """

    name: str
    frame: Callable[..., Frame]
    controls: tuple
    x_title: str
    y_title: str
    description: str
    x_scale: str = "linear"
    y_scale: str = "log"
    x_math: str = ""
    y_math: str = ""
    points: int = 20
    height: int = 280
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        c = tuple(self.controls)
        if not c or not all(isinstance(x, Control) for x in c):
            raise TypeError("controls must be a non-empty sequence of Control")
        if len({x.name for x in c}) != len(c):
            raise ValueError("controls must have distinct names")
        object.__setattr__(self, "controls", c)
        for name in ("x_scale", "y_scale"):
            if getattr(self, name) not in ("linear", "log"):
                raise ValueError(f"{name} must be 'linear' or 'log'; got {getattr(self, name)!r}")
        if not callable(self.frame):
            raise TypeError("frame must be callable")

    @property
    def defaults(self) -> dict:
        return {c.name: c.default for c in self.controls}

    def grid(self):
        """Every setting of the controls, in row-major order (the last control fastest)."""
        names = [c.name for c in self.controls]
        for combo in itertools.product(*(c.values for c in self.controls)):
            yield dict(zip(names, combo))


# ------------------------------------------------------------- shared by the chapters

def depth_control(values, default=None) -> Control:
    """The depth :math:`L` as a control (keyword ``L`` of the frame function)."""
    return Control("L", "L", "L", tuple(values), default)


def step_control(values, default=None) -> Control:
    r"""The step as the book writes it, :math:`\eta L` (keyword ``eta_L``; η = (ηL)/L)."""
    return Control("eta_L", "ηL", r"\eta L", tuple(values), default)


#: Axis titles of a figure of the loss against the step t: ``Explorer(..., **LOSS_AXES)``.
LOSS_AXES = MappingProxyType({"x_title": "step t", "y_title": "loss ℓ(Θₜ)",
                              "x_math": r"step $t$", "y_math": r"loss $\ell(\Theta_t)$"})


def real(name: str, value) -> float:
    """``value`` as a float: TypeError unless a real number, ValueError unless finite; the
    message names ``name`` (a frame function's check of its arguments)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return float(value)


def depth(L) -> int:
    """``L`` as an int: ValueError naming L unless an integer depth ≥ 1."""
    if isinstance(L, (bool, np.bool_)) or not isinstance(L, (int, np.integer)) or L < 1:
        raise ValueError(f"L must be an integer depth >= 1; got {L!r}")
    return int(L)


def chapter(name: str) -> Explorer:
    """The :class:`Explorer` of the chapter ``book/<name>.ipynb``."""
    if name not in CHAPTERS:
        raise ValueError(f"name must be one of {CHAPTERS}; got {name!r}")
    return importlib.import_module(f"{__name__}.{name}").EXPLORER


# ----------------------------------------------------------------------------- static

def _sample(s: Series, n: int, log_x: bool, log_y: bool) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(s.x) & np.isfinite(s.y)
    if log_x:
        ok &= s.x > 0
    if log_y:
        ok &= s.y > 0
    x, y = s.x[ok], s.y[ok]
    if x.size <= n:
        return x, y
    if log_x:
        t = np.geomspace(max(x[0], 1e-300), x[-1], n) if x[0] > 0 else np.linspace(x[0], x[-1], n)
    else:
        t = np.linspace(x[0], x[-1], n)
    idx = np.unique(np.clip(np.searchsorted(x, t), 0, x.size - 1))
    return x[idx], y[idx]


def _whole(r: float):
    """``r`` as an int when it is whole (shorter JSON), else as it is."""
    return int(r) if r.is_integer() and abs(r) < 1e15 else r


def _round(a, digits: int):
    """``a`` to ``digits`` significant digits."""
    return _whole(float(f"{float(a):.{digits}g}"))


class StaticExplore:
    """The precomputed Explore figure; displays as HTML (book) and text (nbval)."""

    def __init__(self, explorer: Explorer, spec: dict, n_frames: int):
        self.explorer, self.spec, self.n_frames = explorer, spec, n_frames
        self.uid = "linres-explore-" + explorer.name

    def __repr__(self) -> str:
        parts = ", ".join(f"{c.label} ({len(c.values)} values)" for c in self.explorer.controls)
        return f"Explore figure '{self.explorer.name}': {self.n_frames} precomputed frames; controls {parts}"

    def _repr_html_(self) -> str:
        spec = json.dumps(self.spec, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
        desc = self.explorer.description.replace('"', "&quot;")
        return (
            f'<figure class="linres-explore" id="{self.uid}" role="group" aria-label="{desc}">'
            f'<div class="linres-explore-plot" style="width:100%"></div>'
            f'<p class="linres-explore-fallback">This figure is drawn on the book\'s web pages; '
            f'in Jupyter, use the live version above it.</p>'
            f'<script type="application/json" class="linres-explore-spec">{spec}</script>'
            f"</figure>"
        )


def _scale(kind: str):
    import altair as alt

    return alt.Scale(type="log", nice=False) if kind == "log" else alt.Scale(zero=False, nice=False)


def _axis(kind: str):
    import altair as alt

    return alt.Axis(format="~e", tickCount=6) if kind == "log" else alt.Axis(tickCount=6)


def static(explorer: Explorer) -> StaticExplore:
    """Compute every frame of ``explorer`` and return the Vega-Lite figure.

    The data are one record per distinct curve, ``{"k": [frames], "s": series, "x": [...],
    "v": [...]}``, with x rounded to 4 significant digits and y to 3 (on a log axis, ``v``
    is the integer nearest 1000·log10 y, y to 0.12 %); a curve that several frames share (a plateau
    that does not depend on the step, a bound that depends on one control only) is stored
    once with the list of its frames. The page keeps the records of the frame that the
    controls select and flattens their arrays into points. Axes are fitted to the shown
    points, so each frame fills the plot.
    """
    import altair as alt

    if not isinstance(explorer, Explorer):
        raise TypeError(f"explorer must be an Explorer; got {type(explorer).__name__}")
    names: list[str] = []
    kinds: list[str] = []
    records: dict[tuple, list[int]] = {}
    log_x, log_y = explorer.x_scale == "log", explorer.y_scale == "log"
    n_frames = 0
    for k, params in enumerate(explorer.grid()):
        fr = explorer.frame(**params)
        if not isinstance(fr, Frame):
            raise TypeError(f"frame must return a Frame; got {type(fr).__name__}")
        for s in fr.series:
            if s.name not in names:
                names.append(s.name)
                kinds.append(s.kind)
            j = names.index(s.name)
            x, y = _sample(s, explorer.points, log_x, log_y)
            if not x.size:
                continue
            # a log axis stores 1000·log10(y) as an integer (y to 0.12 %, below a pixel and
            # within the 3 digits of the tooltip): shorter than 3 significant digits of y
            v = [int(b) for b in np.round(1000 * np.log10(y))] if log_y else [_round(b, 3) for b in y]
            curve = (j, tuple(_round(a, 4) for a in x), tuple(v))
            if curve in records:
                records[curve].append(k)  # the same curve in another frame: stored once
            else:
                records[curve] = [k]
        n_frames += 1

    params, terms, stride = [], [], 1
    for c in reversed(explorer.controls):
        vals = list(c.values)
        if c.uniform:
            step = vals[1] - vals[0]
            bind = alt.binding_range(min=vals[0], max=vals[-1], step=step, name=f"{c.label} ")
            index = f"round(({c.name} - {vals[0]!r}) / {step!r})"
        else:
            bind = alt.binding_select(options=vals, labels=[_fmt(v) for v in vals], name=f"{c.label} ")
            index = f"indexof({json.dumps(vals)}, {c.name})"
        params.insert(0, alt.param(name=c.name, value=c.default, bind=bind))
        terms.append(f"{index} * {stride}")
        stride *= len(vals)
    colors, dashes, m = [], [], 0
    for kind in kinds:
        if kind == "measured":
            colors.append(_WEB_COLORS[m % len(_WEB_COLORS)])
            dashes.append([1, 0])
            m += 1
        elif kind == "bound":
            colors.append("#000000")
            dashes.append([6, 3])
        else:
            colors.append("#777777")
            dashes.append([2, 2])
    label_expr = f"{json.dumps(names, ensure_ascii=False)}[datum.s]"
    data = alt.InlineData(values=[{"k": ks, "s": j, "x": list(x), "v": list(v)}
                                  for (j, x, v), ks in records.items()])
    y_expr = "pow(10, datum.v / 1000)" if log_y else "datum.v"
    x = alt.X("x:Q", title=explorer.x_title, scale=_scale(explorer.x_scale), axis=_axis(explorer.x_scale))
    y = alt.Y("y:Q", title=explorer.y_title, scale=_scale(explorer.y_scale), axis=_axis(explorer.y_scale))
    # one entry per line under the plot: a row of long labels would run off a phone screen
    legend = alt.Legend(orient="bottom", direction="vertical", title=None, labelLimit=400, symbolStrokeWidth=2)
    chart = (
        alt.Chart(data)
        .transform_filter(f"indexof(datum.k, {' + '.join(terms)}) >= 0")
        .transform_flatten(["x", "v"])
        .transform_calculate(curve=label_expr, y=y_expr)
        .mark_line(strokeWidth=2, point=alt.OverlayMarkDef(size=18, filled=True))
        .encode(
            x=x, y=y,
            color=alt.Color("curve:N", scale=alt.Scale(domain=names, range=colors), legend=legend),
            strokeDash=alt.StrokeDash("curve:N", scale=alt.Scale(domain=names, range=dashes), legend=legend),
            detail="curve:N",
            tooltip=[alt.Tooltip("curve:N", title="curve"), alt.Tooltip("x:Q", title=explorer.x_title, format=".4~g"),
                     alt.Tooltip("y:Q", title=explorer.y_title, format=".3~e")],
        )
        .add_params(*params)
        .properties(width="container", height=explorer.height, description=explorer.description,
                    autosize=alt.AutoSizeParams(type="fit-x", contains="padding", resize=True))
        .configure(font="DejaVu Serif, Georgia, serif")
        .configure_axis(labelFontSize=12, titleFontSize=13, grid=True, gridOpacity=0.4, labelSeparation=6)
        .configure_legend(labelFontSize=12)
        .configure_view(stroke=None)
    )
    spec = chart.to_dict()
    spec["usermeta"] = {"linres": {"controls": [
        {"name": c.name, "label": c.label, "values": list(c.values), "default": c.default}
        for c in explorer.controls], "frames": n_frames}}
    return StaticExplore(explorer, spec, n_frames)


# ------------------------------------------------------------------------------- live

def draw(explorer: Explorer, frame: Frame, ax=None):
    """Draw one frame with Matplotlib, in the book's style; returns the axes."""
    from .. import figures

    if ax is None:
        _, ax = figures.figure(1, 1)
    m = 0
    for s in frame.series:
        if s.kind == "measured":
            ax.plot(s.x, s.y, color=f"C{m}", label=s.name)
            m += 1
        elif s.kind == "bound":
            ax.plot(s.x, s.y, color="k", linestyle="--", label=s.name)
        else:
            ax.plot(s.x, s.y, color="0.45", linestyle=":", label=s.name)
    ax.set_xscale(explorer.x_scale)
    ax.set_yscale(explorer.y_scale)
    ax.set_xlabel(explorer.x_math or explorer.x_title)
    ax.set_ylabel(explorer.y_math or explorer.y_title)
    if frame.note:
        ax.set_title(frame.note)
    ax.legend()
    return ax


def live(explorer: Explorer):
    """An ipywidgets panel: one slider per control; the figure is recomputed by the
    chapter's frame function and redrawn at every move.

    The returned ``VBox`` has ``.controls`` (name → slider), ``.frame`` (the last
    :class:`Frame` drawn) and ``.redraw()``, so that tests can drive it.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not isinstance(explorer, Explorer):
        raise TypeError(f"explorer must be an Explorer; got {type(explorer).__name__}")
    sliders = {
        c.name: w.SelectionSlider(options=[(_fmt(v), v) for v in c.values], value=c.default,
                                  description=c.label, continuous_update=False)
        for c in explorer.controls
    }
    out = w.Output()
    box = w.VBox([*sliders.values(), out])
    box.controls = sliders
    box.frame = None

    def redraw(_change=None):
        params = {n: s.value for n, s in sliders.items()}
        fr = explorer.frame(**params)
        box.frame = fr
        with out:
            out.clear_output(wait=True)
            ax = draw(explorer, fr)
            display(ax.figure)
            plt.close(ax.figure)

    for s in sliders.values():
        s.observe(redraw, names="value")
    box.redraw = redraw
    redraw()
    return box


def spec_digest(spec: dict) -> str:
    """A short digest of a Vega-Lite spec (for tests and change detection)."""
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
