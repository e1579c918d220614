r"""The training loop: run an update rule over a batch of problems at once,
until a tolerance, a step budget, divergence or a stall.

For every problem of the batch the loop tracks ℓ_t = ℓ(W_t) and stops that
problem (freezing its layers) as soon as one of these holds:

- ``"diverged"``  ℓ_t is not finite, or ℓ_t > ``blowup`` · max(1, ℓ_0);
  its loss is reported as ``inf`` if it was not finite: divergence is a
  status, never a silent NaN;
- ``"converged"`` ℓ_t ≤ ``tol``; ``steps`` is then the first such t;
- ``"stalled"``   (only with ``stall_window`` = w) |ℓ_{t−w} − ℓ_t| ≤ ``stall_rtol`` · ℓ_t
  at a multiple t of w;
- ``"max_steps"`` t reached ``max_steps``.

Finished problems drop out of the computation, so a batch costs what its
still-running problems cost.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import _kernels
from ._loop import STATUSES, check_loop_options, kernel_loop, loop, shape_output
from ._validate import Array, check_pair
from .model import _product, loss_from_product
from .updates import UpdateRule, _identity_init

# From this width on, the compiled GD kernel multiplies the d×d blocks with BLAS.
BLAS_MIN_D = 12
# Up to this width, a batch of at least GD_LANES problems runs several problems per SIMD vector.
LANES_MAX_D = 8

__all__ = ["TrainResult", "run", "STATUSES"]


@dataclass
class TrainResult:
    """Outcome of :func:`run`; array fields carry the batch shape.

    ``history_steps[k]`` is the step at which row k of ``history_loss`` (and of
    each ``history[name]``) was recorded; a finished problem keeps its final value.
    """

    layers: Array
    loss: Array
    status: Array
    steps: Array
    history_steps: Array
    history_loss: Array
    history: dict[str, Array] = field(default_factory=dict)
    rule: str = ""

    @property
    def converged(self) -> Array:
        return np.asarray(self.status) == "converged"

    def summary(self) -> str:
        kinds, counts = np.unique(np.asarray(self.status), return_counts=True)
        return ", ".join(f"{k}: {c}" for k, c in zip(kinds, counts))


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
) -> TrainResult:
    r"""Train from ``layers`` (…, L, d, d) toward ``target`` (…, d, d) with ``rule``.

    ``record(layers, target) -> {name: array over the flat batch}`` is called every
    ``record_every`` steps (and at the end) with the layers of the whole batch
    flattened to shape (n, L, d, d), for diagnostics.
    """
    w, phi = check_pair(layers, target)
    check_loop_options(tol, max_steps, record_every, blowup, stall_window, stall_rtol)
    batch = np.broadcast_shapes(w.shape[:-3], phi.shape[:-2])
    L, d = w.shape[-3], w.shape[-1]
    n = int(np.prod(batch, dtype=int))
    W = np.broadcast_to(w, batch + (L, d, d)).reshape(n, L, d, d).copy()
    P = np.broadcast_to(phi, batch + (d, d)).reshape(n, d, d)
    eta = rule.eta
    if np.ndim(eta) > 0:
        eta = np.broadcast_to(eta, batch).reshape(n)
    W = rule.init(W, P)
    options = dict(tol=tol, max_steps=max_steps, record_every=record_every, record=record,
                   blowup=blowup, stall_window=stall_window, stall_rtol=stall_rtol)
    plain_gd = getattr(rule.update, "kernel", None) == "gd" and rule.init is _identity_init
    if n > 0 and _kernels.use_numba(plain_gd):
        K = _kernels.kernels()
        blas = d >= BLAS_MIN_D
        if not blas and d <= LANES_MAX_D and n >= K.GD_LANES:
            dims = (0,) * d  # d as a type: one compiled lane kernel per small d

            def chunk(*args):  # several problems at once, one per SIMD lane
                K.gd_chunk_lanes(*args, dims)
        else:
            def chunk(*args):
                K.gd_chunk(*args, blas)

        out = kernel_loop(W, np.ascontiguousarray(P), eta, chunk, **options)
    else:
        out = loop(W, P, eta, rule.update, lambda S, T: loss_from_product(_product(S), T), **options)
    f = shape_output(out, batch, (L, d, d))
    return TrainResult(
        layers=f["state"], loss=f["loss"], status=f["status"], steps=f["steps"],
        history_steps=f["history_steps"], history_loss=f["history_loss"],
        history=f["history"], rule=rule.name,
    )
