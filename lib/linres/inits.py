r"""Initializations: the paper's identity start and the alternatives the book compares.

All return layers of shape ``batch + (L, d, d)``.

- :func:`identity`          Θ_i = I (the paper's start; same as ``model.identity_layers``)
- :func:`zero_asymmetric`   Θ_i = I for i < L and Θ_L = 0 (Wu, Wang & Ma, NeurIPS 2019)
- :func:`near_identity`     Θ_i = I + (s/√d) G_i with G_i standard Gaussian
- :func:`perturbed_identity` Θ_i = I + ε N_i, ‖N_i‖_F = 1 random: a controlled
  perturbation that breaks the symmetric invariants of Result 4.
"""
from __future__ import annotations

import numpy as np

from ._validate import Array, check_nonnegative
from .model import identity_layers

__all__ = ["identity", "zero_asymmetric", "near_identity", "perturbed_identity"]


def identity(L: int, d: int, batch: tuple[int, ...] = ()) -> Array:
    """Θ_i = I for every layer."""
    return identity_layers(L, d, batch)


def zero_asymmetric(L: int, d: int, batch: tuple[int, ...] = ()) -> Array:
    """Θ_i = I for i < L and Θ_L = 0: the zero-asymmetric start of Wu, Wang & Ma (2019)."""
    w = identity_layers(L, d, batch)
    w[..., -1, :, :] = 0.0
    return w


def _gen(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    return rng


def near_identity(L: int, d: int, scale: float, rng: np.random.Generator, batch: tuple[int, ...] = ()) -> Array:
    """Θ_i = I + (scale/√d) G_i, G_i with i.i.d. standard normal entries (so ‖Θ_i − I‖₂ ≈ 2·scale)."""
    w = identity_layers(L, d, batch)
    s = check_nonnegative(scale, "scale")
    return w + (s / np.sqrt(d)) * _gen(rng).standard_normal(w.shape)


def perturbed_identity(L: int, d: int, eps: float, rng: np.random.Generator, batch: tuple[int, ...] = ()) -> Array:
    """Θ_i = I + ε N_i with N_i a random direction of unit Frobenius norm (not symmetric)."""
    w = identity_layers(L, d, batch)
    e = check_nonnegative(eps, "eps")
    n = _gen(rng).standard_normal(w.shape)
    n /= np.linalg.norm(n, axis=(-2, -1), keepdims=True)
    return w + e * n
