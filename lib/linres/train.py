r"""Train an update rule over a batch of problems at once: :func:`run`.

For every problem of the batch the loop tracks ℓ_t = ℓ(W_t) and stops that problem
(freezing its layers) by the rules of :mod:`linres.engine.contract`: ``"diverged"``,
``"converged"`` (ℓ_t ≤ ``tol``), ``"stalled"`` (with ``stall_window``) or ``"max_steps"``.
Finished problems drop out of the computation, so a batch costs what its still-running
problems cost. :mod:`linres.engine.dispatch` chooses the loop that runs the call.

>>> import numpy as np, linres
>>> res = linres.run(linres.gd(0.1), linres.identity_layers(2, 2), np.diag([1.5, 0.8]), tol=1e-10)
>>> res.status, res.steps
('converged', 54)
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ._validate import Array, batch_shape, check_pair
from .engine import Result, Status, StopRule
from .engine.checks import batch_eta, check_record
from .engine.dispatch import result, solve_layers
from .engine.monitors import LAYER_MONITORS, check_monitors
from .updates import UpdateRule, _identity_init

__all__ = ["TrainResult", "run", "STATUSES"]

#: The outcome of :func:`run` (the engine's one result type; ``res.layers`` is the final state).
TrainResult = Result

#: The possible statuses, in the order of precedence of the stopping rules' codes.
STATUSES = tuple(s.value for s in Status)


def run(
    rule: UpdateRule,
    layers,
    target,
    *,
    tol: float = 1e-8,
    max_steps: int = 10_000,
    record_every: int = 1,
    record: Callable[[Array, Array], dict[str, Array]] | None = None,
    blowup: float = 1e8,
    stall_window: int | None = None,
    stall_rtol: float = 1e-9,
    monitors=(),
) -> Result:
    r"""Train from ``layers`` (…, L, d, d) toward ``target`` (…, d, d) with ``rule``.

    Every ``record_every`` steps (and at the last step) the loss is recorded in
    ``history_loss``, each name in ``monitors`` (see :mod:`linres.engine.monitors`, e.g.
    ``("margin", "det")``) in ``history[name]``, and ``record(layers, target) -> {name:
    array over the flat batch}``, if given, is called with the layers of the whole batch
    flattened to shape (n, L, d, d). Monitors and callbacks are evaluated on blocks of
    recorded states, outside the compiled kernels, which never stop at every step for them.
    """
    if not isinstance(rule, UpdateRule):
        raise TypeError(f"rule must be an UpdateRule (from gd, penalized_gd or margin_balanced); got {rule!r}")
    w, phi = check_pair(layers, target)
    stop = StopRule.of(tol, max_steps, record_every, blowup, stall_window, stall_rtol)
    record = check_record(record)
    names = check_monitors(monitors, LAYER_MONITORS)
    batch = batch_shape(w.shape[:-3], phi.shape[:-2])
    L, d = w.shape[-3], w.shape[-1]
    n = math.prod(batch)
    eta = rule.eta
    if not (type(eta) is float and 0.0 < eta < math.inf):  # (the common case needs no more checks)
        eta = batch_eta(eta, batch, n)
    W = _flat(w, batch, (L, d, d), n).copy()  # our own copy: the loops write the final layers in it
    P = _flat(phi, batch, (d, d), n)
    if rule.init is not _identity_init:
        W = np.array(rule.init(W, P), dtype=float)
    out = solve_layers(rule, W, P, eta, stop, names, record)
    return result(out, W, batch, (L, d, d), rule.name)


def _flat(a, batch: tuple, tail: tuple, n: int):
    """``a`` (…, *tail) broadcast to the batch and flattened to (n, *tail): a view when it can be."""
    if not batch and a.ndim == len(tail):
        return a.reshape((1,) + tail)
    if a.shape[:a.ndim - len(tail)] != batch:
        a = np.broadcast_to(a, batch + tail)
    return a.reshape((n,) + tail)
