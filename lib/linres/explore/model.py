r"""Explore of the setup chapter: the loss of GD from the identity on a random target.

Controls: depth :math:`L`, distance :math:`\delta = \|\Phi - I\|_F`, step :math:`\eta L`.
"""
from __future__ import annotations

import numpy as np

from .. import targets
from ..model import identity_layers
from ..train import run
from ..updates import gd
from . import Control, Explorer, Frame, Series

__all__ = ["frame", "EXPLORER"]


def frame(L: int = 8, delta: float = 0.5, eta_L: float = 0.5) -> Frame:
    r"""Loss :math:`\ell(\Theta_t)` of GD with :math:`\eta = (\eta L)/L` from the identity,
    on the target :math:`\Phi = I + \delta G/\|G\|_F` (d = 4, seed 0)."""
    phi = targets.near_identity(4, delta, np.random.default_rng(0))
    res = run(gd(eta_L / L), identity_layers(L, 4), phi, tol=1e-12, max_steps=3000)
    return Frame((Series("loss of GD from I", res.history_steps, res.history_loss),),
                 note=f"{res.status} after {res.steps} steps")


EXPLORER = Explorer(
    name="model",
    frame=frame,
    controls=(
        Control("L", "L", "L", (1, 2, 3, 4, 6, 8, 12, 16, 24, 32), default=8),
        Control("delta", "δ", r"\delta", tuple(np.round(np.linspace(0.1, 1.5, 8), 2)), default=0.5),
        Control("eta_L", "ηL", r"\eta L", (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8), default=0.5),
    ),
    x_title="step t",
    y_title="loss ℓ(Θₜ)",
    x_math=r"step $t$",
    y_math=r"loss $\ell(\Theta_t)$",
    description="Loss of gradient descent from the identity against the step, on a log scale, "
                "for the chosen depth, distance of the target from I and step size.",
)
