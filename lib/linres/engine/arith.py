r"""Floating-point conventions shared by the reference loops and the compiled kernels.

Both backends compute powers z^e by the same chain of multiplications (:func:`ipow`) and
flush tiny coordinates of the scalar recurrence the same way (:func:`underflow_floor`), so
that the scalar kernel can promise bit-for-bit equality with the reference.

>>> ipow(np.array([2.0, -1.5]), 3)
array([ 8.   , -3.375])
"""
from __future__ import annotations

import numpy as np

from .._validate import check_depth
from .checks import check_eta

__all__ = ["ipow", "underflow_floor", "guard_floor"]


def underflow_floor(L: int) -> float:
    r"""Below this \|z\|, the scalar recurrence treats z^{L−1} (and z^L) as exactly 0.

    For L ≥ 3 it is 2^{−1000/L}: above it every power z^k, k ≤ L, is a normal float,
    so no subnormal arithmetic ever happens (subnormals make each operation
    10–100× slower). Below it the dropped term η z^{L−1}(z^L − φ) is smaller than
    η(\|φ\|+1)·2^{−333}·\|z\|, far below half an ulp of z whenever η(\|φ\|+1) < 2^{200}
    (:func:`guard_floor` switches the floor off otherwise), so the update of z rounds to
    the same float either way; the loss changes by less than \|φ\|·2^{−1000}. For L ≤ 2
    there is nothing to guard (z^{L−1} is 1 or z itself).

    >>> underflow_floor(2), underflow_floor(1000)
    (0.0, 0.5)
    """
    L = check_depth(L)
    return 2.0 ** (-1000.0 / L) if L >= 3 else 0.0


def guard_floor(L: int, eta, phi) -> float:
    r""":func:`underflow_floor`, or 0 (no flushing) if η(\|φ\| + 1) may be too large for it to be harmless."""
    L = check_depth(L)
    check_eta(eta, "eta")
    try:
        finite = bool(np.all(np.isfinite(np.asarray(phi, dtype=np.complex128))))
    except (TypeError, ValueError):
        raise TypeError(f"phi must be an array of numbers; got {type(phi).__name__}") from None
    if not finite:
        raise ValueError("phi has non-finite entries (NaN or inf)")
    return floor_for(L, eta, phi)


def floor_for(L: int, eta, phi) -> float:
    """:func:`guard_floor` of arguments already checked (the engine's own calls)."""
    zmin = underflow_floor(L)
    if zmin > 0.0 and np.size(phi) and np.size(eta):
        big = float(np.max(eta)) * (float(np.max(np.abs(phi))) + 1.0)
        if not big < 2.0**200:
            zmin = 0.0
    return zmin


def ipow(x, e: int) -> np.ndarray:
    """x**e for an integer e ≥ 0 by binary powering, in the exact order the kernels use.

    Refuses a negative or non-integer exponent (``ValueError`` / ``TypeError``) rather
    than looping forever.
    """
    if isinstance(e, bool) or not isinstance(e, (int, np.integer)):
        raise TypeError(f"exponent e must be an integer; got {e!r}")
    if e < 0:
        raise ValueError(f"exponent e must be >= 0; got {e}")
    x = np.asarray(x)
    if e == 0:
        return np.ones_like(x)
    e = int(e)
    acc = None
    p = x
    while True:
        if e & 1:
            acc = p if acc is None else acc * p
        e >>= 1
        if not e:
            return acc
        p = p * p
