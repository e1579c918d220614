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
- :func:`plateau_guaranteed`    whether the theorem's hypotheses hold for (φ, L, η, ψ)
- :func:`stall_bound`           z_t ≤ (1 + (L−2)ηλt)^{−1/(L−2)} (Proposition "stall")
- :func:`saddle_point`          the limit z* of plain GD, 0 on negative eigenvalues
- :func:`saddle_min_curvature`  the smallest Hessian eigenvalue of ℓ at that point
- :func:`escape_rate`           the per-step log growth of the unstable mode of GD there
- :func:`escape_growth`         the growth of off-set perturbations along the actual run
- :func:`rounding_envelope`     how far rounding can take float64 GD off the invariant set
- :func:`flow_limit`            where the penalized scalar flow from z = 1 stops
- :func:`flow_limit_loss`       the loss at that point
- :func:`stall_min_curvature`   the same for ℓ + Σψ at :func:`flow_limit` (numerical)

Signatures follow the book's convention: the problem first (a spectrum, or λ), then
``L``, then ``eta``, then ``t``. Bad input raises ``TypeError``/``ValueError`` naming
the argument.
- :func:`palindromic_gap`       max_i ‖Θ_{L+1−i} − Θ_iᵀ‖_F (Remark "a second invariant")
"""
from __future__ import annotations

import functools

import numpy as np

from .. import analysis
from .._validate import Array, as_float_array, check_depth, check_layers, check_positive
from .._validate import check_spectrum as _check_spectrum
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
    "escape_growth",
    "rounding_envelope",
    "flow_limit",
    "flow_limit_loss",
    "stall_min_curvature",
    "palindromic_gap",
]


def _real(x, name: str) -> Array:
    """A finite real float64 array (the shared check: complex, boolean, non-numeric refused)."""
    return as_float_array(x, name)


def check_spectrum(x, name: str = "spectrum") -> Array:
    """Eigenvalues per problem, shape (..., d), d >= 1, real and finite."""
    return _check_spectrum(_real(x, name), name)


def _check_penalty(penalty) -> None:
    if penalty is not None and not all(callable(getattr(penalty, m, None))
                                       for m in ("value", "grad", "scalar_grad")):
        raise TypeError("penalty must be None or provide value(), grad() and scalar_grad(); "
                        f"got {type(penalty).__name__}")


def _check_eta(eta) -> float:
    if isinstance(eta, bool):
        raise TypeError(f"eta must be a real number; got {eta!r}")
    if isinstance(eta, complex) or np.iscomplexobj(eta):
        raise TypeError(f"eta must be real; got {eta!r}")
    return check_positive(eta, "eta")


def plateau(spectrum) -> Array:
    """The loss floor ½ Σ_{φ_j < 0} φ_j² of the whole class of algorithms (Result 4).

    >>> float(plateau([-1.0, 0.5, 1.0, 1.5]))
    0.5
    """
    phi = check_spectrum(spectrum, "spectrum")
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
    _check_penalty(penalty)
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


def plateau_guaranteed(spectrum, L: int, eta, penalty: Penalty | None = None) -> Array:
    r"""Whether the plateau theorem (book/negative_eigenvalue.ipynb) applies to a
    constant step ``eta``: always for even L (any step size, any conjugation-invariant
    penalty); for odd L ≥ 3 iff η ≤ :func:`odd_depth_max_step`; never for L = 1
    (a single layer is a convex problem that reaches Φ).

    ``eta`` broadcasts against the batch shape of ``spectrum``.

    >>> bool(plateau_guaranteed([-1.0], 3, 0.3)), bool(plateau_guaranteed([-1.0], 3, 1.0))
    (True, False)
    """
    phi = check_spectrum(spectrum, "spectrum")
    L = check_depth(L)
    _check_penalty(penalty)
    eta = _real(eta, "eta")
    if np.any(eta <= 0):
        raise ValueError("eta must be > 0 (step sizes)")
    shape = np.broadcast_shapes(eta.shape, phi.shape[:-1])
    if L == 1:
        return np.zeros(shape, dtype=bool)
    if L % 2 == 0:
        return np.ones(shape, dtype=bool)
    return np.broadcast_to(eta <= odd_depth_max_step(phi, penalty) * (1 + 1e-12), shape).copy()


def stall_bound(lam: float, L: int, eta: float, t) -> Array:
    r"""Upper bound on the negative eigen-coordinate of plain GD (Proposition "stall",
    book/negative_eigenvalue.ipynb): if η(1 + λ) < 1, then for every step t

    .. math::  0 < z_t ≤ (1 + (L−2)ηλt)^{−1/(L−2)}   (L ≥ 3),   0 < z_t ≤ (1 − ηλ)^t   (L = 2).

    The first form is asymptotically exact: z_t (1 + (L−2)ηλt)^{1/(L−2)} → 1.

    >>> round(float(stall_bound(0.5, 3, 0.2, 10)), 6)
    0.5
    """
    if isinstance(lam, bool) or np.iscomplexobj(lam):
        raise TypeError(f"lam must be a real number; got {lam!r}")
    lam = check_positive(lam, "lam")
    L = check_depth(L)
    if L < 2:
        raise ValueError("depth L must be >= 2 for the stall bound (L = 1 does not stall)")
    eta = _check_eta(eta)
    if eta * (1.0 + lam) >= 1.0:
        raise ValueError(f"eta must satisfy eta*(1+lam) < 1; got eta*(1+lam) = {eta * (1 + lam):.3g}")
    t = _real(t, "t")
    if np.any(t < 0):
        raise ValueError("t must be >= 0 (steps)")
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
        raise ValueError("depth L must be >= 2: for L = 1 the loss is convex and z* is not a critical point")
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
    eta = _check_eta(eta)
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
    _check_penalty(penalty)
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 3:
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
    if isinstance(iters, bool) or not isinstance(iters, (int, np.integer)) or iters < 1:
        raise ValueError(f"iters must be an integer >= 1; got {iters!r}")
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


def stall_min_curvature(spectrum, L: int, penalty: Penalty | None = None, *, h: float = 1e-4) -> float:
    r"""Smallest Hessian eigenvalue of F = ℓ + Σ_i ψ(Θ_i) at the point where the class
    stalls in exact arithmetic: every layer U diag(z*) Uᵀ with z* = :func:`flow_limit`
    (book/negative_eigenvalue.ipynb, "what a penalty does to the saddle").

    Numerical, with :func:`linres.analysis.hessian` (central differences of F, step
    ``h``; error about h² plus rounding ε_mach|F|/h², below 1e-7 at the default). The
    spectrum of this Hessian does not depend on U (conjugating every layer by U is an
    isometry that leaves F unchanged), so Φ = diag(φ) is used. At a diagonal point the
    Hessian is block diagonal: conjugation by the reflection I − 2e_ke_kᵀ leaves F and the
    point unchanged and flips the sign of the entries in row and column k, so an entry
    (a, b) of a layer can couple only with the entries (a, b) and (b, a) of the layers
    (one block of 2L variables per pair a < b), and the diagonal entries only with each
    other (one block of Ld variables). The Hessian is computed block by block.
    Without a penalty it equals :func:`saddle_min_curvature`.

    Negative: the stall point is a strict saddle of F, so perturbations of the
    invariant set grow. Positive: a strict local minimum of F.
    """
    phi = check_spectrum(spectrum, "spectrum")
    if phi.ndim != 1:
        raise ValueError("spectrum must be one spectrum, shape (d,), for stall_min_curvature")
    L = check_depth(L)
    _check_penalty(penalty)
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not (0 < h < 1):
        raise ValueError(f"h must be a step in (0, 1); got {h!r}")
    d = phi.size
    z = flow_limit(phi, L, penalty)
    base = np.broadcast_to(np.diag(z), (L, d, d)).copy()
    target = np.diag(phi)

    def F(w):  # ℓ + Σψ, written out (this is called O((Ld)²) times)
        prod = w[0]
        for k in range(1, L):
            prod = w[k] @ prod
        r = prod - target
        v = 0.5 * float(np.sum(r * r))
        return v if penalty is None else v + float(penalty.value(w))

    blocks = [(np.arange(d), np.arange(d))]  # all diagonal entries of every layer
    blocks += [(np.array([a, b]), np.array([b, a])) for a in range(d) for b in range(a + 1, d)]
    lowest = np.inf
    for rows, cols in blocks:
        def f(x, rows=rows, cols=cols):
            w = base.copy()
            w[:, rows, cols] += x.reshape(L, rows.size)
            return F(w)

        H = analysis.hessian(f, np.zeros(L * rows.size), h=h)
        lowest = min(lowest, float(np.linalg.eigvalsh(H)[0]))
    return lowest


@functools.lru_cache(maxsize=64)
def _pair_grids(L: int):
    i = np.arange(1, L + 1)
    j, k = np.meshgrid(i, i, indexing="ij")
    low = j > k
    return i, low, np.where(low, L - j + k - 1, 0), np.where(low, j - k - 1, 0)


def _pair_hessian(zu, zv, eu, ev, L: int, penalty=None) -> Array:
    r"""Hessian of ℓ (+ Σψ) in the 2L variables b_i = (Θ_i)_{uv}, c_i = (Θ_i)_{vu} at the
    layers diag(z) (b = c = 0), with residuals e = z^L − φ on u and v; batched over the
    leading axes of zu, zv, eu, ev. Order of the variables: (b_1..b_L, c_1..c_L).

    With a_i = z_u^{L−i} z_v^{i−1} and a'_i = z_v^{L−i} z_u^{i−1}, the loss part is
    [[a aᵀ, K], [Kᵀ, a' a'ᵀ]] with K_{jk} = e_u z_u^{L−j+k−1} z_v^{j−k−1} for j > k and
    K_{kj} = e_v z_v^{L−j+k−1} z_u^{j−k−1} for j > k. Weight decay adds κI; the
    orthogonality penalty adds κ[[z_u² + z_v² − 1, z_u z_v], [z_u z_v, z_u² + z_v² − 1]] per
    layer on (b_i, c_i).
    """
    zu, zv, eu, ev = (np.asarray(x, dtype=float) for x in (zu, zv, eu, ev))
    i, low, p, q = _pair_grids(L)
    pu = zu[..., None] ** np.arange(L + 1)  # powers z_u^0 .. z_u^L (0^0 = 1)
    pv = zv[..., None] ** np.arange(L + 1)
    a = pu[..., L - i] * pv[..., i - 1]
    ap = pv[..., L - i] * pu[..., i - 1]
    K = np.where(low, eu[..., None, None] * pu[..., p] * pv[..., q], 0.0)
    K = K + np.swapaxes(np.where(low, ev[..., None, None] * pv[..., p] * pu[..., q], 0.0), -1, -2)
    top = np.concatenate([a[..., :, None] * a[..., None, :], K], axis=-1)
    bot = np.concatenate([np.swapaxes(K, -1, -2), ap[..., :, None] * ap[..., None, :]], axis=-1)
    H = np.concatenate([top, bot], axis=-2)
    zu, zv = zu[..., None, None], zv[..., None, None]
    if isinstance(penalty, WeightDecay):
        H = H + penalty.kappa * np.eye(2 * L)
    elif isinstance(penalty, OrthogonalityPenalty):
        diag = penalty.kappa * (zu**2 + zv**2 - 1.0)[..., 0, 0]
        off = penalty.kappa * (zu * zv)[..., 0, 0]
        eye = np.eye(L)
        H = H + np.block([[eye, 0 * eye], [0 * eye, eye]]) * diag[..., None, None]
        H = H + np.block([[0 * eye, eye], [eye, 0 * eye]]) * off[..., None, None]
    elif penalty is not None:
        raise TypeError(f"penalty must be None, WeightDecay or OrthogonalityPenalty; got {type(penalty).__name__}")
    return H


def escape_growth(spectrum, L: int, eta: float, t, penalty: Penalty | None = None) -> Array:
    r"""log₁₀ of the largest factor by which gradient descent, linearized along its
    own run from I, can amplify a perturbation off the invariant set within ``t`` steps
    (book/negative_eigenvalue.ipynb, "the escape, step by step").

    The run from I is the exact reduction z_t (the layers U diag(z_t) Uᵀ). Perturb
    the entries (u, v) and (v, u) of every layer, for a pair u ≠ v of eigen-directions:
    by the reflection symmetry of :func:`stall_min_curvature` these 2L variables are
    closed under the linearized step, which is I − η H_s with H_s the Hessian of
    ℓ + Σψ at step s (``_pair_hessian``, closed form). The result is

    .. math::  g(t) = \log_{10} \max_{u<v} \big\|\textstyle\prod_{s<t} (I - \eta H_s^{uv})\big\|_2 .

    A perturbation of size ε (in the top direction) reaches size one after about the
    first t with g(t) = log₁₀(1/ε); a random one of size ε after the same t up to an
    offset of order one. Near the saddle S, g grows by log₁₀(1 − η c) per step
    (:func:`escape_rate`); on the way to S it can grow faster.

    ``t`` is an array of non-negative integer steps; the result has its shape.
    Penalties: None, :class:`~linres.penalties.WeightDecay`,
    :class:`~linres.penalties.OrthogonalityPenalty`.
    """
    phi, L, eta, tt, T = _off_invariant_args(spectrum, L, eta, t, penalty, "escape_growth")
    want = np.zeros(T + 1, dtype=bool)
    want[tt.ravel()] = True
    d = phi.size
    ua, va = np.triu_indices(d, 1)
    z = np.ones(d)
    M = np.broadcast_to(np.eye(2 * L), (ua.size, 2 * L, 2 * L)).copy()
    logscale = np.zeros(ua.size)
    g = np.zeros(T + 1)
    for s in range(T):
        e = z**L - phi
        H = _pair_hessian(z[ua], z[va], e[ua], e[va], L, penalty)
        M = M - eta * H @ M
        nrm = np.abs(M).max(axis=(-2, -1))
        M /= nrm[:, None, None]
        logscale += np.log10(nrm)
        if want[s + 1]:
            g[s + 1] = np.max(logscale + np.log10(np.linalg.norm(M, 2, axis=(-2, -1))))
        step = z ** (L - 1) * e
        if penalty is not None:
            step = step + penalty.scalar_grad(z)
        z = z - eta * step
    return g[tt]


def _off_invariant_args(spectrum, L, eta, t, penalty, who: str):
    """The checked arguments of the functions that linearize the run from I off the
    invariant set: (φ, L, η, t, max t)."""
    phi = check_spectrum(spectrum, "spectrum")
    if phi.ndim != 1 or phi.size < 2:
        raise ValueError(f"spectrum must be one spectrum with d >= 2 (shape (d,)) for {who}")
    L = check_depth(L)
    eta = _check_eta(eta)
    _check_penalty(penalty)
    if penalty is not None and not isinstance(penalty, (WeightDecay, OrthogonalityPenalty)):
        raise TypeError(f"penalty must be None, WeightDecay or OrthogonalityPenalty for {who}")
    tt = np.asarray(t)
    if tt.dtype == bool or not np.issubdtype(tt.dtype, np.integer):
        raise TypeError(f"t must be integer steps; got dtype {tt.dtype}")
    if np.any(tt < 0):
        raise ValueError("t must be >= 0 (steps)")
    return phi, L, eta, tt, (int(tt.max()) if tt.size else 0)


def rounding_envelope(spectrum, L: int, eta: float, t, penalty: Penalty | None = None) -> Array:
    r"""A(t) = Σ_{s<t} Π_{r=s}^{t−1} ρ_r, with ρ_r the largest amplification ‖I − η H_r‖₂
    of one linearized step off the invariant set at step r of the run from I
    (book/negative_eigenvalue.ipynb, "the invariants over training").

    Float64 gradient descent makes an error of order ε_mach L d ‖Φ‖ in each step; the
    linearized step multiplies an earlier error by at most ρ_r. So, while the deviation
    from the invariant set is small enough for the linearization to hold, it is at most
    a small multiple of ε_mach L d ‖Φ‖ A(t). ρ_r is the maximum over

    - the pair blocks (u, v) of :func:`escape_growth` (layers leaving the commutant of Φ),
    - the diagonal blocks: the entries (a, a) of the L layers, where the Hessian is
      z^{2L−2}𝟙𝟙ᵀ + e z^{L−2}(𝟙𝟙ᵀ − I) + p''(z)I with e = z^L − φ_a (layers becoming
      unequal), p'' = κ (weight decay) or κ(3z² − 1) (orthogonality penalty).

    A(t) ≥ t when some ρ_r ≥ 1 all along (rounding accumulates); it grows
    geometrically near a strict saddle (rounding is amplified).
    """
    phi, L, eta, tt, T = _off_invariant_args(spectrum, L, eta, t, penalty, "rounding_envelope")
    ua, va = np.triu_indices(phi.size, 1)
    z = np.ones(phi.size)
    A = np.zeros(T + 1)
    for s in range(T):
        e = z**L - phi
        lam = np.linalg.eigvalsh(_pair_hessian(z[ua], z[va], e[ua], e[va], L, penalty))
        if isinstance(penalty, WeightDecay):
            pp = penalty.kappa + 0 * z
        elif isinstance(penalty, OrthogonalityPenalty):
            pp = penalty.kappa * (3 * z**2 - 1)
        else:
            pp = 0 * z
        one = L * z ** (2 * L - 2) + (L - 1) * e * z ** (L - 2) + pp  # along 𝟙
        perp = -e * z ** (L - 2) + pp  # orthogonal to 𝟙 (L ≥ 2)
        diag = np.concatenate([one, perp] if L >= 2 else [one])
        rho = max(np.abs(1 - eta * lam).max(), np.abs(1 - eta * diag).max())
        A[s + 1] = rho * A[s] + 1.0
        step = z ** (L - 1) * e
        if penalty is not None:
            step = step + penalty.scalar_grad(z)
        z = z - eta * step
    return A[tt]


def palindromic_gap(layers) -> Array:
    r"""max_i ‖Θ_{L+1−i} − Θ_iᵀ‖_F over the layer axis (Remark "a second invariant",
    book/negative_eigenvalue.ipynb). GD on a symmetric Φ keeps it 0 if it starts at 0;
    then for even L the product is (Θ_{L/2:1})ᵀ Θ_{L/2:1}, positive semidefinite."""
    w = check_layers(layers)
    rev = np.swapaxes(w[..., ::-1, :, :], -1, -2)
    return np.linalg.norm(w - rev, axis=(-2, -1)).max(axis=-1)
