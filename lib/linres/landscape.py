r"""Target features and determinant diagnostics: what decides, for a given target Φ,
whether gradient descent from the identity learns it (the chapter book/beyond.ipynb).

The chapter's answer is the sign of det Φ: under gradient flow from the identity every
layer keeps det Θ_i > 0, so a target with det Φ < 0 is never reached. This module holds
the measurements behind that answer, and nothing else (targets are drawn by
:mod:`linres.targets`, histories are analysed by :mod:`linres.analysis`, the proved
quantities such as the determinant floor are in :mod:`linres.bounds.beyond`).

Features of a target Φ (:func:`features`, batched over leading axes)
--------------------------------------------------------------------
- ``distance``   δ = ‖Φ − I‖_F (Result 1 is about small δ);
- ``margin``     γ(Φ) = λ_min((Φ + Φᵀ)/2) (Result 5 is about γ > 0);
- ``det``        det Φ (its sign is the obstruction of the chapter);
- ``max_angle``  max_j |Arg λ_j(Φ)| ∈ [0, π]: how far an eigenvalue is from the positive
  real axis; it is π exactly when Φ has a real negative eigenvalue (LAPACK returns a
  real eigenvalue of a real matrix with imaginary part exactly 0);
- ``n_negative`` the number of real negative eigenvalues;
- ``sigma_min``  σ_min(Φ), the distance from Φ to the singular matrices;
- ``norm``       ‖Φ‖₂;
- ``nonnormality`` ‖ΦΦᵀ − ΦᵀΦ‖_F / max(1, ‖Φ‖_F²) (0 exactly for normal Φ).

:func:`scaled_step` is the per-target step size the chapter uses, from ‖Φ‖₂.

Determinant diagnostics of the layers
-------------------------------------
- :func:`layer_dets` det Θ_i of every layer;
- :func:`det_crossing` the first step at which gradient descent from the identity makes
  some det Θ_i negative (the end of the determinant obstruction);
- :func:`balance_differences`, :func:`balance_drift`: the conservation law behind the
  obstruction and its exact drift under discrete steps. With
  D_i = Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ and G_i = ∇_{Θ_i}ℓ, one gradient step changes D_i by
  exactly η²(G_{i+1}ᵀG_{i+1} − G_iG_iᵀ): the first-order terms cancel because
  Θ_{i+1}ᵀG_{i+1} = Θ_{L:i+1}ᵀ E Θ_{i:1}ᵀ = G_iΘ_iᵀ. Gradient flow conserves D_i; gradient
  descent lets it drift at second order.
"""
from __future__ import annotations

import numpy as np

from ._validate import Array, check_depth, check_layers, check_pair, check_positive, check_target
from .model import _loss_and_grad

__all__ = [
    "features",
    "scaled_step",
    "layer_dets",
    "det_crossing",
    "balance_differences",
    "balance_drift",
]


def features(target) -> dict[str, Array]:
    """The features listed in the module docstring, one value per problem.

    >>> f = features(np.diag([-1.0, 2.0]))
    >>> float(f["det"]), int(f["n_negative"]), float(f["sigma_min"])
    (-2.0, 1, 1.0)
    """
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

    >>> float(scaled_step(2 * np.eye(2), 4, 0.5))
    0.03125
    """
    phi = check_target(target)
    L = check_depth(L)
    c = check_positive(c, "c")
    return c / (L * np.maximum(1.0, np.linalg.norm(phi, ord=2, axis=(-2, -1))) ** 2)


def layer_dets(layers) -> Array:
    """det Θ_i for every layer, shape (…, L).

    >>> layer_dets(np.stack([np.eye(2), np.diag([1.0, -2.0])])).tolist()
    [1.0, -2.0]
    """
    return np.linalg.det(check_layers(layers))


def det_crossing(target, L: int, eta, *, max_steps: int, record_every: int = 10, tol: float = 1e-10):
    r"""Run gradient descent from Θ_i = I and find the first step at which some layer has
    det Θ_i < 0 (within ``record_every`` steps).

    ``target`` has shape (…, d, d) and ``eta`` is a float or an array of the batch
    shape. Returns ``(first, result)``: ``first`` is the first recorded step with
    min_i det Θ_i < 0 (``-1`` where it never happens within ``max_steps``, see
    :func:`linres.analysis.first_crossing`), ``result`` the
    :class:`~linres.engine.contract.Result` of the run (``history["min_det"]`` holds
    min_i det Θ_i at every recorded step).

    >>> phi = np.array([[1.0, 0.0], [0.0, -0.5]])       # symmetric: never crosses
    >>> first, res = det_crossing(phi, 2, 0.1, max_steps=200)
    >>> int(first), res.status
    (-1, 'max_steps')
    """
    from . import inits
    from .analysis import first_crossing
    from .train import run
    from .updates import gd

    phi = check_target(target)
    L = check_depth(L)
    for name, v in (("max_steps", max_steps), ("record_every", record_every)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")
    batch = phi.shape[:-2]
    res = run(gd(eta), inits.identity(L, phi.shape[-1], batch), phi, tol=tol, max_steps=int(max_steps),
              record_every=int(record_every),
              record=lambda W, P: {"min_det": np.linalg.det(W).min(axis=-1)})
    first = first_crossing(res.history_steps, res.history["min_det"], 0.0, side="negative")
    return first, res


def balance_differences(layers) -> Array:
    r"""D_i = Θ_{i+1}ᵀΘ_{i+1} − Θ_iΘ_iᵀ for i = 1..L−1, shape (…, L−1, d, d)."""
    w = check_layers(layers)
    nxt = np.swapaxes(w[..., 1:, :, :], -1, -2) @ w[..., 1:, :, :]
    cur = w[..., :-1, :, :] @ np.swapaxes(w[..., :-1, :, :], -1, -2)
    return nxt - cur


def balance_drift(layers, target, eta) -> Array:
    r"""The exact change of D_i in one GD step: η²(G_{i+1}ᵀG_{i+1} − G_iG_iᵀ), shape (…, L−1, d, d)."""
    w, phi = check_pair(layers, target)
    e = np.asarray(eta)
    if np.iscomplexobj(e) or not np.issubdtype(e.dtype, np.number):
        raise TypeError(f"eta must be a real step size; got {eta!r}")
    e = e.astype(float)
    if np.any(~np.isfinite(e)) or np.any(e <= 0):
        raise ValueError(f"eta must be finite and > 0; got {eta!r}")
    g = _loss_and_grad(w, phi)[1]
    nxt = np.swapaxes(g[..., 1:, :, :], -1, -2) @ g[..., 1:, :, :]
    cur = g[..., :-1, :, :] @ np.swapaxes(g[..., :-1, :, :], -1, -2)
    e2 = e**2 if e.ndim == 0 else (e**2)[..., None, None, None]
    return e2 * (nxt - cur)
