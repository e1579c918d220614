r"""Bounds of the chapter "Beyond the paper" (book/beyond.ipynb), the book's own [ours].

Normal targets (complex recurrence z ← z − η \bar z^{L−1}(z^L − φ), z₀ = 1, L ≥ 2)
---------------------------------------------------------------------------------------
- :func:`segment_distance`  ρ(φ) = dist(0, [1, φ]); it equals the distance from the
  segment [1, φ] to the closed negative real axis, and is 0 exactly for φ ∈ (−∞, 0].
- :func:`small_step_eta`    the step η₀(φ, L) of Theorem ``thm-normal-small-step``: for
  η ≤ η₀, |z_t^L − φ| ≤ 2|1 − φ|(1 − ηL(ρ/2)^{2−2/L})^t (:func:`small_step_envelope`),
  z_t^L stays within ρ/2 of [1, φ], and z_t is the principal root of z_t^L.
- :func:`root_multiplier`   every L-th root of φ is a fixed point whose Jacobian is the
  real number 1 − ηL|φ|^{2−2/L}; :func:`stability_radius` is the |φ| where it is −1.
  At that step size no run converges to a root of a φ beyond it (the roots repel).

The determinant obstruction (any target)
----------------------------------------
- :func:`det_floor`         THE determinant floor of the book:
  inf{½‖A − Φ‖_F² : det A ≥ 0} = σ_min(Φ)²/2 when det Φ < 0 (Lemma ``lem-det-floor``),
  0 otherwise. Any product with a non-negative determinant, in particular the product
  of layers that all keep det Θ_i > 0, has loss at least this floor;
- :func:`nearest_singular`  Φ − σ_min u vᵀ, a point attaining it (Eckart–Young).

Signatures: the problem first (φ or Φ), then L, then η, then t.
"""
from __future__ import annotations

import numpy as np

from .._validate import Array, check_depth, check_target

__all__ = [
    "segment_distance",
    "distance_to_segment",
    "small_step_eta",
    "small_step_rate",
    "small_step_envelope",
    "root_multiplier",
    "stability_radius",
    "det_floor",
    "nearest_singular",
]

_E2 = np.e / 2  # e^x ≤ e on [0, 1]: the Taylor remainder constant of the proof


def _c(x, name: str) -> Array:
    try:
        a = np.asarray(x, dtype=np.complex128)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real or complex number or array; got {x!r}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; got non-finite entries")
    return a


def _eta(eta) -> Array:
    e = np.asarray(eta)
    if e.dtype == bool or np.iscomplexobj(e) or not np.issubdtype(e.dtype, np.number):
        raise TypeError(f"step size eta must be a real number or array; got {eta!r}")
    e = e.astype(float)
    if np.any(~np.isfinite(e)) or np.any(e <= 0):
        raise ValueError(f"step size eta must be finite and > 0; got {eta!r}")
    return e


def _depth2(L) -> int:
    L = check_depth(L)
    if L < 2:
        raise ValueError("these bounds are for depth L >= 2 (L = 1 is a convex problem)")
    return L


def distance_to_segment(w, a, b) -> Array:
    r"""dist(w, [a, b]) in the complex plane (broadcasting).

    >>> float(distance_to_segment(1j, -1.0, 1.0)), float(distance_to_segment(3.0, -1.0, 1.0))
    (1.0, 2.0)
    """
    w, a, b = _c(w, "w"), _c(a, "a"), _c(b, "b")
    v = b - a
    vv = np.abs(v) ** 2
    t = np.where(vv > 0, np.real(np.conj(v) * (w - a)) / np.where(vv > 0, vv, 1.0), 0.0)
    return np.abs(w - (a + np.clip(t, 0.0, 1.0) * v))


def segment_distance(phi) -> Array:
    r"""ρ(φ) = dist(0, [1, φ]) ∈ [0, 1]; 0 exactly on the closed negative real axis.

    >>> segment_distance(np.array([-1.0, 2.0, 1j])).round(4).tolist()
    [0.0, 1.0, 0.7071]
    """
    return distance_to_segment(0.0, 1.0, _c(phi, "phi"))


def small_step_eta(phi, L: int) -> Array:
    r"""η₀(φ, L) of Theorem ``thm-normal-small-step`` (book/beyond.ipynb); 0 on (−∞, 0].

    With δ = |1 − φ|, ρ = :func:`segment_distance`, M = max(1, |φ|) + ρ/2,
    p = 2 − 2/L, m = (ρ/2)^p, K = M^p, c = (e/2) L² M^{3−4/L}, β = min(1, ρ/(2δ)):

    .. math::  η₀ = \min\{ 1/(2LK),\; 1/(2L M^{1−2/L} δ),\; βLm/(8cδ) \}

    (the last two terms are dropped when δ = 0, i.e. φ = 1).

    >>> bool(small_step_eta(-1.0, 3) == 0), bool(0 < small_step_eta(-1 + 1j, 4) < 1e-4)
    (True, True)
    """
    phi = _c(phi, "phi")
    L = _depth2(L)
    delta = np.abs(1.0 - phi)
    rho = segment_distance(phi)
    M = np.maximum(1.0, np.abs(phi)) + rho / 2
    p = 2.0 - 2.0 / L
    m, K = (rho / 2) ** p, M**p
    c = _E2 * L**2 * M ** (3.0 - 4.0 / L)
    safe = np.where(delta > 0, delta, 1.0)
    beta = np.minimum(1.0, rho / (2 * safe))
    e1 = 1.0 / (2 * L * K)
    e2 = np.where(delta > 0, 1.0 / (2 * L * M ** (1.0 - 2.0 / L) * safe), np.inf)
    e3 = np.where(delta > 0, beta * L * m / (8 * c * safe), np.inf)
    return np.where(rho > 0, np.minimum(e1, np.minimum(e2, e3)), 0.0)


def small_step_rate(phi, L: int, eta) -> Array:
    r"""The contraction ηL(ρ/2)^{2−2/L} per step of the theorem's envelope."""
    L = _depth2(L)
    return _eta(eta) * L * (segment_distance(phi) / 2) ** (2.0 - 2.0 / L)


def small_step_envelope(phi, L: int, eta, t) -> Array:
    r"""2|1 − φ|(1 − ηL(ρ/2)^{2−2/L})^t: the theorem's bound on |z_t^L − φ| (for η ≤ η₀).

    >>> round(float(small_step_envelope(1j, 2, 0.1, 0)), 12)   # 2|1 − i| at t = 0
    2.828427124746
    """
    phi = _c(phi, "phi")
    t = np.asarray(t)
    if np.iscomplexobj(t) or not np.issubdtype(t.dtype, np.number):
        raise TypeError(f"t must be a real number of steps; got {t!r}")
    t = t.astype(float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t must be finite and >= 0")
    return 2 * np.abs(1.0 - phi) * (1.0 - small_step_rate(phi, L, eta)) ** t


def root_multiplier(phi, L: int, eta) -> Array:
    r"""1 − ηL|φ|^{2−2/L}: the Jacobian (a real multiple of the identity on ℂ ≅ ℝ²) of the
    recurrence at every L-th root of φ. The roots attract iff it lies in (−1, 1)."""
    phi = _c(phi, "phi")
    L = check_depth(L)
    return 1.0 - _eta(eta) * L * np.abs(phi) ** (2.0 - 2.0 / L)


def stability_radius(L: int, eta) -> Array:
    r"""R(η, L) = (2/(ηL))^{L/(2L−2)}: at step η the roots of φ attract iff |φ| < R (L ≥ 2).

    Beyond R every L-th root of φ repels, so at this step size no run converges to a
    root (except by landing on it exactly).

    >>> float(stability_radius(2, 1.0))
    1.0
    """
    L = _depth2(L)
    return (2.0 / (_eta(eta) * L)) ** (L / (2.0 * L - 2.0))


def det_floor(target) -> Array:
    r"""The determinant floor: σ_min(Φ)²/2 where det Φ < 0, else 0.

    It is min{½‖A − Φ‖_F² : det A ≥ 0} (Lemma ``lem-det-floor`` of book/beyond.ipynb),
    attained at :func:`nearest_singular`. So while every layer keeps det Θ_i > 0, the
    loss ½‖Θ_{L:1} − Φ‖_F² stays at least this floor.

    >>> float(det_floor(np.diag([2.0, -0.5])))
    0.125
    """
    phi = check_target(target)
    s = np.linalg.svd(phi, compute_uv=False)[..., -1]
    return np.where(np.linalg.det(phi) < 0, 0.5 * s**2, 0.0)


def nearest_singular(target) -> Array:
    r"""Φ − σ_min u vᵀ (u, v the last singular vectors): a closest singular matrix to Φ.

    >>> nearest_singular(np.diag([2.0, -0.5])).tolist()
    [[2.0, 0.0], [0.0, 0.0]]
    """
    phi = check_target(target)
    u, s, vt = np.linalg.svd(phi)
    return phi - s[..., -1, None, None] * u[..., :, -1:] @ vt[..., -1:, :]
