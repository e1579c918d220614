r"""Explore of the chapter on symmetric positive definite targets (Result 3).

Controls: the condition number :math:`\kappa`, the depth :math:`L` and the accuracy
:math:`\varepsilon`. One frame is one run of gradient descent from the identity at the
theorem's step :math:`\eta = 1/(LM^2)` on the spectrum of sweep (a) of the chapter
(d = 8 eigenvalues geometric in :math:`[2/\kappa, 2]`), stopped at :math:`\ell \le \varepsilon`,
with the theorem's loss bound (part 3) beside it; the measured curve ends where
the loss reaches ε. The scalar reduction makes a frame
cheap; one run per (κ, L), to the smallest ε, serves every ε.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..analysis import first_crossing
from ..bounds import spd
from ..scalar import run_scalar
from . import LOSS_AXES, Control, Explorer, Frame, Series, depth_control

__all__ = ["spectrum", "frame", "EXPLORER"]

EPS_VALUES = tuple(10.0 ** -k for k in range(2, 10))  # 1e-2 ... 1e-9
KAPPA_VALUES = tuple(float(v) for v in np.round(np.geomspace(2.0, 64.0, 8), 2))
L_VALUES = (1, 2, 3, 4, 6, 8, 16, 32)


def spectrum(kappa: float, d: int = 8) -> np.ndarray:
    r"""d eigenvalues geometric in :math:`[2/\kappa, 2]` (κ ≥ 2): M = 2, m = 2/κ, κ' = κ."""
    if isinstance(kappa, bool) or not isinstance(kappa, (int, float, np.integer, np.floating)):
        raise TypeError(f"kappa must be a real number; got {kappa!r}")
    if not (np.isfinite(kappa) and kappa >= 2.0):
        raise ValueError(f"kappa must be finite and >= 2; got {kappa!r}")
    return np.geomspace(2.0 / float(kappa), 2.0, d)


@lru_cache(maxsize=128)
def _run(kappa: float, L: int):
    phi = spectrum(kappa)
    eta = float(spd.proved_step(phi, L))
    res = run_scalar(phi, L, eta, tol=min(EPS_VALUES), max_steps=2_000_000)
    return phi, eta, res.history_steps, res.history_loss


def frame(kappa: float = 8.94, L: int = 4, eps: float = 1e-6) -> Frame:
    r"""Loss of GD from the identity at :math:`\eta = 1/(LM^2)` until :math:`\ell \le \varepsilon`,
    and the theorem's bound :math:`\tfrac12\sum_j a_j^2 q_j^{2t}` (part 3) at the same steps."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not (0 < eps < 1):
        raise ValueError(f"eps must be a number in (0, 1); got {eps!r}")
    phi, eta, steps, loss = _run(float(kappa), int(L))
    T = int(first_crossing(steps, loss, float(eps)))
    keep = steps <= T
    t_b = np.unique(np.linspace(0, T, 4).round().astype(int))
    bound = spd.loss_bound(phi, int(L), eta, t_b)
    closed = int(spd.iteration_bound(phi, float(eps)))
    return Frame(
        (Series("loss of GD from I", steps[keep], loss[keep]),
         Series("upper bound (theorem, part 3)", t_b, bound, kind="bound")),
        note=f"ℓ ≤ ε after {T} steps; closed-form bound {closed}",
    )


EXPLORER = Explorer(
    name="spd",
    frame=frame,
    controls=(
        Control("kappa", "κ", r"\kappa", KAPPA_VALUES, default=KAPPA_VALUES[3]),
        depth_control(L_VALUES, default=4),
        Control("eps", "ε", r"\varepsilon", EPS_VALUES[::-1], default=1e-6),
    ),
    **LOSS_AXES,
    points=9,
    description="Loss of gradient descent from the identity against the step, on a log scale, "
                "on a symmetric positive definite target with the chosen condition number, depth "
                "and accuracy, with the theorem's upper bound on the loss as a dashed line above it.",
)
