r"""Result 5's algorithm, one step at a time, with everything the chapter measures.

:func:`linres.margin_balanced` is the update rule used by :func:`linres.run`; it
returns only the loss and the new layers. The chapter on Result 5
(book/positive_margin.ipynb) also needs what happens *inside* an iteration:

1. gradient step   W' = W − η∇ℓ(W),  Γ' = Θ'_{L:1};
2. projection      if γ(Γ') < γ:  Γ'' = Π_γ(Γ')  (else Γ'' = Γ');
3. balancing       W⁺ = balance(Γ''), so Θ⁺_{L:1} = Γ''.

:func:`margin_balanced_step_info` performs exactly the operations of the rule
(the tests check that the new layers agree bit for bit) and returns a
:class:`StepInfo` with the loss after each phase, the margin before and after the
projection, whether it fired, how far balancing moved the product, and the
balancing quality. :func:`trace_margin_balanced` runs it for a number of steps
over a batch of targets and stacks the records.

:func:`partial_product_slack` measures the hypothesis (H) of the chapter's
one-step lemma: every block Θ_{j:i} of k = j − i + 1 consecutive layers satisfies

.. math::  σ_min(Θ_{j:i}) ≥ m^{k/L},   ‖Θ_{j:i}‖₂ ≤ M^{k/L},
           m = min(1, σ_min(Θ_{L:1})),  M = max(1, ‖Θ_{L:1}‖₂).

The SVD balancing satisfies (H) exactly (its blocks have singular values σ^{k/L});
the principal-root balancing need not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._validate import Array, check_depth, check_layers, check_pair, check_positive, check_positive_array, check_target
from .diagnostics import balancedness, singular_value_spread
from .margin import BALANCINGS, _balance, _project
from .model import _loss_and_grad, _product, identity_layers, loss_from_product

__all__ = [
    "StepInfo",
    "MarginTrace",
    "margin_balanced_step_info",
    "trace_margin_balanced",
    "partial_product_slack",
]


class StepInfo(NamedTuple):
    """What one iteration of the Result 5 algorithm did, per problem of the batch."""

    loss: Array              # ℓ(W) before the iteration
    loss_gradient: Array     # ½‖Γ' − Φ‖² after the gradient step
    loss_projected: Array    # ½‖Γ'' − Φ‖² after the projection (= loss_gradient if it did not fire)
    margin_gradient: Array   # γ(Γ')
    margin_projected: Array  # γ(Γ''), the margin handed to balancing
    projected: Array         # bool: did the projection fire?
    product_change: Array    # ‖Θ⁺_{L:1} − Γ''‖_F / max(1, ‖Γ''‖_F): balancing keeps the product
    spread: Array            # max_i ‖σ(Θ⁺_i) − σ(Θ⁺_1)‖_∞: equal singular values
    balancedness: Array      # max_i ‖Θ⁺_{i+1}ᵀΘ⁺_{i+1} − Θ⁺_iΘ⁺_iᵀ‖_F


def _check_rule_args(eta, gamma, balancing, phi=None):
    if isinstance(gamma, str):
        if gamma != "auto" or phi is None:
            raise ValueError(f"margin level gamma must be a positive number or 'auto'; got {gamma!r}")
        gamma = np.minimum(1.0, _margin(phi))
        if np.any(gamma <= 0):
            raise ValueError("gamma='auto' needs every target to have a positive margin")
    if np.ndim(eta) == 0:
        eta = check_positive(eta, "step size eta")
    else:
        eta = check_positive_array(eta, "step size eta")
    if np.ndim(gamma) == 0:
        gamma = check_positive(gamma, "margin level gamma")
    else:
        gamma = check_positive_array(gamma, "margin level gamma")
    if balancing not in BALANCINGS:
        raise ValueError(f"balancing must be one of {BALANCINGS}; got {balancing!r}")
    return eta, gamma


def _margin(a: Array) -> Array:
    return np.linalg.eigvalsh(0.5 * (a + np.swapaxes(a, -1, -2)))[..., 0]


def _step(w: Array, phi: Array, eta, gamma, balancing: str, full: bool = True) -> tuple[Array, StepInfo, Array]:
    # The same operations, in the same order, as linres.updates.margin_balanced.
    # Returns the new layers, the record, and the new layers' product.
    lval, g = _loss_and_grad(w, phi)
    step = eta if np.ndim(eta) == 0 else eta[..., None, None, None]
    prod = _product(w - step * g)
    m_grad = _margin(prod)
    low = m_grad < gamma
    loss_grad = loss_from_product(prod, phi)
    if np.any(low):
        prod = np.array(np.broadcast_to(prod, low.shape + prod.shape[-2:]))
        level = gamma if np.ndim(gamma) == 0 else np.broadcast_to(gamma, low.shape)[low][:, None]
        prod[low] = _project(prod[low], level)
    new = _balance(prod, w.shape[-3], balancing)
    new_prod = _product(new)
    if full:
        scale = np.maximum(1.0, np.linalg.norm(prod, axis=(-2, -1)))
        change = np.linalg.norm(new_prod - prod, axis=(-2, -1)) / scale
        spread, bal = singular_value_spread(new), balancedness(new)
    else:
        change = spread = bal = np.full(low.shape, np.nan)
    info = StepInfo(
        loss=lval,
        loss_gradient=loss_grad,
        loss_projected=loss_from_product(prod, phi),
        margin_gradient=m_grad,
        margin_projected=_margin(prod),
        projected=low,
        product_change=change,
        spread=spread,
        balancedness=bal,
    )
    return new, info, new_prod


def margin_balanced_step_info(layers, target, eta, gamma, balancing: str = "svd") -> tuple[Array, StepInfo]:
    """One iteration of :func:`linres.margin_balanced`, returning ``(new_layers, StepInfo)``.

    ``new_layers`` equals ``linres.margin_balanced_step(layers, target, eta, gamma, balancing)``;
    ``eta`` and ``gamma`` may also be arrays over the batch, and ``gamma="auto"`` works as there.
    """
    w, phi = check_pair(layers, target)
    eta, gamma = _check_rule_args(eta, gamma, balancing, phi)
    batch = np.broadcast_shapes(w.shape[:-3], phi.shape[:-2])
    w = np.broadcast_to(w, batch + w.shape[-3:])
    if np.ndim(eta) > 0:
        eta = np.broadcast_to(eta, batch)
    if np.ndim(gamma) > 0:
        gamma = np.broadcast_to(gamma, batch)
    return _step(w, phi, eta, gamma, balancing)[:2]


@dataclass
class MarginTrace:
    """Per-iteration records of :func:`trace_margin_balanced`.

    Every field of ``info`` has shape (T, *batch): row t describes the iteration
    from W_t to W_{t+1}. ``loss`` has shape (T + 1, *batch): ℓ(W_0), …, ℓ(W_T).
    ``margin`` (T + 1, *batch) is γ(Θ_{L:1}) of W_t.
    """

    loss: Array
    margin: Array
    info: StepInfo
    layers: Array
    balancing: str

    @property
    def steps(self) -> int:
        return self.loss.shape[0] - 1

    def steps_to(self, tol: float) -> Array:
        """First t with ℓ(W_t) ≤ tol (−1 where never reached), over the batch."""
        hit = self.loss <= tol
        first = np.argmax(hit, axis=0)
        return np.where(hit.any(axis=0), first, -1)

    @property
    def projections(self) -> Array:
        """Cumulative number of projection events, shape (T + 1, *batch), starting at 0."""
        c = np.cumsum(self.info.projected, axis=0)
        return np.concatenate([np.zeros((1,) + c.shape[1:], dtype=int), c], axis=0)


def trace_margin_balanced(
    target,
    L: int,
    eta,
    gamma,
    balancing: str = "svd",
    *,
    steps: int,
    tol: float | None = None,
    layers=None,
    diagnostics: bool = True,
) -> MarginTrace:
    """Run the Result 5 algorithm for ``steps`` iterations on a batch of targets (…, d, d).

    Starts from ``layers`` (default: the identity), balanced first as the rule's
    ``init`` does. With ``tol``, stops early once every problem has ℓ ≤ ``tol``
    (the records then end there). ``eta`` and the margin level ``gamma`` may be
    floats or arrays over the batch (one value per problem); ``gamma="auto"``
    takes γ = min(1, γ(Φ)) for each target, as :func:`linres.margin_balanced` does.
    ``diagnostics=False`` skips the balancing measurements (``product_change``,
    ``spread``, ``balancedness`` are then NaN), which roughly halves the cost.
    """
    phi = check_target(target)
    L = check_depth(L)
    eta, gamma = _check_rule_args(eta, gamma, balancing, phi)
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
    if tol is not None:
        tol = check_positive(tol, "tolerance tol")
    batch, d = phi.shape[:-2], phi.shape[-1]
    w = identity_layers(L, d, batch) if layers is None else check_layers(layers)
    if w.shape[-3:] != (L, d, d):
        raise ValueError(f"layers must have shape (..., {L}, {d}, {d}); got {w.shape}")
    w = np.broadcast_to(w, batch + (L, d, d)).copy()
    if np.ndim(eta) > 0:
        eta = np.broadcast_to(eta, batch).astype(float)
    if np.ndim(gamma) > 0:
        gamma = np.broadcast_to(gamma, batch).astype(float)
    w = _balance(_product(w), L, balancing)
    p = _product(w)
    infos: list[StepInfo] = []
    losses = [loss_from_product(p, phi)]
    margins = [_margin(p)]
    for _ in range(int(steps)):
        if tol is not None and np.all(losses[-1] <= tol):
            break
        w, info, p = _step(w, phi, eta, gamma, balancing, bool(diagnostics))
        infos.append(info)
        losses.append(loss_from_product(p, phi))
        margins.append(_margin(p))
    if infos:
        stacked = StepInfo(*(np.stack(f) for f in zip(*infos)))
    else:
        stacked = StepInfo(*(np.zeros((0,) + batch, dtype=bool if k == "projected" else float) for k in StepInfo._fields))
    return MarginTrace(np.stack(losses), np.stack(margins), stacked, w, balancing)


def partial_product_slack(layers) -> tuple[Array, Array]:
    r"""How well the layers satisfy hypothesis (H) (see the module docstring).

    Returns ``(lo, hi)`` over the batch, with

    .. math::  lo = \min_{i ≤ j} σ_min(Θ_{j:i}) / m^{k/L},  hi = \max_{i ≤ j} ‖Θ_{j:i}‖₂ / M^{k/L}.

    (H) holds exactly when lo ≥ 1 and hi ≤ 1; for the SVD balancing both are 1 up
    to rounding (the full product, k = L, attains them).
    """
    w = check_layers(layers)
    L, d = w.shape[-3], w.shape[-1]
    s = np.linalg.svd(_product(w), compute_uv=False)
    m = np.minimum(1.0, s[..., -1])
    M = np.maximum(1.0, s[..., 0])
    lo = np.full(w.shape[:-3], np.inf)
    hi = np.zeros(w.shape[:-3])
    for i in range(L):
        block = np.broadcast_to(np.eye(d), w.shape[:-3] + (d, d))
        for j in range(i, L):
            block = w[..., j, :, :] @ block
            k = j - i + 1
            sv = np.linalg.svd(block, compute_uv=False)
            lo = np.minimum(lo, sv[..., -1] / m ** (k / L))
            hi = np.maximum(hi, sv[..., 0] / M ** (k / L))
    return lo, hi
