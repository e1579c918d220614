r"""Result 2: farther than distance 1 from I, gradient descent fails (book/far_from_identity.ipynb).

Everything here concerns the rank-one family

.. math::  Φ_c = I − c\,uuᵀ,  ‖u‖ = 1,  c ≥ 0,

at distance ‖Φ_c − I‖₂ = ‖Φ_c − I‖_F = c from the identity. Its eigenvalue along u
is φ = 1 − c; the other eigenvalues are 1. For c = 1 + λ > 1 this is the witness of
Result 2, with eigenvalue −λ < 0.

From Θ_i = I, (penalized) gradient descent keeps every layer equal to
I − (1 − z_t)uuᵀ, and the coordinate z_t follows the scalar recurrence
(book/far_from_identity.ipynb, Theorem "The witness family")

.. math::  z_{t+1} = z_t − η_t [ z_t^{L−1}(z_t^L − φ) + p'(z_t) ],   z_0 = 1,

with loss ℓ_t = ½(z_t^L − φ)², where p' is the penalty on the reduction:
p' = 0 (plain GD), p'(z) = κ(z − 1) (:class:`~linres.penalties.WeightDecay`) or
p'(z) = κz(z² − 1) (:class:`~linres.penalties.OrthogonalityPenalty`).

The functions below are the chapter's proved step-size conditions, fixed points and
rates, each citing the statement it implements. They are the book's own [ours].

Signature convention: the problem first (λ, or the distance c), then the depth ``L``,
then the step ``eta``, then the time ``t`` or the tolerance ``eps``; keyword options
(``penalty``, ``d``) last. Every function refuses complex, non-finite or out-of-range
input with a TypeError or ValueError that names the argument.
"""
from __future__ import annotations

import numpy as np

from .._validate import Array, as_float_array, check_count, check_depth, check_positive
from ..analysis import hessian
from ..model import loss
from ..penalties import OrthogonalityPenalty, WeightDecay

__all__ = [
    "witness_spectrum",
    "safe_step",
    "monotone_step",
    "penalized_fixed_point",
    "penalized_plateau",
    "iteration_bound",
    "critical_loss_bounds",
    "jump_step",
    "plateau_layers",
    "plateau_hessian",
    "plateau_growth_factor",
]


def _real(x, name: str) -> Array:
    """A finite real float64 array (the shared check: complex, boolean, non-numeric refused)."""
    return as_float_array(x, name)


def _lam(lam, name: str = "lam") -> Array:
    a = _real(lam, name)
    if np.any(a <= 0):
        raise ValueError(f"{name} must be > 0 (the witness has eigenvalue -{name} < 0); got {lam!r}")
    return a


def _kind(penalty) -> tuple[str, float]:
    """('none' | 'wd' | 'orth', κ) for the penalties the chapter's theorems cover."""
    if penalty is None:
        return "none", 0.0
    if isinstance(penalty, WeightDecay):
        return "wd", float(penalty.kappa)
    if isinstance(penalty, OrthogonalityPenalty):
        return "orth", float(penalty.kappa)
    raise TypeError(
        "penalty: this bound is proved for penalty=None, WeightDecay or OrthogonalityPenalty only; "
        f"got {type(penalty).__name__}"
    )


def witness_spectrum(lam, d: int = 2) -> Array:
    r"""Spectrum of the witness Φ = I − (1+λ)uuᵀ in dimension d: [−λ, 1, …, 1].

    Shape ``lam.shape + (d,)``, ready for :func:`linres.scalar.run_scalar`.
    """
    lam = _lam(lam)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"dimension d must be a positive integer; got {d!r}")
    out = np.ones(lam.shape + (int(d),))
    out[..., 0] = -lam
    return out


def safe_step(lam, penalty=None) -> Array:
    r"""The largest constant step of Theorem "The witness family", part 4.

    If every step satisfies η_t ≤ ``safe_step(λ, ψ)``, then z_t ∈ [0, 1] for all t, so
    ℓ_t ≥ λ²/2 for every depth L ≥ 2, odd or even. The condition is

    - plain GD:            η(1 + λ) ≤ 1;
    - weight decay κ:      η(1 + λ) ≤ 1 and ηκ ≤ 1;
    - orthogonality κ:     η(1 + λ) ≤ 1 and 2ηκ ≤ 1.

    (book/far_from_identity.ipynb.) Returns 1 / max(1 + λ, κ) resp. 1 / max(1 + λ, 2κ).

    Relation with the guess η(1 + λ + κ) < 1: with c = 1 (weight decay) or c = 2
    (orthogonality), the condition is η·max(1 + λ, cκ) ≤ 1, so it *follows from*
    η(1 + λ + cκ) ≤ 1. For weight decay (c = 1) it is therefore weaker than the guess,
    and strictly so: λ → 0, κ = 1, η = 1 meets it with η(1 + λ + κ) → 2. It does *not*
    imply the guess. For the orthogonality penalty the two are not comparable:
    λ = 0.1, κ = 10, η = 0.08 has η(1 + λ + κ) = 0.888 < 1 but 2ηκ = 1.6 > 1.

    >>> float(safe_step(1.0))
    0.5
    >>> float(safe_step(0.1, OrthogonalityPenalty(10.0)))
    0.05
    """
    lam = _lam(lam)
    kind, kappa = _kind(penalty)
    c = {"none": 0.0, "wd": 1.0, "orth": 2.0}[kind]
    return 1.0 / np.maximum(1.0 + lam, c * kappa)


def monotone_step(lam, L: int, penalty=None) -> Array:
    r"""The step of Theorem "Penalties make the plateau higher": 1/((2L−1) + (L−1)λ + cκ).

    With c = 0 (plain), 1 (weight decay) or 2 (orthogonality). For η at most this, the
    map z ↦ z − η[z^{L−1}(z^L + λ) + p'(z)] is non-decreasing on [0, 1]; then z_t
    decreases to the fixed point z*(κ) of :func:`penalized_fixed_point`, and at every
    step the loss is non-decreasing in κ (for all κ up to the one passed here).
    """
    lam = _lam(lam)
    L = check_depth(L)
    if L < 2:
        raise ValueError("the theorem needs L >= 2 (L = 1 is linear regression, which converges)")
    kind, kappa = _kind(penalty)
    c = {"none": 0.0, "wd": 1.0, "orth": 2.0}[kind]
    return 1.0 / ((2 * L - 1) + (L - 1) * lam + c * kappa)


def penalized_fixed_point(lam, L: int, penalty=None, *, iterations: int = 200) -> Array:
    r"""z*(κ): the largest zero in [0, 1) of F(z) = z^{L−1}(z^L + λ) + p'(z).

    (book/far_from_identity.ipynb, Theorem "Penalties make the plateau higher".)
    On [0, 1], F is strictly increasing for weight decay, and F(z) = z·G(z) with G
    strictly increasing for the orthogonality penalty, so the zero is found by
    bisection on F (resp. G) and is unique when it is positive:

    - plain GD: z* = 0;
    - weight decay κ > 0: z* ∈ (0, 1), from z^{L−1}(z^L + λ) = κ(1 − z);
    - orthogonality κ > 0: z* ∈ (0, 1) from z^{L−2}(z^L + λ) = κ(1 − z²) when L ≥ 3
      or (L = 2) κ > λ; otherwise z* = 0.

    Vectorized over ``lam``; accurate to about 1e-15 after 200 bisection steps.
    """
    lam = _lam(lam)
    L = check_depth(L)
    if L < 2:
        raise ValueError("the theorem needs L >= 2")
    iterations = check_count(iterations, "iterations")
    kind, kappa = _kind(penalty)
    if kind == "none" or kappa == 0.0:
        return np.zeros_like(lam)
    if kind == "wd":
        def g(z):
            return z ** (L - 1) * (z**L + lam) - kappa * (1.0 - z)
    else:
        def g(z):
            return z ** (L - 2) * (z**L + lam) - kappa * (1.0 - z * z)
    lo, hi = np.zeros_like(lam), np.ones_like(lam)
    positive_root = g(lo) < 0  # g(1) = 1 + λ > 0 always
    for _ in range(int(iterations)):
        mid = 0.5 * (lo + hi)
        neg = g(mid) < 0
        lo = np.where(neg, mid, lo)
        hi = np.where(neg, hi, mid)
    return np.where(positive_root, 0.5 * (lo + hi), 0.0)


def penalized_plateau(lam, L: int, penalty=None) -> Array:
    r"""ℓ*(κ) = ½(z*(κ)^L + λ)² ≥ λ²/2: the limit of the loss under :func:`monotone_step`.

    (book/far_from_identity.ipynb, Theorem "Penalties make the plateau higher".)
    For plain GD it is exactly the plateau λ²/2 of :func:`linres.bounds.negative.plateau`.
    """
    lam = _lam(lam)
    z = penalized_fixed_point(lam, L, penalty)
    return 0.5 * (z**L + lam) ** 2


def iteration_bound(c, L: int, eta, eps: float) -> Array:
    r"""Steps after which plain GD on Φ_c = I − c uuᵀ, 0 ≤ c < 1, has ℓ_t ≤ ε.

    (book/far_from_identity.ipynb, Proposition "Up to distance 1".) With φ = 1 − c,
    z* = φ^{1/L} and η ≤ 1/L, the iterates decrease to z* without overshooting and

    .. math::  ℓ_t ≤ ½ L² (1 − z*)² ρ^{2t},  ρ = 1 − ηLφ^{2 − 2/L},

    so ℓ_t ≤ ε once t ≥ ln(L²(1 − z*)²/(2ε)) / (2 ln(1/ρ)). Returns that count,
    rounded up (0 when the start is already within ε).
    """
    c = _real(c, "c")
    if np.any((c < 0) | (c >= 1)):
        raise ValueError("c: the linear rate needs 0 <= c < 1 (distance below 1)")
    L = check_depth(L)
    eta = _real(eta, "step size eta")
    if np.any(eta <= 0) or np.any(eta > 1.0 / L):
        raise ValueError(f"step size eta: the proposition needs 0 < eta <= 1/L = {1.0 / L:g}")
    eps = check_positive(eps, "eps")
    phi = 1.0 - c
    zstar = phi ** (1.0 / L)
    rho = 1.0 - eta * L * phi ** (2.0 - 2.0 / L)
    start = 0.5 * L**2 * (1.0 - zstar) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(start / eps) / (-2.0 * np.log(rho))
    return np.where(start <= eps, 0.0, np.ceil(t))


def critical_loss_bounds(L: int, eta, t) -> tuple[Array, Array]:
    r"""Two-sided sublinear bounds at distance exactly 1 (Φ_1 = I − uuᵀ, singular).

    (book/far_from_identity.ipynb, Proposition "Up to distance 1", part 2.) With
    m = 2L − 2 and η ≤ 1/(2m), plain GD has z_{t+1} = z_t(1 − ηz_t^m) and

    .. math::  ½(1 + 2mηt)^{−L/(L−1)} ≤ ℓ_t ≤ ½(1 + mηt)^{−L/(L−1)}.

    Returns (lower, upper), shaped like ``t``.

    >>> lo, hi = critical_loss_bounds(3, 0.1, [0, 10])
    >>> [round(float(v), 4) for v in (*lo, *hi)]
    [0.5, 0.0185, 0.5, 0.0447]
    """
    L = check_depth(L)
    if L < 2:
        raise ValueError("depth L: the proposition needs L >= 2")
    if np.iscomplexobj(np.asarray(eta)):
        raise TypeError("step size eta must be a real number")
    eta = check_positive(eta, "step size eta")
    m = 2 * L - 2
    if eta > 1.0 / (2 * m):
        raise ValueError(f"step size eta: the lower bound needs eta <= 1/(4L - 4) = {1.0 / (2 * m):g}")
    t = _real(t, "t")
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    p = -L / (L - 1)
    return 0.5 * (1.0 + 2 * m * eta * t) ** p, 0.5 * (1.0 + m * eta * t) ** p


def jump_step(lam, L: int) -> Array:
    r"""For odd L, the step that lands plain GD on the optimum in one step: (1 + λ^{1/L})/(1 + λ).

    (book/far_from_identity.ipynb, Proposition "Parity and the step size".) From
    z_0 = 1, z_1 = 1 − η(1 + λ) = −λ^{1/L}, so z_1^L = −λ and ℓ_1 = 0. It violates the
    step-size condition η(1 + λ) ≤ 1 by the factor 1 + λ^{1/L}. For L = 3, λ = 1
    (Φ = −1 when d = 1) it is η = 1.
    """
    lam = _lam(lam)
    L = check_depth(L)
    if L % 2 == 0:
        raise ValueError("for even L, z^L >= 0: no step size reaches a negative eigenvalue")
    if L < 3:
        raise ValueError("the proposition concerns odd L >= 3")
    return (1.0 + lam ** (1.0 / L)) / (1.0 + lam)


def plateau_layers(lam: float, L: int, penalty=None, d: int = 2) -> Array:
    r"""The layers at the penalized plateau: L copies of I − (1 − z*)e₁e₁ᵀ, shape (L, d, d).

    They are a fixed point of full-matrix penalized GD on the witness Φ = I − (1+λ)e₁e₁ᵀ
    (every gradient vanishes there), for every step size.
    """
    lam_a = _lam(lam)
    if lam_a.ndim != 0:
        raise ValueError("lam must be a scalar here")
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2 (one direction u, one orthogonal to it); got {d!r}")
    z = float(penalized_fixed_point(lam_a, L, penalty))
    theta = np.eye(int(d))
    theta[0, 0] = z
    return np.repeat(theta[None], L, axis=0)


def plateau_hessian(lam: float, L: int, penalty=None, d: int = 2, h: float = 2e-5) -> Array:
    r"""Hessian of ℓ + Σ_i ψ(Θ_i) at :func:`plateau_layers`, over all L·d² layer entries.

    Computed by :func:`linres.analysis.hessian` (central second differences of the
    objective ``linres.loss`` + ``penalty.value``); with h = 2e-5 the entries are accurate
    to about 1e-6. Within the invariant set (all layers moving together along e₁e₁ᵀ) the
    curvature per unit length is F'(z*), with F(z) = z^{L−1}(z^L + λ) + p'(z); the other
    directions are what the theorem does not speak about. Shape (L·d², L·d²).
    """
    w = plateau_layers(lam, L, penalty, d)
    phi = np.eye(w.shape[-1])
    phi[0, 0] = -float(lam)

    def objective(x):
        val = loss(x, phi)
        return val if penalty is None else val + penalty.value(x)

    return hessian(objective, w, h=h)


def plateau_growth_factor(lam: float, L: int, eta: float, penalty=None, d: int = 2) -> float:
    r"""Spectral radius of one linearized full-matrix GD step at the plateau: max_μ |1 − ημ|.

    μ runs over the eigenvalues of :func:`plateau_hessian`. A factor > 1 means the
    plateau is unstable for full-matrix GD: a perturbation off the invariant set grows
    like factor^t. A factor < 1 means it is a strict local minimum of the penalized
    objective that attracts every nearby start. (Directions along which the objective
    is exactly flat, such as the rescalings Θ_{i+1}Q, QᵀΘ_i that leave the product
    and an orthogonally invariant penalty unchanged, give factor 1.)
    """
    eta = check_positive(eta, "step size eta")
    mu = np.linalg.eigvalsh(plateau_hessian(lam, L, penalty, d))
    return float(np.max(np.abs(1.0 - eta * mu)))
