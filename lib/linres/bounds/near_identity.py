r"""Result 1: small initial excess loss ⇒ linear convergence (book/near_identity.ipynb).

These functions implement the book's own theorem (label thm-near-identity) in
book/near_identity.ipynb, and the quantities its proof uses. The constants are the
book's [ours]; they are not the paper's.

Notation
--------
δ = ‖Φ − I‖_F, depth L, step size η, E_t = Θ_{L:1}(t) − Φ, a radius r ∈ (0, 1], and

.. math::

   φ(x) = (e^x − 1 − x)/x \ (φ(0) = 0),\qquad
   κ(r) = e^{−2r} − e^{2r}\, φ(ηL e^{r} δ).

Theorem (book/near_identity.ipynb, "Linear convergence near the identity").
Gradient descent from Θ_i = I. If r ∈ (0, 1], ηL cosh(2r) ≤ 1, κ(r) > 0 and
δ ≤ r κ(r) e^{−r}, then for every step t and layer i

.. math::  ‖Θ_i(t) − I‖₂ ≤ r/L, \qquad ‖E_t‖_F ≤ (1 − ηLκ(r))^t δ .

Every bound takes the problem first, then the depth, then the step, then t or ε:
``loss_bound(delta, L, eta, t)``, ``iteration_bound(delta, L, eta, eps)``,
``rate(delta, L, eta)``, ``radius(delta, L, eta)``. Depth and step enter only through ηL.
The determinant floor ½σ_min(Φ)² used in the chapter is :func:`linres.bounds.beyond.det_floor`;
the sweep targets are :func:`linres.targets.sweep_targets`.

Both conclusions improve as r decreases, so :func:`radius` returns the smallest
admissible r, and the other functions use it. With η ∝ 1/L nothing depends on L or d.

Proof ingredients (checked one by one by :func:`step_inequalities`), for layers with
every ‖Θ_i − I‖₂ ≤ r/L, b = 1 + r/L, and ℓ's gradient G_i = Θ_{L:i+1}ᵀ E Θ_{i−1:1}ᵀ:

1. σ_min(Θ_{L:i+1}) σ_min(Θ_{i−1:1}) ≥ (1 − r/L)^{L−1} ≥ e^{−r};
   ‖Θ_{L:i+1}‖₂ ‖Θ_{i−1:1}‖₂ ≤ b^{L−1} ≤ e^{r}.
2. The linear part of the step is E ↦ E − η𝒜(E) with
   𝒜(E) = Σ_i Θ_{L:i+1}Θ_{L:i+1}ᵀ E Θ_{i−1:1}ᵀΘ_{i−1:1}, self-adjoint with spectrum in
   [L e^{−2r}, L e^{2r}]; hence ‖∇ℓ‖_F² = ⟨E, 𝒜E⟩ ≥ L e^{−2r} ‖E‖_F² (a PL inequality).
3. The rest R of the product expansion has ‖R‖_F ≤ ηL e^{2r} φ(ηL e^{r}‖E‖_F) ‖E‖_F.
4. Hence ‖E_{t+1}‖_F ≤ (1 − ηLκ)‖E_t‖_F, and each layer moves ‖ηG_i‖₂ ≤ η e^{r}‖E_t‖_F.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import Array, as_float_array, check_depth, check_pair, check_size

__all__ = [
    "remainder_factor",
    "contraction",
    "hypotheses_hold",
    "radius",
    "max_distance",
    "rate",
    "error_bound",
    "loss_bound",
    "layer_bound",
    "iteration_bound",
    "COROLLARY",
    "Inequality",
    "step_inequalities",
    "sample_region",
]

#: The corollary stated in the chapter: δ ≤ 1/10 and ηL ≤ 1/2 ⇒ r = 1/3 is admissible and κ ≥ 0.44.
COROLLARY = {"delta": 0.1, "eta_L": 0.5, "r": 1.0 / 3.0, "kappa": 0.44}

_GRID = 2000  # grid points for the first crossing in :func:`radius`
_BISECT = 60


def _real(x, name: str) -> Array:
    """A finite real float64 array (the shared check: complex, boolean, non-numeric refused)."""
    return as_float_array(x, name)


def _depth(L) -> int:
    return check_depth(L)


def _eta(eta) -> Array:
    e = _real(eta, "step size eta")
    if np.any(e <= 0):
        raise ValueError("step size eta must be > 0")
    return e


def _eta_L(L, eta) -> Array:
    return _eta(eta) * _depth(L)


def _delta(delta) -> Array:
    d = _real(delta, "delta")
    if np.any(d < 0):
        raise ValueError("delta = ‖Φ − I‖_F must be >= 0")
    return d


def _positive_scalar(x, name: str) -> float:
    a = _real(x, name)
    if a.ndim != 0 or a <= 0:
        raise ValueError(f"{name} must be a number > 0; got {x!r}")
    return float(a)


def _scalar(a: Array):
    return a[()] if np.ndim(a) == 0 else a


def remainder_factor(x) -> Array:
    r"""φ(x) = (eˣ − 1 − x)/x for x ≥ 0, with φ(0) = 0; increasing, and φ(x) ≤ (x/2)eˣ.

    It bounds the higher-order terms of one gradient step (ingredient 3 above).

    >>> float(remainder_factor(0.0)), round(float(remainder_factor(1.0)), 6)
    (0.0, 0.718282)
    """
    x = _real(x, "x")
    if np.any(x < 0):
        raise ValueError("x must be >= 0 (remainder_factor is defined here for x >= 0)")
    return _phi(x)


def _phi(x):
    # Unchecked φ; NaN in, NaN out (used where r may be NaN outside the hypotheses).
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        safe = np.where(x > 0, x, 1.0)
        series = x / 2 + x**2 / 6 + x**3 / 24  # accurate where expm1(x) − x cancels
        return np.where(x > 1e-4, (np.expm1(x) - x) / safe, series)


def contraction(delta, L, eta, r) -> Array:
    r"""κ(r) = e^{−2r} − e^{2r} φ(ηL e^{r} δ): the theorem's rate is 1 − ηLκ per step.

    >>> round(float(contraction(0.1, 1, 0.5, 1 / 3)), 4)
    0.4439
    """
    d, eL = _delta(delta), _eta_L(L, eta)
    r = _real(r, "radius r")
    return _kappa(r, eL, d)


def hypotheses_hold(delta, L, eta, r) -> Array:
    r"""True where r ∈ (0, 1], ηL cosh(2r) ≤ 1, κ(r) > 0 and δ ≤ r κ(r) e^{−r}.

    >>> bool(hypotheses_hold(0.1, 8, 0.5 / 8, 1 / 3)), bool(hypotheses_hold(0.2, 8, 0.5 / 8, 1 / 3))
    (True, False)
    """
    d, eL = _delta(delta), _eta_L(L, eta)
    r = _real(r, "radius r")
    k = _kappa(r, eL, d)
    return (r > 0) & (r <= 1) & (eL * np.cosh(2 * r) <= 1) & (k > 0) & (d <= r * k * np.exp(-r))


def _r_max(eL: Array) -> Array:
    # ηL cosh(2r) ≤ 1  ⇔  r ≤ ½ arccosh(1/(ηL)); also r ≤ 1.
    with np.errstate(divide="ignore", invalid="ignore"):
        rm = np.where(eL < 1, 0.5 * np.arccosh(1.0 / np.minimum(eL, 1.0)), 0.0)
    return np.minimum(rm * (1 - 1e-12), 1.0)  # a hair inside, against rounding in cosh


def radius(delta, L, eta) -> Array:
    r"""The smallest admissible r of the theorem, r* (nan where no r ∈ (0, 1] is admissible).

    Found as the first crossing of g(r) = r κ(r) e^{−r} − δ on a grid of (0, r_max],
    r_max = min(1, ½ arccosh(1/(ηL))), refined by bisection; the returned r always
    satisfies the hypotheses exactly (it is the upper end of the bracket). δ = 0 gives 0.
    Depth and step enter only through ηL.

    >>> round(float(radius(0.1, 8, 0.5 / 8)), 3)
    0.188
    """
    d, eL = np.broadcast_arrays(_delta(delta), _eta_L(L, eta))
    return _radius(d, eL)


def _radius(d, eL) -> Array:
    shape = d.shape
    d, eL = d.ravel(), eL.ravel()
    rm = _r_max(eL)
    rs = rm[:, None] * (np.arange(1, _GRID + 1) / _GRID)[None, :]

    def admissible(r, dd, ee):
        k = _kappa(r, ee, dd)
        return (k > 0) & (r * k * np.exp(-r) >= dd)

    ok = admissible(rs, d[:, None], eL[:, None]) & (rs > 0)
    found = ok.any(axis=1)
    j = np.argmax(ok, axis=1)
    rows = np.arange(d.size)
    hi = rs[rows, j]
    lo = np.where(j > 0, rs[rows, np.maximum(j - 1, 0)], 0.0)
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        good = admissible(mid, d, eL)
        hi = np.where(good, mid, hi)
        lo = np.where(good, lo, mid)
    out = np.where(found, hi, np.nan)
    out = np.where(d == 0, 0.0, out).reshape(shape)
    return _scalar(out)


def _kappa(r, eL, d):
    return np.exp(-2 * r) - np.exp(2 * r) * _phi(eL * np.exp(r) * d)


def max_distance(L=None, eta=None) -> Array:
    r"""The largest δ the theorem covers at depth L and step η (covered δ: [0, δ_max]).

    With no arguments, the limit of small steps: sup_r r e^{−3r} = 1/(3e) ≈ 0.1226
    (attained at r = 1/3, approached but not reached for η > 0).

    >>> round(float(max_distance()), 4), round(float(max_distance(1, 0.5)), 4)
    (0.1226, 0.1074)
    """
    if L is None and eta is None:
        return 1.0 / (3.0 * np.e)
    if L is None or eta is None:
        raise ValueError("give both the depth L and the step size eta, or neither")
    eL = _eta_L(L, eta)
    out = np.empty(eL.shape)
    for k, ek in enumerate(eL.ravel()):
        e1 = np.array([ek])
        lo, hi = 0.0, 1.0 / (3.0 * np.e)
        if not np.isfinite(_radius(np.array([lo + 1e-12]), e1)[0]):
            out.flat[k] = 0.0
            continue
        for _ in range(_BISECT):
            mid = 0.5 * (lo + hi)
            if np.isfinite(_radius(np.array([mid]), e1)[0]):
                lo = mid
            else:
                hi = mid
        out.flat[k] = lo
    return _scalar(out)


def rate(delta, L, eta) -> Array:
    r"""ρ = 1 − ηLκ(r*) at the smallest admissible r* (nan where the theorem does not apply).

    >>> round(float(rate(0.1, 8, 0.5 / 8)), 3)
    0.679
    """
    d, eL = np.broadcast_arrays(_delta(delta), _eta_L(L, eta))
    r = _radius(d, eL)
    with np.errstate(invalid="ignore"):
        return _scalar(1.0 - eL * _kappa(r, eL, d))


def _steps(t) -> Array:
    t = _real(t, "step t")
    if np.any(t < 0):
        raise ValueError("step t must be >= 0")
    return t


def error_bound(delta, L, eta, t) -> Array:
    r"""‖E_t‖_F ≤ ρ^t δ (the theorem), broadcast over t and the problem's parameters."""
    t = _steps(t)
    return _scalar(rate(delta, L, eta) ** t * _delta(delta))


def loss_bound(delta, L, eta, t) -> Array:
    r"""ℓ_t = ½‖E_t‖_F² ≤ ½ ρ^{2t} δ² (nan outside the theorem's hypotheses).

    >>> float(loss_bound(0.1, 8, 0.5 / 8, 0)) == 0.5 * 0.1**2
    True
    """
    return _scalar(0.5 * error_bound(delta, L, eta, t) ** 2)


def layer_bound(delta, L, eta) -> Array:
    r"""max_i ‖Θ_i(t) − I‖₂ ≤ r*/L for every t (so L · max_i ‖Θ_i − I‖₂ ≤ r*, flat in L)."""
    return _scalar(radius(delta, L, eta) / _depth(L))


def iteration_bound(delta, L, eta, eps) -> Array:
    r"""The smallest t with ½ ρ^{2t} δ² ≤ ε: t = ⌈ln(δ²/(2ε)) / (−2 ln ρ)⌉ (0 if ½δ² ≤ ε).

    >>> int(iteration_bound(0.1, 8, 0.5 / 8, 1e-10))
    23
    """
    e = _real(eps, "eps")
    if np.any(e <= 0):
        raise ValueError("eps must be > 0")
    d = _delta(delta)
    rho = rate(delta, L, eta)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.ceil(np.log(d**2 / (2 * e)) / (-2 * np.log(rho)))
        t = np.where(0.5 * d**2 <= e, 0.0, t)
        # guard the ceiling against rounding: step forward while the bound is still above ε
        t = np.where(np.isfinite(t) & (0.5 * rho ** (2 * np.maximum(t, 0)) * d**2 > e), t + 1, t)
    return _scalar(t)


@dataclass(frozen=True)
class Inequality:
    """One inequality of the proof, measured: ``lhs ≤ rhs`` should hold."""

    name: str
    lhs: float
    rhs: float

    @property
    def holds(self) -> bool:
        return bool(self.lhs <= self.rhs * (1 + 1e-12) + 1e-300)

    @property
    def ratio(self) -> float:
        return self.lhs / self.rhs if self.rhs > 0 else (0.0 if self.lhs <= 0 else np.inf)


def _partials(w: Array):
    L, d = w.shape[0], w.shape[-1]
    pre = [np.eye(d)]  # pre[i] = Θ_{i:1}
    for i in range(L):
        pre.append(w[i] @ pre[-1])
    suf = [np.eye(d)]  # suf[k] = Θ_{L:L−k+1}
    for i in range(L - 1, -1, -1):
        suf.append(suf[-1] @ w[i])
    # For layer i (1-based): after = Θ_{L:i+1} = suf[L−i], before = Θ_{i−1:1} = pre[i−1]
    after = [suf[L - i] for i in range(1, L + 1)]
    before = [pre[i - 1] for i in range(1, L + 1)]
    return after, before, pre[L]


def step_inequalities(layers, target, eta: float, r: float) -> list[Inequality]:
    r"""Measure every inequality of the proof on one problem and one gradient step.

    ``layers`` (L, d, d) must lie in the region max_i ‖Θ_i − I‖₂ ≤ r/L, with r ∈ (0, 1]
    and ηL cosh(2r) ≤ 1 (the one-step lemma's hypotheses). Returns a list of
    :class:`Inequality` (lhs ≤ rhs), in the order of the proof:

    - ``lower-partial``   (1 − r/L)^{L−1} ≤ min_i σ_min(Θ_{L:i+1}) σ_min(Θ_{i−1:1})
    - ``lower-exp``       e^{−r} ≤ (1 − r/L)^{L−1}
    - ``upper-partial``   max_i ‖Θ_{L:i+1}‖₂‖Θ_{i−1:1}‖₂ ≤ (1 + r/L)^{L−1}
    - ``upper-exp``       (1 + r/L)^{L−1} ≤ e^{r}
    - ``operator-low``    L e^{−2r} ≤ λ_min(𝒜)
    - ``operator-high``   λ_max(𝒜) ≤ L e^{2r}
    - ``PL``              2 L e^{−2r} ℓ ≤ ‖∇ℓ‖_F²
    - ``remainder``       ‖R‖_F ≤ ηL e^{2r} φ(ηL e^{r}‖E‖_F) ‖E‖_F
    - ``contraction``     ‖E'‖_F ≤ (1 − ηLκ)‖E‖_F, κ with δ = ‖E‖_F
    - ``movement``        max_i ‖η G_i‖₂ ≤ η e^{r} ‖E‖_F
    """
    w, phi = check_pair(layers, target)  # complex, ragged and non-finite input refused by name
    if w.ndim != 3 or phi.ndim != 2:
        raise ValueError("step_inequalities takes one problem: layers (L, d, d), target (d, d)")
    eta = _positive_scalar(eta, "step size eta")
    r = _positive_scalar(r, "radius r")
    L, d = w.shape[0], w.shape[-1]
    if r > 1:
        raise ValueError(f"the proof needs r <= 1; got r = {r}")
    if eta * L * np.cosh(2 * r) > 1:
        raise ValueError(f"the proof needs ηL cosh(2r) <= 1; got {eta * L * np.cosh(2 * r):.4g}")
    dist = np.linalg.norm(w - np.eye(d), ord=2, axis=(-2, -1)).max()
    if dist > r / L * (1 + 1e-12):
        raise ValueError(f"layers are outside the region: max ‖Θ_i − I‖₂ = {dist:.4g} > r/L = {r / L:.4g}")

    after, before, prod = _partials(w)
    E = prod - phi
    nE = np.linalg.norm(E)
    smin = lambda a: np.linalg.svd(a, compute_uv=False)[-1]  # noqa: E731
    smax = lambda a: np.linalg.norm(a, 2)  # noqa: E731
    low = min(smin(a) * smin(b) for a, b in zip(after, before))
    high = max(smax(a) * smax(b) for a, b in zip(after, before))
    # 𝒜 as a d²×d² matrix on row-major vec: vec(P E Q) = (P ⊗ Qᵀ) vec(E)
    op = sum(np.kron(a @ a.T, (b.T @ b).T) for a, b in zip(after, before))
    eig = np.linalg.eigvalsh(0.5 * (op + op.T))
    G = np.stack([a.T @ E @ b.T for a, b in zip(after, before)])
    new = w - eta * G
    new_prod = _partials(new)[2]
    first = sum(a @ g @ b for a, g, b in zip(after, G, before))
    R = new_prod - (prod - eta * first)
    eL = eta * L
    ineqs = [
        Inequality("lower-partial", (1 - r / L) ** (L - 1), low),
        Inequality("lower-exp", np.exp(-r), (1 - r / L) ** (L - 1)),
        Inequality("upper-partial", high, (1 + r / L) ** (L - 1)),
        Inequality("upper-exp", (1 + r / L) ** (L - 1), np.exp(r)),
        Inequality("operator-low", L * np.exp(-2 * r), eig[0]),
        Inequality("operator-high", eig[-1], L * np.exp(2 * r)),
        Inequality("PL", L * np.exp(-2 * r) * nE**2, float(np.sum(G * G))),
        Inequality("remainder", np.linalg.norm(R),
                   eL * np.exp(2 * r) * float(remainder_factor(eL * np.exp(r) * nE)) * nE),
        Inequality("contraction", np.linalg.norm(new_prod - phi),
                   (1 - eL * float(_kappa(r, eL, nE))) * nE),
        Inequality("movement", eta * max(smax(g) for g in G), eta * np.exp(r) * nE),
    ]
    return ineqs


def sample_region(L: int, d: int, r: float, rng: np.random.Generator, boundary: bool = False) -> Array:
    r"""Random layers (L, d, d) with ‖Θ_i − I‖₂ ≤ r/L: Θ_i = I + (r/L) s_i N_i/‖N_i‖₂,
    N_i Gaussian, s_i uniform on [0, 1] (s_i = 1 with ``boundary=True``)."""
    L = _depth(L)
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"dimension d must be an integer >= 1; got {d!r}")
    if d < 1:
        raise ValueError(f"dimension d must be an integer >= 1; got {d!r}")
    r = _real(r, "radius r")
    if r.ndim != 0 or r < 0:
        raise ValueError(f"radius r must be a number >= 0; got {r!r}")
    r = float(r)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    if not isinstance(boundary, (bool, np.bool_)):
        raise TypeError(f"boundary must be True or False; got {boundary!r}")
    L, d = int(L), int(d)
    check_size((L, d, d), "L and d")
    n = rng.standard_normal((L, d, d))
    n /= np.linalg.norm(n, ord=2, axis=(-2, -1))[:, None, None]
    s = np.ones(L) if boundary else rng.uniform(0.0, 1.0, L)
    return np.eye(d) + (r / L) * s[:, None, None] * n
