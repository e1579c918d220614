r"""Result 3: symmetric positive definite Φ (book/spd.ipynb).

Everything here is about the scalar recurrence of the exact symmetric reduction
(:mod:`linres.scalar`), one coordinate per eigenvalue φ_j > 0 of Φ:

.. math::  z_{t+1} = z_t − η z_t^{L−1}(z_t^L − φ_j),   z_0 = 1,   z^\star_j = φ_j^{1/L}.

Notation of the chapter (book/spd.ipynb, Theorem ``thm-spd-bound``):

- M = max(1, λ_max(Φ)), m = min(1, λ_min(Φ)), κ' = M/m;
- ρ_j = min(1, φ_j)^{2−2/L} and q_j = 1 − ηLρ_j (the proved contraction factor);
- a_j = |1 − φ_j| if φ_j ≤ 1, and a_j = L φ_j^{(L−1)/L}(φ_j^{1/L} − 1) if φ_j > 1
  (the proved bound on the product residual |z_t^L − φ_j| at t = 0 of the argument).

The theorem: if 0 < η ≤ 1/(L M^{2−2/L}) (:func:`max_step`), then every z_{t,j} moves
monotonically from 1 toward z*_j without passing it, |z_{t+1,j} − z*_j| ≤ q_j |z_{t,j} − z*_j|,
and ℓ_t ≤ ½ Σ_j a_j² q_j^{2t} (:func:`loss_bound`). With η = 1/(L M²) (:func:`proved_step`)
this gives ℓ_T ≤ ε for T = ⌈(M²/(2m²)) ln(d M² ln²(M/m)/(2ε))⌉ (:func:`iterations_bound`).
"""
from __future__ import annotations

import numpy as np

from .._validate import Array, as_float_array, check_depth, check_positive, check_spectrum

__all__ = [
    "scale",
    "max_step",
    "proved_step",
    "contraction",
    "residual_coefficients",
    "loss_bound",
    "flow_loss_bound",
    "iterations_bound",
    "sharp_iterations_bound",
    "local_rate",
    "epsilon_slope",
    "steps_to",
    "OvershootMonitor",
]


def scale(phi) -> tuple[Array, Array]:
    """(M, m) = (max(1, λ_max), min(1, λ_min)) per problem (shape ``phi.shape[:-1]``)."""
    p = check_spectrum(phi, positive=True)
    return np.maximum(1.0, p.max(axis=-1)), np.minimum(1.0, p.min(axis=-1))


def max_step(phi, L: int) -> Array:
    r"""The largest step of the theorem, η_max = 1/(L M^{2−2/L}): no overshoot for every η ≤ η_max.

    It is sharp: for η > η_max the factor 1 − ηL φ^{2−2/L} at the fixed point of the largest
    eigenvalue (if > 1) is negative, so iterates close to it alternate sides.
    """
    L = check_depth(L)
    M, _ = scale(phi)
    return 1.0 / (L * M ** (2.0 - 2.0 / L))


def proved_step(phi, L: int) -> Array:
    """η = 1/(L M²), the step of the closed-form count :func:`iterations_bound` (≤ :func:`max_step`)."""
    L = check_depth(L)
    M, _ = scale(phi)
    return 1.0 / (L * M**2)


def _eta(phi: Array, L: int, eta) -> Array:
    """The step per problem (shape ``phi.shape[:-1]``), checked against the theorem's limit."""
    limit = max_step(phi, L)
    if eta is None:
        return proved_step(phi, L)
    e = as_float_array(eta, "step size eta")
    if np.any(e <= 0):
        raise ValueError("step size eta must be > 0")
    e = np.broadcast_to(e, limit.shape)
    if np.any(e > limit * (1 + 1e-12)):
        raise ValueError(
            "step size eta exceeds the theorem's limit 1/(L M^(2-2/L)); the bound does not apply"
        )
    return np.minimum(e, limit)


def contraction(phi, L: int, eta=None) -> Array:
    r"""q_j = 1 − ηL min(1, φ_j)^{2−2/L}, shape (..., d): |z_{t+1} − z*| ≤ q_j |z_t − z*|.

    ``eta`` defaults to :func:`proved_step`; it must not exceed :func:`max_step`.
    """
    p = check_spectrum(phi, positive=True)
    L = check_depth(L)
    e = _eta(p, L, eta)
    rho = np.minimum(1.0, p) ** (2.0 - 2.0 / L)
    return np.clip(1.0 - e[..., None] * L * rho, 0.0, 1.0)


def residual_coefficients(phi, L: int) -> Array:
    r"""a_j with |z_t^L − φ_j| ≤ a_j q_j^t: |1 − φ_j| if φ_j ≤ 1, else L φ_j^{(L−1)/L}(φ_j^{1/L} − 1).

    Both are ≤ M ln(M/m); for φ_j > 1, a_j ≤ φ_j ln φ_j.
    """
    p = check_spectrum(phi, positive=True)
    L = check_depth(L)
    root = p ** (1.0 / L)
    above = L * root ** (L - 1) * np.expm1(np.log(p) / L)
    return np.where(p > 1.0, above, 1.0 - p)


def loss_bound(phi, L: int, t, eta=None) -> Array:
    r"""ℓ_t ≤ ½ Σ_j a_j² q_j^{2t} (theorem, part 3). ``t`` broadcasts against the batch shape."""
    a = residual_coefficients(phi, L)
    q = contraction(phi, L, eta)
    t = np.asarray(t, dtype=float)
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    return 0.5 * np.sum(a**2 * q ** (2.0 * t[..., None]), axis=-1)


def flow_loss_bound(phi, L: int, tau) -> Array:
    r"""Gradient flow dz/dτ = −z^{L−1}(z^L − φ): ℓ(τ) ≤ ½ Σ_j a_j² exp(−2Lρ_j τ).

    Since q_j = 1 − ηLρ_j ≤ exp(−ηLρ_j), :func:`loss_bound` at step t is at most this at τ = ηt.
    """
    p = check_spectrum(phi, positive=True)
    L = check_depth(L)
    a = residual_coefficients(p, L)
    rho = np.minimum(1.0, p) ** (2.0 - 2.0 / L)
    tau = np.asarray(tau, dtype=float)
    if np.any(tau < 0):
        raise ValueError("tau must be >= 0")
    return 0.5 * np.sum(a**2 * np.exp(-2.0 * L * rho * tau[..., None]), axis=-1)


def iterations_bound(phi, eps: float) -> Array:
    r"""T = ⌈(M²/(2m²)) ln(d M² ln²(M/m) / (2ε))⌉ (0 when the logarithm is ≤ 0, e.g. Φ = I).

    At η = 1/(L M²) (:func:`proved_step`), GD from the identity has ℓ_T ≤ ε, for every depth L
    (book/spd.ipynb, Theorem ``thm-spd-bound``, part 4). The count does not depend on L.
    """
    p = check_spectrum(phi, positive=True)
    eps = check_positive(eps, "eps")
    M, m = scale(p)
    d = p.shape[-1]
    c = d * M**2 * np.log(M / m) ** 2 / (2.0 * eps)
    with np.errstate(divide="ignore"):
        log = np.where(c > 0, np.log(np.where(c > 0, c, 1.0)), -np.inf)
    t = np.ceil(M**2 / (2.0 * m**2) * np.maximum(log, 0.0))
    return t.astype(int)


def sharp_iterations_bound(phi, L: int, eps: float, eta=None) -> Array:
    r"""The least integer T ≥ 0 with ½ Σ_j a_j² q_j^{2T} ≤ ε (theorem, part 3), so ℓ_T ≤ ε.

    Valid for any 0 < η ≤ :func:`max_step` (default :func:`proved_step`); never larger than
    :func:`iterations_bound` at the proved step.
    """
    p = check_spectrum(phi, positive=True)
    L = check_depth(L)
    eps = check_positive(eps, "eps")
    a2 = residual_coefficients(p, L) ** 2
    q = contraction(p, L, eta)
    qmax = np.where(a2 > 0, q, 0.0).max(axis=-1)
    total = 0.5 * a2.sum(axis=-1)

    def bound(t):
        return 0.5 * np.sum(a2 * q ** (2.0 * t[..., None]), axis=-1)

    # ½Σa² qmax^{2t} ≤ ε brackets the answer from above.
    with np.errstate(divide="ignore"):
        ratio = np.log(np.maximum(total, 1e-300) / eps)
        hi = np.where(
            total <= eps, 0.0,
            np.where(qmax > 0, np.ceil(ratio / np.maximum(-2.0 * np.log(np.maximum(qmax, 1e-300)), 1e-300)), 1.0),
        )
    hi = np.maximum(hi, 0.0)
    lo = np.full_like(hi, -1.0)
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2)
        ok = bound(np.maximum(mid, 0.0)) <= eps
        hi = np.where(ok & (hi - lo > 1), mid, hi)
        lo = np.where(~ok & (hi - lo > 1), mid, lo)
    return hi.astype(int)


def local_rate(phi, L: int, eta) -> Array:
    r"""|1 − ηL φ_j^{2−2/L}|, shape (..., d): the derivative of the GD map at z*_j.

    Close to the optimum, |z_t − z*_j| shrinks by this factor per step (any η).
    """
    p = check_spectrum(phi, positive=True)
    L = check_depth(L)
    e = as_float_array(eta, "step size eta")
    if np.any(e <= 0):
        raise ValueError("step size eta must be > 0")
    return np.abs(1.0 - np.asarray(e)[..., None] * L * p ** (2.0 - 2.0 / L))


def epsilon_slope(phi, L: int, eta) -> Array:
    r"""Predicted dT/d ln(1/ε) for small ε: 1/(−2 ln r), r = the largest :func:`local_rate`
    over the eigenvalues φ_j ≠ 1 (the loss is a sum of squares of residuals that shrink by r_j).
    """
    p = check_spectrum(phi, positive=True)
    r = np.where(p != 1.0, local_rate(p, L, eta), 0.0).max(axis=-1)
    if np.any(r >= 1):
        raise ValueError("the fixed point is not attracting at this step size (local rate >= 1)")
    with np.errstate(divide="ignore"):
        return np.where(r > 0, 1.0 / (-2.0 * np.log(np.maximum(r, 1e-300))), 0.0)


def steps_to(history_steps, history_loss, eps) -> Array:
    r"""First recorded step with loss ≤ ε, per problem (−1 if never), from a run's history.

    ``history_loss`` has shape (n_records, ...). With ``record_every=1`` and a loss that never
    increases (true under the theorem) this is the count a run with ``tol=eps`` would report.
    """
    s = np.asarray(history_steps)
    h = np.asarray(history_loss, dtype=float)
    eps = np.asarray(eps, dtype=float)
    if h.shape[0] != s.shape[0]:
        raise ValueError("history_steps and history_loss must have the same length")
    # result shape: eps.shape + batch shape
    hl = h.reshape(h.shape[0], *(1,) * eps.ndim, *h.shape[1:])
    ee = eps.reshape(1, *eps.shape, *(1,) * (h.ndim - 1))
    hit = hl <= ee
    first = np.argmax(hit, axis=0)
    return np.where(hit.any(axis=0), s[first], -1)


class OvershootMonitor:
    r"""A ``record`` callback for :func:`linres.run_scalar` that watches every step for
    the theorem's two monotonicity claims, on the flat batch (n, d):

    - ``overshoot[k]``: max over t, j of how far z_{t,j} has passed z*_j = φ_j^{1/L}
      (0 when it never crosses);
    - ``increase[k]``: max over t, j of the increase of |z_{t,j} − z*_j| in one step
      (0 when the distance never grows).

    Use with ``record_every=1``; the callback returns no history.
    """

    def __init__(self, phi, L: int):
        p = check_spectrum(phi, positive=True)
        L = check_depth(L)
        self.batch_shape = p.shape[:-1]
        flat = p.reshape(-1, p.shape[-1])
        self.zstar = flat ** (1.0 / L)
        self.side = np.sign(1.0 - self.zstar)  # +1: approach from above, −1: from below
        self.dist = np.abs(1.0 - self.zstar)
        self._overshoot = np.zeros(flat.shape[0])
        self._increase = np.zeros(flat.shape[0])
        self.calls = 0

    def __call__(self, z: Array, phi: Array) -> dict:
        signed = (z - self.zstar) * self.side  # >= 0 while on the starting side
        np.maximum(self._overshoot, np.max(-signed, axis=-1), out=self._overshoot)
        dist = np.abs(z - self.zstar)
        np.maximum(self._increase, np.max(dist - self.dist, axis=-1), out=self._increase)
        self.dist = dist
        self.calls += 1
        return {}

    @property
    def overshoot(self) -> Array:
        return np.maximum(self._overshoot, 0.0).reshape(self.batch_shape)

    @property
    def increase(self) -> Array:
        return np.maximum(self._increase, 0.0).reshape(self.batch_shape)
