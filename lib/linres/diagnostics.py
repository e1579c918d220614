r"""Quantities the theorems are stated in, evaluated on layers or matrices.

All functions accept batch axes in front and return one value per problem.
"""
from __future__ import annotations

import numpy as np

from ._validate import Array, check_layers, check_pair
from .margin import margin

__all__ = [
    "margin",
    "balancedness",
    "layer_distances",
    "max_layer_distance",
    "symmetric_invariants",
    "singular_value_spread",
]


def balancedness(layers) -> Array:
    r"""max_i ‖Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ‖_F (0 for L = 1); zero exactly when balanced."""
    w = check_layers(layers)
    if w.shape[-3] == 1:
        return np.zeros(w.shape[:-3])
    nxt = np.swapaxes(w[..., 1:, :, :], -1, -2) @ w[..., 1:, :, :]
    cur = w[..., :-1, :, :] @ np.swapaxes(w[..., :-1, :, :], -1, -2)
    return np.linalg.norm(nxt - cur, axis=(-2, -1)).max(axis=-1)


def layer_distances(layers) -> Array:
    r"""‖Θ_i − I‖₂ (spectral norm) for every layer, shape (…, L)."""
    w = check_layers(layers)
    return np.linalg.norm(w - np.eye(w.shape[-1]), ord=2, axis=(-2, -1))


def max_layer_distance(layers) -> Array:
    r"""max_i ‖Θ_i − I‖₂."""
    return layer_distances(layers).max(axis=-1)


def singular_value_spread(layers) -> Array:
    r"""max_i ‖σ(Θ_i) − σ(Θ_1)‖_∞: zero when every layer has the same singular values."""
    s = np.linalg.svd(check_layers(layers), compute_uv=False)
    return np.abs(s - s[..., :1, :]).max(axis=(-2, -1))


def symmetric_invariants(layers, target) -> dict[str, Array]:
    r"""The invariants of GD from I on a symmetric Φ (chapters on Results 3 and 4).

    - ``spread``:     max_i ‖Θ_i − Θ_1‖_F   (layers equal)
    - ``asymmetry``:  max_i ‖Θ_i − Θ_iᵀ‖_F  (layers symmetric)
    - ``commutator``: max_i ‖Θ_iΦ − ΦΘ_i‖_F (layers commute with Φ)
    """
    w, phi = check_pair(layers, target)
    p = phi[..., None, :, :]
    fro = lambda a: np.linalg.norm(a, axis=(-2, -1)).max(axis=-1)  # noqa: E731
    return {
        "spread": fro(w - w[..., :1, :, :]),
        "asymmetry": fro(w - np.swapaxes(w, -1, -2)),
        "commutator": fro(w @ p - p @ w),
    }
