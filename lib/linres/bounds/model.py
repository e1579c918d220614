"""Facts of the setup chapter, "The model" (book/model.ipynb)."""
from __future__ import annotations

import numpy as np

from .._validate import Array, check_target

__all__ = ["initial_loss", "initial_gradient_norm"]


def initial_loss(target) -> Array:
    """ℓ at the identity start: ½‖I − Φ‖_F² (every depth)."""
    phi = check_target(target)
    e = np.eye(phi.shape[-1]) - phi
    return 0.5 * np.einsum("...ij,...ij->...", e, e)


def initial_gradient_norm(target, L: int) -> Array:
    """‖∇ℓ‖_F at the identity: every layer's gradient is I − Φ, so √L ‖I − Φ‖_F."""
    return np.sqrt(L) * np.sqrt(2.0 * initial_loss(target))
