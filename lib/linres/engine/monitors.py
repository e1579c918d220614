r"""Named diagnostics recorded inside a run: ``run(..., monitors=("margin", "det"))``.

A monitor is a vectorised function of the states of many problems at once. The compiled
kernels copy the state at every record step into a block of rows, and each monitor is then
evaluated on the whole block in one numpy call (no return to Python at every step); the
reference loop evaluates it at each record step. ``res.history[name]`` has shape
``(records, *batch, *shape)``.

Monitors of the layers (``run``), evaluated on layers (m, L, d, d), with the shape of one value:

- ``margin``: γ(Θ_{L:1}) = λ_min((Θ_{L:1} + Θ_{L:1}ᵀ)/2), a number;
- ``balancedness``: max_i ‖Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ‖_F, a number;
- ``layer_distances``: ‖Θ_i − I‖₂ for every layer, shape (L,);
- ``max_layer_distance``: max_i ‖Θ_i − I‖₂, a number;
- ``det``: det Θ_i for every layer, shape (L,);
- ``min_det``: min_i det Θ_i, a number;
- ``product``: Θ_{L:1}, shape (d, d).

Monitors of a spectrum (``run_scalar``, ``run_normal``), evaluated on z (m, d): ``z`` (d,).
"""
from __future__ import annotations

import numpy as np

Array = np.ndarray

__all__ = ["LAYER_MONITORS", "SPECTRUM_MONITORS", "check_monitors"]


def _product(w):
    p = w[..., 0, :, :]
    for i in range(1, w.shape[-3]):
        p = w[..., i, :, :] @ p
    return p


def _margin(w, phi):
    p = _product(w)
    return np.linalg.eigvalsh(0.5 * (p + np.swapaxes(p, -1, -2)))[..., 0]


def _balancedness(w, phi):
    if w.shape[-3] == 1:
        return np.zeros(w.shape[:-3])
    nxt = np.swapaxes(w[..., 1:, :, :], -1, -2) @ w[..., 1:, :, :]
    cur = w[..., :-1, :, :] @ np.swapaxes(w[..., :-1, :, :], -1, -2)
    return np.linalg.norm(nxt - cur, axis=(-2, -1)).max(axis=-1)


def _layer_distances(w, phi):
    return np.linalg.norm(w - np.eye(w.shape[-1]), ord=2, axis=(-2, -1))


#: The monitors of :func:`linres.train.run`: name → function of (layers, target) over a batch.
LAYER_MONITORS = {
    "margin": _margin,
    "balancedness": _balancedness,
    "layer_distances": _layer_distances,
    "max_layer_distance": lambda w, phi: _layer_distances(w, phi).max(axis=-1),
    "det": lambda w, phi: np.linalg.det(w),
    "min_det": lambda w, phi: np.linalg.det(w).min(axis=-1),
    "product": lambda w, phi: _product(w),
}

#: The monitors of :func:`linres.scalar.run_scalar` and :func:`linres.normal.run_normal`.
SPECTRUM_MONITORS = {
    "z": lambda z, phi: z.copy(),
}


def check_monitors(monitors, table: dict) -> tuple[str, ...]:
    """The monitor names, refused with a ``TypeError``/``ValueError`` naming ``monitors``."""
    if monitors is None or (type(monitors) is tuple and not monitors):
        return ()
    if isinstance(monitors, str):
        monitors = (monitors,)
    try:
        names = tuple(monitors)
    except TypeError:
        raise TypeError(f"monitors must be a sequence of names; got {monitors!r}") from None
    for m in names:
        if not isinstance(m, str):
            raise TypeError(f"monitors must be names (str); got {m!r}")
        if m not in table:
            raise ValueError(f"unknown monitor {m!r} in monitors; known: {sorted(table)}")
    if len(set(names)) != len(names):
        raise ValueError(f"monitors has a repeated name: {names}")
    return names


def evaluate(names, table, S: Array, T: Array) -> dict[str, Array]:
    """Every named monitor on states ``S`` (rows of problems) and targets ``T``."""
    return {m: np.asarray(table[m](S, T)) for m in names}
