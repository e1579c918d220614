"""Input checks of the engine's entry points, each naming the argument it refuses."""
from __future__ import annotations

import math

import numpy as np

from .._validate import check_count, check_positive, check_positive_array

__all__ = ["check_record", "check_eta", "batch_eta", "check_batch"]


def check_record(record):
    """``None`` or a callable ``record(state, target) -> dict``."""
    if record is not None and not callable(record):
        raise TypeError(f"record must be None or a callable record(state, target) -> dict; got {record!r}")
    return record


def check_eta(eta, name: str = "step size eta"):
    """A positive float, or an array of positive floats."""
    if type(eta) is float:
        return check_positive(eta, name)
    if isinstance(eta, bool) or eta is None:
        raise TypeError(f"{name} must be a positive number or an array of them; got {eta!r}")
    if np.ndim(eta) == 0:
        return check_positive(eta, name)
    return check_positive_array(eta, name)


def batch_eta(eta, batch: tuple, n: int, name: str = "step size eta"):
    """A checked step size, flattened to (n,) if it is an array with (or broadcasting to) the batch shape."""
    eta = check_eta(eta, name)
    n = check_count(n, "n", minimum=0)
    if n != math.prod(batch):
        raise ValueError(f"n must be the number of problems in the batch {batch}; got n = {n}")
    if type(eta) is float or np.ndim(eta) == 0:  # (np.ndim costs more than the common case)
        return eta
    if eta.shape == batch:
        return np.ascontiguousarray(eta).reshape(n)
    try:
        full = np.broadcast_to(eta, batch)
    except ValueError:
        raise ValueError(f"{name} must be a number or an array broadcasting to the batch shape {batch}; "
                         f"got shape {np.shape(eta)}") from None
    return np.ascontiguousarray(full).reshape(n)


def check_batch(batch, name: str = "batch") -> tuple[int, ...]:
    """A batch shape: a tuple of non-negative integers."""
    if not isinstance(batch, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of non-negative integers, e.g. (5,); got {batch!r}")
    out = []
    for b in batch:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)):
            raise TypeError(f"{name} must be a tuple of non-negative integers; got {batch!r}")
        if b < 0:
            raise ValueError(f"{name} must be a tuple of non-negative integers; got {batch!r}")
        out.append(int(b))
    return tuple(out)
