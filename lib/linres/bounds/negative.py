"""Results 2 and 4: symmetric targets with a negative eigenvalue (book/far_from_identity.ipynb, book/negative_eigenvalue.ipynb)."""
from __future__ import annotations

import numpy as np

from .._validate import Array, as_float_array

__all__ = ["plateau"]


def plateau(spectrum) -> Array:
    """The loss floor ½ Σ_{φ_j < 0} φ_j² of the whole class of algorithms (Result 4)."""
    phi = as_float_array(spectrum, "spectrum")
    neg = np.minimum(phi, 0.0)
    return 0.5 * np.sum(neg * neg, axis=-1)
