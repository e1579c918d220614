r"""Explore of Result 2 (book/far_from_identity.ipynb): the penalty never lowers the plateau.

On the witness Φ = I − (1+λ)uuᵀ, gradient descent from the identity with step
η = (ηL)/L runs for :data:`STEPS` steps with weight decay and with the orthogonality
penalty, at every penalty strength κ of :data:`KAPPAS` (the horizontal axis). The frame
shows the final loss of both against κ, beside the plateau bound λ²/2 of Theorem
``thm-far-witness`` (for even L at any step, for odd L when η(1+λ) ≤ 1).

Controls: distance :math:`\lambda`, depth :math:`L`, step :math:`\eta L`. The runs are the
exact scalar reduction of the chapter's theorem, vectorized over every (λ, ηL, κ) of one
depth (:func:`final_losses`, checked against ``linres.run_scalar``), cached per depth.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..bounds import far
from ..penalties import OrthogonalityPenalty, WeightDecay
from . import Control, Explorer, Frame, Series, depth_control, step_control

__all__ = ["frame", "final_losses", "EXPLORER", "KAPPAS", "STEPS"]

#: Penalty strengths on the horizontal axis.
KAPPAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
#: Steps of every run.
STEPS = 2000
_LAMS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
_DEPTHS = (2, 3, 4, 5, 6, 7, 8, 9)  # four even and four odd depths
_ETA_L = (0.1, 0.2, 0.4, 0.6, 0.8, 1.2, 1.8, 2.4)
_PENALTIES = (("weight decay", WeightDecay), ("orthogonality", OrthogonalityPenalty))


def final_losses(lam, L: int, eta, kappa, orthogonality, steps: int = STEPS) -> np.ndarray:
    r"""ℓ after ``steps`` steps of the witness recurrence (Theorem ``thm-far-witness``, part 2),

    .. math::  z_{t+1} = z_t − η[z_t^{L−1}(z_t^L + λ) + p'(z_t)],  z_0 = 1,

    with p'(z) = κ(z − 1) (weight decay) or κz(z² − 1) (``orthogonality`` true), all
    arguments broadcast together: one vectorized loop for a whole grid of runs, the
    same numbers as ``linres.run_scalar`` with ``tol=0`` (tested). NaN where |z| left
    [0, 10⁴] in absolute value, i.e. the run diverged.
    """
    lam, eta, kappa, orth = np.broadcast_arrays(*(np.asarray(a, float) for a in (lam, eta, kappa, orthogonality)))
    orth = orth.astype(bool)
    z = np.ones(lam.shape)
    alive = np.ones(lam.shape, bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(steps)):
            zl1 = z ** (L - 1)
            pen = np.where(orth, kappa * z * (z * z - 1.0), kappa * (z - 1.0))
            z = np.where(alive, z - eta * (zl1 * (zl1 * z + lam) + pen), z)
            alive &= np.abs(z) < 1e4
        return np.where(alive, 0.5 * (z**L + lam) ** 2, np.nan)


@lru_cache(maxsize=16)
def _table(L: int, lams: tuple, eta_ls: tuple) -> dict:
    """Final loss for every (λ, ηL, κ) at depth L, per penalty; NaN where a run diverged."""
    lam = np.asarray(lams, float)[:, None, None]
    eta = np.asarray(eta_ls, float)[None, :, None] / L
    kap = np.asarray(KAPPAS, float)[None, None, :]
    return {name: final_losses(lam, L, eta, kap, P is OrthogonalityPenalty) for name, P in _PENALTIES}


def frame(lam: float = 0.5, L: int = 3, eta_L: float = 0.4) -> Frame:
    r"""Final loss after :data:`STEPS` steps against κ, both penalties, and λ²/2."""
    lams = _LAMS if lam in _LAMS else (float(lam),)
    etas = _ETA_L if eta_L in _ETA_L else (float(eta_L),)
    tab = _table(int(L), lams, etas)
    i, j = lams.index(lam), etas.index(eta_L)
    kap = np.asarray(KAPPAS)
    series = [Series(name, kap, tab[name][i, j]) for name, _ in _PENALTIES]
    series.append(Series("bound λ²/2", kap[[0, -1]], np.full(2, 0.5 * lam**2), kind="bound"))
    eta = eta_L / L
    r = eta * (1 + lam)
    if L % 2 == 0:
        note = f"even L: the bound holds at every step size (η(1+λ) = {r:.2f})"
    elif r <= 1:
        note = f"odd L, η(1+λ) = {r:.2f} ≤ 1: the bound holds while 2ηκ ≤ 1"
    else:
        note = f"odd L, η(1+λ) = {r:.2f} > 1: the first step can jump below the bound"
    return Frame(tuple(series), note=note)


EXPLORER = Explorer(
    name="far_from_identity",
    frame=frame,
    controls=(
        Control("lam", "λ", r"\lambda", _LAMS, default=0.5),
        depth_control(_DEPTHS, default=3),
        step_control(_ETA_L, default=0.4),
    ),
    x_title="penalty strength κ",
    y_title="loss after 2,000 steps",
    x_math=r"penalty strength $\kappa$",
    y_math=r"loss after 2,000 steps",
    x_scale="linear",
    y_scale="log",
    description="Final loss of gradient descent from the identity on the witness target, with "
                "weight decay and with the orthogonality penalty, against the penalty strength, "
                "beside the plateau bound lambda squared over two, for the chosen lambda, depth and "
                "step size.",
)
