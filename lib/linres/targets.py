r"""Targets Φ with named properties, drawn from a ``numpy.random.Generator``.

Every function takes the generator explicitly (no global seed), so a notebook
that seeds one generator gets the same targets on every machine.
"""
from __future__ import annotations

import numpy as np

from ._validate import Array, as_float_array, check_real, check_nonnegative, check_positive

__all__ = [
    "random_orthogonal",
    "near_identity",
    "symmetric_with_spectrum",
    "spd_with_condition",
    "symmetric_with_negative",
    "witness",
    "positive_margin",
    "rotation",
    "random_targets",
    "pair_target",
]


def _dim(d) -> int:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"dimension d must be a positive integer; got {d!r}")
    return int(d)


def _gen(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    return rng


def random_orthogonal(d: int, rng: np.random.Generator) -> Array:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian, with the sign fix)."""
    d, rng = _dim(d), _gen(rng)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def near_identity(d: int, distance: float, rng: np.random.Generator, symmetric: bool = False) -> Array:
    """Φ = I + δ G/‖G‖_F with G Gaussian (symmetrized if asked): ‖Φ − I‖_F = δ exactly."""
    d, rng = _dim(d), _gen(rng)
    delta = check_nonnegative(distance, "distance")
    g = rng.standard_normal((d, d))
    if symmetric:
        g = g + g.T
    return np.eye(d) + delta * g / np.linalg.norm(g)


def symmetric_with_spectrum(eigenvalues, rng: np.random.Generator) -> Array:
    """Q diag(λ) Qᵀ with Q Haar-orthogonal; the spectrum is exactly ``eigenvalues``."""
    lam = as_float_array(eigenvalues, "eigenvalues")
    if lam.ndim != 1 or lam.size < 1:
        raise ValueError("eigenvalues must be a non-empty 1-d array")
    q = random_orthogonal(lam.size, rng)
    phi = (q * lam) @ q.T
    return 0.5 * (phi + phi.T)


def spd_with_condition(d: int, lo: float, hi: float, rng: np.random.Generator) -> Array:
    """SPD Φ with eigenvalues geometrically spaced from ``lo`` to ``hi`` (both included)."""
    d = _dim(d)
    lo, hi = check_positive(lo, "lo"), check_positive(hi, "hi")
    if lo > hi:
        raise ValueError(f"need lo <= hi; got lo={lo}, hi={hi}")
    lam = np.geomspace(lo, hi, d) if d > 1 else np.array([lo])
    return symmetric_with_spectrum(lam, rng)


def symmetric_with_negative(negative, positive, rng: np.random.Generator) -> Array:
    """Symmetric Φ whose spectrum is ``negative`` (all < 0) together with ``positive`` (all > 0)."""
    neg = np.atleast_1d(as_float_array(negative, "negative"))
    pos = np.atleast_1d(as_float_array(positive, "positive"))
    if neg.size == 0 or np.any(neg >= 0):
        raise ValueError("negative must hold at least one eigenvalue, all < 0")
    if np.any(pos <= 0):
        raise ValueError("positive eigenvalues must all be > 0")
    return symmetric_with_spectrum(np.concatenate([neg, pos]), rng)


def witness(d: int, lam: float, u=None) -> Array:
    r"""Result 2's witness Φ = I − (1+λ)uuᵀ: eigenvalue −λ along u, ‖Φ − I‖_F = 1 + λ.

    ``u`` defaults to the first basis vector; it is normalized.
    """
    d = _dim(d)
    lam = check_real(lam, "lam")
    if lam <= -1:
        raise ValueError(f"need lam > -1 (finite); got {lam}")
    u = np.eye(d)[0] if u is None else as_float_array(u, "u")
    if u.shape != (d,) or np.linalg.norm(u) == 0:
        raise ValueError("u must be a non-zero vector of length d")
    u = u / np.linalg.norm(u)
    return np.eye(d) - (1.0 + lam) * np.outer(u, u)


def positive_margin(d: int, margin: float, skew: float, rng: np.random.Generator, top: float = 1.0) -> Array:
    r"""Φ = S + K with sym(Φ) = S, λ(S) geometrically from ``margin`` to max(margin, ``top``),
    and K skew-symmetric with ‖K‖_F = ``skew``. Then γ(Φ) = ``margin`` exactly."""
    d, rng = _dim(d), _gen(rng)
    m = float(margin)
    if not np.isfinite(m):
        raise ValueError("margin must be finite")
    skew = check_nonnegative(skew, "skew")
    hi = max(m, float(top))
    lam = np.linspace(m, hi, d) if m <= 0 else (np.geomspace(m, hi, d) if d > 1 else np.array([m]))
    s = symmetric_with_spectrum(lam, rng)
    if d == 1 or skew == 0:
        return s
    g = rng.standard_normal((d, d))
    k = g - g.T
    return s + skew * k / np.linalg.norm(k)


def rotation(theta: float, d: int = 2, plane: tuple[int, int] = (0, 1)) -> Array:
    """Rotation by ``theta`` in the coordinate plane ``plane``; identity elsewhere. Margin cos θ for d = 2."""
    d = _dim(d)
    if d < 2:
        raise ValueError("a rotation needs d >= 2")
    i, j = plane
    if not (0 <= i < d and 0 <= j < d and i != j):
        raise ValueError(f"plane must be two distinct axes below d={d}; got {plane}")
    theta = check_real(theta, "theta")
    r = np.eye(d)
    c, s = np.cos(theta), np.sin(theta)
    r[i, i] = r[j, j] = c
    r[i, j], r[j, i] = -s, s
    return r


# --- Appended for book/near_identity.ipynb (Result 1): the targets of its sweeps. -----------
__all__.append("sweep_targets")


def sweep_targets(d: int, delta: float, rng: np.random.Generator, n_random: int = 3) -> Array:
    r"""Targets at Frobenius distance exactly ``delta`` from I, for a sweep at one distance.

    Rows: ``n_random`` targets I + δG/‖G‖_F (G Gaussian, :func:`near_identity`), then
    three structured ones: I − δuuᵀ (shrinks one direction: the slowest for GD from I),
    I + δuuᵀ, and, for d ≥ 2, I + δK/‖K‖_F with K skew-symmetric (a near-rotation).
    Shape (n_random + 2 + [d ≥ 2], d, d).

    >>> t = sweep_targets(3, 0.1, np.random.default_rng(0), n_random=2)
    >>> t.shape, bool(np.allclose(np.linalg.norm(t - np.eye(3), axis=(-2, -1)), 0.1))
    ((5, 3, 3), True)
    """
    d, rng = _dim(d), _gen(rng)
    if np.iscomplexobj(delta):
        raise TypeError("delta must be real; got complex input")
    delta = check_nonnegative(delta, "delta")
    if isinstance(n_random, bool) or not isinstance(n_random, (int, np.integer)) or n_random < 0:
        raise ValueError(f"n_random must be an integer >= 0; got {n_random!r}")
    out = [near_identity(d, delta, rng) for _ in range(int(n_random))]
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    out += [np.eye(d) - delta * np.outer(u, u), np.eye(d) + delta * np.outer(u, u)]
    if d >= 2:
        g = rng.standard_normal((d, d))
        k = g - g.T
        out.append(np.eye(d) + delta * k / np.linalg.norm(k))
    return np.stack(out)


# --- Target families of the chapter "Beyond the paper" (book/beyond.ipynb), moved here
# --- from linres.landscape so that every target generator lives in this module.

def random_targets(n: int, d: int, rng: np.random.Generator, max_distance: float = 3.0) -> tuple[Array, Array]:
    r"""n targets Φ = I + δ G/‖G‖_F, G standard Gaussian d×d, δ uniform on [0, max_distance].

    Returns ``(phi, delta)`` with shapes (n, d, d) and (n,); ‖Φ − I‖_F = δ exactly. The
    direction G/‖G‖_F is uniform on the sphere, so small δ gives near-identity targets and
    large δ gives every sign pattern of eigenvalues, including det Φ < 0.

    >>> phi, delta = random_targets(3, 2, np.random.default_rng(0))
    >>> phi.shape, bool(np.allclose(np.linalg.norm(phi - np.eye(2), axis=(1, 2)), delta))
    ((3, 2, 2), True)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    d, rng = _dim(d), _gen(rng)
    top = check_positive(max_distance, "max_distance")
    delta = rng.uniform(0.0, top, size=int(n))
    g = rng.standard_normal((int(n), d, d))
    g /= np.linalg.norm(g, axis=(-2, -1), keepdims=True)
    return np.eye(d) + delta[:, None, None] * g, delta


def pair_target(radius: float, angle: float, shear: float = 0.0) -> Array:
    r"""A 2×2 target with eigenvalues r e^{±iθ}: Φ = S ι(r e^{iθ}) S^{-1}, S = [[1, s], [0, 1]].

    Here ι(a + ib) = aI + bJ with J = [[0, −1], [1, 0]], ``radius`` is r > 0, ``angle`` is
    θ in radians and ``shear`` is s. With s = 0, Φ is the normal matrix r·R(θ) (a scaled
    rotation); s ≠ 0 keeps the spectrum and makes Φ non-normal (unless θ ∈ {0, π}, where
    ι(r e^{iθ}) is a multiple of I and S cancels).

    >>> np.round(pair_target(2.0, np.pi / 2), 12)
    array([[ 0., -2.],
           [ 2.,  0.]])
    """
    r = check_positive(radius, "radius")
    for name, v in (("angle", angle), ("shear", shear)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number; got {v!r}")
        if not np.isfinite(v):
            raise ValueError(f"{name} must be finite; got {v!r}")
    th, s = float(angle), float(shear)
    a, b = r * np.cos(th), r * np.sin(th)
    rho = np.array([[a, -b], [b, a]])
    S = np.array([[1.0, s], [0.0, 1.0]])
    Sinv = np.array([[1.0, -s], [0.0, 1.0]])
    return S @ rho @ Sinv
