r"""Result 5: positive margin, the margin-keeping balanced algorithm (book/positive_margin.ipynb).

The book's own bound [ours] for its reconstruction of the algorithm
(:func:`linres.updates.margin_balanced` with the ``"svd"`` balancing), proved in
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
Signatures follow one convention: the problem first (Φ, then the level γ), then
``L``, then ``eta``, then ``t`` or ``eps``. Every function refuses bad input with a
``TypeError`` or ``ValueError`` that names the argument.

>>> import numpy as np
>>> phi = np.array([[1.0, 0.5], [-0.5, 1.0]])          # margin 1, a rotation part
>>> eta = max_step(phi, 1.0, 4)
>>> float(np.round(eta, 5)), iteration_bound(phi, 1.0, 4, eta, 1e-8)
(0.01454, 176)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import Array, check_depth, check_target
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


def _real(x, name: str) -> Array:
    """A real float array: refuses complex, boolean and non-numeric input, and NaN/inf."""
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number or array; got {x!r}")
    try:
        a = np.asarray(x)
    except Exception:  # pragma: no cover - ragged input
        raise TypeError(f"{name} must be a real number or array; got {type(x).__name__}") from None
    if np.iscomplexobj(a) or a.dtype == bool or not (np.issubdtype(a.dtype, np.number)):
        raise TypeError(f"{name} must be real numbers; got dtype {a.dtype}")
    a = a.astype(float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; got {x!r}")
    return a


def _target(phi) -> Array:
    return check_target(_real(phi, "phi"), "phi")


def constants(phi) -> MarginConstants:
    """δ_0, ℓ_0, B and M of the theorem (see the module docstring)."""
    phi = _target(phi)
    d = phi.shape[-1]
    delta0 = np.linalg.norm(phi - np.eye(d), axis=(-2, -1))
    B = np.linalg.norm(phi, ord=2, axis=(-2, -1)) + delta0
    return MarginConstants(delta0, 0.5 * delta0**2, B, np.maximum(1.0, B))


def check_level(phi, gamma) -> Array:
    """Validate the margin level: 0 < γ ≤ min(1, γ(Φ)) for every problem; returns γ as an array."""
    phi = _target(phi)
    g = _real(gamma, "gamma")
    if np.any(g <= 0):
        raise ValueError(f"margin level gamma must be > 0; got {gamma!r}")
    cap = np.minimum(1.0, _margin(phi))
    try:
        shape = np.broadcast_shapes(g.shape, cap.shape)
    except ValueError:
        raise ValueError(f"gamma of shape {g.shape} does not match the batch {cap.shape} of phi") from None
    if np.any(g > cap * (1 + 1e-12) + 1e-15):
        raise ValueError("gamma must be <= min(1, margin(phi)) for every target (the theorem's level)")
    return np.broadcast_to(g, shape).copy()


def max_step(phi, gamma, L: int) -> Array:
    """η* = min{1/(LM²), γ²/(4LM³δ_0)}, the largest step the theorem allows."""
    g = check_level(phi, gamma)
    L = check_depth(L)
    c = constants(phi)
    safe = np.where(c.delta0 > 0, c.delta0, 1.0)
    second = np.where(c.delta0 > 0, g**2 / (4 * L * c.M**3 * safe), np.inf)
    return np.minimum(1.0 / (L * c.M**2), second)


def notes_step(phi, gamma, L: int) -> Array:
    """The step η = γ²/(4LM⁴) of the reference notes; it is ≤ η* since δ_0 ≤ B ≤ M."""
    g = check_level(phi, gamma)
    L = check_depth(L)
    return g**2 / (4 * L * constants(phi).M ** 4)


def lemma_max_step(m, M, delta, L: int) -> Array:
    """The one-step lemma's step bound min{1/(LM²), m²/(4LM³δ)} (0 < m ≤ 1 ≤ M, δ ≥ 0).

    Here the problem is described by (m, M, δ) rather than by Φ.
    """
    m, M, delta = _real(m, "m"), _real(M, "M"), _real(delta, "delta")
    L = check_depth(L)
    if np.any(m <= 0) or np.any(m > 1):
        raise ValueError(f"m must be in (0, 1]; got {m!r}")
    if np.any(M < 1):
        raise ValueError(f"M must be >= 1; got {M!r}")
    if np.any(delta < 0):
        raise ValueError(f"delta must be >= 0; got {delta!r}")
    safe = np.where(delta > 0, delta, 1.0)
    second = np.where(delta > 0, m**2 / (4 * L * M**3 * safe), np.inf)
    return np.minimum(1.0 / (L * M**2), second)


def contraction(gamma, L: int, eta) -> Array:
    """ρ = 1 − (5/6)ηLγ^{2−2/L}: ‖Γ_{t+1} − Φ‖_F ≤ ρ‖Γ_t − Φ‖_F (for η ≤ η*)."""
    g = _real(gamma, "gamma")
    if np.any(g <= 0):
        raise ValueError(f"margin level gamma must be > 0; got {gamma!r}")
    L = check_depth(L)
    e = _real(eta, "eta")
    if np.any(e <= 0):
        raise ValueError(f"step size eta must be > 0; got {eta!r}")
    return 1.0 - (5.0 / 6.0) * e * L * g ** (2.0 - 2.0 / L)


def _check_eta(phi, gamma, L, eta) -> Array:
    cap = max_step(phi, gamma, L)
    e = _real(eta, "eta")
    if np.any(e <= 0):
        raise ValueError(f"step size eta must be > 0; got {eta!r}")
    if np.any(e > cap * (1 + 1e-12)):
        raise ValueError("eta must be <= max_step(phi, gamma, L) for every target (the theorem's step)")
    return np.broadcast_to(e, np.broadcast_shapes(e.shape, cap.shape)).copy()


def loss_bound(phi, gamma, L: int, eta, t) -> Array:
    """ℓ_0 ρ^{2t}: the theorem's bound on ℓ(W_t), shape broadcast(t, batch).

    ``eta`` must be ≤ η* = :func:`max_step` (the bound says nothing beyond it).

    >>> import numpy as np
    >>> phi = np.diag([0.5, 2.0])
    >>> eta = max_step(phi, 0.5, 3)
    >>> [float(v) for v in np.round(loss_bound(phi, 0.5, 3, eta, [0, 1000]), 4)]
    [0.625, 0.1845]
    """
    e = _check_eta(phi, gamma, L, eta)
    rho = contraction(gamma, L, e)
    t = _real(t, "t")
    if np.any(t < 0):
        raise ValueError(f"t must be >= 0; got {t!r}")
    return constants(phi).loss0 * rho ** (2 * t)


def iteration_bound(phi, gamma, L: int, eta, eps: float) -> Array:
    """T = ⌈ln(ℓ_0/ε) / ((5/3)ηLγ^{2−2/L})⌉ (0 when ℓ_0 ≤ ε): ℓ_t ≤ ε for every t ≥ T."""
    e = _check_eta(phi, gamma, L, eta)
    L = check_depth(L)
    eps = _real(eps, "eps")
    if eps.ndim or eps <= 0:
        raise ValueError(f"eps must be one number > 0; got {eps!r}")
    g = np.asarray(_real(gamma, "gamma"))
    l0 = constants(phi).loss0
    rate = (5.0 / 3.0) * e * L * g ** (2.0 - 2.0 / L)
    t = np.ceil(np.log(np.maximum(l0, eps) / eps) / rate)
    return t.astype(int) if np.ndim(t) else int(t)


def simple_iteration_bound(phi, gamma, eps: float) -> Array:
    """⌈(12/5) (M/γ)⁴ ln(ℓ_0/ε)⌉: the theorem's count at the notes' step γ²/(4LM⁴), free of L and d."""
    g = check_level(phi, gamma)
    eps = _real(eps, "eps")
    if eps.ndim or eps <= 0:
        raise ValueError(f"eps must be one number > 0; got {eps!r}")
    c = constants(phi)
    t = np.ceil(2.4 * (c.M / g) ** 4 * np.log(np.maximum(c.loss0, eps) / eps))
    return t.astype(int) if np.ndim(t) else int(t)
