r"""Explore of the chapter "Beyond the paper": the determinant floor, and how long gradient
descent respects it.

The target is the non-symmetric 2×2 matrix Φ = R(0.9) diag(1.5, −σ_min) R(0.2)ᵀ, with
det Φ = −1.5 σ_min < 0 and smallest singular value σ_min. Gradient descent from the
identity with step η = (ηL)/L plateaus at the determinant floor σ_min²/2
(:func:`linres.bounds.beyond.det_floor`) while every layer keeps det Θ_i > 0, and
drops below it once a layer's determinant changes sign.

Controls: depth :math:`L`, step :math:`\eta L`, smallest singular value :math:`\sigma_{\min}`.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import landscape
from ..analysis import problem_history
from ..bounds.beyond import det_floor
from . import LOSS_AXES, Control, Explorer, Frame, Series, depth_control, step_control

__all__ = ["target", "frame", "EXPLORER"]

#: Steps of every run in the figure.
BUDGET = 6000


def _rotation(a: float) -> np.ndarray:
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def target(sigma_min: float) -> np.ndarray:
    r"""Φ = R(0.9) diag(1.5, −σ_min) R(0.2)ᵀ: det Φ < 0, smallest singular value σ_min.

    >>> phi = target(0.3)
    >>> round(float(np.linalg.det(phi)), 12), round(float(np.linalg.svd(phi)[1][-1]), 12)
    (-0.45, 0.3)
    """
    s = float(sigma_min)
    if not (np.isfinite(s) and 0 < s <= 1.5):
        raise ValueError(f"sigma_min must be in (0, 1.5]; got {sigma_min!r}")
    return _rotation(0.9) @ np.diag([1.5, -s]) @ _rotation(0.2).T


_ETA_L = tuple(np.round(np.linspace(0.05, 0.4, 8), 2))
_SIGMA = tuple(np.round(np.linspace(0.1, 0.8, 8), 2))
# L = 2 and 3 cross the determinant barrier within the budget; from L = 4 on, no run does.
_DEPTHS = (2, 3, 4, 5, 6, 8, 12, 16)


@functools.lru_cache(maxsize=16)
def _runs(L: int, grid: tuple) -> dict:
    """One batched run over every (ηL, σ_min) of ``grid`` at depth L; per setting the
    recorded steps, losses, first crossing step, status and step count."""
    phi = np.stack([target(s) for _, s in grid])
    eta = np.array([e / L for e, _ in grid])
    first, res = landscape.det_crossing(phi, L, eta, max_steps=BUDGET, record_every=10)
    return {key: (*problem_history(res, k), int(first[k]), str(res.status[k]), int(res.steps[k]))
            for k, key in enumerate(grid)}


def frame(L: int = 2, eta_L: float = 0.4, sigma_min: float = 0.3) -> Frame:
    r"""Loss of GD from the identity on :func:`target` with η = (ηL)/L, beside the
    determinant floor σ_min²/2 (the bound while every layer keeps det Θ_i > 0)."""
    phi = target(sigma_min)
    key = (float(eta_L), float(sigma_min))
    grid = tuple((e, s) for e in _ETA_L for s in _SIGMA)
    if key not in grid:  # off the figure's grid: one run
        grid = (key,)
    steps, loss, first, status, n = _runs(int(L), grid)[key]
    floor = float(det_floor(phi))
    end = max(int(steps[-1]), 1)
    note = (f"a layer's det < 0 at step {first}; {status} at step {n}"
            if first >= 0 else f"every det Θ_i > 0 for all {BUDGET} steps")
    return Frame((Series("loss of GD from I", steps, loss),
                  Series("determinant floor σₘᵢₙ²/2", [0, end], [floor, floor], kind="bound")),
                 note=note)


EXPLORER = Explorer(
    name="beyond",
    frame=frame,
    controls=(
        depth_control(_DEPTHS, default=2),
        step_control(_ETA_L, default=0.4),
        Control("sigma_min", "σₘᵢₙ", r"\sigma_{\min}", _SIGMA, default=0.3),
    ),
    **LOSS_AXES,
    points=10,  # the loss falls onto the floor and stays there: 10 points show it (page ≤ 400 KB)
    description="Loss of gradient descent from the identity against the step, on a log scale, "
                "on a 2 by 2 target with negative determinant, beside the determinant floor "
                "(a horizontal dashed line), for the chosen depth, step size and smallest "
                "singular value of the target.",
)
