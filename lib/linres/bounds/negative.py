r"""Results 2 and 4: symmetric targets with a negative eigenvalue
(book/far_from_identity.ipynb, book/negative_eigenvalue.ipynb).

The class of algorithms (book/negative_eigenvalue.ipynb, "The class"): from Θ_i = I,

.. math::  Θ_i ← Θ_i − η_t (∇_{Θ_i} ℓ + ∇ψ(Θ_i)),

with ψ invariant under orthogonal conjugation (ψ = 0 is plain gradient descent).
On a symmetric Φ = U diag(φ) Uᵀ every layer stays U diag(z_t) Uᵀ, and for the
separable penalties of :mod:`linres.penalties` each coordinate follows

.. math::  z ← z − η [z^{L−1}(z^L − φ) + p'(z)],   z_0 = 1.

Functions here, each citing the statement of book/negative_eigenvalue.ipynb it
implements:

- :func:`plateau`               the floor ½ Σ_{φ_j<0} φ_j² (Theorem "plateau")
- :func:`penalty_constant`      κ_ψ with −κ_ψ(1 − z) ≤ p'(z) ≤ 0 on [0, 1]
- :func:`odd_depth_max_step`    the step-size condition of the theorem for odd L
- :func:`plateau_guaranteed`    whether the theorem's hypotheses hold for (L, η, φ, ψ)
- :func:`stall_bound`           z_t ≤ (1 + (L−2)ηλt)^{−1/(L−2)} (Proposition "stall")
- :func:`saddle_point`          the limit z* of plain GD, 0 on negative eigenvalues
- :func:`saddle_min_curvature`  the smallest Hessian eigenvalue of ℓ at that point
- :func:`escape_rate`           the per-step log growth of the unstable mode of GD there
- :func:`flow_limit`            where the penalized scalar flow from z = 1 stops
- :func:`flow_limit_loss`       the loss at that point
- :func:`stall_min_curvature`   the same for ℓ + Σψ at :func:`flow_limit` (numerical)
- :func:`palindromic_gap`       max_i ‖Θ_{L+1−i} − Θ_iᵀ‖_F (Remark "a second invariant")
"""
from __future__ import annotations

import numpy as np

from .._validate import Array, as_float_array, check_depth, check_layers, check_positive, check_spectrum
from ..model import grad as _grad
from ..penalties import OrthogonalityPenalty, Penalty, WeightDecay

__all__ = [
    "plateau",
    "penalty_constant",
    "odd_depth_max_step",
    "plateau_guaranteed",
    "stall_bound",
    "saddle_point",
    "saddle_min_curvature",
    "escape_rate",
    "flow_limit",
    "flow_limit_loss",
    "stall_min_curvature",
    "palindromic_gap",
]


def plateau(spectrum) -> Array:
    """The loss floor ½ Σ_{φ_j < 0} φ_j² of the whole class of algorithms (Result 4)."""
    phi = as_float_array(spectrum, "spectrum")
    neg = np.minimum(phi, 0.0)
    return 0.5 * np.sum(neg * neg, axis=-1)


def penalty_constant(penalty: Penalty | None) -> float:
    r"""κ_ψ, the smallest constant with −κ_ψ(1 − z) ≤ p'(z) ≤ 0 for z ∈ [0, 1]
    (hypothesis (P) of the plateau theorem, book/negative_eigenvalue.ipynb).

    - no penalty: 0;
    - ``WeightDecay(κ)``, p'(z) = κ(z − 1): κ;
    - ``OrthogonalityPenalty(κ)``, p'(z) = κz(z² − 1) = −κ z(1 + z)(1 − z): 2κ,
      since z(1 + z) ≤ 2 on [0, 1] with the supremum approached as z → 1.

    Other penalties raise ``TypeError``: their constant has to be derived by hand.
    """
    if penalty is None:
        return 0.0
    if isinstance(penalty, WeightDecay):
        return float(penalty.kappa)
    if isinstance(penalty, OrthogonalityPenalty):
        return 2.0 * float(penalty.kappa)
    raise TypeError(
        f"no known constant κ_ψ for {type(penalty).__name__}; the theorem needs "
        "−κ_ψ(1 − z) ≤ p'(z) ≤ 0 on [0, 1], derive κ_ψ by hand"
    )


def odd_depth_max_step(spectrum, penalty: Penalty | None = None) -> Array:
    r"""The largest step size the plateau theorem allows for odd L ≥ 3:
    min(1/(1 + λ_max), 1/κ_ψ), with λ_max the largest |φ_j| over φ_j < 0 and
    κ_ψ = :func:`penalty_constant` (1/0 read as ∞). One value per spectrum.

    Under η_t ≤ this value, every negative eigen-coordinate stays in [0, 1].
    """
    phi = check_spectrum(spectrum, "spectrum")
    lam = np.max(np.maximum(-phi, 0.0), axis=-1)
    k = penalty_constant(penalty)
    step = 1.0 / (1.0 + lam)
    return np.minimum(step, 1.0 / k) if k > 0 else step


def plateau_guaranteed(L: int, eta, spectrum, penalty: Penalty | None = None) -> Array:
    r"""Whether the plateau theorem (book/negative_eigenvalue.ipynb) applies to a
    constant step ``eta``: always for even L (any step size, any conjugation-invariant
    penalty); for odd L ≥ 3 iff η ≤ :func:`odd_depth_max_step`; never for L = 1
    (a single layer is a convex problem that reaches Φ).

    ``eta`` broadcasts against the batch shape of ``spectrum``.
    """
    L = check_depth(L)
    phi = check_spectrum(spectrum, "spectrum")
    eta = as_float_array(eta, "eta")
    if np.any(eta <= 0):
        raise ValueError("step sizes eta must be > 0")
    shape = np.broadcast_shapes(eta.shape, phi.shape[:-1])
    if L == 1:
        return np.zeros(shape, dtype=bool)
    if L % 2 == 0:
        return np.ones(shape, dtype=bool)
    return np.broadcast_to(eta <= odd_depth_max_step(phi, penalty) * (1 + 1e-12), shape).copy()


def stall_bound(t, L: int, eta: float, lam: float) -> Array:
    r"""Upper bound on the negative eigen-coordinate of plain GD (Proposition "stall",
    book/negative_eigenvalue.ipynb): if η(1 + λ) < 1, then for every step t

    .. math::  0 < z_t ≤ (1 + (L−2)ηλt)^{−1/(L−2)}   (L ≥ 3),   0 < z_t ≤ (1 − ηλ)^t   (L = 2).

    The first form is asymptotically exact: z_t (1 + (L−2)ηλt)^{1/(L−2)} → 1.
    """
    L = check_depth(L)
    if L < 2:
        raise ValueError("the stall bound needs L >= 2 (L = 1 does not stall)")
    eta = check_positive(eta, "eta")
    lam = check_positive(lam, "lam")
    if eta * (1.0 + lam) >= 1.0:
        raise ValueError(f"the bound needs eta*(1+lam) < 1; got {eta * (1 + lam):.3g}")
    t = as_float_array(t, "t")
    if np.any(t < 0):
        raise ValueError("steps t must be >= 0")
    if L == 2:
        return (1.0 - eta * lam) ** t
    m = L - 2
    return (1.0 + m * eta * lam * t) ** (-1.0 / m)


def saddle_point(spectrum, L: int) -> Array:
    r"""z*_j = φ_j^{1/L} for φ_j > 0 and 0 otherwise: the point plain GD from I tends
    to on the invariant set (the layers U diag(z*) Uᵀ). For L ≥ 2 it is a critical
    point of ℓ with ℓ = :func:`plateau`."""
    phi = check_spectrum(spectrum, "spectrum")
    L = check_depth(L)
    return np.where(phi > 0, np.abs(phi) ** (1.0 / L), 0.0)


def saddle_min_curvature(spectrum, L: int) -> Array:
    r"""Smallest eigenvalue of the Hessian of ℓ (in all L d² layer entries) at the
    layers U diag(z*) Uᵀ of :func:`saddle_point` (Proposition "saddle",
    book/negative_eigenvalue.ipynb):

    - L = 2:  −λ_max, with λ_max = max_{φ_u<0} |φ_u|;
    - L ≥ 3:  min(0, min over pairs φ_u < 0 < φ_v of φ_v^{(L−2)/L}(φ_v − |φ_u|)).

    For L ≥ 3 it is negative iff some negative eigenvalue is larger in magnitude than
    some positive one; the unstable direction couples Θ_1 and Θ_L through u and v.
    """
    phi = check_spectrum(spectrum, "spectrum")
    L = check_depth(L)
    if L == 1:
        raise ValueError("for L = 1 the loss is convex and z* is not a critical point")
    lam = np.maximum(-phi, 0.0)
    if L == 2:
        return -np.max(lam, axis=-1)
    pos = np.maximum(phi, 0.0)
    s = pos ** ((L - 2) / L)
    # pairs (u negative, v positive): s_v (φ_v − λ_u)
    pair = s[..., None, :] * (pos[..., None, :] - lam[..., :, None])
    valid = (phi[..., :, None] < 0) & (phi[..., None, :] > 0)
    return np.minimum(0.0, np.min(np.where(valid, pair, 0.0), axis=(-2, -1)))


def escape_rate(spectrum, L: int, eta: float) -> Array:
    r"""ln(1 − η c) with c = :func:`saddle_min_curvature` (0 when c ≥ 0): the per-step
    log growth of the fastest-growing perturbation of GD linearized at the saddle.
    A perturbation of size ε then needs about ln(1/ε)/rate steps to become O(1)."""
    eta = check_positive(eta, "eta")
    c = saddle_min_curvature(spectrum, L)
    return np.log1p(-eta * np.minimum(c, 0.0))


def _scalar_h(z, phi, L, penalty):
    zl1 = z ** (L - 1)
    h = zl1 * (zl1 * z - phi)
    if penalty is not None:
        h = h + penalty.scalar_grad(z)
    return h


def flow_limit(spectrum, L: int, penalty: Penalty | None = None, *, grid: int = 4097, iters: int = 80) -> Array:
    r"""Where the scalar gradient flow ż = −h(z), h(z) = z^{L−1}(z^L − φ) + p'(z),
    started at z = 1 comes to rest, coordinatewise (book/negative_eigenvalue.ipynb,
    "how much worse the penalty makes it").

    The flow is monotone, so it stops at the zero of h nearest to 1 in the direction
    −sign h(1): the largest zero in [0, 1) if h(1) > 0, the smallest zero in (1, B]
    if h(1) < 0, with B = 2 max(1, φ)^{1/L}. The zero is bracketed on a grid of
    ``grid`` points and refined by bisection. Gradient descent with a small enough
    step (η h' ≤ 1 between 1 and the zero) converges monotonically to the same point.

    Raises ``ValueError`` if h has no sign change in the search interval (the penalty
    is then outside the class the book studies).
    """
    phi = check_spectrum(spectrum, "spectrum")
    L = check_depth(L)
    if penalty is not None and not isinstance(penalty, Penalty):
        raise TypeError("penalty must provide value(), grad() and scalar_grad()")
    if isinstance(grid, bool) or int(grid) != grid or grid < 3:
        raise ValueError(f"grid must be an integer >= 3; got {grid!r}")
    h1 = _scalar_h(np.ones_like(phi), phi, L, penalty)
    down = h1 > 0
    top = 2.0 * np.maximum(1.0, np.abs(phi)) ** (1.0 / L)
    s = np.linspace(0.0, 1.0, int(grid)).reshape((int(grid),) + (1,) * phi.ndim)
    # grid from 1 toward the stopping point: 1 − s (down) or 1 + s (top − 1) (up)
    zs = np.where(down, 1.0 - s, 1.0 + s * (top - 1.0))
    hs = _scalar_h(zs, phi, L, penalty)
    crossed = np.where(down, hs <= 0, hs >= 0)
    crossed[0] = h1 == 0
    if not np.all(np.any(crossed, axis=0)):
        raise ValueError("h has no zero between 1 and the end of the search interval: "
                         "the penalty is outside the class of the theorem")
    k = np.argmax(crossed, axis=0)
    hi = np.take_along_axis(zs, k[None], axis=0)[0]  # first grid point past the zero
    lo = np.take_along_axis(zs, np.maximum(k - 1, 0)[None], axis=0)[0]  # last point before
    for _ in range(int(iters)):
        mid = 0.5 * (lo + hi)
        hm = _scalar_h(mid, phi, L, penalty)
        past = np.where(down, hm <= 0, hm >= 0)
        hi = np.where(past, mid, hi)
        lo = np.where(past, lo, mid)
    return np.where(h1 == 0, 1.0, hi)


def flow_limit_loss(spectrum, L: int, penalty: Penalty | None = None) -> Array:
    r"""ℓ at :func:`flow_limit`: ½ Σ_j (z*_j^L − φ_j)². Without a penalty this is
    :func:`plateau` (the flow stops at z* = 0 on every negative eigenvalue)."""
    phi = check_spectrum(spectrum, "spectrum")
    z = flow_limit(phi, L, penalty)
    r = z**L - phi
    return 0.5 * np.sum(r * r, axis=-1)


def stall_min_curvature(spectrum, L: int, penalty: Penalty | None = None, *, h: float = 1e-5) -> float:
    r"""Smallest Hessian eigenvalue of F = ℓ + Σ_i ψ(Θ_i) at the point where the class
    stalls in exact arithmetic: every layer U diag(z*) Uᵀ with z* = :func:`flow_limit`
    (book/negative_eigenvalue.ipynb, "what a penalty does to the saddle").

    Numerical: central differences (step ``h``) of the closed-form gradient along all
    L d² coordinates, evaluated as one batch, then symmetrized; accurate to about
    h² plus rounding/h. The spectrum of this Hessian does not depend on U (conjugating
    every layer by U is an isometry that leaves F unchanged), so Φ = diag(φ) is used.
    Without a penalty it equals :func:`saddle_min_curvature`.

    Negative: the stall point is a strict saddle of F, so perturbations of the
    invariant set grow. Positive: a strict local minimum of F.
    """
    phi = check_spectrum(spectrum, "spectrum")
    if phi.ndim != 1:
        raise ValueError("stall_min_curvature takes one spectrum, shape (d,)")
    L = check_depth(L)
    h = check_positive(h, "h")
    if penalty is not None and not isinstance(penalty, Penalty):
        raise TypeError("penalty must provide value(), grad() and scalar_grad()")
    d = phi.size
    z = flow_limit(phi, L, penalty)
    w = np.broadcast_to(np.diag(z), (L, d, d))
    n = L * d * d
    steps = (h * np.eye(n)).reshape(n, L, d, d)
    target = np.diag(phi)

    def full_grad(ws):
        g = _grad(ws, target)
        return g if penalty is None else g + penalty.grad(ws)

    diff = (full_grad(w + steps) - full_grad(w - steps)).reshape(n, n) / (2.0 * h)
    return float(np.linalg.eigvalsh(0.5 * (diff + diff.T))[0])


def palindromic_gap(layers) -> Array:
    r"""max_i ‖Θ_{L+1−i} − Θ_iᵀ‖_F over the layer axis (Remark "a second invariant",
    book/negative_eigenvalue.ipynb). GD on a symmetric Φ keeps it 0 if it starts at 0;
    then for even L the product is (Θ_{L/2:1})ᵀ Θ_{L/2:1}, positive semidefinite."""
    w = check_layers(layers)
    rev = np.swapaxes(w[..., ::-1, :, :], -1, -2)
    return np.linalg.norm(w - rev, axis=(-2, -1)).max(axis=-1)
