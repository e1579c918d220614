r"""Result 5: positive margin, the margin-keeping balanced algorithm (book/positive_margin.ipynb).

The book's own bound [ours] for its reconstruction of the algorithm
(:func:`linres.margin_balanced` with the ``"svd"`` balancing), proved in
book/positive_margin.ipynb, Lemma ``lem-margin-step`` and Theorem ``thm-margin-rate``.

Notation. Φ has margin γ(Φ) = λ_min((Φ + Φᵀ)/2) > 0 and the algorithm's level is
0 < γ ≤ min(1, γ(Φ)). Let

.. math::
   δ_0 = ‖Φ − I‖_F,   ℓ_0 = δ_0²/2,   B = ‖Φ‖₂ + δ_0,   M = \max(1, B).

*One-step lemma.* If every block of k consecutive layers has σ_min ≥ m^{k/L} and
‖·‖₂ ≤ M^{k/L} (m ≤ 1 ≤ M), ‖Θ_{L:1} − Φ‖_F ≤ δ and
0 < η ≤ min{1/(LM²), m²/(4LM³δ)}, then the gradient step gives
‖Γ' − Φ‖_F ≤ (1 − (5/6) ηL m^{2−2/L}) ‖Θ_{L:1} − Φ‖_F.

*Theorem.* With 0 < η ≤ η* = min{1/(LM²), γ²/(4LM³δ_0)}, every iterate keeps
γ(Γ_t) ≥ γ and

.. math::  ℓ_t ≤ ρ^{2t} ℓ_0,   ρ = 1 − (5/6) ηLγ^{2−2/L},

so ℓ_t ≤ ε once t ≥ T = ⌈ln(ℓ_0/ε) / ((5/3) ηLγ^{2−2/L})⌉. With the step
η = γ²/(4LM⁴) ≤ η* this gives T ≤ ⌈(12/5) (M/γ)⁴ ln(ℓ_0/ε)⌉.

All functions take Φ with optional batch axes and return one value per problem.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import Array, check_depth, check_positive, check_target
from ..margin import margin as _margin

__all__ = [
    "MarginConstants",
    "constants",
    "check_level",
    "max_step",
    "notes_step",
    "lemma_max_step",
    "contraction",
    "loss_bound",
    "iteration_bound",
    "simple_iteration_bound",
]


class MarginConstants(NamedTuple):
    delta0: Array  # ‖Φ − I‖_F
    loss0: Array   # ℓ_0 = δ_0²/2, the loss at the identity
    B: Array       # ‖Φ‖₂ + δ_0, a bound on ‖Γ_t‖₂ for every iterate
    M: Array       # max(1, B)


def constants(phi) -> MarginConstants:
    """δ_0, ℓ_0, B and M of the theorem (see the module docstring)."""
    phi = check_target(phi)
    d = phi.shape[-1]
    delta0 = np.linalg.norm(phi - np.eye(d), axis=(-2, -1))
    B = np.linalg.norm(phi, ord=2, axis=(-2, -1)) + delta0
    return MarginConstants(delta0, 0.5 * delta0**2, B, np.maximum(1.0, B))


def check_level(phi, gamma) -> Array:
    """Validate the margin level: 0 < γ ≤ min(1, γ(Φ)) for every problem; returns γ as an array."""
    phi = check_target(phi)
    g = np.asarray(gamma, dtype=float)
    if not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ValueError("margin level gamma must be finite and > 0")
    cap = np.minimum(1.0, _margin(phi))
    if np.any(g > cap * (1 + 1e-12) + 1e-15):
        raise ValueError("the theorem needs gamma <= min(1, margin(phi)) for every target")
    return np.broadcast_to(g, np.broadcast_shapes(g.shape, cap.shape)).copy()


def max_step(phi, gamma, L: int) -> Array:
    """η* = min{1/(LM²), γ²/(4LM³δ_0)}, the largest step the theorem allows."""
    g = check_level(phi, gamma)
    L = check_depth(L)
    c = constants(phi)
    with np.errstate(divide="ignore"):
        second = np.where(c.delta0 > 0, g**2 / (4 * L * c.M**3 * np.where(c.delta0 > 0, c.delta0, 1.0)), np.inf)
    return np.minimum(1.0 / (L * c.M**2), second)


def notes_step(phi, gamma, L: int) -> Array:
    """The step η = γ²/(4LM⁴) of the reference notes; it is ≤ η* since δ_0 ≤ B ≤ M."""
    g = check_level(phi, gamma)
    L = check_depth(L)
    return g**2 / (4 * L * constants(phi).M ** 4)


def lemma_max_step(m, M, delta, L: int) -> Array:
    """The one-step lemma's step bound min{1/(LM²), m²/(4LM³δ)} (m ≤ 1 ≤ M, δ ≥ 0)."""
    L = check_depth(L)
    m, M, delta = (np.asarray(x, dtype=float) for x in (m, M, delta))
    if np.any(m <= 0) or np.any(m > 1) or np.any(M < 1) or np.any(delta < 0):
        raise ValueError("need 0 < m <= 1 <= M and delta >= 0")
    with np.errstate(divide="ignore"):
        second = np.where(delta > 0, m**2 / (4 * L * M**3 * np.where(delta > 0, delta, 1.0)), np.inf)
    return np.minimum(1.0 / (L * M**2), second)


def contraction(eta, gamma, L: int) -> Array:
    """ρ = 1 − (5/6)ηLγ^{2−2/L}: ‖Γ_{t+1} − Φ‖_F ≤ ρ‖Γ_t − Φ‖_F."""
    L = check_depth(L)
    eta, g = np.asarray(eta, dtype=float), np.asarray(gamma, dtype=float)
    return 1.0 - (5.0 / 6.0) * eta * L * g ** (2.0 - 2.0 / L)


def _check_eta(phi, gamma, L, eta) -> Array:
    cap = max_step(phi, gamma, L)
    if eta is None:
        return cap
    e = np.asarray(eta, dtype=float)
    if not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError("step size eta must be finite and > 0")
    if np.any(e > cap * (1 + 1e-12)):
        raise ValueError("the theorem needs eta <= max_step(phi, gamma, L) for every target")
    return np.broadcast_to(e, np.broadcast_shapes(e.shape, cap.shape)).copy()


def loss_bound(t, phi, gamma, L: int, eta=None) -> Array:
    """ℓ_0 ρ^{2t}: the theorem's bound on ℓ(W_t), shape broadcast(t, batch).

    ``eta`` defaults to η*; a larger step raises (the bound says nothing there).
    """
    e = _check_eta(phi, gamma, L, eta)
    rho = contraction(e, gamma, L)
    t = np.asarray(t, dtype=float)
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    return constants(phi).loss0 * rho ** (2 * t)


def iteration_bound(phi, gamma, L: int, eps: float, eta=None) -> Array:
    """T = ⌈ln(ℓ_0/ε) / ((5/3)ηLγ^{2−2/L})⌉ (0 when ℓ_0 ≤ ε): ℓ_t ≤ ε for every t ≥ T."""
    eps = check_positive(eps, "eps")
    e = _check_eta(phi, gamma, L, eta)
    L = check_depth(L)
    g = np.asarray(gamma, dtype=float)
    l0 = constants(phi).loss0
    rate = (5.0 / 3.0) * e * L * g ** (2.0 - 2.0 / L)
    with np.errstate(divide="ignore"):
        t = np.ceil(np.log(np.maximum(l0, eps) / eps) / rate)
    return t.astype(int) if np.ndim(t) else int(t)


def simple_iteration_bound(phi, gamma, eps: float) -> Array:
    """⌈(12/5) (M/γ)⁴ ln(ℓ_0/ε)⌉: the theorem's count at the notes' step γ²/(4LM⁴), free of L and d."""
    eps = check_positive(eps, "eps")
    g = check_level(phi, gamma)
    c = constants(phi)
    t = np.ceil(2.4 * (c.M / g) ** 4 * np.log(np.maximum(c.loss0, eps) / eps))
    return t.astype(int) if np.ndim(t) else int(t)
