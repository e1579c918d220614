r"""The exact reduction of identity-initialized GD on a *normal* target to complex scalars.

Complex numbers as 2×2 matrices
-------------------------------
Let J = [[0, −1], [1, 0]] (the rotation generator) and ι(a + ib) = aI + bJ. Then ι is an
injective algebra homomorphism ℂ → ℝ^{2×2}:

.. math::  ι(zw) = ι(z)ι(w),  ι(z)ᵀ = ι(\bar z),  ‖ι(z)‖_F² = 2|z|²,

and every ι(z) commutes with every ι(w).

Normal targets
--------------
A real normal matrix (ΦΦᵀ = ΦᵀΦ) has a real Schur form that is block diagonal:
Φ = Q T Qᵀ with Q orthogonal and T = diag(blocks), each block either a real 1×1 number φ
or a 2×2 block ι(φ) with φ = a + ib, b ≠ 0. This module stores such a target by its
*full spectrum* φ ∈ ℂ^d in block order: a 2×2 block at rows (k, k+1) contributes
φ_k = a + ib and φ_{k+1} = \bar φ_k, and ``pair[k]`` is True. Rotations (d = 2:
φ = e^{iθ}), and compositions of rotations with symmetric matrices that commute with
them (φ = s e^{iθ}), are the typical examples; symmetric targets are the case with no
pairs.

The reduction
-------------
If every layer is Θ = Q diag(ι(z_k) or z_k) Qᵀ (true at the identity, z = 1), then the
layers commute, Θ_{L:1} = Q diag(ι(z^L)) Qᵀ, and with E = Θ_{L:1} − Φ the gradient of
layer i is

.. math::  Θ^{L−i\,ᵀ} E Θ^{i−1\,ᵀ} = Q\,diag(ι(\bar z^{L−i}) ι(z^L − φ) ι(\bar z^{i−1}))\,Qᵀ
           = Q\,diag(ι(\bar z^{L−1}(z^L − φ)))\,Qᵀ,

the same for every layer (ι(·)ᵀ = ι(conjugate) and all blocks commute). So every step of
gradient descent, for every step size, keeps the form, and each block follows

.. math::  z_{t+1} = z_t − η_t\,\bar z_t^{\,L−1}(z_t^L − φ),   z_0 = 1,

the complex analogue of :mod:`linres.scalar` (for real z and φ it *is* that recurrence).
The loss is ℓ = ½ Σ_j \|z_j^L − φ_j\|² over the full spectrum (a pair contributes
‖ι(z^L − φ)‖_F²/2 = \|z^L − φ\|², split as two conjugate halves). The recurrence commutes
with conjugation, so conjugate entries stay conjugate. ``tests/test_normal.py`` checks
all of this against full-matrix GD.

The state ``z`` is a complex array of shape (..., d), one row per problem; one call runs
many eigenvalues and problems at once. The chapter book/beyond.ipynb uses it to map the
complex plane of target eigenvalues.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import scipy.linalg

from ._validate import Array, check_broadcast, check_count, check_depth, check_size, check_positive, check_positive_array, check_target
from .engine import Result
from .engine import dispatch as _dispatch
from .engine.arith import ipow
from .engine.checks import batch_eta, check_record
from .engine.contract import StopRule
from .engine.monitors import SPECTRUM_MONITORS, check_monitors

__all__ = [
    "NormalForm",
    "is_normal",
    "normal_form",
    "normal_target",
    "random_normal_targets",
    "normal_loss",
    "normal_step",
    "NormalResult",
    "run_normal",
    "layers_from_normal",
    "principal_root",
    "root_index",
    "KINDS",
    "RootMap",
    "convergence_map",
]


def _as_complex(x, name: str) -> Array:
    try:
        a = np.asarray(x, dtype=np.complex128)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of (complex) numbers; got {x!r}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")
    return a


class NormalForm(NamedTuple):
    """A normal target Φ = Q blockdiag(...) Qᵀ.

    ``spectrum`` (…, d) complex, in block order; ``basis`` Q (…, d, d) orthogonal;
    ``pair`` (…, d) bool, True at the first row of each 2×2 block.
    """

    spectrum: Array
    basis: Array
    pair: Array


def is_normal(target, rtol: float = 1e-10) -> Array:
    """‖ΦΦᵀ − ΦᵀΦ‖_F ≤ rtol · max(1, ‖Φ‖_F²), per problem."""
    phi = check_target(target)
    pt = np.swapaxes(phi, -1, -2)
    comm = np.linalg.norm(phi @ pt - pt @ phi, axis=(-2, -1))
    return comm <= rtol * np.maximum(1.0, np.linalg.norm(phi, axis=(-2, -1)) ** 2)


def _blocks(spectrum: Array, pair: Array) -> Array:
    """The real block-diagonal matrix diag(ι(φ_k) or φ_k), shape (…, d, d)."""
    d = spectrum.shape[-1]
    t = np.zeros(spectrum.shape + (d,))
    idx = np.arange(d)
    t[..., idx, idx] = spectrum.real
    if d > 1:
        im = np.where(pair[..., :-1], spectrum[..., :-1].imag, 0.0)
        t[..., idx[1:], idx[:-1]] = im
        t[..., idx[:-1], idx[1:]] = -im
    return t


def _check_pairs(spectrum: Array, pair: Array, atol: float, name: str = "spectrum") -> None:
    d = spectrum.shape[-1]
    if pair.shape != spectrum.shape:
        raise ValueError(f"pair must have the spectrum's shape {spectrum.shape}; got {pair.shape}")
    if np.any(pair[..., -1]):
        raise ValueError("a 2x2 block cannot start at the last row")
    if d > 1 and np.any(pair[..., 1:] & pair[..., :-1]):
        raise ValueError("2x2 blocks overlap (pair[k] and pair[k+1] both True)")
    second = np.zeros_like(pair)
    second[..., 1:] = pair[..., :-1]
    single = ~(pair | second)
    if np.any(np.abs(spectrum.imag[single]) > atol):
        raise ValueError(f"{name}: an entry outside a 2x2 block must be real")
    if d > 1:
        nxt = spectrum[..., 1:]
        bad = pair[..., :-1] & (np.abs(nxt - np.conj(spectrum[..., :-1])) > atol)
        if np.any(bad):
            raise ValueError(f"{name}: the second entry of a 2x2 block must be the conjugate of the first")


def normal_target(spectrum, basis=None, pair=None) -> Array:
    r"""The real normal matrix Q blockdiag(ι(φ_k) or φ_k) Qᵀ.

    ``spectrum`` (…, d) in block order. ``pair`` marks the first row of each 2×2 block;
    by default a block starts at every entry with positive imaginary part (which must be
    followed by its conjugate). ``basis`` Q defaults to the identity; it must be orthogonal.
    """
    s = _as_complex(spectrum, "spectrum")
    if s.ndim < 1 or s.shape[-1] < 1:
        raise ValueError("spectrum must have shape (..., d) with d >= 1")
    if pair is None:
        pair = s.imag > 0
    pair = np.asarray(pair, dtype=bool)
    _check_pairs(s, pair, atol=1e-12 * max(1.0, float(np.abs(s).max())))
    t = _blocks(s, pair)
    if basis is None:
        return t
    q = check_target(basis, "basis")
    if q.shape[-1] != s.shape[-1]:
        raise ValueError(f"basis is {q.shape[-1]}x{q.shape[-1]} but the spectrum has d = {s.shape[-1]}")
    eye = np.eye(q.shape[-1])
    if not np.allclose(np.swapaxes(q, -1, -2) @ q, eye, atol=1e-10):
        raise ValueError("basis must be orthogonal (QᵀQ = I)")
    return q @ t @ np.swapaxes(q, -1, -2)


def random_normal_targets(n: int, d: int, rng: np.random.Generator, *, pair_prob: float = 0.6,
                          max_modulus: float = 2.0, min_real: float | None = None) -> Array:
    r"""n random normal d×d targets Q blockdiag(...) Qᵀ, shape (n, d, d).

    Blocks are drawn left to right: with probability ``pair_prob`` (when two rows are left)
    a 2×2 block ι(r e^{iθ}) with r uniform on [0.2, max_modulus] and θ uniform on (0, π)
    (a scaled rotation), otherwise a real 1×1 entry uniform on [min_real, max_modulus]
    (``min_real`` defaults to −max_modulus).
    Q is Haar-orthogonal. So the batch mixes rotations, reflections, negative real
    eigenvalues and their compositions with commuting symmetric parts.
    """
    for name, v in (("n", n), ("d", d)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    if not 0.0 <= float(pair_prob) <= 1.0:
        raise ValueError(f"pair_prob must be in [0, 1]; got {pair_prob!r}")
    top = check_positive(max_modulus, "max_modulus")
    low = -top if min_real is None else float(min_real)
    if not (np.isfinite(low) and low < top):
        raise ValueError(f"min_real must be finite and below max_modulus; got {min_real!r}")
    out = np.empty((n, d, d))
    for k in range(n):
        spec = []
        while len(spec) < d:
            if d - len(spec) >= 2 and rng.random() < pair_prob:
                z = rng.uniform(0.2, top) * np.exp(1j * rng.uniform(0.0, np.pi))
                spec += [z, np.conj(z)]
            else:
                spec.append(complex(rng.uniform(low, top)))
        g = rng.standard_normal((d, d))
        q, r = np.linalg.qr(g)
        q = q * np.sign(np.diag(r))
        s = np.array(spec)
        out[k] = normal_target(s, q)
    return out


def normal_form(target, rtol: float = 1e-9) -> NormalForm:
    r"""Block spectrum, orthogonal basis and block layout of a normal Φ (real Schur form).

    Raises ``ValueError`` if Φ is not normal to relative tolerance ``rtol`` (the hypothesis
    of the reduction). Batch axes are handled problem by problem.
    """
    phi = check_target(target)
    if not np.all(is_normal(phi, rtol)):
        raise ValueError("target must be normal (ΦΦᵀ = ΦᵀΦ) for the complex reduction")
    batch, d = phi.shape[:-2], phi.shape[-1]
    flat = phi.reshape((-1, d, d))
    spec = np.zeros((flat.shape[0], d), dtype=np.complex128)
    basis = np.zeros_like(flat)
    pair = np.zeros((flat.shape[0], d), dtype=bool)
    for n, a in enumerate(flat):
        t, q = scipy.linalg.schur(a, output="real")
        k = 0
        while k < d:
            if k + 1 < d and t[k + 1, k] != 0.0:
                b = 0.5 * (t[k + 1, k] - t[k, k + 1])
                re = 0.5 * (t[k, k] + t[k + 1, k + 1])
                spec[n, k], spec[n, k + 1] = re + 1j * b, re - 1j * b
                pair[n, k] = True
                k += 2
            else:
                spec[n, k] = t[k, k]
                k += 1
        basis[n] = q
        scale = max(1.0, np.linalg.norm(a))
        resid = np.linalg.norm(q @ _blocks(spec[n], pair[n]) @ q.T - a)
        if resid > 1e3 * rtol * scale:
            raise ValueError(f"target is not normal enough for the reduction (residual {resid:.1e})")
    return NormalForm(spec.reshape(batch + (d,)), basis.reshape(batch + (d, d)), pair.reshape(batch + (d,)))


def normal_loss(z, phi, L: int) -> Array:
    r"""ℓ = ½ Σ_j \|z_j^L − φ_j\|² over the last axis."""
    z, phi = _as_complex(z, "z"), _as_complex(phi, "phi")
    check_broadcast(z=z, phi=phi)
    r = ipow(z, check_depth(L)) - phi
    return 0.5 * np.sum(r.real**2 + r.imag**2, axis=-1)


def _eta(eta):
    if np.ndim(eta) == 0:
        return check_positive(eta, "step size eta")
    return check_positive_array(eta, "step size eta")


def normal_step(z, phi, L: int, eta) -> Array:
    r"""One step z ← z − η \bar z^{L−1}(z^L − φ), elementwise (η a float or broadcastable array)."""
    z, phi = _as_complex(z, "z"), _as_complex(phi, "phi")
    check_broadcast(z=z, phi=phi)
    with np.errstate(over="ignore", invalid="ignore"):
        new = _dispatch.normal_step(z, phi, check_depth(L), _eta(eta))[1]
    if not np.all(np.isfinite(new)):
        from .updates import NonFiniteStep
        raise NonFiniteStep("normal_step: the new z is not finite (overflow); the step size eta is too large")
    return new


#: The outcome of :func:`run_normal` (the engine's one result type, with complex ``z``).
NormalResult = Result


def run_normal(
    phi,
    L: int,
    eta,
    *,
    z0=1.0,
    tol: float = 1e-8,
    max_steps: int = 10_000,
    record_every: int = 1,
    record: Callable[[Array, Array], dict[str, Array]] | None = None,
    blowup: float = 1e8,
    stall_window: int | None = None,
    stall_rtol: float = 1e-9,
    monitors=(),
) -> NormalResult:
    r"""Run z ← z − η \bar z^{L−1}(z^L − φ) for complex spectra ``phi`` of shape (…, d).

    Equivalent (in exact arithmetic) to :func:`linres.train.run` with ``gd(eta)`` from the
    identity on the normal target ``normal_target(phi, Q)``, for any orthogonal Q. The last
    axis is always the spectrum: n problems of one eigenvalue each are ``phi`` of shape
    (n, 1). ``eta`` is a float or an array with the batch
    shape ``phi.shape[:-1]``. Stopping rules and statuses are those of
    :func:`linres.train.run`; ``record(z, phi)`` receives the flat batch, shapes (n, d).
    """
    phi = _as_complex(phi, "phi")
    if phi.ndim < 1 or phi.shape[-1] < 1:
        raise ValueError(f"phi must have shape (..., d) with d >= 1: a spectrum per problem; got {phi.shape}")
    L = check_depth(L)
    stop = StopRule(tol, max_steps, record_every, blowup, stall_window, stall_rtol)
    record = check_record(record)
    names = check_monitors(monitors, SPECTRUM_MONITORS)
    batch, d = phi.shape[:-1], phi.shape[-1]
    n = int(np.prod(batch, dtype=int))
    z0 = _as_complex(z0, "z0")
    try:
        z = np.broadcast_to(z0, phi.shape).reshape(n, d).copy()
    except ValueError:
        raise ValueError(f"z0 of shape {z0.shape} does not broadcast to phi's shape {phi.shape}") from None
    eta = batch_eta(eta, batch, n)
    out = _dispatch.solve_normal(z, phi.reshape(n, d), L, eta, stop, names, record)
    return _dispatch.result(out, z, batch, (d,))


def layers_from_normal(z, form: NormalForm, L: int) -> Array:
    r"""The full layers Q blockdiag(ι(z_k) or z_k) Qᵀ, repeated L times: shape (…, L, d, d).

    ``z`` has the shape of ``form.spectrum``; inside a 2×2 block only the first entry is
    used (the second is its conjugate).
    """
    z = _as_complex(z, "z")
    if not isinstance(form, NormalForm):
        raise TypeError("form must be a NormalForm (from normal_form)")
    if z.shape != form.spectrum.shape:
        raise ValueError(f"z has shape {z.shape} but the spectrum has shape {form.spectrum.shape}")
    single = ~(form.pair | np.concatenate([np.zeros_like(form.pair[..., :1]), form.pair[..., :-1]], axis=-1))
    if np.any(np.abs(z.imag[single]) > 1e-12 * max(1.0, float(np.abs(z).max(initial=0.0)))):
        raise ValueError("z: an entry outside a 2x2 block of the form must be real")
    L = check_depth(L)
    check_size(z.shape + (L, z.shape[-1]), "L and z")
    q = form.basis
    theta = q @ _blocks(z, form.pair) @ np.swapaxes(q, -1, -2)
    return np.repeat(theta[..., None, :, :], L, axis=-3)


def principal_root(phi, L: int) -> Array:
    r"""The principal L-th root \|φ\|^{1/L} e^{i Arg φ / L}, Arg ∈ (−π, π]."""
    phi = _as_complex(phi, "phi")
    L = check_depth(L)
    return np.abs(phi) ** (1.0 / L) * np.exp(1j * np.angle(phi) / L)


def root_index(z, phi, L: int) -> Array:
    r"""The k with z ≈ \|φ\|^{1/L} e^{i(Arg φ + 2πk)/L}, as an integer in (−L/2, L/2].

    k = 0 is the principal root. Only meaningful when z^L ≈ φ ≠ 0.
    """
    z, phi = _as_complex(z, "z"), _as_complex(phi, "phi")
    check_broadcast(z=z, phi=phi)
    L = check_depth(L)
    k = np.rint((L * np.angle(z) - np.angle(phi)) / (2 * np.pi)).astype(int) % L
    return np.where(k > L // 2, k - L, k)


#: The outcomes of :func:`convergence_map`, indexed by ``RootMap.kind``.
KINDS = ("principal root", "other root", "no convergence", "diverged")


class RootMap(NamedTuple):
    r"""Outcome of :func:`convergence_map`, one entry per target eigenvalue.

    ``kind`` indexes :data:`KINDS` (0 principal root, 1 another L-th root, 2 no
    convergence within the budget, 3 diverged); ``root`` is :func:`root_index` of the
    final z; ``steps`` the step at which the loss first fell below ``tol`` (or the budget);
    ``loss`` the final loss ½\|z^L − φ\|².
    """

    kind: Array
    root: Array
    steps: Array
    loss: Array


def convergence_map(phi, L: int, eta, *, tol: float = 1e-10, max_steps: int = 4000,
                    confirm: int = 200) -> RootMap:
    r"""Where z ← z − η \bar z^{L−1}(z^L − φ) from z = 1 converges, for a grid of φ ∈ ℂ.

    ``phi`` is an array of complex target eigenvalues of any shape (one problem each);
    ``eta`` a float or an array of that shape. A run counts as converged only if it got
    below ``tol`` *and* its loss did not grow during ``confirm`` further steps: this
    separates convergence to a stable root from a chaotic orbit that merely passes
    close to a root (at large steps the roots repel, see the chapter).
    """
    phi = _as_complex(phi, "phi")
    L = check_depth(L)
    if isinstance(confirm, bool) or int(confirm) != confirm or confirm < 1:
        raise ValueError(f"confirm must be a positive integer; got {confirm!r}")
    eta = _eta(eta)
    if np.ndim(eta) > 0:
        try:
            eta = np.broadcast_to(eta, phi.shape)
        except ValueError:
            raise ValueError(f"eta must be a float or broadcast to phi's shape {phi.shape}") from None
    # record only the start and the end: a history of every step would cost n × max_steps
    max_steps = check_count(max_steps, "max_steps")
    first = run_normal(phi[..., None], L, eta, tol=tol, max_steps=max_steps, record_every=max_steps)
    kind = np.full(phi.shape, 2, dtype=int)
    kind[first.status == "diverged"] = 3
    conv = first.status == "converged"
    if np.any(conv):
        e = eta if np.ndim(eta) == 0 else eta[conv]
        again = run_normal(phi[conv][:, None], L, e, z0=first.z[conv], tol=1e-300, max_steps=int(confirm),
                           record_every=int(confirm))
        stays = np.asarray(again.loss) <= np.maximum(np.asarray(first.loss)[conv], 1e-24)
        ok = np.zeros(phi.shape, dtype=bool)
        ok[conv] = stays
        root = root_index(first.z[..., 0], phi, L)
        kind[ok & (root == 0)] = 0
        kind[ok & (root != 0)] = 1
    else:
        root = np.zeros(phi.shape, dtype=int)
    return RootMap(kind, root, np.asarray(first.steps), np.asarray(first.loss))
