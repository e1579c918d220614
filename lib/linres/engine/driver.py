"""Drive a compiled kernel chunk by chunk: the same outputs as :mod:`linres.engine.reference`.

The kernel runs many record intervals per call; a call ends when its block of history rows
is full (at most ``rows_budget`` entries of loss, and of states when they are recorded).
Between calls, the states recorded in the block are turned into monitors (one vectorised
pass) and handed to a ``record`` callback row by row, so neither re-enters the kernel at
every step.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import compiled_module
from .contract import RUNNING, Array, StopRule
from .history import History

#: Entries (loss rows, plus recorded states) of one kernel call's block of history.
ROWS_BUDGET = 1 << 21


def control(n: int, stop: StopRule, snap_shape: tuple | None, kappa: float = 0.0, zmin: float = 0.0,
            pen: int = 0):
    """The control record a kernel receives (see :mod:`linres.engine.compiled`), for n problems."""
    fp, ip = parameters(stop, snap_shape is not None, kappa, zmin, pen)
    return [fp, ip, np.zeros(n), _filled(n, np.inf), None, np.arange(n, dtype=np.int64),
            np.zeros(n, dtype=np.int8), _filled(n, stop.max_steps, np.int64), np.zeros(n), None]


def parameters(stop: StopRule, snap: bool = False, kappa: float = 0.0, zmin: float = 0.0, pen: int = 0):
    """The two parameter arrays of a control record (read through ``F_*`` and ``I_*``)."""
    # in the order in which compiled.py numbers F_* and I_* (tests/test_kernels.py checks it)
    fp = np.array((stop.tol, stop.blowup, stop.stall_rtol, kappa, zmin))
    ip = np.array((stop.stall_window or 0, 0, 0, stop.max_steps, stop.record_every, 0, snap, pen), dtype=np.int64)
    return fp, ip


def fits_one_call(n: int, stop: StopRule) -> bool:
    """Whether a run that records no states fits one kernel call (its loss rows within
    ``ROWS_BUDGET``), so that it can run whole (``linres.engine.compiled.whole_run``)."""
    return (stop.max_steps // stop.record_every + 2) * n <= ROWS_BUDGET


def _filled(shape, value, dtype=float) -> Array:
    """``np.full`` without its Python-level overhead (these arrays are made at every call)."""
    a = np.empty(shape, dtype=dtype)
    a.fill(value)
    return a


def run_chunks(S: Array, T: Array, eta: Array, kernel: Callable, stop: StopRule, ctl: list,
               observe: Callable[[Array, Array], dict] | None, rows_budget: int | None = None,
               ) -> tuple[Array, Array, Array, tuple]:
    """Advance every problem to its stop with ``kernel(S, Sn, T, eta, ctl)``.

    ``observe(states, T) -> {name: rows}`` maps recorded states (k·n rows) to history
    entries; ``S`` holds the final states. Returns (final loss, codes, steps, history), the
    history as (steps, loss rows, {name: rows}).
    """
    K = compiled_module()
    fp, ip, first, stall_ref, _, active, code, steps, final_loss, _ = ctl
    n = S.shape[0]
    r, max_steps = stop.record_every, stop.max_steps
    state_size = int(np.prod(S.shape[1:], dtype=np.int64)) if observe is not None else 0
    budget = ROWS_BUDGET if rows_budget is None else rows_budget
    rows_per_call = max(1, budget // max(n * (1 + state_size), 1))
    Sn = np.empty_like(S)
    hist = History(n)
    t0 = 0
    while active.size:
        t1 = min(max_steps, t0 + rows_per_call * r - 1)
        j0, j1 = -(-t0 // r), t1 // r
        rows = max(j1 - j0 + 1, 0)
        # one spare row, for the last step of the run if it is not a recorded one
        H = ctl[4] = _filled((rows + 1, n), np.nan)
        snap = ctl[9] = np.empty((rows + 1 if observe is not None else 0,) + S.shape)
        ip[K.I_T0], ip[K.I_T1], ip[K.I_J0] = t0, t1, j0
        kernel(S, Sn, T, eta, tuple(ctl))
        # a call that reaches max_steps stops every problem
        running = active[code[active] == RUNNING] if t1 < max_steps else active[:0]
        last = t1 if running.size else int(np.maximum.reduce(steps))
        m = max(last // r - j0 + 1, 0)  # rows recorded in this call (steps ≤ last)
        rs = np.arange(j0 * r, (j0 + m + 1) * r, r, dtype=np.int64)
        if not running.size and (m == 0 or rs[m - 1] != last):  # the run's last step, not recorded
            rs[m] = last
            H[m] = final_loss
            if observe is not None:
                snap[m] = S
            m += 1
        if m:
            rs, H, snap = rs[:m], H[:m], snap[:m]
            # a finished problem keeps its final loss (and state) in later rows; a problem still
            # running has steps = max_steps (see control), beyond every row
            if rs[-1] > np.minimum.reduce(steps):
                after = rs[:, None] > steps
                H[after] = np.broadcast_to(final_loss, H.shape)[after]
                if observe is not None:
                    snap[after] = np.broadcast_to(S, snap.shape)[after]
            hist.add(rs, H, None if observe is None else observe(snap, T), own=True)
        active = running
        ctl[5] = active
        t0 = t1 + 1
    return final_loss, code, steps, hist.arrays()
