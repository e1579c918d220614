r"""Explore of Result 5: the margin-keeping balanced algorithm against its loss bound.

Controls: the target's margin :math:`\gamma(\Phi)`, its skew size
:math:`\|\Phi-\Phi^\top\|_F`, and the step as a multiple :math:`\eta/\eta^*` of the
theorem's largest step :math:`\eta^*` (book/positive_margin.ipynb). Fixed: d = 3,
L = 4, the symmetric part's eigenvalues from γ(Φ) to 1.5, one random direction
(seed 0) for every frame, the level γ = min(1, γ(Φ)).

A frame shows, over the first :data:`HORIZON` steps, the loss of the algorithm at
the step η and the theorem's bound ℓ₀ρ^{2t} at its own step η*. (Plain GD is left
out: on these targets it follows the algorithm to within a few per cent; the
chapter's sweeps compare the two.)
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import targets
from ..bounds import margin as bounds
from ..margin import margin as _margin
from ..model import identity_layers
from ..train import run
from ..updates import margin_balanced
from . import LOSS_AXES, Control, Explorer, Frame, Series

__all__ = ["frame", "EXPLORER", "HORIZON"]

D, L, TOP, TOL = 3, 4, 1.5, 1e-12
#: Steps shown in every frame.
HORIZON = 1000

MARGINS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0)
SKEWS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
STEPS = (1, 2, 4, 8, 16, 32, 64, 128)


def target(margin: float, skew: float) -> np.ndarray:
    """The frame's target: γ(Φ) = ``margin`` and ‖Φ − Φᵀ‖_F = ``skew`` (d = 3, seed 0)."""
    return targets.positive_margin(D, margin, skew / 2, np.random.default_rng(0), top=TOP)


@lru_cache(maxsize=1)
def _runs():
    """The algorithm on every frame's target and step, as one batch (computed once)."""
    phis = np.stack([target(m, s) for m in MARGINS for s in SKEWS])
    gamma = np.minimum(1.0, _margin(phis))
    eta_star = bounds.max_step(phis, gamma, L)
    ratios = np.asarray(STEPS, dtype=float)
    eta = (eta_star[:, None] * ratios[None, :]).ravel()
    batch = np.repeat(phis, len(STEPS), axis=0)
    res = run(margin_balanced(eta, "auto"), identity_layers(L, D), batch, tol=TOL, max_steps=HORIZON,
              blowup=1e6)
    return phis, gamma, eta_star, res


def frame(margin: float = 0.5, skew: float = 2.0, eta_ratio: int = 8) -> Frame:
    r"""Loss of the algorithm at :math:`\eta = (\eta/\eta^*)\,\eta^*` over the first
    :data:`HORIZON` steps, and the bound :math:`\ell_0\rho^{2t}` of the theorem at
    :math:`\eta^*`, on the frame's target."""
    if margin not in MARGINS or skew not in SKEWS or eta_ratio not in STEPS:
        raise ValueError("margin, skew and eta_ratio must be values of the Explore grid")
    phis, gamma, eta_star, res = _runs()
    k = MARGINS.index(margin) * len(SKEWS) + SKEWS.index(skew)
    j = k * len(STEPS) + STEPS.index(eta_ratio)
    steps = res.history_steps
    keep = steps <= res.steps[j]
    tt = np.array([0.0, float(max(int(res.steps[j]), 1))])
    bound = bounds.loss_bound(phis[k], gamma[k], L, eta_star[k], tt)
    series = (
        Series("algorithm at η", steps[keep], res.history_loss[keep, j]),
        Series("bound ℓ₀ρ²ᵗ of the theorem at η*", tt, bound, kind="bound"),
    )
    return Frame(series, note=f"{res.status[j]} at step {res.steps[j]}")


EXPLORER = Explorer(
    name="positive_margin",
    frame=frame,
    controls=(
        Control("margin", "γ(Φ)", r"\gamma(\Phi)", MARGINS, default=0.5),
        Control("skew", "‖Φ−Φᵀ‖_F", r"\|\Phi-\Phi^\top\|_F", SKEWS, default=2.0),
        Control("eta_ratio", "η/η*", r"\eta/\eta^*", STEPS, default=8),
    ),
    **LOSS_AXES,
    description="Loss against the step, on a log scale, of the margin-keeping balanced algorithm at a "
                "multiple of the theorem's step, with the theorem's loss bound at its own step as a dashed "
                "line, for the chosen target margin and skew.",
    points=12,
)
