r"""Gradient flow of the symmetric reduction, the continuous-time limit of :mod:`linres.scalar`.

On a symmetric Φ = U diag(φ) Uᵀ, gradient flow dΘ_i/dτ = −∇_{Θ_i}ℓ from Θ_i = I keeps every
layer equal to U diag(z(τ)) Uᵀ, and each coordinate solves

.. math::  \frac{dz}{dτ} = −z^{L−1}(z^L − φ),   z(0) = 1.

Gradient descent with step η is the explicit Euler scheme of this ODE, with τ = ηt.

The solution is known implicitly: with w = z^L,

.. math::  τ(z) = \int_1^{z} \frac{ds}{s^{L−1}(φ − s^L)} = \int_1^{z^L} \frac{dw}{L\,w^{2−2/L}(φ − w)},

elementary for L = 1 (z = φ + (1 − φ)e^{−τ}) and L = 2 (z² = φ / (1 + (φ − 1)e^{−2φτ})), a
hypergeometric function otherwise. :func:`flow_time` evaluates it by quadrature;
:func:`solve_flow` and :func:`flow_time_to_loss` integrate the ODE (stiff solver, analytic
Jacobian). Used by book/spd.ipynb.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate

from ._validate import Array, as_float_array, check_broadcast, check_depth, check_positive, check_spectrum

__all__ = ["flow_rhs", "flow_time", "FlowSolution", "solve_flow", "flow_time_to_loss"]


def flow_rhs(z, phi, L: int) -> Array:
    r"""dz/dτ = −z^{L−1}(z^L − φ), elementwise."""
    z = as_float_array(z, "z")
    p = as_float_array(phi, "phi")
    check_broadcast(z=z, phi=p)
    L = check_depth(L)
    return -(z ** (L - 1)) * (z**L - p)


def flow_time(phi, L: int, z) -> Array:
    r"""τ(z): the time the flow from z(0) = 1 takes to reach z (elementwise, by quadrature).

    ``z`` must lie between 1 (included) and φ^{1/L} (excluded), the path of the flow.
    """
    p = as_float_array(phi, "phi")
    if np.any(p <= 0):
        raise ValueError("phi must be positive: the flow is solved for positive definite Φ")
    L = check_depth(L)
    z = as_float_array(z, "z")
    check_broadcast(phi=p, z=z)
    p, z = np.broadcast_arrays(p, z)
    zs = p ** (1.0 / L)
    inside = ((z - 1.0) * (zs - z) >= 0) & (z != zs) | (z == 1.0)
    if not np.all(inside):
        raise ValueError("z must lie on the flow's path: between 1 (included) and phi^(1/L) (excluded)")
    out = np.empty(p.shape)
    for idx in np.ndindex(p.shape):
        ph, zz = float(p[idx]), float(z[idx])
        if zz == 1.0:
            out[idx] = 0.0
            continue
        # integrate in w = z^L; the integrand has one sign on the path
        val, _ = integrate.quad(
            lambda w: 1.0 / (L * w ** (2.0 - 2.0 / L) * (ph - w)), 1.0, zz**L,
            epsabs=0.0, epsrel=1e-12, limit=200,
        )
        out[idx] = val
    return out


@dataclass
class FlowSolution:
    """``z`` has shape (len(tau), ..., d), ``loss`` shape (len(tau), ...)."""

    tau: Array
    z: Array
    loss: Array


def _solve_one(p: Array, L: int, t_end: float, t_eval, events, rtol: float, atol: float):
    def rhs(_, z):
        return -(z ** (L - 1)) * (z**L - p)

    def jac(_, z):
        return np.diag(-(L - 1) * z ** (L - 2) * (z**L - p) - L * z ** (2 * L - 2))

    return integrate.solve_ivp(
        rhs, (0.0, t_end), np.ones_like(p), method="Radau", jac=jac, t_eval=t_eval,
        events=events, rtol=rtol, atol=atol,
    )


def solve_flow(phi, L: int, tau, *, rtol: float = 1e-11, atol: float = 1e-13) -> FlowSolution:
    r"""z(τ) of the flow for every spectrum in ``phi`` (shape (..., d)) at the times ``tau`` (1-d, ≥ 0)."""
    p = check_spectrum(phi, positive=True)
    L = check_depth(L)
    tau = as_float_array(tau, "tau")
    if tau.ndim != 1 or tau.size == 0 or np.any(tau < 0) or np.any(np.diff(tau) < 0):
        raise ValueError("tau must be a non-empty, non-decreasing 1-d array of times >= 0")
    check_positive(rtol, "rtol")
    check_positive(atol, "atol")
    flat = p.reshape(-1, p.shape[-1])
    zs = np.empty((tau.size,) + flat.shape)
    for k, row in enumerate(flat):
        if tau[-1] == 0:
            zs[:, k] = 1.0
            continue
        sol = _solve_one(row, L, float(tau[-1]), tau, None, rtol, atol)
        if not sol.success:
            raise RuntimeError(f"ODE solver failed: {sol.message}")
        zs[:, k] = sol.y.T
    z = zs.reshape((tau.size,) + p.shape)
    loss = 0.5 * np.sum((z**L - p) ** 2, axis=-1)
    return FlowSolution(tau=tau, z=z, loss=loss)


def flow_time_to_loss(phi, L: int, eps: float, *, rtol: float = 1e-11, atol: float = 1e-13) -> Array:
    r"""τ_ε = inf{τ : ℓ(z(τ)) ≤ ε} for each spectrum (batch shape ``phi.shape[:-1]``).

    The loss of the flow never increases, so this is where it crosses ε. The integration
    horizon comes from the flow bound ℓ(τ) ≤ ½Σ a_j² e^{−2Lρ_jτ} (:mod:`linres.bounds.spd`),
    so the crossing is always inside it.
    """
    from .bounds.spd import residual_coefficients  # the chapter's proved flow bound

    p = check_spectrum(phi, positive=True)
    L = check_depth(L)
    eps = check_positive(eps, "eps")
    flat = p.reshape(-1, p.shape[-1])
    out = np.empty(flat.shape[0])
    for k, row in enumerate(flat):
        l0 = 0.5 * np.sum((1.0 - row) ** 2)
        if l0 <= eps:
            out[k] = 0.0
            continue
        a2 = residual_coefficients(row, L) ** 2
        rho = np.minimum(1.0, row) ** (2.0 - 2.0 / L)
        rho_min = rho[a2 > 0].min()
        horizon = np.log(max(0.5 * a2.sum() / eps, 1.0 + 1e-12)) / (2.0 * L * rho_min) * 1.01 + 1e-9

        def hit(_, z):
            return 0.5 * np.sum((z**L - row) ** 2) - eps

        hit.terminal, hit.direction = True, -1
        sol = _solve_one(row, L, horizon, None, hit, rtol, atol)
        if not sol.success or sol.t_events[0].size == 0:
            raise RuntimeError("the flow did not reach eps within the proved horizon (solver failure?)")
        out[k] = sol.t_events[0][0]
    return out.reshape(p.shape[:-1]) if p.ndim > 1 else out[0]
