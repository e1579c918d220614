"""The stopping logic shared by the matrix and the scalar training loops.

The state of problem k is ``S[k]`` (layers, or eigenvalue coordinates); the loop
only needs ``update(S_active, T_active, eta_active) -> (ℓ(S_active), S_next)`` and
``loss(S, T)``. See :mod:`linres.train` for the meaning of each status.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._validate import Array, check_nonnegative, check_positive

STATUSES = ("converged", "max_steps", "diverged", "stalled")


@dataclass
class LoopOutput:
    state: Array
    loss: Array
    status: Array
    steps: Array
    history_steps: Array
    history_loss: Array
    history: dict[str, list[Array]] = field(default_factory=dict)


def check_loop_options(tol, max_steps, record_every, blowup, stall_window, stall_rtol):
    check_positive(tol, "tolerance tol")
    if isinstance(max_steps, bool) or int(max_steps) != max_steps or max_steps < 0:
        raise ValueError(f"max_steps must be a non-negative integer; got {max_steps!r}")
    if isinstance(record_every, bool) or int(record_every) != record_every or record_every < 1:
        raise ValueError(f"record_every must be a positive integer; got {record_every!r}")
    check_positive(blowup, "blowup")
    if stall_window is not None and (int(stall_window) != stall_window or stall_window < 1):
        raise ValueError(f"stall_window must be a positive integer; got {stall_window!r}")
    check_nonnegative(stall_rtol, "stall_rtol")


def loop(
    S: Array,
    T: Array,
    eta,
    update: Callable,
    loss: Callable[[Array, Array], Array],
    *,
    tol: float,
    max_steps: int,
    record_every: int,
    record: Callable[[Array, Array], dict[str, Array]] | None,
    blowup: float,
    stall_window: int | None,
    stall_rtol: float,
) -> LoopOutput:
    """Run ``update`` on a flat batch (axis 0) until every problem has stopped."""
    n = S.shape[0]
    final_loss = np.asarray(loss(S, T), dtype=float).copy()
    first = final_loss.copy()
    status = np.full(n, "max_steps", dtype="<U9")
    steps = np.full(n, int(max_steps), dtype=int)
    active = np.arange(n)
    stall_ref = np.full(n, np.inf)
    rec_steps: list[int] = []
    rec_loss: list[Array] = []
    rec_extra: dict[str, list[Array]] = {}

    def snapshot(t):
        rec_steps.append(t)
        rec_loss.append(final_loss.copy())
        if record is not None:
            for k, v in record(S, T).items():
                rec_extra.setdefault(k, []).append(np.asarray(v).copy())

    Sa, Ta, eta_a = S, T, eta
    last_t = 0
    for t in range(int(max_steps) + 1):
        if active.size == 0:
            break
        last_t = t
        if t == max_steps:
            lval, new = loss(Sa, Ta), Sa  # the last iterate only needs its loss
        else:
            lval, new = update(Sa, Ta, eta_a)
        final_loss[active] = np.where(np.isfinite(lval), lval, np.inf)
        bad = ~np.isfinite(lval) | (lval > blowup * np.maximum(1.0, first[active]))
        done = lval <= tol
        stalled = np.zeros_like(done)
        if stall_window is not None and t % stall_window == 0:
            if t > 0:
                stalled = (stall_ref[active] - lval) <= stall_rtol * lval
            stall_ref[active] = lval
        stop = bad | done | stalled | (t == max_steps)
        if t % record_every == 0 or np.all(stop):
            S[active] = Sa  # the state at step t, on which ℓ_t was measured
            snapshot(t)
        if np.any(stop):
            ids = active[stop]
            status[ids] = np.where(
                bad[stop], "diverged",
                np.where(done[stop], "converged", np.where(stalled[stop], "stalled", "max_steps")),
            )
            steps[ids] = t
            S[ids] = Sa[stop]
            keep = ~stop
            active = active[keep]
            Sa, Ta = new[keep], Ta[keep]
            if np.ndim(eta_a) > 0:
                eta_a = eta_a[keep]
        else:
            Sa = new
    if rec_steps[-1] != last_t:
        snapshot(last_t)
    return LoopOutput(S, final_loss, status, steps, np.asarray(rec_steps), np.stack(rec_loss), rec_extra)


def shape_output(out: LoopOutput, batch: tuple[int, ...], state_shape: tuple[int, ...]) -> dict:
    """Give every field of ``out`` the caller's batch shape (scalars when unbatched)."""
    nrec = len(out.history_steps)

    def b(a):
        return a.reshape(batch) if batch else a.reshape(())[()]

    return dict(
        state=out.state.reshape(batch + state_shape),
        loss=b(out.loss) if batch else float(out.loss[0]),
        status=b(out.status) if batch else str(out.status[0]),
        steps=b(out.steps) if batch else int(out.steps[0]),
        history_steps=out.history_steps,
        history_loss=out.history_loss.reshape((nrec,) + batch),
        history={k: np.stack(v).reshape((nrec,) + batch + np.asarray(v[0]).shape[1:]) for k, v in out.history.items()},
    )
