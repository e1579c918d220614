r"""Update rules, each a pure function of (layers, target).

Like optax, a rule is a pair of pure functions bundled in :class:`UpdateRule`:

- ``init(layers, target) -> layers`` prepares the starting point (the identity,
  for most rules, is left as it is);
- ``update(layers, target, eta) -> (ℓ(layers), new_layers)`` takes one step and
  also returns the loss *before* the step, which the gradient computation yields
  for free.

The step size η is stored in the rule (``rule.eta``) and passed to ``update``
explicitly, so that a training loop can follow a subset of a batch. It may be a
float or an array with the batch's shape (one step size per problem).

Rules
-----
``gd(eta)``                 Θ_i ← Θ_i − η ∇_{Θ_i} ℓ                        (Results 1–4)
``penalized_gd(eta, ψ)``    Θ_i ← Θ_i − η (∇_{Θ_i} ℓ + ∇ψ(Θ_i))            (Results 2, 4)
``margin_balanced(eta, γ)`` gradient step, margin projection, balancing      (Result 5)
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .engine.checks import check_eta
from ._validate import Array, check_pair, check_positive
from .margin import BALANCINGS, _balance, _project
from .model import _loss_and_grad, _product
from .penalties import Penalty

__all__ = [
    "UpdateRule",
    "gd",
    "penalized_gd",
    "margin_balanced",
    "gd_step",
    "penalized_gd_step",
    "margin_balanced_step",
    "NonFiniteStep",
]


class UpdateRule(NamedTuple):
    """An update rule: ``init`` and ``update`` pure functions, the step size, and the kernel
    that may run it.

    ``kernel`` names the compiled kernel that computes exactly this rule's steps (``"gd"``
    for :func:`gd`), or is None: then :func:`linres.train.run` uses the reference loop
    (see :mod:`linres.engine.dispatch`).
    """

    name: str
    init: Callable[[Array, Array], Array]
    update: Callable[[Array, Array, "float | Array"], tuple[Array, Array]]
    eta: "float | Array"
    kernel: "str | None" = None


class NonFiniteStep(ValueError, FloatingPointError):
    """A single step produced non-finite layers (an overflow: the step size is too large)."""


def _eta(eta) -> float | Array:
    return check_eta(eta, "step size eta")


def _bcast(eta):
    # A per-problem step size multiplies whole (L, d, d) stacks.
    return eta if np.ndim(eta) == 0 else eta[..., None, None, None]


def _identity_init(layers: Array, target: Array) -> Array:
    return layers


def gd(eta) -> UpdateRule:
    r"""Plain gradient descent: Θ_i ← Θ_i − η ∇_{Θ_i} ℓ for all i simultaneously."""
    eta = _eta(eta)

    def update(w, phi, eta):
        lval, g = _loss_and_grad(w, phi)
        return lval, w - _bcast(eta) * g

    return UpdateRule("gd", _identity_init, update, eta, kernel="gd")


def penalized_gd(eta, penalty: Penalty) -> UpdateRule:
    r"""Gradient descent on ℓ + Σ_i ψ(Θ_i): Θ_i ← Θ_i − η(∇_{Θ_i} ℓ + ∇ψ(Θ_i)).

    The returned loss is the unpenalized ℓ, the quantity the theorems speak about.
    """
    eta = _eta(eta)
    if not isinstance(penalty, Penalty):
        raise TypeError(f"penalty must provide value(), grad() and scalar_grad(); got {penalty!r}")

    def update(w, phi, eta):
        lval, g = _loss_and_grad(w, phi)
        return lval, w - _bcast(eta) * (g + penalty.grad(w))

    return UpdateRule(f"penalized_gd[{type(penalty).__name__}]", _identity_init, update, eta)


def margin_balanced(
    eta,
    gamma: "float | str",
    balancing: str = "svd",
    *,
    auto_fraction: float = 1.0,
    project: bool = True,
    balance: bool = True,
    trace: "Callable[[dict], None] | None" = None,
) -> UpdateRule:
    r"""The book's reconstruction of the Result 5 algorithm (margin level γ > 0).

    One iteration:

    1. W' = W − η∇ℓ(W), and Γ = Θ'_{L:1};
    2. if γ(Γ) < γ, Γ ← Π_γ(Γ) (Frobenius projection onto {sym(B) ⪰ γI});
    3. W ← balance(Γ): layers with product Γ and equal singular values.

    ``gamma`` is a level > 0, or ``"auto"``: γ = f·min(1, γ(Φ)) for each problem,
    read off its own target, with f = ``auto_fraction`` ∈ (0, 1] (f = 1 is the
    largest level book/positive_margin.ipynb's theorem allows). ``"auto"`` lets
    one batch mix targets of different margins.

    ``init`` balances the starting layers (the identity is already balanced).

    *Ablations* (book/positive_margin.ipynb). ``project=False`` skips step 2
    (gradient step and balancing only). ``balance=False`` skips step 3 and ``init``'s
    balancing: the layers are those of the gradient step, and when the projection
    fires only the last layer changes, Θ_L ← Γ''·(Θ'_{L−1:1})⁻¹, so that the product
    is the projected Γ''. With both ``False`` the rule is plain GD.

    *Projection events.* ``trace``, if given, is called once per update with a dict
    over the (sub)batch that the update received:

    - ``"loss"``: ℓ(W) before the step;
    - ``"product"``: Γ' = Θ'_{L:1} after the gradient step;
    - ``"margin"``: γ(Γ');
    - ``"level"``: the level γ of each problem (NaN when ``project=False``);
    - ``"projected"``: bool, whether the projection fired;
    - ``"projected_product"``: Γ'', the product handed to balancing;
    - ``"layers"``: the new layers;
    - ``"target"``: the targets of those problems.

    :class:`linres.margin_trace.ProjectionCounter` counts these events;
    :func:`linres.margin_trace.trace_margin_balanced` records every phase.
    """
    eta = _eta(eta)
    auto = isinstance(gamma, str)
    frac = check_positive(auto_fraction, "auto_fraction")
    if frac > 1:
        raise ValueError(f"auto_fraction must be in (0, 1]; got {auto_fraction!r}")
    if auto:
        if gamma != "auto":
            raise ValueError(f"margin level gamma must be a positive number or 'auto'; got {gamma!r}")
    else:
        gamma = check_positive(gamma, "margin level gamma")
    if balancing not in BALANCINGS:
        raise ValueError(f"balancing must be one of {BALANCINGS}; got {balancing!r}")
    for name, flag in (("project", project), ("balance", balance)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False; got {flag!r}")
    if trace is not None and not callable(trace):
        raise TypeError(f"trace must be a callable taking a dict, or None; got {type(trace).__name__}")
    project, balance = bool(project), bool(balance)

    def init(w, phi):
        return _balance(_product(w), w.shape[-3], balancing) if balance else w

    def update(w, phi, eta):
        lval, g = _loss_and_grad(w, phi)
        stepped = w - _bcast(eta) * g
        prod = grad_prod = _product(stepped)
        batch = np.broadcast_shapes(w.shape[:-3], phi.shape[:-2])
        m = level = None
        if project or trace is not None:
            sym = 0.5 * (prod + np.swapaxes(prod, -1, -2))
            m = np.broadcast_to(np.linalg.eigvalsh(sym)[..., 0], batch)
        if project:
            level = np.broadcast_to(frac * _auto_level(phi) if auto else gamma, batch)
            low = m < level
        else:
            low = np.zeros(batch, dtype=bool)
        if np.any(low):
            # Project only the problems whose margin fell below the level.
            prod = np.array(np.broadcast_to(prod, batch + prod.shape[-2:]))
            lv = level[low][:, None] if auto else gamma
            prod[low] = _project(prod[low], lv)
        if balance:
            new = _balance(prod, w.shape[-3], balancing)
        elif np.any(low):
            # No balancing: put the projection's change into the last layer only.
            new = np.array(np.broadcast_to(stepped, batch + stepped.shape[-3:]))
            rest = _product(new[low][..., :-1, :, :]) if w.shape[-3] > 1 else None
            if rest is None:
                new[low, -1] = prod[low]
            else:
                try:
                    inv = np.linalg.inv(rest)
                except np.linalg.LinAlgError:  # a singular partial product: least squares
                    inv = np.linalg.pinv(rest)
                new[low, -1] = prod[low] @ inv
        else:
            new = stepped
        if trace is not None:
            trace({
                "loss": lval,
                "product": grad_prod,
                "margin": m,
                "level": np.full(batch, np.nan) if level is None else level,
                "projected": low,
                "projected_product": prod,
                "layers": new,
                "target": phi,
            })
        return lval, new

    parts = [balancing if balance else "no balancing"] + ([] if project else ["no projection"])
    return UpdateRule(f"margin_balanced[{', '.join(parts)}]", init, update, eta)


def _auto_level(phi: Array) -> Array:
    """γ = min(1, γ(Φ)) per problem; refuses a target without a positive margin."""
    level = np.minimum(1.0, np.linalg.eigvalsh(0.5 * (phi + np.swapaxes(phi, -1, -2)))[..., 0])
    if np.any(level <= 0):
        raise ValueError("gamma='auto' needs every target to have a positive margin")
    return level


def _one_step(rule: UpdateRule, layers, target) -> Array:
    w, phi = check_pair(layers, target)
    batch = np.broadcast_shapes(w.shape[:-3], phi.shape[:-2])
    if np.ndim(rule.eta) > 0:
        try:
            ok = np.broadcast_shapes(np.shape(rule.eta), batch) == batch
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"step size eta must be a number or an array broadcasting to the batch shape {batch}; "
                             f"got shape {np.shape(rule.eta)}")
    with np.errstate(over="ignore", invalid="ignore"):
        new = rule.update(w, phi, rule.eta)[1]
    if not np.all(np.isfinite(new)):
        raise NonFiniteStep(f"{rule.name} step: the new layers are not finite (overflow); "
                            "the step size eta is too large for these layers")
    return new


def gd_step(layers, target, eta) -> Array:
    """One plain GD step; returns the new layers (see :func:`gd`)."""
    return _one_step(gd(eta), layers, target)


def penalized_gd_step(layers, target, eta, penalty: Penalty) -> Array:
    """One penalized GD step; returns the new layers (see :func:`penalized_gd`)."""
    return _one_step(penalized_gd(eta, penalty), layers, target)


def margin_balanced_step(
    layers, target, eta, gamma: "float | str", balancing: str = "svd", *,
    project: bool = True, balance: bool = True, trace=None,
) -> Array:
    """One step of the Result 5 algorithm; returns the new layers (see :func:`margin_balanced`).

    A step that produces non-finite layers (a step size far too large) raises
    ``ValueError`` naming ``eta`` instead of returning NaN.
    """
    rule = margin_balanced(eta, gamma, balancing, project=project, balance=balance, trace=trace)
    with np.errstate(over="ignore", invalid="ignore"):
        new = _one_step(rule, layers, target)
    if not np.all(np.isfinite(new)):
        raise ValueError(f"step size eta={eta!r} gives non-finite layers in one step; use a smaller eta")
    return new
