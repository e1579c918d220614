r"""Compiled (numba) kernels behind :func:`linres.run` and :func:`linres.run_scalar`.

The public functions choose a backend for every call:

- ``"numba"``: the training loop runs inside a compiled kernel, many steps per
  call, with the stopping rules checked inside it;
- ``"numpy"``: the reference implementation, one vectorized numpy step per
  Python iteration (:func:`linres._loop.loop`).

The default, ``"auto"``, uses numba when it can be imported and the call is one
the kernels cover (plain ``gd`` for :func:`linres.run`; no penalty, or a
:class:`~linres.WeightDecay` / :class:`~linres.OrthogonalityPenalty`, for
:func:`linres.run_scalar`), and numpy otherwise. Select a backend with the
environment variable ``LINRES_BACKEND`` (read at import) or :func:`set_backend`.
Both backends return the same statuses, step counts and histories; the states
agree to rounding (``tests/test_kernels.py`` checks ≤ 1e-12). The scalar kernel
performs the reference's floating-point operations in the reference's order, so
it is bit-for-bit equal to the numpy path on the same machine.

Compiled kernels are cached on disk by numba (``cache=True``): in
``NUMBA_CACHE_DIR`` if set, else next to this file in ``__pycache__``. The
scalar kernel is specialised per depth L (the power z^{L−1} becomes a fixed chain of
multiplications), and the lane kernel of :func:`linres.run` per width d ≤ 8, so each new
L or d costs one compilation of one to two seconds; the generic matrix kernel takes
about five seconds, once. The cache is keyed on the source files: it survives across
processes and notebook runs, but not a fresh checkout.

Layout of the scalar kernel: blocks of 32 problems advance in lock step; lane
j·32 + q holds coordinate j of problem q, so the update vectorizes across problems,
and a problem that stops frees its lanes (they then compute on zeros, which is cheap
and never subnormal).

Layout of the matrix kernels: for d ≥ 12, one problem at a time, with SciPy's BLAS
dgemm for the products and each layer's update fused into its last product; below
that, batches of at least 8 problems run 8 at a time in the lanes of SIMD registers
(``gd_chunk_lanes``), and smaller batches one problem at a time by loops.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["BACKENDS", "get_backend", "set_backend", "numba_available", "use_numba"]

BACKENDS = ("auto", "numba", "numpy")

_backend = os.environ.get("LINRES_BACKEND", "auto").strip().lower() or "auto"
if _backend not in BACKENDS:
    raise ValueError(f"LINRES_BACKEND must be one of {BACKENDS}; got {_backend!r}")

_numba_ok: bool | None = None
_compiled = None  # the module namespace with the jitted kernels, built on first use

# Status codes used inside kernels (index into _loop.STATUSES, shifted by one).
RUNNING, CONVERGED, MAX_STEPS, DIVERGED, STALLED = 0, 1, 2, 3, 4
CODE_NAMES = np.array(["", "converged", "max_steps", "diverged", "stalled"], dtype="<U9")


def set_backend(name: str) -> str:
    """Select the backend for later calls: ``"auto"`` (default), ``"numba"`` or ``"numpy"``.

    Returns the previous setting. ``"numba"`` raises if numba cannot be imported.
    """
    global _backend
    name = str(name).strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {name!r}")
    if name == "numba" and not numba_available():
        raise ImportError("the numba backend was requested but numba cannot be imported")
    old, _backend = _backend, name
    return old


def get_backend() -> str:
    """The current backend setting (``"auto"``, ``"numba"`` or ``"numpy"``)."""
    return _backend


def numba_available() -> bool:
    global _numba_ok
    if _numba_ok is None:
        try:
            import numba  # noqa: F401
            _numba_ok = True
        except Exception:  # pragma: no cover - depends on the environment
            _numba_ok = False
    return _numba_ok


def use_numba(supported: bool) -> bool:
    """Whether this call runs on the compiled path."""
    if _backend == "numpy":
        return False
    if _backend == "numba":
        if not numba_available():  # pragma: no cover
            raise ImportError("the numba backend was requested but numba cannot be imported")
        return supported
    return supported and numba_available()


def kernels():
    """The compiled kernels (compiled or loaded from the cache on first use)."""
    global _compiled
    if _compiled is None:
        from . import _numba_kernels
        _compiled = _numba_kernels
    return _compiled


# ---------------------------------------------------------------------------------------------
# Reference pieces shared with the numpy path, so that both compute the same numbers.

def underflow_floor(L: int) -> float:
    r"""Below this |z|, the scalar recurrence treats z^{L−1} (and z^L) as exactly 0.

    For L ≥ 3 it is 2^{−1000/L}: above it every power z^k, k ≤ L, is a normal float,
    so no subnormal arithmetic ever happens (subnormals make each operation
    10–100× slower). Below it the dropped term η z^{L−1}(z^L − φ) is smaller than
    η(|φ|+1)·2^{−333}·|z|, far below half an ulp of z whenever η(|φ|+1) < 2^{200}
    (the callers switch the floor off otherwise), so the update of z rounds to the
    same float either way; the loss changes by less than |φ|·2^{−1000}. For L ≤ 2
    there is nothing to guard (z^{L−1} is 1 or z itself).
    """
    return 2.0 ** (-1000.0 / L) if L >= 3 else 0.0


def guard_floor(L: int, eta, phi) -> float:
    """:func:`underflow_floor`, or 0 (no flushing) if η(|φ|+1) may be too large for it to be harmless."""
    zmin = underflow_floor(L)
    if zmin > 0.0 and np.size(phi) and np.size(eta):
        big = float(np.max(eta)) * (float(np.max(np.abs(phi))) + 1.0)
        if not big < 2.0**200:
            zmin = 0.0
    return zmin


def ipow(x: np.ndarray, e: int) -> np.ndarray:
    """x**e for an integer e ≥ 0 by binary powering, in the exact order the kernels use."""
    if e == 0:
        return np.ones_like(x)
    acc = None
    p = x
    while True:
        if e & 1:
            acc = p if acc is None else acc * p
        e >>= 1
        if not e:
            return acc
        p = p * p
