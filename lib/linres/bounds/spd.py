r"""Result 3: symmetric positive definite Φ (book/spd.ipynb).

Everything here is about the scalar recurrence of the exact symmetric reduction
(:mod:`linres.scalar`), one coordinate per eigenvalue φ_j > 0 of Φ:

.. math::  z_{t+1} = z_t − η z_t^{L−1}(z_t^L − φ_j),   z_0 = 1,   z^\star_j = φ_j^{1/L}.

Writing z^L − φ = (z − z*) S(z) with S(z) = Σ_{k<L} z^k (z*)^{L−1−k}, one step multiplies
z − z* by 1 − η g(z), g(z) = z^{L−1} S(z), and g increases on (0, ∞).

Notation of the chapter (Theorem ``thm-spd-bound``):

- M = max(1, λ_max(Φ)), m = min(1, λ_min(Φ)), κ' = M/m;
- ρ_j = min(1, φ_j)^{2−2/L} and q_j = 1 − ηLρ_j (the proved contraction factor);
- G_j = max(S_j(1), Lφ_j^{2−2/L}), the largest g on the path from 1 to z*_j;
- a_j = |1 − φ_j| if φ_j ≤ 1, and a_j = L φ_j^{(L−1)/L}(φ_j^{1/L} − 1) if φ_j > 1
  (the proved bound on the product residual |z_t^L − φ_j| at t = 0 of the argument).

Every function takes the problem first (the spectrum ``phi``, shape (..., d), one row of
eigenvalues per problem), then the depth ``L``, then the step ``eta``, then ``t`` or ``eps``;
an argument a bound does not depend on is left out, the order kept.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import Array, as_float_array, check_depth, check_spectrum

__all__ = [
    "scale",
    "max_step",
    "proved_step",
    "no_overshoot_step",
    "stable_step",
    "contraction",
    "residual_coefficients",
    "loss_bound",
    "flow_loss_bound",
    "iteration_bound",
    "sharp_iteration_bound",
    "local_rate",
    "epsilon_slope",
    "lower_slope",
    "Replay",
    "replay",
]


# ----------------------------------------------------------------------------- input

def _real(x, name: str) -> Array:
    """A finite real float64 array (the shared check: complex, boolean, non-numeric refused)."""
    return as_float_array(x, name)


def _spectrum(phi) -> Array:
    return check_spectrum(_real(phi, "phi"), positive=True)


def _depth(L) -> int:
    return check_depth(L)


def _eps(eps) -> float:
    e = _real(eps, "eps")
    if e.ndim != 0:
        raise ValueError(f"eps must be a scalar; got shape {e.shape}")
    if e <= 0:
        raise ValueError(f"eps must be > 0; got {float(e)!r}")
    return float(e)


def _positive_step(eta, batch: tuple) -> Array:
    e = _real(eta, "eta")
    if np.any(e <= 0):
        raise ValueError("eta must be > 0")
    try:
        return np.broadcast_to(e, batch)
    except ValueError:
        raise ValueError(f"eta must be a scalar or have the batch shape {batch}; got shape {e.shape}") from None


# ----------------------------------------------------------------------------- steps

def scale(phi) -> tuple[Array, Array]:
    """(M, m) = (max(1, λ_max), min(1, λ_min)) per problem (shape ``phi.shape[:-1]``).

    >>> scale([0.5, 2.0])
    (np.float64(2.0), np.float64(0.5))
    """
    p = _spectrum(phi)
    return np.maximum(1.0, p.max(axis=-1)), np.minimum(1.0, p.min(axis=-1))


def max_step(phi, L: int) -> Array:
    r"""η_max = 1/(L M^{2−2/L}), the step limit of the theorem.

    When λ_max ≥ 1 it is exactly the largest step without overshoot
    (:func:`no_overshoot_step`); when λ_max < 1 that limit is larger.

    >>> float(max_step([0.5, 4.0], 2))
    0.125
    """
    L = _depth(L)
    M, _ = scale(phi)
    return 1.0 / (L * M ** (2.0 - 2.0 / L))


def proved_step(phi, L: int) -> Array:
    """η = 1/(L M²), the step of the closed-form count :func:`iteration_bound` (≤ :func:`max_step`)."""
    L = _depth(L)
    M, _ = scale(phi)
    return 1.0 / (L * M**2)


def _path_max_g(p: Array, L: int) -> Array:
    """G_j = max of g on the path from 1 to z*_j: S_j(1) = Σ_{k<L} φ^{k/L} or Lφ^{2−2/L}."""
    k = np.arange(L)
    s1 = np.sum(p[..., None] ** (k / L), axis=-1)
    return np.maximum(s1, L * p ** (2.0 - 2.0 / L))


def no_overshoot_step(phi, L: int) -> Array:
    r"""The exact no-overshoot limit 1/max_j G_j, G_j = max(Σ_{k<L} φ_j^{k/L}, L φ_j^{2−2/L}).

    For 0 < η ≤ this step no coordinate ever passes its target (parts 1–3 of the theorem
    hold); for a larger step some coordinate does (or lands on its target exactly). It
    equals :func:`max_step` when λ_max ≥ 1 and is 1/Σ_{k<L} λ_max^{k/L} > 1/L when λ_max < 1.

    >>> round(float(no_overshoot_step([0.01], 5)), 4)  # Φ = 0.01·I, L = 5: not 1/L = 0.2
    0.608
    """
    p = _spectrum(phi)
    L = _depth(L)
    return 1.0 / _path_max_g(p, L).max(axis=-1)


def stable_step(phi, L: int) -> Array:
    r"""2/(L λ_max^{2−2/L}): no constant step above it converges (Proposition ``prop-spd-lower``).

    Above it the fixed point of the top eigenvalue repels, |1 − ηLλ_max^{2−2/L}| > 1.
    """
    p = _spectrum(phi)
    L = _depth(L)
    return 2.0 / (L * p.max(axis=-1) ** (2.0 - 2.0 / L))


def _eta(p: Array, L: int, eta) -> Array:
    """The step per problem, checked against the exact no-overshoot limit (None: proved step)."""
    if eta is None:
        return proved_step(p, L)
    limit = 1.0 / _path_max_g(p, L).max(axis=-1)
    e = _positive_step(eta, limit.shape)
    if np.any(e > limit * (1 + 1e-12)):
        raise ValueError("eta exceeds the no-overshoot limit 1/max_j G_j; the bound does not apply")
    return np.minimum(e, limit)


# ----------------------------------------------------------------------------- bounds

def contraction(phi, L: int, eta=None) -> Array:
    r"""q_j = 1 − ηL min(1, φ_j)^{2−2/L}, shape (..., d): |z_{t+1} − z*_j| ≤ q_j |z_t − z*_j|.

    ``eta`` (scalar or batch shape; None: :func:`proved_step`) must not exceed
    :func:`no_overshoot_step`.
    """
    p = _spectrum(phi)
    L = _depth(L)
    e = _eta(p, L, eta)
    rho = np.minimum(1.0, p) ** (2.0 - 2.0 / L)
    return np.clip(1.0 - e[..., None] * L * rho, 0.0, 1.0)


def residual_coefficients(phi, L: int) -> Array:
    r"""a_j with |z_t^L − φ_j| ≤ a_j q_j^t: |1 − φ_j| if φ_j ≤ 1, else L φ_j^{(L−1)/L}(φ_j^{1/L} − 1).

    Both are ≤ M ln(M/m); for φ_j > 1, a_j ≤ φ_j ln φ_j.

    >>> residual_coefficients([0.5, 4.0], 2).tolist()
    [0.5, 4.0]
    """
    p = _spectrum(phi)
    L = _depth(L)
    root = p ** (1.0 / L)
    above = L * root ** (L - 1) * np.expm1(np.log(p) / L)
    return np.where(p > 1.0, above, 1.0 - p)


def _times(t, name: str) -> Array:
    t = _real(t, name)
    if np.any(t < 0):
        raise ValueError(f"{name} must be >= 0")
    return t


def loss_bound(phi, L: int, eta, t) -> Array:
    r"""ℓ_t ≤ ½ Σ_j a_j² q_j^{2t} (theorem, part 3), for 0 < η ≤ :func:`no_overshoot_step`.

    ``eta`` may be None (the proved step); ``t`` broadcasts against the batch shape.

    >>> float(loss_bound([0.5], 1, 0.5, 0))  # ℓ_0 = ½(1 − φ)²
    0.125
    """
    a = residual_coefficients(phi, L)
    q = contraction(phi, L, eta)
    t = _times(t, "t")
    return 0.5 * np.sum(a**2 * q ** (2.0 * t[..., None]), axis=-1)


def flow_loss_bound(phi, L: int, tau) -> Array:
    r"""Gradient flow dz/dτ = −z^{L−1}(z^L − φ): ℓ(τ) ≤ ½ Σ_j a_j² exp(−2Lρ_j τ).

    Since q_j = 1 − ηLρ_j ≤ exp(−ηLρ_j), :func:`loss_bound` at step t is at most this at τ = ηt.
    """
    p = _spectrum(phi)
    L = _depth(L)
    a = residual_coefficients(p, L)
    rho = np.minimum(1.0, p) ** (2.0 - 2.0 / L)
    tau = _times(tau, "tau")
    return 0.5 * np.sum(a**2 * np.exp(-2.0 * L * rho * tau[..., None]), axis=-1)


def iteration_bound(phi, eps) -> Array:
    r"""T = ⌈(M²/(2m²)) ln(d M² ln²(M/m) / (2ε))⌉ (0 when the logarithm is ≤ 0, e.g. Φ = I).

    At η = 1/(L M²) (:func:`proved_step`), GD from the identity has ℓ_T ≤ ε, for every depth L
    (theorem, part 4): the bound involves neither L nor η, so it takes neither.

    >>> int(iteration_bound([0.5, 2.0], 1e-8))
    164
    """
    p = _spectrum(phi)
    eps = _eps(eps)
    M, m = scale(p)
    d = p.shape[-1]
    c = d * M**2 * np.log(M / m) ** 2 / (2.0 * eps)
    with np.errstate(divide="ignore"):
        log = np.where(c > 0, np.log(np.where(c > 0, c, 1.0)), -np.inf)
    t = np.ceil(M**2 / (2.0 * m**2) * np.maximum(log, 0.0))
    return t.astype(int)


def sharp_iteration_bound(phi, L: int, eta, eps) -> Array:
    r"""The least integer T ≥ 0 with ½ Σ_j a_j² q_j^{2T} ≤ ε (theorem, part 3), so ℓ_T ≤ ε.

    Valid for any 0 < η ≤ :func:`no_overshoot_step` (None: :func:`proved_step`); at the proved
    step never larger than :func:`iteration_bound`.
    """
    p = _spectrum(phi)
    L = _depth(L)
    eps = _eps(eps)
    a2 = residual_coefficients(p, L) ** 2
    q = contraction(p, L, eta)
    qmax = np.where(a2 > 0, q, 0.0).max(axis=-1)
    total = 0.5 * a2.sum(axis=-1)

    def bound(t):
        return 0.5 * np.sum(a2 * q ** (2.0 * t[..., None]), axis=-1)

    # ½Σa² qmax^{2t} ≤ ε brackets the answer from above.
    with np.errstate(divide="ignore"):
        ratio = np.log(np.maximum(total, 1e-300) / eps)
        rate = np.maximum(-2.0 * np.log(np.maximum(qmax, 1e-300)), 1e-300)
        hi = np.where(total <= eps, 0.0, np.where(qmax > 0, np.ceil(ratio / rate), 1.0))
    hi = np.maximum(hi, 0.0)
    lo = np.full_like(hi, -1.0)
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2)
        ok = bound(np.maximum(mid, 0.0)) <= eps
        hi = np.where(ok & (hi - lo > 1), mid, hi)
        lo = np.where(~ok & (hi - lo > 1), mid, lo)
    return hi.astype(int)


def local_rate(phi, L: int, eta) -> Array:
    r"""|1 − ηL φ_j^{2−2/L}|, shape (..., d): the derivative of the GD map at z*_j (in absolute value).

    Close to the optimum, |z_t − z*_j| shrinks by this factor per step (any η).
    """
    p = _spectrum(phi)
    L = _depth(L)
    e = _positive_step(eta, p.shape[:-1])
    return np.abs(1.0 - e[..., None] * L * p ** (2.0 - 2.0 / L))


def epsilon_slope(phi, L: int, eta) -> Array:
    r"""Predicted dT/d ln(1/ε) for small ε: 1/(−2 ln r), r = the largest :func:`local_rate`
    over the eigenvalues φ_j ≠ 1 (the loss is a sum of squares of residuals that shrink by r_j).
    """
    p = _spectrum(phi)
    r = np.where(p != 1.0, local_rate(p, L, eta), 0.0).max(axis=-1)
    if np.any(r >= 1):
        raise ValueError("the fixed point is not attracting at this step size eta (local rate >= 1)")
    with np.errstate(divide="ignore"):
        return np.where(r > 0, 1.0 / (-2.0 * np.log(np.maximum(r, 1e-300))), 0.0)


def lower_slope(phi, L: int) -> Array:
    r"""(κ^{2−2/L} − 2)/4, κ = λ_max/λ_min: a lower bound on liminf_{ε→0} T(ε)/ln(1/ε) for
    every constant step that converges (Proposition ``prop-spd-lower``); 0 when κ^{2−2/L} ≤ 2.

    >>> float(lower_slope([0.01, 1.0], 2))  # κ = 100, exponent 1
    24.5
    """
    p = _spectrum(phi)
    L = _depth(L)
    k = (p.max(axis=-1) / p.min(axis=-1)) ** (2.0 - 2.0 / L)
    return np.maximum(k - 2.0, 0.0) / 4.0


# ----------------------------------------------------------------------------- replay

class Replay(NamedTuple):
    """What :func:`replay` saw along the trajectories (batch shape ``phi.shape[:-1]``).

    - ``z``: the state after ``steps`` steps, shape (..., d);
    - ``overshoot``: max over t ≤ steps and j of how far z_{t,j} has passed z*_j (0 if never);
    - ``increase``: max over t and j of the growth of |z_{t,j} − z*_j| in one step (0 if never).
    """

    z: Array
    overshoot: Array
    increase: Array


def replay(phi, L, eta, steps) -> Replay:
    r"""Replay z_{t+1} = z_t − η z_t^{L−1}(z_t^L − φ) from z_0 = 1 with numpy, ``steps`` steps
    per problem, and measure the theorem's two monotonicity claims along the way.

    This is an independent implementation of the recurrence (numpy powers, no kernel): compare
    its ``z`` with a run's final state to tie the measurement to that run. ``L``, ``eta`` and
    ``steps`` are scalars or arrays of the batch shape, so that runs of different depths are
    replayed in one vectorised pass; problems drop out of the batch as they finish. A
    coordinate with φ_j = 1 stays at 1 exactly, so spectra of different sizes can be padded
    with ones. A non-finite state (a diverging run) counts as an overshoot of +inf.

    >>> r = replay([[0.5, 2.0], [0.5, 2.0]], [2, 3], 0.1, [40, 30])
    >>> r.overshoot.tolist(), r.increase.tolist()
    ([0.0, 0.0], [0.0, 0.0])
    """
    p = _spectrum(phi)
    batch, d = p.shape[:-1], p.shape[-1]
    Ls = np.asarray(L)
    if Ls.ndim == 0:
        Ls = np.asarray(_depth(L))
    elif Ls.dtype == bool or not np.issubdtype(Ls.dtype, np.integer) or np.any(Ls < 1):
        raise TypeError("depth L must be an integer >= 1 or an integer array of them")
    e = _positive_step(eta, batch).reshape(-1)
    s = np.asarray(steps)
    if s.dtype == bool or not np.issubdtype(s.dtype, np.integer):
        raise TypeError(f"steps must be integers; got dtype {s.dtype}")
    try:
        Ls = np.broadcast_to(Ls, batch).reshape(-1).astype(float)
        s = np.broadcast_to(s, batch).reshape(-1).astype(np.int64)
    except ValueError:
        raise ValueError(f"L and steps must be scalars or have the batch shape {batch}") from None
    if np.any(s < 0):
        raise ValueError("steps must be >= 0")
    P = p.reshape(-1, d)
    order = np.argsort(-s, kind="stable")  # longest first: the active rows are a prefix
    P, e, s, Ls = P[order], e[order][:, None], s[order], Ls[order][:, None]
    zs = P ** (1.0 / Ls)
    side = np.sign(1.0 - zs)  # +1: approach from above, −1: from below
    z = np.ones_like(P)
    dist = np.abs(z - zs)
    low = np.zeros_like(P)  # running min of (z − z*)·side: < 0 once z has passed z*
    grow = np.zeros_like(P)  # running max of the one-step growth of |z − z*|
    T = int(s.max(initial=0))
    n_active = np.searchsorted(-s, -np.arange(T + 1), side="right")
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            k = n_active[t + 1]  # rows that take step t + 1
            zk = z[:k]
            zl1 = zk ** (Ls[:k] - 1.0)
            zk -= e[:k] * zl1 * (zl1 * zk - P[:k])
            diff = zk - zs[:k]
            np.minimum(low[:k], diff * side[:k], out=low[:k])
            dk = np.abs(diff)
            np.maximum(grow[:k], dk - dist[:k], out=grow[:k])
            dist[:k] = dk
    bad = ~np.all(np.isfinite(z) & np.isfinite(low) & np.isfinite(grow), axis=-1)
    over = np.where(bad, np.inf, np.maximum(-low.min(axis=-1, initial=0.0), 0.0))
    inc = np.where(bad, np.inf, np.maximum(grow.max(axis=-1, initial=0.0), 0.0))
    back = np.empty_like(order)
    back[order] = np.arange(order.size)
    return Replay(z=z[back].reshape(p.shape), overshoot=over[back].reshape(batch),
                  increase=inc[back].reshape(batch))
