r"""Random targets, their features, and layer diagnostics for mapping where gradient
descent from the identity succeeds (the chapter book/beyond.ipynb).

Features of a target Φ (all batched over leading axes)
------------------------------------------------------
- ``distance``   δ = ‖Φ − I‖_F (Result 1 is about small δ);
- ``margin``     γ(Φ) = λ_min((Φ + Φᵀ)/2) (Result 5 is about γ > 0);
- ``det``        det Φ (its sign is the obstruction of the chapter);
- ``max_angle``  max_j |Arg λ_j(Φ)| ∈ [0, π]: how far an eigenvalue is from the positive
  real axis; it is π exactly when Φ has a real negative eigenvalue (LAPACK returns a
  real eigenvalue of a real matrix with imaginary part exactly 0);
- ``n_negative`` the number of real negative eigenvalues;
- ``sigma_min``  σ_min(Φ), the distance from Φ to the singular matrices;
- ``nonnormality`` ‖ΦΦᵀ − ΦᵀΦ‖_F / max(1, ‖Φ‖_F²) (0 exactly for normal Φ).

Balancedness under discrete steps
---------------------------------
With D_i = Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ and G_i = ∇_{Θ_i}ℓ, one gradient step changes D_i by
exactly η²(G_{i+1}ᵀG_{i+1} − G_iG_iᵀ): the first-order terms cancel because
Θ_{i+1}ᵀG_{i+1} = Θ_{L:i+1}ᵀ E Θ_{i:1}ᵀ = G_iΘ_iᵀ. Gradient flow conserves D_i; gradient
descent lets it drift at second order (:func:`balance_drift`).
"""
from __future__ import annotations

import numpy as np

from ._validate import Array, check_depth, check_layers, check_pair, check_positive, check_target
from .model import _loss_and_grad

__all__ = [
    "random_targets",
    "features",
    "scaled_step",
    "pair_target",
    "balance_differences",
    "balance_drift",
    "layer_dets",
    "first_negative",
]


def _gen(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    return rng


def random_targets(n: int, d: int, rng: np.random.Generator, max_distance: float = 3.0) -> tuple[Array, Array]:
    r"""n targets Φ = I + δ G/‖G‖_F, G standard Gaussian d×d, δ uniform on [0, max_distance].

    Returns ``(phi, delta)`` with shapes (n, d, d) and (n,); ‖Φ − I‖_F = δ exactly. The
    direction G/‖G‖_F is uniform on the sphere, so small δ gives near-identity targets and
    large δ gives every sign pattern of eigenvalues, including det Φ < 0.
    """
    for name, v in (("n", n), ("d", d)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")
    rng = _gen(rng)
    top = check_positive(max_distance, "max_distance")
    delta = rng.uniform(0.0, top, size=n)
    g = rng.standard_normal((n, d, d))
    g /= np.linalg.norm(g, axis=(-2, -1), keepdims=True)
    return np.eye(d) + delta[:, None, None] * g, delta


def features(target) -> dict[str, Array]:
    """The features listed in the module docstring, one value per problem."""
    phi = check_target(target)
    d = phi.shape[-1]
    eig = np.linalg.eigvals(phi)
    sym = 0.5 * (phi + np.swapaxes(phi, -1, -2))
    pt = np.swapaxes(phi, -1, -2)
    fro2 = np.einsum("...ij,...ij->...", phi, phi)
    return {
        "distance": np.linalg.norm(phi - np.eye(d), axis=(-2, -1)),
        "margin": np.linalg.eigvalsh(sym)[..., 0],
        "det": np.linalg.det(phi),
        "max_angle": np.abs(np.angle(eig)).max(axis=-1),
        "n_negative": np.sum((eig.imag == 0) & (eig.real < 0), axis=-1),
        "sigma_min": np.linalg.svd(phi, compute_uv=False)[..., -1],
        "norm": np.linalg.norm(phi, ord=2, axis=(-2, -1)),
        "nonnormality": np.linalg.norm(phi @ pt - pt @ phi, axis=(-2, -1)) / np.maximum(1.0, fro2),
    }


def scaled_step(target, L: int, c: float = 0.5) -> Array:
    r"""Per-problem step size η = c / (L · max(1, ‖Φ‖₂)²).

    The 1/L matches the depth scaling of the theorems; the 1/max(1, ‖Φ‖₂)² keeps the
    step below the curvature L‖Φ‖₂^{2−2/L} of the loss at a balanced solution.
    """
    phi = check_target(target)
    L = check_depth(L)
    c = check_positive(c, "c")
    return c / (L * np.maximum(1.0, np.linalg.norm(phi, ord=2, axis=(-2, -1))) ** 2)


def pair_target(radius: float, angle: float, shear: float = 0.0) -> Array:
    r"""A 2×2 target with eigenvalues r e^{±iθ}: Φ = S ι(r e^{iθ}) S^{-1} (ι(a+ib) = aI + bJ), S = [[1, s], [0, 1]].

    ``angle`` θ is in radians. With s = 0 it is the normal matrix r·R(θ) (a scaled
    rotation); s ≠ 0 keeps the spectrum and makes Φ non-normal (unless θ ∈ {0, π},
    where ι is a multiple of I and S cancels).
    """
    r = check_positive(radius, "radius")
    th, s = float(angle), float(shear)
    if not (np.isfinite(th) and np.isfinite(s)):
        raise ValueError("angle and shear must be finite")
    a, b = r * np.cos(th), r * np.sin(th)
    rho = np.array([[a, -b], [b, a]])
    S = np.array([[1.0, s], [0.0, 1.0]])
    Sinv = np.array([[1.0, -s], [0.0, 1.0]])
    return S @ rho @ Sinv


def balance_differences(layers) -> Array:
    r"""D_i = Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ for i = 1..L−1, shape (…, L−1, d, d)."""
    w = check_layers(layers)
    nxt = np.swapaxes(w[..., 1:, :, :], -1, -2) @ w[..., 1:, :, :]
    cur = w[..., :-1, :, :] @ np.swapaxes(w[..., :-1, :, :], -1, -2)
    return nxt - cur


def balance_drift(layers, target, eta) -> Array:
    r"""The exact change of D_i in one GD step: η²(G_{i+1}ᵀG_{i+1} − G_iG_iᵀ), shape (…, L−1, d, d)."""
    w, phi = check_pair(layers, target)
    eta = np.asarray(eta, dtype=float)
    if np.any(~np.isfinite(eta)) or np.any(eta <= 0):
        raise ValueError("step size eta must be finite and > 0")
    g = _loss_and_grad(w, phi)[1]
    nxt = np.swapaxes(g[..., 1:, :, :], -1, -2) @ g[..., 1:, :, :]
    cur = g[..., :-1, :, :] @ np.swapaxes(g[..., :-1, :, :], -1, -2)
    e2 = eta**2 if eta.ndim == 0 else (eta**2)[..., None, None, None]
    return e2 * (nxt - cur)


def layer_dets(layers) -> Array:
    """det Θ_i for every layer, shape (…, L)."""
    return np.linalg.det(check_layers(layers))


def first_negative(steps, values) -> Array:
    r"""For a recorded history ``values`` of shape (n_records, …) taken at ``steps``, the
    first recorded step at which the value is < 0, or −1 where it never is."""
    steps = np.asarray(steps)
    v = np.asarray(values, dtype=float)
    if v.ndim < 1 or v.shape[0] != steps.shape[0]:
        raise ValueError("values must have one row per recorded step")
    neg = v < 0
    hit = neg.any(axis=0)
    return np.where(hit, steps[np.argmax(neg, axis=0)], -1)
