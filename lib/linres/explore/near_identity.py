r"""Explore of Result 1 (book/near_identity.ipynb): GD from the identity near the identity.

Controls: distance :math:`\delta = \|\Phi - I\|_F`, depth :math:`L`, step :math:`\eta L`.
The frame shows the measured loss of gradient descent from :math:`\Theta_i = I` on one
random 4×4 target at distance δ (seed 0), and the theorem's bound
:math:`\tfrac12\rho^{2t}\delta^2` wherever the theorem's hypotheses hold (nowhere else:
outside them the theorem says nothing, and :func:`linres.bounds.near_identity.rate` is NaN).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import targets
from ..bounds import near_identity as ni
from ..model import identity_layers
from ..train import run
from ..updates import gd
from . import LOSS_AXES, Control, Explorer, Frame, Series, depth, depth_control, real, step_control

__all__ = ["frame", "EXPLORER"]

D, SEED, TOL, MAX_STEPS = 4, 0, 1e-16, 400
DELTAS = (0.01, 0.03, 0.06, 0.1, 0.11, 0.2, 0.35, 0.5)
DEPTHS = (1, 2, 3, 4, 8, 16, 32, 64)
ETA_LS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def _target(delta: float) -> np.ndarray:
    return targets.near_identity(D, delta, np.random.default_rng(SEED))


@lru_cache(maxsize=len(DEPTHS))
def _grid_runs(L: int):
    # Every (δ, ηL) of the grid at this depth in one batched run (the static figure's frames).
    dl, el = np.meshgrid(DELTAS, ETA_LS, indexing="ij")
    phis = np.stack([_target(x) for x in DELTAS])[:, None].repeat(len(ETA_LS), axis=1)
    return run(gd(el / L), identity_layers(L, D), phis, tol=TOL, max_steps=MAX_STEPS)


def _history(delta: float, L: int, eta_L: float):
    if delta in DELTAS and eta_L in ETA_LS and L in DEPTHS:
        res, i, j = _grid_runs(L), DELTAS.index(delta), ETA_LS.index(eta_L)
        n = int(res.steps[i, j])
        keep = res.history_steps <= n
        return res.history_steps[keep], res.history_loss[keep, i, j], str(res.status[i, j]), n
    res = run(gd(eta_L / L), identity_layers(L, D), _target(delta), tol=TOL, max_steps=MAX_STEPS)
    return res.history_steps, res.history_loss, str(res.status), int(res.steps)


def frame(delta: float = 0.1, L: int = 8, eta_L: float = 0.5) -> Frame:
    r"""Measured loss of GD with η = (ηL)/L from the identity on Φ = I + δG/‖G‖_F (d = 4,
    seed 0), and the proved bound ½ρ^{2t}δ² where the theorem applies.

    >>> f = frame(0.1, 8, 0.5)
    >>> [s.kind for s in f.series], f.note.startswith("converged")
    (['measured', 'bound'], True)
    >>> [s.kind for s in frame(0.35, 8, 0.5).series]
    ['measured']
    """
    L, delta, eta_L = depth(L), real("delta", delta), real("eta_L", eta_L)
    for name, v in (("delta", delta), ("eta_L", eta_L)):
        if v <= 0:
            raise ValueError(f"{name} must be > 0; got {v!r}")
    steps, loss, status, n = _history(delta, L, eta_L)
    series = [Series("measured loss ℓ(Θₜ)", steps, loss)]
    rho = float(ni.rate(delta, L, eta_L / L))
    if np.isfinite(rho):
        t = np.array([0.0, float(max(n, 1))])  # a straight line on the log axis: two points
        series.append(Series("proved bound ½ρ²ᵗδ²", t, ni.loss_bound(delta, L, eta_L / L, t), kind="bound"))
        where = f"inside the theorem, ρ = {rho:.3f}"
    else:
        where = "outside the theorem: no bound"
    return Frame(tuple(series), note=f"{status} after {n} steps; {where}")


EXPLORER = Explorer(
    name="near_identity",
    frame=frame,
    controls=(
        Control("delta", "δ", r"\delta", DELTAS, default=0.1),
        depth_control(DEPTHS, default=8),
        step_control(ETA_LS, default=0.5),
    ),
    **LOSS_AXES,
    description="Loss of gradient descent from the identity against the step, on a log scale, "
                "for the chosen distance δ of the target from I, depth L and step ηL, with the "
                "proved bound as a dashed line wherever the theorem's hypotheses hold.",
    points=12,  # the loss is nearly a straight line on the log axis; keeps the page small
)
