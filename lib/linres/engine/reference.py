"""The reference loop: one vectorised numpy step per Python iteration.

It implements the contract of :mod:`linres.engine.contract` directly and is the
definition the compiled kernels are tested against (``tests/test_conformance.py``).
The state of problem k is ``S[k]`` (layers, or eigen-coordinates); the loop needs only
``update(S_active, T_active, eta_active) -> (ℓ(S_active), S_next)`` and ``loss(S, T)``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .contract import CONVERGED, DIVERGED, MAX_STEPS, STALLED, Array, StopRule
from .history import History


def loop(S: Array, T: Array, eta, update: Callable, loss: Callable, stop: StopRule,
         observe: Callable[[Array, Array], dict] | None) -> tuple[Array, Array, Array, tuple]:
    """Run ``update`` on a flat batch (axis 0) until every problem has stopped.

    ``observe(states, T) -> {name: rows}`` is evaluated on the whole batch at every record
    step, with states of shape (1, n, …) (see ``linres.engine.dispatch.observer``).
    Returns (final loss, status codes, steps, history), the history as (steps, loss rows,
    {name: rows}); ``S`` holds the final states.
    """
    n = S.shape[0]
    max_steps, r, sw = stop.max_steps, stop.record_every, stop.stall_window
    final_loss = np.asarray(loss(S, T), dtype=float).copy()
    first = final_loss.copy()
    code = np.full(n, MAX_STEPS, dtype=np.int8)
    steps = np.full(n, max_steps, dtype=np.int64)
    active = np.arange(n)
    stall_ref = np.full(n, np.inf)
    hist = History(n)

    def snapshot(t):
        extra = None if observe is None else observe(S[None], T)
        hist.add([t], final_loss[None], extra)

    Sa, Ta, eta_a = S, T, eta
    last_t = 0
    for t in range(max_steps + 1):
        if active.size == 0:
            break
        last_t = t
        if t == max_steps:
            lval, new = loss(Sa, Ta), Sa  # the last iterate only needs its loss
        else:
            lval, new = update(Sa, Ta, eta_a)
        finite = np.isfinite(lval)
        final_loss[active] = np.where(finite, lval, np.inf)
        bad = ~finite | (lval > stop.blowup * np.maximum(1.0, first[active]))
        done = lval <= stop.tol
        stalled = np.zeros_like(done)
        if sw is not None and t % sw == 0:
            if t > 0:
                stalled = np.abs(stall_ref[active] - lval) <= stop.stall_rtol * lval
            stall_ref[active] = lval
        halt = bad | done | stalled | (t == max_steps)
        if t % r == 0 or np.all(halt):
            S[active] = Sa  # the state at step t, on which ℓ_t was measured
            snapshot(t)
        if np.any(halt):
            ids = active[halt]
            code[ids] = np.where(bad[halt], DIVERGED,
                                 np.where(done[halt], CONVERGED, np.where(stalled[halt], STALLED, MAX_STEPS)))
            steps[ids] = t
            S[ids] = Sa[halt]
            keep = ~halt
            active = active[keep]
            Sa, Ta = new[keep], Ta[keep]
            if np.ndim(eta_a) > 0:
                eta_a = eta_a[keep]
        else:
            Sa = new
    if n == 0:
        return final_loss, code, steps, hist.arrays()
    if hist.last_step() != last_t:
        snapshot(last_t)
    return final_loss, code, steps, hist.arrays()
