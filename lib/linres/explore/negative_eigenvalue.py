r"""Explore of the chapter on Result 4: a target with one negative eigenvalue.

Controls: the negative eigenvalue :math:`-\lambda` of the target (eigenvalues
:math:`(-\lambda, 0.5, 1)`, d = 3) and the depth :math:`L`. The step is
:math:`\eta = 0.5/L` and the start is :math:`\Theta_i = I + 10^{-6} N_i` (seeded).
"""
from __future__ import annotations

import functools

import numpy as np

from .. import inits, targets
from ..analysis import problem_history
from ..bounds import beyond as _beyond
from ..bounds import negative as _neg
from ..scalar import run_scalar
from ..train import run
from ..updates import gd
from . import LOSS_AXES, Control, Explorer, Frame, Series, depth_control

__all__ = ["frame", "EXPLORER"]

STEPS = 3000
EPS = 1e-6


_LAMS = (0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.3, 1.6)


def _target(lam: float):
    spec = np.array([-lam, 0.5, 1.0])
    return spec, targets.symmetric_with_spectrum(spec, np.random.default_rng(0))


@functools.lru_cache(maxsize=8)
def _runs(L: int, lams: tuple):
    """The runs of every λ in ``lams`` at depth L, batched (one call for the frames of a
    depth): float64 GD from the perturbed identity, and the exact reduction from I."""
    specs, phis = zip(*(_target(x) for x in lams))
    w0 = inits.perturbed_identity(L, 3, EPS, np.random.default_rng(1))
    full = run(gd(0.5 / L), w0, np.stack(phis), tol=1e-12, max_steps=STEPS, record_every=10)
    exact = run_scalar(np.stack(specs), L, 0.5 / L, tol=1e-12, max_steps=STEPS, record_every=10)
    return full, exact


def frame(lam: float = 1.0, L: int = 8) -> Frame:
    r"""Loss of float64 GD from a perturbed identity and of the exact reduction from
    :math:`I`, with the plateau :math:`\lambda^2/2` of the theorem and, when it differs,
    the determinant floor :math:`\sigma_{\min}(\Phi)^2/2`."""
    lam, L = float(lam), int(L)
    spec, phi = _target(lam)
    lams = _LAMS if lam in _LAMS else (lam,)  # off the figure's grid: one run
    full, exact = _runs(L, lams)
    k = lams.index(lam)
    ends = np.array([0.0, STEPS])
    floor = float(_neg.plateau(spec))
    series = [
        Series("float64 GD, start I + 1e-6·N", *problem_history(full, k)),
        Series("exact reduction from I", *problem_history(exact, k)),
        Series("plateau λ²/2 (proved floor)", ends, np.full(2, floor), kind="bound"),
    ]
    det = float(_beyond.det_floor(phi))
    if abs(det - floor) > 1e-12:
        series.append(Series("determinant floor σ_min(Φ)²/2", ends, np.full(2, det), kind="reference"))
    c = float(_neg.saddle_min_curvature(spec, L))
    kind = "strict saddle" if c < 0 else "degenerate saddle"
    return Frame(tuple(series), note=f"λ = {lam:g}, L = {L}: {kind}")


EXPLORER = Explorer(
    name="negative_eigenvalue",
    frame=frame,
    controls=(
        Control("lam", "λ", r"\lambda", _LAMS, default=1.0),
        depth_control((2, 3, 4, 6, 8, 12, 16, 32), default=8),
    ),
    **LOSS_AXES,
    points=16,
    description="Loss against the step, on a log scale, of float64 gradient descent from a "
                "slightly perturbed identity and of the exact reduction from the identity, on a "
                "target with eigenvalues minus lambda, 0.5 and 1, with the plateau lambda squared "
                "over 2 and, when it differs, the determinant floor.",
)
