r"""Analysis of recorded runs: first-crossing times, power-law fits, binning.

The chapters measure the same few things over and over: the first recorded step at
which a quantity crosses a level, the exponent of a power law fitted on log–log
axes with its coefficient of determination, and averages over two-dimensional bins.
They live here once, as pure functions over numpy arrays, so that every notebook
computes them the same way.

Conventions:

- a *history* has one row per recorded step: shape ``(n_records, *batch)``, with the
  matching ``steps`` of shape ``(n_records,)`` (``TrainResult.history_steps``);
- a crossing that never happens is reported as ``-1`` (an integer array, never NaN);
- an empty bin is NaN in the binned tables (these are for plotting, where NaN is
  drawn as a gap).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["first_crossing", "problem_history", "PowerFit", "fit_power", "r_squared", "binned_mean", "binned_median", "hessian"]

Array = np.ndarray

_SIDES = ("below", "above", "negative")


def _history(steps, values) -> tuple[Array, Array]:
    s = np.asarray(steps)
    if s.ndim != 1 or not np.issubdtype(s.dtype, np.integer):
        raise TypeError(f"steps must be a 1-d integer array; got dtype {s.dtype}, shape {s.shape}")
    v = np.asarray(values)
    if np.iscomplexobj(v) or not np.issubdtype(v.dtype, np.number):
        raise TypeError(f"values must be a real array; got dtype {v.dtype}")
    v = v.astype(float)
    if v.ndim < 1 or v.shape[0] != s.shape[0]:
        raise ValueError(f"values must have one row per recorded step ({s.shape[0]}); got shape {v.shape}")
    return s, v


def first_crossing(steps, values, level: float = 0.0, *, side: str = "below") -> Array:
    r"""First recorded step at which a history crosses ``level``, per problem.

    With ``side="below"`` the test is :math:`v_t \le \text{level}` (a loss reaching a
    tolerance ε); ``"above"`` tests :math:`v_t \ge \text{level}`; ``"negative"`` tests
    :math:`v_t < \text{level}` (a determinant changing sign, with ``level=0``).

    Returns an integer array of the batch shape, ``-1`` where the history never
    crosses. With ``record_every=1`` and a loss that never increases, ``side="below"``
    gives the count that a run with ``tol=level`` would report.

    >>> first_crossing([0, 10, 20, 30], [1.0, 0.5, 1e-3, 1e-9], 1e-2)
    array(20)
    >>> first_crossing([0, 1, 2], [[1.0, 2.0], [-0.5, 1.0], [0.3, 0.5]], side="negative")
    array([ 1, -1])
    """
    if side not in _SIDES:
        raise ValueError(f"side must be one of {_SIDES}; got {side!r}")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)) \
            or not np.isfinite(level):
        raise TypeError(f"level must be a finite real number; got {level!r}")
    s, v = _history(steps, values)
    hit = {"below": v <= level, "above": v >= level, "negative": v < level}[side]
    if v.shape[0] == 0:
        return np.full(v.shape[1:], -1, dtype=np.int64)
    return np.where(hit.any(axis=0), s[np.argmax(hit, axis=0)], -1).astype(np.int64)


class PowerFit(NamedTuple):
    r"""A least-squares fit :math:`\log y = \text{exponent}\cdot\log x + \log(\text{prefactor})`."""

    exponent: float
    prefactor: float
    r2: float
    n: int

    def __call__(self, x) -> Array:
        """The fitted power law evaluated at ``x``."""
        return self.prefactor * np.asarray(x, dtype=float) ** self.exponent


def problem_history(result, k: int) -> tuple[Array, Array]:
    """Problem ``k`` of a batched run's :class:`~linres.engine.contract.Result`: its recorded
    steps and losses up to its own stop, ending at its stop step with its final loss, as a
    run of that problem alone records them (a batch keeps recording until its last problem
    stops, and adds a row at the end only for that last stop).

    >>> import numpy as np, linres
    >>> res = linres.run(linres.gd(0.1), linres.identity_layers(2, 1, (2,)),
    ...                  np.array([[[1.2]], [[1.5]]]), tol=1e-6, record_every=10)
    >>> [int(t) for t in problem_history(res, 0)[0]], int(res.steps[0])
    ([0, 10, 19], 19)
    """
    steps = np.asarray(result.history_steps)
    loss = np.asarray(result.history_loss).reshape(steps.size, -1)
    stops, final = np.reshape(result.steps, -1), np.reshape(result.loss, -1)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < stops.size:
        raise ValueError(f"k must be a problem index in [0, {stops.size}); got {k!r}")
    keep = steps <= stops[k]
    t, v = steps[keep], loss[keep, k]
    if t.size == 0 or t[-1] != stops[k]:
        t, v = np.append(t, stops[k]), np.append(v, final[k])
    return t, v


def _positive_pairs(x, y, name_x: str = "x", name_y: str = "y") -> tuple[Array, Array]:
    xs, ys = (np.asarray(a) for a in (x, y))
    for name, a in ((name_x, xs), (name_y, ys)):
        if np.iscomplexobj(a) or not np.issubdtype(a.dtype, np.number):
            raise TypeError(f"{name} must be a real array; got dtype {a.dtype}")
    xs, ys = xs.astype(float).ravel(), ys.astype(float).ravel()
    if xs.shape != ys.shape:
        raise ValueError(f"{name_x} and {name_y} must have the same number of points; got {xs.size} and {ys.size}")
    return xs, ys


def r_squared(y, y_fit) -> float:
    r"""Coefficient of determination :math:`R^2 = 1 - \sum(y-\hat y)^2/\sum(y-\bar y)^2`.

    >>> r_squared([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    """
    ys, fs = _positive_pairs(y, y_fit, "y", "y_fit")
    if ys.size < 2:
        raise ValueError(f"y needs at least 2 points; got {ys.size}")
    ss_tot = float(np.sum((ys - ys.mean()) ** 2))
    if ss_tot == 0.0:
        raise ValueError("y is constant, so R² is undefined")
    return 1.0 - float(np.sum((ys - fs) ** 2)) / ss_tot


def fit_power(x, y) -> PowerFit:
    r"""Fit :math:`y \approx c\,x^p` by least squares on :math:`(\log x, \log y)`.

    Returns the exponent ``p``, the prefactor ``c``, the :math:`R^2` of the fit in log
    space, and the number of points. Every ``x`` and ``y`` must be positive and finite.

    >>> f = fit_power([1.0, 2.0, 4.0, 8.0], [3.0, 12.0, 48.0, 192.0])
    >>> round(f.exponent, 12), round(f.prefactor, 12), round(f.r2, 12)
    (2.0, 3.0, 1.0)
    """
    xs, ys = _positive_pairs(x, y)
    if xs.size < 2:
        raise ValueError(f"x needs at least 2 points to fit a power law; got {xs.size}")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys)) and np.all(xs > 0) and np.all(ys > 0)):
        raise ValueError("x and y must be positive and finite for a log-log fit")
    lx, ly = np.log(xs), np.log(ys)
    if np.ptp(lx) == 0.0:
        raise ValueError("x must take at least two distinct values")
    p, c = np.polyfit(lx, ly, 1)
    r2 = r_squared(ly, p * lx + c) if np.ptp(ly) > 0 else 1.0
    return PowerFit(float(p), float(np.exp(c)), float(r2), int(xs.size))


def _bins(x, y, values, x_edges, y_edges):
    xs, ys = _positive_pairs(x, y)
    vs = np.asarray(values, dtype=float).ravel()
    if vs.shape != xs.shape:
        raise ValueError(f"values must have one entry per point ({xs.size}); got {vs.size}")
    edges = []
    for name, e in (("x_edges", x_edges), ("y_edges", y_edges)):
        e = np.asarray(e, dtype=float)
        if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
            raise ValueError(f"{name} must be an increasing 1-d array of at least 2 edges")
        edges.append(e)
    ix = np.searchsorted(edges[0], xs, side="right") - 1
    iy = np.searchsorted(edges[1], ys, side="right") - 1
    # numpy's histogram convention: the last bin is closed on the right
    ix[xs == edges[0][-1]] = edges[0].size - 2
    iy[ys == edges[1][-1]] = edges[1].size - 2
    inside = (ix >= 0) & (ix < edges[0].size - 1) & (iy >= 0) & (iy < edges[1].size - 1) & np.isfinite(vs)
    return ix[inside], iy[inside], vs[inside], (edges[1].size - 1, edges[0].size - 1)


def binned_mean(x, y, values, x_edges, y_edges) -> Array:
    r"""Mean of ``values`` over the 2-d bins of ``(x, y)``: a table of shape
    ``(len(y_edges) - 1, len(x_edges) - 1)`` (rows are y bins, ready for ``imshow``),
    NaN where a bin is empty. Non-finite values are left out.

    >>> binned_mean([0.5, 0.5, 1.5], [0.5, 0.5, 0.5], [1.0, 0.0, 2.0], [0, 1, 2], [0, 1])
    array([[0.5, 2. ]])
    """
    ix, iy, vs, shape = _bins(x, y, values, x_edges, y_edges)
    num = np.zeros(shape)
    cnt = np.zeros(shape)
    np.add.at(num, (iy, ix), vs)
    np.add.at(cnt, (iy, ix), 1.0)
    out = np.full(shape, np.nan)
    np.divide(num, cnt, out=out, where=cnt > 0)
    return out


def binned_median(x, y, values, x_edges, y_edges) -> Array:
    r"""Median of ``values`` over the 2-d bins of ``(x, y)``; same layout as :func:`binned_mean`.

    >>> binned_median([0.5, 0.5, 0.5, 1.5], [0.5] * 4, [1.0, 5.0, 2.0, 3.0], [0, 1, 2], [0, 1])
    array([[2., 3.]])
    """
    ix, iy, vs, shape = _bins(x, y, values, x_edges, y_edges)
    out = np.full(shape, np.nan)
    key = iy * shape[1] + ix
    order = np.argsort(key, kind="stable")
    key, vs = key[order], vs[order]
    starts = np.flatnonzero(np.r_[True, np.diff(key) != 0])
    for a, b in zip(starts, np.r_[starts[1:], key.size]):
        out.flat[key[a]] = np.median(vs[a:b])
    return out


def hessian(f, x, h: float = 1e-5) -> Array:
    r"""Central-difference Hessian of a scalar function ``f`` at the point ``x`` (any shape,
    flattened): :math:`H_{ij} \approx [f(x+he_i+he_j) - f(x+he_i-he_j) - f(x-he_i+he_j)
    + f(x-he_i-he_j)]/(4h^2)`, symmetrised. The error is :math:`O(h^2)` plus rounding
    :math:`O(\epsilon_{\text{mach}}|f|/h^2)`.

    >>> H = hessian(lambda v: v[0] ** 2 + 3 * v[0] * v[1], [1.0, 2.0])
    >>> np.allclose(H, [[2.0, 3.0], [3.0, 0.0]], atol=1e-6)
    True
    """
    if not callable(f):
        raise TypeError("f must be callable")
    x0 = np.asarray(x)
    if np.iscomplexobj(x0) or not np.issubdtype(x0.dtype, np.number):
        raise TypeError(f"x must be a real array; got dtype {x0.dtype}")
    x0 = x0.astype(float)
    if x0.size == 0 or not np.all(np.isfinite(x0)):
        raise ValueError("x must be a non-empty array of finite numbers")
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not (0 < h < 1):
        raise ValueError(f"h must be a step in (0, 1); got {h!r}")
    flat = x0.ravel()
    n = flat.size

    def at(i, si, j, sj):
        y = flat.copy()
        y[i] += si * h
        y[j] += sj * h
        return float(f(y.reshape(x0.shape)))

    H = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            H[i, j] = H[j, i] = (at(i, 1, j, 1) - at(i, 1, j, -1) - at(i, -1, j, 1) + at(i, -1, j, -1)) / (4 * h * h)
    return H
