r"""The two regularizers of Result 5: margin projection and balancing.

*Margin.* γ(A) = min_{‖u‖=1} uᵀAu = λ_min((A + Aᵀ)/2).

*Projection.* The set C_γ = {B : (B + Bᵀ)/2 ⪰ γI} is closed and convex. The
Frobenius projection of A onto it keeps the skew part K = (A − Aᵀ)/2 and clips
the eigenvalues of the symmetric part S = Q diag(s) Qᵀ at γ:

.. math::  Π_γ(A) = Q diag(max(s, γ)) Qᵀ + K.

(The Frobenius norm splits into symmetric and skew parts orthogonally, and the
clip is the projection of S onto {S ⪰ γI}.) If Φ ∈ C_γ, then
‖Π_γ(A) − Φ‖_F ≤ ‖A − Φ‖_F, so projecting never increases the loss.

*Balancing.* Given a product Γ, return layers with Θ_{L:1} = Γ exactly and equal
singular values in every layer:

- ``"svd"``: Γ = UΣVᵀ, Θ_1 = UΣ^{1/L}Vᵀ and Θ_i = UΣ^{1/L}Uᵀ for i ≥ 2;
- ``"root"``: every layer is the principal L-th root Γ^{1/L}, which exists and is
  real when Γ has no eigenvalue on the closed negative real axis (a positive
  margin puts the whole spectrum in the open right half-plane).
"""
from __future__ import annotations

import sys
import types

import numpy as np
import scipy.linalg

from ._validate import Array, check_depth, check_target

__all__ = ["margin", "margin_of", "project_margin", "balance", "BALANCINGS"]

#: The two ways :func:`balance` can split a product into balanced factors (its ``method``).
BALANCINGS = ("svd", "root")


def margin(a) -> Array:
    """γ(A) = λ_min((A + Aᵀ)/2), over the batch axes.

    >>> float(margin(np.array([[1.0, 4.0], [-4.0, 2.0]])))  # the skew part does not count
    1.0
    """
    a = check_target(a, "matrix")
    return np.linalg.eigvalsh(0.5 * (a + np.swapaxes(a, -1, -2)))[..., 0]


margin_of = margin  # the name under which the package exports the function


def _project(a: Array, gamma: float) -> Array:
    sym = 0.5 * (a + np.swapaxes(a, -1, -2))
    skew = a - sym
    s, q = np.linalg.eigh(sym)
    s = np.maximum(s, gamma)
    return (q * s[..., None, :]) @ np.swapaxes(q, -1, -2) + skew


def project_margin(a, gamma: float) -> Array:
    """Frobenius projection Π_γ(A) onto {B : (B + Bᵀ)/2 ⪰ γI} (see module docstring)."""
    a = check_target(a, "matrix")
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)):
        raise TypeError(f"margin level gamma must be a real number; got {gamma!r}")
    gamma = float(gamma)
    if not np.isfinite(gamma):
        raise ValueError(f"margin level gamma must be finite; got {gamma!r}")
    return _project(a, gamma)


def _root(a: Array, L: int) -> Array:
    r"""Principal L-th roots of a batch of real matrices.

    Fast path: A = V diag(λ) V⁻¹ and A^{1/L} = V diag(λ^{1/L}) V⁻¹ with the principal
    branch |arg λ^{1/L}| < π/L, batched over the problems. Conjugate eigenvalues
    get conjugate roots, so the result is real up to rounding. The fast path is
    accurate to about ε·cond(V); a problem whose eigenvector matrix is worse
    conditioned than 1e6 (nearly defective) goes through SciPy's Schur-based
    ``fractional_matrix_power`` instead.
    """
    flat = a.reshape((-1,) + a.shape[-2:])
    ev, vec = np.linalg.eig(flat)
    scale = np.maximum(1.0, np.abs(ev).max(axis=-1, initial=0.0))
    on_axis = (np.abs(ev.imag) <= 1e-12 * scale[:, None]) & (ev.real <= 0)
    if np.any(on_axis):
        raise ValueError("the principal L-th root needs no eigenvalue on the closed negative real axis")
    cond = np.linalg.cond(vec)
    out = np.empty_like(flat)
    fast = np.isfinite(cond) & (cond < 1e6)
    if np.any(fast):
        v = vec[fast]
        r = (v * (ev[fast] ** (1.0 / L))[:, None, :]) @ np.linalg.inv(v)
        out[fast] = r.real
    for k in np.flatnonzero(~fast):
        out[k] = np.real(scipy.linalg.fractional_matrix_power(flat[k], 1.0 / L))
    return out.reshape(a.shape)


def balance(product, L: int, method: str = "svd") -> Array:
    """Layers (…, L, d, d) with Θ_{L:1} = ``product`` and equal singular values in every layer."""
    g = check_target(product, "product")
    L = check_depth(L)
    if method not in BALANCINGS:
        raise ValueError(f"balancing method must be one of {BALANCINGS}; got {method!r}")
    return _balance(g, L, method)


def _balance(g: Array, L: int, method: str) -> Array:
    finite = np.all(np.isfinite(g), axis=(-2, -1))
    if not np.all(finite):
        # A diverged problem gets NaN layers; the training loop reports it as diverged.
        out = np.full(g.shape[:-2] + (L,) + g.shape[-2:], np.nan)
        out[finite] = _balance(g[finite], L, method)
        return out
    if method == "svd":
        u, s, vt = np.linalg.svd(g)
        root = s ** (1.0 / L)
        first = (u * root[..., None, :]) @ vt
        rest = (u * root[..., None, :]) @ np.swapaxes(u, -1, -2)
    else:
        first = rest = _root(g, L)
    layers = np.repeat(rest[..., None, :, :], L, axis=-3)
    layers[..., 0, :, :] = first
    return layers


class _CallableModule(types.ModuleType):
    """``linres.margin`` is this module (``import linres.margin`` works) and, for the chapters
    that write ``linres.margin(A)``, calling it computes :func:`margin`."""

    def __call__(self, a) -> Array:
        return margin(a)


sys.modules[__name__].__class__ = _CallableModule
