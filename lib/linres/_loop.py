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
                stalled = np.abs(stall_ref[active] - lval) <= stall_rtol * lval
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


def kernel_loop(
    S: Array,
    T: Array,
    eta,
    chunk: Callable,
    *,
    tol: float,
    max_steps: int,
    record_every: int,
    record: Callable[[Array, Array], dict[str, Array]] | None,
    blowup: float,
    stall_window: int | None,
    stall_rtol: float,
    rows_budget: int = 1 << 21,
) -> LoopOutput:
    """:func:`loop` with the steps run by a compiled kernel; same outputs, same semantics.

    ``chunk(S, Sn, T, eta, tol, blowup, first, stall_w, stall_rtol, stall_ref, t0, t1,
    max_steps, rec, hist, j0, active, status, steps, final_loss)`` advances the running
    problems from step t0 to t1 (see :mod:`linres._numba_kernels`). Without a ``record``
    callback the kernel runs many record intervals per call (the history buffer is
    bounded by ``rows_budget`` entries); with one, each call ends at a record step so the
    callback sees the states of that step, exactly as in :func:`loop`.
    """
    from ._kernels import CODE_NAMES

    n = S.shape[0]
    max_steps = int(max_steps)
    r = int(record_every)
    Sn = np.empty_like(S)
    eta_arr = np.ascontiguousarray(np.broadcast_to(np.asarray(eta, dtype=float), (n,)))
    code = np.zeros(n, dtype=np.int8)
    steps = np.full(n, max_steps, dtype=np.int64)
    final_loss = np.zeros(n)
    first = np.zeros(n)
    stall_ref = np.full(n, np.inf)
    sw = int(stall_window) if stall_window is not None else 0
    rows_per_call = max(1, rows_budget // max(n, 1))
    row_steps: list[Array] = []
    row_loss: list[Array] = []
    rec_steps: list[int] = []
    rec_extra: dict[str, list[Array]] = {}

    def snapshot(t):
        rec_steps.append(t)
        for k, v in record(S, T).items():
            rec_extra.setdefault(k, []).append(np.asarray(v).copy())

    active = np.arange(n, dtype=np.int64)
    t0 = 0
    while active.size:
        if record is not None:
            t1 = min(max_steps, -(-t0 // r) * r)  # the next record step
        else:
            t1 = min(max_steps, t0 + rows_per_call * r - 1)
        j0, j1 = -(-t0 // r), t1 // r
        hist = np.full((max(j1 - j0 + 1, 0), n), np.nan)
        chunk(S, Sn, T, eta_arr, float(tol), float(blowup), first, sw, float(stall_rtol), stall_ref,
              t0, t1, max_steps, r, hist, j0, active, code, steps, final_loss)
        rs = np.arange(j0, j1 + 1, dtype=np.int64) * r
        if hist.shape[0]:
            # a finished problem keeps its final loss in later records
            after = (code != 0)[None, :] & (rs[:, None] > steps[None, :])
            hist = np.where(after, final_loss[None, :], hist)
            row_steps.append(rs)
            row_loss.append(hist)
        running = active[code[active] == 0]
        reached = running.size > 0 or bool(np.any(steps[active] == t1))
        if record is not None and reached and t1 % r == 0:
            snapshot(t1)
        active = running
        t0 = t1 + 1
    last_t = int(steps.max())
    hs = np.concatenate(row_steps) if row_steps else np.zeros(0, dtype=np.int64)
    hl = np.concatenate(row_loss) if row_loss else np.zeros((0, n))
    keep = hs <= last_t
    hs, hl = hs[keep], hl[keep]
    if hs.size == 0 or hs[-1] != last_t:
        hs = np.append(hs, last_t)
        hl = np.concatenate([hl, final_loss[None, :]])
    if record is not None and (not rec_steps or rec_steps[-1] != last_t):
        snapshot(last_t)
    status = CODE_NAMES[code]
    return LoopOutput(S, final_loss, status, steps.astype(int), hs.astype(int), hl, rec_extra)
