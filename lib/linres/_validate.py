"""Input checks shared by every public function.

Errors are raised before any work is done, with a message that names the
argument and what was expected (lineax's habit: check structure first).
"""
from __future__ import annotations

import math

import numpy as np

Array = np.ndarray


def all_finite(a: Array) -> bool:
    """Whether every entry of the float array ``a`` is finite.

    A finite sum proves it (a NaN or an infinity would make the sum non-finite), and costs
    one reduction; only a sum that overflows needs the entrywise test.
    """
    return math.isfinite(np.add.reduce(a, axis=None)) or bool(np.isfinite(a).all())


def as_float_array(x, name: str) -> Array:
    """Return ``x`` as a float64 array, refusing complex, non-numeric and non-finite entries."""
    if type(x) is np.ndarray and x.dtype == np.float64:  # already one: only the finiteness test
        if not all_finite(x):
            raise ValueError(f"{name} has non-finite entries (NaN or inf)")
        return x
    try:
        complex_input = np.iscomplexobj(x)
    except (TypeError, ValueError):  # a ragged nested list, for instance
        raise TypeError(f"{name} must be an array of real numbers; got {type(x).__name__}") from None
    if complex_input:
        raise TypeError(f"{name} must be real; got a complex array (the real part would be taken silently)")
    if x is None or isinstance(x, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be an array of real numbers; got {x!r}")
    if isinstance(x, np.ndarray) and x.dtype == bool:
        raise TypeError(f"{name} must be an array of real numbers; got a boolean array")
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers; got {type(x).__name__}") from None
    if not all_finite(a):
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")
    return a


def check_target(target, name: str = "target") -> Array:
    """A target Φ of shape (..., d, d), square, finite."""
    phi = as_float_array(target, name)
    if phi.ndim < 2 or phi.shape[-1] != phi.shape[-2]:
        raise ValueError(f"{name} must have shape (..., d, d); got {phi.shape}")
    if phi.shape[-1] < 1:
        raise ValueError(f"{name} must have d >= 1; got {phi.shape}")
    return phi


def check_layers(layers, name: str = "layers") -> Array:
    """Layers Θ_1..Θ_L stored as one array of shape (..., L, d, d)."""
    w = as_float_array(layers, name)
    if w.ndim < 3 or w.shape[-1] != w.shape[-2]:
        raise ValueError(f"{name} must have shape (..., L, d, d); got {w.shape}")
    if w.shape[-3] < 1:
        raise ValueError(f"{name} must hold L >= 1 layers; got L = {w.shape[-3]}")
    return w


def batch_shape(a: tuple, b: tuple) -> tuple:
    """The broadcast of two batch shapes (``a`` itself when they are equal, the common case)."""
    return a if a == b else np.broadcast_shapes(a, b)


def check_broadcast(**arrays) -> tuple:
    """The broadcast shape of named arrays, refusing shapes that do not broadcast (naming them)."""
    try:
        return np.broadcast_shapes(*(np.shape(a) for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(a)}" for k, a in arrays.items())
        raise ValueError(f"shapes do not broadcast: {shapes}") from None


def check_pair(layers, target) -> tuple[Array, Array]:
    """Layers and target with matching d and broadcastable batch axes."""
    w = check_layers(layers)
    phi = check_target(target)
    if w.shape[-1] != phi.shape[-1]:
        raise ValueError(
            f"layers are {w.shape[-1]}x{w.shape[-1]} but the target is "
            f"{phi.shape[-1]}x{phi.shape[-1]}"
        )
    try:
        batch_shape(w.shape[:-3], phi.shape[:-2])
    except ValueError:
        raise ValueError(
            f"batch axes of layers {w.shape[:-3]} and target {phi.shape[:-2]} "
            "do not broadcast"
        ) from None
    return w, phi


MAX_COUNT = 2**31 - 1  # larger depths/sizes cannot be allocated; refuse before numpy does


def check_count(n, name: str, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    """An integer (not a bool) in ``[minimum, maximum]``: a depth, dimension or step count."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {n!r}")
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {n}")
    if n > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {n}")
    return int(n)


MAX_ENTRIES = 2**34  # 128 GiB of float64: refuse an allocation no machine here can make


def check_size(shape, names: str) -> tuple:
    """Refuse an array shape with more than MAX_ENTRIES entries, naming the arguments that set it."""
    n = 1
    for s in shape:
        n *= int(s)
    if n > MAX_ENTRIES:
        raise ValueError(f"{names} ask for an array of shape {tuple(shape)} ({n} entries), more than {MAX_ENTRIES}")
    return tuple(shape)


def check_depth(L, name: str = "L") -> int:
    """The depth L: an integer in [1, 2**31 - 1]."""
    return check_count(L, f"depth {name}" if name == "L" else name)


def _real_scalar(x, name: str) -> float:
    """A real scalar (not a bool, string, complex or container) as a float."""
    if isinstance(x, (bool, np.bool_, str, bytes)) or x is None or np.iscomplexobj(x) or np.ndim(x) != 0:
        raise TypeError(f"{name} must be a real number; got {x!r}")
    try:
        return float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number; got {x!r}") from None


def check_real(x, name: str) -> float:
    """A finite real scalar."""
    v = _real_scalar(x, name)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite; got {x!r}")
    return v


def check_positive(x, name: str) -> float:
    """A finite, strictly positive scalar (step size, tolerance, ...)."""
    if type(x) is float and 0.0 < x < math.inf:  # the common case, without the general tests
        return x
    v = _real_scalar(x, name)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be finite and > 0; got {x!r}")
    return v


def check_nonnegative(x, name: str) -> float:
    v = _real_scalar(x, name)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be finite and >= 0; got {x!r}")
    return v


def check_positive_array(x, name: str) -> Array:
    a = as_float_array(x, name)
    if not (a > 0).all():
        raise ValueError(f"{name} must be > 0 everywhere")
    return a


def is_symmetric(a: Array, rtol: float = 1e-10) -> Array:
    scale = np.maximum(1.0, np.linalg.norm(a, axis=(-2, -1)))
    return np.linalg.norm(a - np.swapaxes(a, -1, -2), axis=(-2, -1)) <= rtol * scale


def require_symmetric(a: Array, name: str = "target", rtol: float = 1e-10) -> Array:
    if not np.all(is_symmetric(a, rtol)):
        raise ValueError(f"{name} must be symmetric for this function (hypothesis of the theorem)")
    return a


def check_spectrum(x, name: str = "phi", positive: bool = False) -> Array:
    """Eigenvalues per problem, shape (..., d) with d >= 1; all > 0 when ``positive``
    (the hypothesis Φ positive definite of the theorems that need it)."""
    p = as_float_array(x, name)
    if p.ndim < 1 or p.shape[-1] < 1:
        raise ValueError(f"{name} must have shape (..., d) with d >= 1: the eigenvalues of Φ per problem")
    if positive and np.any(p <= 0):
        raise ValueError(f"{name} must be positive (Φ symmetric positive definite); got an eigenvalue <= 0")
    return p
