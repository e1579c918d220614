r"""The deep linear residual network and its population loss.

A network of depth L on ℝ^d is a stack of layers Θ_1, …, Θ_L, stored as one
array ``layers`` of shape ``(..., L, d, d)`` with ``layers[..., i-1, :, :] = Θ_i``.
Leading axes are a batch of independent problems.

With isotropic inputs (E[xxᵀ] = I) and Φ = E[y xᵀ], the excess population loss is

.. math::  ℓ(Θ) = ½ ‖Θ_{L:1} − Φ‖_F²,  Θ_{j:i} = Θ_j ⋯ Θ_i,

and the gradient of layer i is

.. math::  ∇_{Θ_i} ℓ = Θ_{L:i+1}ᵀ (Θ_{L:1} − Φ) Θ_{i−1:1}ᵀ.

:func:`loss_and_grad` evaluates all L gradients in backprop order with
3(L − 1) matrix products: prefix products P_i = Θ_{i:1}, the back-chain
S_L = E, S_{i−1} = Θ_iᵀ S_i (so S_i = Θ_{L:i+1}ᵀ E), and finally all
∇_{Θ_i} ℓ = S_i P_{i−1}ᵀ in one batched matmul.
"""
from __future__ import annotations

import numpy as np

from ._validate import Array, check_count, check_depth, check_size, check_layers, check_pair, check_target
from .engine.checks import check_batch

__all__ = [
    "identity_layers",
    "product",
    "prefix_products",
    "loss",
    "loss_from_product",
    "loss_and_grad",
    "grad",
]


def identity_layers(L: int, d: int, batch: tuple[int, ...] = ()) -> Array:
    """The identity initialization Θ_i = I, shape ``batch + (L, d, d)``.

    >>> identity_layers(3, 2, batch=(5,)).shape
    (5, 3, 2, 2)
    """
    L = check_depth(L)
    d = check_count(d, "dimension d")
    shape = check_batch(batch) + (L, d, d)
    check_size(shape, "L, d and batch")
    return np.broadcast_to(np.eye(d), shape).copy()


def prefix_products(layers: Array) -> Array:
    """P_i = Θ_{i:1} for i = 1..L, shape (..., L, d, d); P_L is the network's product."""
    return _prefix_products(check_layers(layers))


def _prefix_products(w: Array) -> Array:
    out = np.empty_like(w)
    out[..., 0, :, :] = w[..., 0, :, :]
    for i in range(1, w.shape[-3]):
        np.matmul(w[..., i, :, :], out[..., i - 1, :, :], out=out[..., i, :, :])
    return out


def _product(w: Array) -> Array:
    p = w[..., 0, :, :]
    for i in range(1, w.shape[-3]):
        p = w[..., i, :, :] @ p
    return p


def product(layers) -> Array:
    """The end-to-end matrix Θ_{L:1} = Θ_L ⋯ Θ_1, shape (..., d, d)."""
    return _product(check_layers(layers))


def loss_from_product(prod: Array, target: Array) -> Array:
    """ℓ = ½‖Θ_{L:1} − Φ‖_F² given the product; shape of the batch axes."""
    p, phi = check_target(prod, "prod"), check_target(target)
    if p.shape[-1] != phi.shape[-1]:
        raise ValueError(f"prod is {p.shape[-1]}x{p.shape[-1]} but the target is {phi.shape[-1]}x{phi.shape[-1]}")
    try:
        np.broadcast_shapes(p.shape[:-2], phi.shape[:-2])
    except ValueError:
        raise ValueError(f"batch axes of prod {p.shape[:-2]} and target {phi.shape[:-2]} do not broadcast") from None
    return _loss_from_product(p, phi)


def _loss_from_product(prod: Array, target: Array) -> Array:
    e = prod - target
    return 0.5 * np.einsum("...ij,...ij->...", e, e)


def loss(layers, target) -> Array:
    """Excess population loss ½‖Θ_{L:1} − Φ‖_F² (a float, or an array over the batch)."""
    w, phi = check_pair(layers, target)
    return _loss_from_product(product(w), phi)


def _loss_and_grad(w: Array, phi: Array) -> tuple[Array, Array]:
    # Unchecked core used by the update rules inside training loops.
    L = w.shape[-3]
    pre = _prefix_products(w)  # pre[i] = Θ_{i+1:1}
    e = pre[..., L - 1, :, :] - phi
    batch = np.broadcast_shapes(w.shape[:-3], phi.shape[:-2])
    d = w.shape[-1]
    back = np.empty(batch + (L, d, d))
    back[..., L - 1, :, :] = e  # S_L = E
    for i in range(L - 1, 0, -1):  # S_i = Θ_{i+1}ᵀ S_{i+1}
        np.matmul(np.swapaxes(w[..., i, :, :], -1, -2), back[..., i, :, :], out=back[..., i - 1, :, :])
    g = np.empty_like(back)
    g[..., 0, :, :] = back[..., 0, :, :]  # P_0 = I
    if L > 1:
        np.matmul(back[..., 1:, :, :], np.swapaxes(pre[..., :-1, :, :], -1, -2), out=g[..., 1:, :, :])
    lval = 0.5 * np.einsum("...ij,...ij->...", e, e)
    return lval, g


def loss_and_grad(layers, target) -> tuple[Array, Array]:
    r"""The loss and all L gradients, in backprop order.

    Returns ``(ℓ, G)`` with ``G[..., i-1, :, :] = ∇_{Θ_i} ℓ = Θ_{L:i+1}ᵀ (Θ_{L:1} − Φ) Θ_{i−1:1}ᵀ``.
    Cost: 3(L − 1) d×d matrix products per problem.
    """
    w, phi = check_pair(layers, target)
    return _loss_and_grad(w, phi)


def grad(layers, target) -> Array:
    """All L gradients ∇_{Θ_i} ℓ, shape like ``layers`` (broadcast over the batch)."""
    return loss_and_grad(layers, target)[1]
