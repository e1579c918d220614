r"""Facts of the setup chapter, "The model" (book/model.ipynb) [ours].

Every function follows the bounds' convention: the problem (the target Φ) first,
then the depth ``L``, then the step size ``eta``, then the step ``t``.

At the identity start Θ_1 = ⋯ = Θ_L = I the product is I, so

.. math::

   \ell(I,\dots,I) = \tfrac12\|I - \Phi\|_F^2, \qquad
   \nabla_{\Theta_i}\ell = I - \Phi \ \text{for every } i .

At depth one, gradient descent is linear in its error: E_{t+1} = (1 − η)E_t, so
the loss is exactly ℓ_t = (1 − η)^{2t} ℓ_0. The chapter's Explore draws this curve,
at η = ηL, as a reference beside the loss of the deep network.
"""
from __future__ import annotations

import math

import numpy as np

from .._validate import Array, as_float_array, check_depth, check_target

__all__ = ["initial_loss", "initial_gradient_norm", "depth_one_loss"]


def _target(target) -> Array:
    return check_target(target)


def _depth(L) -> int:
    return check_depth(L)


def _eta(eta) -> float:
    if isinstance(eta, bool) or not isinstance(eta, (int, float, np.integer, np.floating)):
        raise TypeError(f"eta must be a real number > 0; got {eta!r}")
    v = float(eta)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"eta must be finite and > 0; got {eta!r}")
    return v


def _steps(t) -> Array:
    a = as_float_array(t, "t")
    if np.any(a < 0) or np.any(a != np.round(a)):
        raise ValueError("t must hold integers >= 0 (step numbers)")
    return a


def initial_loss(target) -> Array:
    r"""The loss at the identity start, :math:`\ell_0 = \tfrac12\|I - \Phi\|_F^2` (any depth).

    ``target`` has shape (..., d, d); the result has the batch shape.

    >>> float(initial_loss(np.diag([1.0, 0.5])))
    0.125
    """
    phi = _target(target)
    e = np.eye(phi.shape[-1]) - phi
    return 0.5 * np.einsum("...ij,...ij->...", e, e)


def initial_gradient_norm(target, L) -> Array:
    r"""The full gradient's norm at the identity start, :math:`\sqrt{L}\,\|I - \Phi\|_F`.

    Every one of the ``L`` layers receives the same gradient :math:`I - \Phi`.

    >>> float(initial_gradient_norm(np.diag([1.0, 0.5]), 4))
    1.0
    """
    phi = _target(target)
    L = _depth(L)
    return np.sqrt(L) * np.sqrt(2.0 * initial_loss(phi))


def depth_one_loss(target, eta, t) -> Array:
    r"""The exact loss of gradient descent at depth one after ``t`` steps from Θ = I:

    .. math::  \ell_t = (1 - \eta)^{2t}\,\tfrac12\|I - \Phi\|_F^2 ,

    since the step Θ ← Θ − η(Θ − Φ) gives E_{t+1} = (1 − η)E_t. (Depth one has no ``L``
    argument.) ``t`` is a step number or an array of them; the result broadcasts the
    batch shape of ``target`` against the shape of ``t``.

    >>> depth_one_loss(np.diag([1.0, 0.5]), 0.5, [0, 1, 2]).tolist()
    [0.125, 0.03125, 0.0078125]
    """
    l0 = initial_loss(target)
    eta = _eta(eta)
    t = _steps(t)
    with np.errstate(over="ignore", under="ignore"):
        return (1.0 - eta) ** (2.0 * t) * l0
