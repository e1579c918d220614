r"""Explore of the setup chapter: the loss of GD from the identity on one target.

Controls (named in the chapter's Explore text): the depth :math:`L`, the distance
:math:`\delta = \|\Phi - I\|_F` of the target from the identity, and the step as
:math:`\eta L`. The target is :math:`\Phi = I + \delta G/\|G\|_F` with one fixed
Gaussian 4×4 matrix G (seed 0), so that moving δ moves the target along a ray.

Each frame shows

- the measured loss of gradient descent with step η = (ηL)/L from Θ_i = I;
- a reference: the exact loss of depth one at the same ηL, (1 − ηL)^{2t} ℓ_0
  (:func:`linres.bounds.model.depth_one_loss`); at L = 1 it is the measured curve;
- where the hypotheses of the book's Result 1 theorem hold (small δ), its bound
  ½ ρ^{2t} δ² with ρ = :func:`linres.bounds.near_identity.rate`.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .. import targets
from ..analysis import problem_history
from ..bounds import model as model_bounds
from ..bounds import near_identity
from ..model import identity_layers
from ..train import run
from ..updates import gd
from . import LOSS_AXES, Control, Explorer, Frame, Series, depth, depth_control, real, step_control

__all__ = ["frame", "EXPLORER", "DIM", "SEED", "TOL", "MAX_STEPS"]

#: Width d of the target, seed of its random direction G.
DIM, SEED = 4, 0
#: The run stops when the loss is below TOL, or after MAX_STEPS steps.
TOL, MAX_STEPS = 1e-10, 2000

_DEPTHS = (1, 2, 3, 4, 8, 16, 32, 64)
_DELTAS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5)
# Not evenly spaced (small steps matter): the page shows a menu, as for L and δ.
_ETA_L = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8)


def _ends_at(l0: float, factor: float, t_last: int) -> int:
    """The step where l0·factor^{2t} falls below TOL, capped at t_last (and ≥ 1)."""
    if factor <= 0 or l0 <= TOL:
        return 1
    if factor >= 1:
        return max(1, t_last)
    t = math.ceil(math.log(TOL / l0) / (2 * math.log(factor)))
    return max(1, min(t, t_last))


@functools.lru_cache(maxsize=None)
def _rate(delta: float, eta_L: float) -> float:
    # The theorem's rate depends on η and L through ηL only: evaluate it at L = 1.
    return float(near_identity.rate(delta=delta, eta=eta_L, L=1))


def _target(delta: float) -> np.ndarray:
    return targets.near_identity(DIM, delta, np.random.default_rng(SEED))


@functools.lru_cache(maxsize=len(_DEPTHS))
def _runs(L: int, grid: tuple) -> dict:
    """One batched run at depth L over every (δ, ηL) of ``grid`` (the frames of one depth
    cost one call, not 64); per setting the recorded steps, losses, status and step count."""
    phis = np.stack([_target(d) for d, _ in grid])
    eta = np.array([e / L for _, e in grid])
    res = run(gd(eta), identity_layers(L, DIM, (len(grid),)), phis, tol=TOL, max_steps=MAX_STEPS)
    return {key: (*problem_history(res, k), str(res.status[k]), int(res.steps[k])) for k, key in enumerate(grid)}


def frame(L: int = 8, delta: float = 0.5, eta_L: float = 0.5) -> Frame:
    r"""One frame: the loss :math:`\ell(\Theta_t)` of GD with :math:`\eta = (\eta L)/L`
    from the identity on :math:`\Phi = I + \delta G/\|G\|_F` (d = 4, seed 0), with the
    depth-one reference and, where it applies, the bound of Result 1."""
    L, delta, eta_L = depth(L), real("delta", delta), real("eta_L", eta_L)
    if delta < 0:
        raise ValueError(f"delta must be >= 0; got {delta!r}")
    if not 0 < eta_L < 1:
        raise ValueError(f"eta_L must lie in (0, 1); got {eta_L!r}")
    phi = _target(delta)
    grid = tuple((d, e) for d in _DELTAS for e in _ETA_L)
    if (delta, eta_L) not in grid:  # off the figure's grid: one run
        grid = ((delta, eta_L),)
    steps, loss, status, n = _runs(L, grid)[delta, eta_L]
    t_last = int(steps[-1])
    series = [Series("GD from I", steps, loss)]

    l0 = float(model_bounds.initial_loss(phi))
    t_ref = np.array([0, _ends_at(l0, 1.0 - eta_L, t_last)])
    series.append(Series("depth 1, same ηL", t_ref,
                         model_bounds.depth_one_loss(phi, eta_L, t_ref), kind="reference"))

    rho = _rate(delta, eta_L)
    if math.isfinite(rho) and 0 < rho < 1:
        t_b = np.array([0, _ends_at(l0, rho, t_last)])
        series.append(Series("Result 1 bound", t_b, 0.5 * delta**2 * rho ** (2.0 * t_b),
                             kind="bound"))
    return Frame(tuple(series), note=f"{status} after {n} steps")


EXPLORER = Explorer(
    name="model",
    frame=frame,
    controls=(
        depth_control(_DEPTHS, default=8),
        Control("delta", "δ", r"\delta", _DELTAS, default=0.5),
        step_control(_ETA_L, default=0.5),
    ),
    **LOSS_AXES,
    points=12,
    description="Loss of gradient descent from the identity against the step, on a log scale, "
                "for the chosen depth L, distance δ of the target from I and step ηL; "
                "a dotted grey line gives the exact loss of depth one at the same ηL, and a "
                "dashed black line the bound of Result 1 where its hypotheses hold.",
)
