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
multiplications, :func:`linres._kernels.ipow`), and z^L as z^{L−1}·z. For L ≥ 3, a
coordinate with |z| below 2^{−1000/L} has z^{L−1} and z^L set to exactly 0 before
they underflow into subnormal numbers (which slow every operation 10–100×); the
term dropped is far below half an ulp of z, so z itself is unchanged by this
(:func:`linres._kernels.underflow_floor` gives the argument). The compiled kernel
that :func:`run_scalar` uses by default performs exactly these operations in this
order, so both backends give the same numbers bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import _kernels
from ._kernels import guard_floor, ipow, underflow_floor
from ._loop import check_loop_options, kernel_loop, loop, shape_output
from ._validate import (
    Array, as_float_array, check_depth, check_positive, check_positive_array,
    check_target, require_symmetric,
)
from .penalties import OrthogonalityPenalty, Penalty, WeightDecay

# The compiled scalar kernel unrolls z^{L−1} for each L up to this depth (one compilation,
# about a second, per L); deeper networks share one kernel per bit length of L − 1.
UNROLL_MAX_L = 16

__all__ = [
    "eigen_reduction",
    "scalar_loss",
    "scalar_step",
    "ScalarResult",
    "run_scalar",
    "layers_from_scalar",
]


def eigen_reduction(target) -> tuple[Array, Array]:
    """Spectrum φ (…, d) and orthonormal eigenvectors U (…, d, d) of a symmetric Φ."""
    phi = require_symmetric(check_target(target))
    vals, vecs = np.linalg.eigh(0.5 * (phi + np.swapaxes(phi, -1, -2)))
    return vals, vecs


def _powers(z, L, zmin):
    # z^{L−1} and the base it was computed from (0 where |z| < zmin; see the module docstring)
    zb = np.where(np.abs(z) < zmin, 0.0, z) if zmin > 0.0 else z
    return ipow(zb, L - 1), zb


def _loss(z, phi, L, zmin):
    zl1, zb = _powers(z, L, zmin)
    r = zl1 * zb - phi
    return 0.5 * np.sum(r * r, axis=-1)


def scalar_loss(z: Array, phi: Array, L: int) -> Array:
    """ℓ = ½ Σ_j (z_j^L − φ_j)² over the last axis."""
    z = np.asarray(z, dtype=float)
    return _loss(z, np.asarray(phi, dtype=float), L, underflow_floor(L))


def _step(z, phi, L, eta, penalty, zmin=None):
    if zmin is None:
        zmin = guard_floor(L, eta, phi)
    zl1, zb = _powers(z, L, zmin)
    r = zl1 * zb - phi
    g = zl1 * r
    if penalty is not None:
        g = g + penalty.scalar_grad(z)
    return 0.5 * np.sum(r * r, axis=-1), z - eta * g


def scalar_step(z, phi, L: int, eta, penalty: Penalty | None = None) -> Array:
    r"""One step z ← z − η [z^{L−1}(z^L − φ) + ψ'(z)], elementwise."""
    z = as_float_array(z, "z")
    phi = as_float_array(phi, "phi")
    L = check_depth(L)
    eta = check_positive(eta, "step size eta") if np.ndim(eta) == 0 else check_positive_array(eta, "step size eta")
    return _step(z, phi, L, eta, penalty)[1]


@dataclass
class ScalarResult:
    """Outcome of :func:`run_scalar` (and of :func:`linres.normal.run_normal`, with complex ``z``);
    ``z`` has shape (…, d), other fields the batch shape."""

    z: Array
    loss: Array
    status: Array
    steps: Array
    history_steps: Array
    history_loss: Array
    history: dict[str, Array] = field(default_factory=dict)

    @property
    def converged(self) -> Array:
        return np.asarray(self.status) == "converged"


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
) -> ScalarResult:
    r"""Run the scalar recurrence for spectra ``phi`` of shape (…, d).

    Equivalent (in exact arithmetic) to :func:`linres.train.run` with ``gd(eta)`` or
    ``penalized_gd(eta, penalty)`` from the identity on Φ = U diag(φ) Uᵀ. ``eta`` is a
    float or an array with the batch shape ``phi.shape[:-1]``. Stopping rules and
    statuses are those of :func:`linres.train.run`. ``record(z, phi)`` receives the
    flat batch, shapes (n, d).
    """
    phi = as_float_array(phi, "phi")
    if phi.ndim < 1:
        raise ValueError("phi must have shape (..., d): a spectrum per problem")
    L = check_depth(L)
    check_loop_options(tol, max_steps, record_every, blowup, stall_window, stall_rtol)
    if penalty is not None and not isinstance(penalty, Penalty):
        raise TypeError("penalty must provide value(), grad() and scalar_grad()")
    batch, d = phi.shape[:-1], phi.shape[-1]
    n = int(np.prod(batch, dtype=int))
    z = np.broadcast_to(as_float_array(z0, "z0"), phi.shape).reshape(n, d).copy()
    P = phi.reshape(n, d)
    if np.ndim(eta) == 0:
        eta = check_positive(eta, "step size eta")
    else:
        eta = np.broadcast_to(check_positive_array(eta, "step size eta"), batch).reshape(n)

    zmin = guard_floor(L, eta, P)
    options = dict(tol=tol, max_steps=max_steps, record_every=record_every, record=record,
                   blowup=blowup, stall_window=stall_window, stall_rtol=stall_rtol)
    pen = _kernel_penalty(penalty)
    if n > 0 and _kernels.use_numba(pen is not None):
        kern = _kernels.kernels().scalar_chunk
        kind, kappa = pen

        e = L - 1
        # compiled once per L up to UNROLL_MAX_L, then once per bit length of L − 1
        spec = (0.0,) * e if L <= UNROLL_MAX_L else (0,) * e.bit_length()

        def chunk(S, Sn, T, eta_, *rest):
            kern(S, Sn, T, eta_, spec, e, kind, kappa, zmin, *rest)

        out = kernel_loop(z, np.ascontiguousarray(P), eta, chunk, **options)
    else:
        def update(za, pa, ea):
            e = ea if np.ndim(ea) == 0 else ea[:, None]
            return _step(za, pa, L, e, penalty, zmin)

        out = loop(z, P, eta, update, lambda S, T: _loss(S, T, L, zmin), **options)
    f = shape_output(out, batch, (d,))
    return ScalarResult(
        z=f["state"], loss=f["loss"], status=f["status"], steps=f["steps"],
        history_steps=f["history_steps"], history_loss=f["history_loss"], history=f["history"],
    )


def _kernel_penalty(penalty) -> tuple[int, float] | None:
    """(kind, κ) for the penalties the compiled kernel knows; None for any other."""
    if penalty is None:
        return 0, 0.0
    if type(penalty) is WeightDecay:
        return 1, float(penalty.kappa)
    if type(penalty) is OrthogonalityPenalty:
        return 2, float(penalty.kappa)
    return None


def layers_from_scalar(z, eigvecs, L: int) -> Array:
    """The full layers U diag(z) Uᵀ, repeated L times: shape (…, L, d, d)."""
    z = as_float_array(z, "z")
    u = as_float_array(eigvecs, "eigvecs")
    L = check_depth(L)
    theta = (u * z[..., None, :]) @ np.swapaxes(u, -1, -2)
    return np.repeat(theta[..., None, :, :], L, axis=-3)
