r"""The exact reduction of identity-initialized GD on a symmetric target.

Let Φ = U diag(φ) Uᵀ be symmetric. If every layer is U diag(z) Uᵀ (true at the
start, z = 1), then Θ_{L:1} = U diag(z^L) Uᵀ, every gradient is
U diag(z^{L−1}(z^L − φ)) Uᵀ, and a conjugation-invariant penalty has gradient
U diag(ψ'(z)) Uᵀ. So the layers keep this form for every step size, and each
eigen-coordinate follows its own scalar recurrence

.. math::  z_{t+1} = z_t − η_t [ z_t^{L−1}(z_t^L − φ) + ψ'(z_t) ],   z_0 = 1,

with loss ℓ_t = ½ Σ_j (z_{t,j}^L − φ_j)². The chapters on Results 3 and 4
prove this; ``tests/test_scalar.py`` checks it against full-matrix GD.

The state is an array ``z`` of shape (..., d): one row of eigen-coordinates per
problem; the recurrence runs on all of them at once.

Floating point. The power z^{L−1} is computed by binary powering (a fixed chain of
multiplications, :func:`linres.engine.arith.ipow`), and z^L as z^{L−1}·z. For L ≥ 3, a
coordinate with \|z\| below 2^{−1000/L} has z^{L−1} and z^L set to exactly 0 before
they underflow into subnormal numbers (which slow every operation 10–100×); the
term dropped is far below half an ulp of z, so z itself is unchanged by this
(:func:`linres.engine.arith.underflow_floor` gives the argument). The compiled kernel
that :func:`run_scalar` uses by default performs exactly these operations in this
order, so both backends give the same numbers bit for bit.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ._validate import Array, as_float_array, check_depth, check_target, require_symmetric
from .engine import Result
from .engine import dispatch as _dispatch
from .engine.arith import guard_floor, underflow_floor
from .engine.checks import batch_eta, check_eta, check_record
from .engine.contract import StopRule
from .engine.monitors import SPECTRUM_MONITORS, check_monitors
from .penalties import Penalty

__all__ = [
    "eigen_reduction",
    "scalar_loss",
    "scalar_step",
    "ScalarResult",
    "run_scalar",
    "layers_from_scalar",
]

#: The outcome of :func:`run_scalar` (the engine's one result type; ``res.z`` is the final state).
ScalarResult = Result


def eigen_reduction(target) -> tuple[Array, Array]:
    """Spectrum φ (…, d) and orthonormal eigenvectors U (…, d, d) of a symmetric Φ.

    >>> phi, u = eigen_reduction(np.diag([2.0, -1.0]))
    >>> phi
    array([-1.,  2.])
    """
    phi = require_symmetric(check_target(target))
    vals, vecs = np.linalg.eigh(0.5 * (phi + np.swapaxes(phi, -1, -2)))
    return vals, vecs


def _spectrum(x, name: str) -> Array:
    a = as_float_array(x, name)
    if a.ndim < 1 or a.shape[-1] < 1:
        raise ValueError(f"{name} must have shape (..., d) with d >= 1; got {a.shape}")
    return a


def _penalty(penalty):
    if penalty is not None and not isinstance(penalty, Penalty):
        raise TypeError(f"penalty must be None or provide value(), grad() and scalar_grad(); got {penalty!r}")
    return penalty


def scalar_loss(z: Array, phi: Array, L: int) -> Array:
    """ℓ = ½ Σ_j (z_j^L − φ_j)² over the last axis.

    >>> float(scalar_loss(np.array([1.0, 1.0]), np.array([2.0, 1.0]), 2))
    0.5
    """
    z, phi, L = _spectrum(z, "z"), _spectrum(phi, "phi"), check_depth(L)
    _broadcast(z, phi)
    return _dispatch.scalar_loss(z, phi, L, underflow_floor(L))


def _broadcast(z, phi):
    try:
        return np.broadcast_shapes(z.shape, phi.shape)
    except ValueError:
        raise ValueError(f"z of shape {z.shape} and phi of shape {phi.shape} do not broadcast") from None


def scalar_step(z, phi, L: int, eta, penalty: Penalty | None = None) -> Array:
    r"""One step z ← z − η [z^{L−1}(z^L − φ) + ψ'(z)], elementwise.

    Raises :class:`~linres.updates.NonFiniteStep` (a ``ValueError``) if the new z is not finite.

    >>> scalar_step(np.array([1.0]), np.array([2.0]), 2, 0.1)
    array([1.1])
    """
    from .updates import NonFiniteStep

    z, phi, L = _spectrum(z, "z"), _spectrum(phi, "phi"), check_depth(L)
    shape = _broadcast(z, phi)
    eta = check_eta(eta)
    if np.ndim(eta) > 0:
        try:
            np.broadcast_shapes(np.shape(eta), shape)
        except ValueError:
            raise ValueError(f"step size eta of shape {np.shape(eta)} does not broadcast to z's shape {shape}") from None
    with np.errstate(over="ignore", invalid="ignore"):
        new = _dispatch.scalar_step(z, phi, L, eta, _penalty(penalty), guard_floor(L, eta, phi))[1]
    if not np.all(np.isfinite(new)):
        raise NonFiniteStep("scalar_step: the new z is not finite (overflow); the step size eta is too large")
    return new


def run_scalar(
    phi,
    L: int,
    eta,
    *,
    z0=1.0,
    penalty: Penalty | None = None,
    tol: float = 1e-8,
    max_steps: int = 10_000,
    record_every: int = 1,
    record: Callable[[Array, Array], dict[str, Array]] | None = None,
    blowup: float = 1e8,
    stall_window: int | None = None,
    stall_rtol: float = 1e-9,
    monitors=(),
) -> Result:
    r"""Run the scalar recurrence for spectra ``phi`` of shape (…, d).

    Equivalent (in exact arithmetic) to :func:`linres.train.run` with ``gd(eta)`` or
    ``penalized_gd(eta, penalty)`` from the identity on Φ = U diag(φ) Uᵀ. ``eta`` is a
    float or an array with the batch shape ``phi.shape[:-1]``; ``z0`` broadcasts to
    ``phi``'s shape. Stopping rules and statuses are those of :func:`linres.train.run`;
    ``record(z, phi)`` receives the flat batch, shapes (n, d); ``monitors=("z",)``
    records z without a callback.

    >>> res = run_scalar(np.array([2.0, 0.5]), 3, 0.1, tol=1e-12)
    >>> res.status, res.z.round(6)
    ('converged', array([1.259921, 0.793701]))
    """
    phi = _spectrum(phi, "phi")
    L = check_depth(L)
    stop = StopRule(tol, max_steps, record_every, blowup, stall_window, stall_rtol)
    record = check_record(record)
    names = check_monitors(monitors, SPECTRUM_MONITORS)
    penalty = _penalty(penalty)
    batch, d = phi.shape[:-1], phi.shape[-1]
    n = int(np.prod(batch, dtype=int))
    z0 = as_float_array(z0, "z0")
    try:
        z = np.broadcast_to(z0, phi.shape).reshape(n, d).copy()
    except ValueError:
        raise ValueError(f"z0 of shape {z0.shape} does not broadcast to phi's shape {phi.shape}") from None
    eta = batch_eta(eta, batch, n)
    out = _dispatch.solve_spectrum(z, phi.reshape(n, d), L, eta, penalty, stop, names, record)
    return _dispatch.result(out, z, batch, (d,))


def layers_from_scalar(z, eigvecs, L: int) -> Array:
    """The full layers U diag(z) Uᵀ, repeated L times: shape (…, L, d, d).

    >>> layers_from_scalar(np.array([2.0]), np.eye(1), 3).shape
    (3, 1, 1)
    """
    z = _spectrum(z, "z")
    u = check_target(eigvecs, "eigvecs")
    L = check_depth(L)
    if u.shape[-1] != z.shape[-1]:
        raise ValueError(f"eigvecs are {u.shape[-1]}x{u.shape[-1]} but z has d = {z.shape[-1]}")
    try:
        np.broadcast_shapes(z.shape[:-1], u.shape[:-2])
    except ValueError:
        raise ValueError(f"batch axes of z {z.shape[:-1]} and eigvecs {u.shape[:-2]} do not broadcast") from None
    theta = (u * z[..., None, :]) @ np.swapaxes(u, -1, -2)
    return np.repeat(theta[..., None, :, :], L, axis=-3)
