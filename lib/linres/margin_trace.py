r"""Result 5's algorithm, one step at a time, with everything the chapter measures.

:func:`linres.updates.margin_balanced` is the update rule used by
:func:`linres.train.run`; it returns the loss and the new layers, and reports what
happens *inside* an iteration to an optional ``trace`` callable:

1. gradient step   W' = W − η∇ℓ(W),  Γ' = Θ'_{L:1};
2. projection      if γ(Γ') < γ:  Γ'' = Π_γ(Γ')  (else Γ'' = Γ');
3. balancing       W⁺ = balance(Γ''), so Θ⁺_{L:1} = Γ''.

This module builds on that report; there is one implementation of the iteration,
the rule's. :class:`ProjectionCounter` counts projection events over any run
(for instance one of :func:`linres.train.run`). :func:`margin_balanced_step_info` takes
one step of the rule and returns a :class:`StepInfo` with the loss after each
phase, the margin before and after the projection, whether it fired, how far
balancing moved the product, and the balancing quality.
:func:`trace_margin_balanced` runs the rule for a number of steps over a batch of
targets and stacks the records. :func:`run_halving` chooses the level without
knowing γ(Φ): it starts at γ = 1 and halves γ whenever the loss stalls.

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

from ._validate import Array, check_depth, check_layers, check_pair, check_positive, check_target
from .engine.checks import batch_eta
from .diagnostics import balancedness, singular_value_spread
from .model import _loss_from_product as loss_from_product, _product, identity_layers
from .train import run
from .updates import margin_balanced

__all__ = [
    "StepInfo",
    "MarginTrace",
    "ProjectionCounter",
    "HalvingResult",
    "margin_balanced_step_info",
    "trace_margin_balanced",
    "run_halving",
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


class ProjectionCounter:
    """A ``trace`` for :func:`linres.updates.margin_balanced` that counts projection events.

    ``iterations`` is the number of (problem, update) pairs seen and ``projections``
    the number of those in which the projection fired. With :func:`linres.train.run` the
    loop hands the rule only the problems still running, so these are totals over
    the run (each problem's last update, whose result the loop discards once the
    tolerance is met, is counted too).

    ``slack`` > 0 counts only *clear* events, where the margin after the gradient
    step fell below the level by more than ``slack``: a margin within rounding of the
    level fires the projection or not depending on the last bit, so a count of all
    events is not reproducible across machines.

    ``targets`` (the batch given to the run, shape (n, d, d), distinct matrices)
    enables ``per_problem``: the count of each problem, matched by its target.

    >>> import numpy as np, linres
    >>> phi = np.array([[0.2, 1.0], [-1.0, 0.9]])   # margin 0.2, skew
    >>> count = ProjectionCounter(slack=1e-9)
    >>> rule = linres.margin_balanced(0.02, 0.2, trace=count)
    >>> res = linres.run(rule, linres.identity_layers(3, 2), phi, tol=1e-10, max_steps=2000)
    >>> res.status, count.projections > 10, count.iterations == res.steps + 1
    ('converged', True, True)
    """

    def __init__(self, slack: float = 0.0, targets=None):
        if isinstance(slack, bool) or not isinstance(slack, (int, float, np.integer, np.floating)) \
                or not np.isfinite(slack) or slack < 0:
            raise ValueError(f"slack must be a finite number >= 0; got {slack!r}")
        self.slack = float(slack)
        self.iterations = 0
        self.projections = 0
        self._index = None
        self.per_problem = None
        if targets is not None:
            t = check_target(targets, "targets")
            if t.ndim != 3:
                raise ValueError(f"targets must have shape (n, d, d); got {t.shape}")
            self._index = {row.tobytes(): k for k, row in enumerate(t)}
            if len(self._index) != t.shape[0]:
                raise ValueError("targets must be distinct matrices (problems are matched by their target)")
            self.per_problem = np.zeros(t.shape[0], dtype=int)

    def __call__(self, event: dict) -> None:
        p = np.asarray(event["projected"])
        if self.slack > 0:
            p = p & (np.asarray(event["margin"]) < np.asarray(event["level"]) - self.slack)
        self.iterations += int(p.size)
        self.projections += int(np.count_nonzero(p))
        if self._index is not None and np.any(p):
            phi = np.asarray(event["target"]).reshape((-1,) + event["target"].shape[-2:])
            for k in np.flatnonzero(p.reshape(-1)):
                j = self._index.get(phi[k].tobytes())
                if j is None:
                    raise ValueError("a problem's target is not among the counter's targets")
                self.per_problem[j] += 1

    @property
    def fraction(self) -> float:
        """projections / iterations (0 before any iteration)."""
        return self.projections / self.iterations if self.iterations else 0.0

    def __repr__(self) -> str:
        return f"ProjectionCounter(projections={self.projections}, iterations={self.iterations})"


def _check_gamma(gamma):
    if isinstance(gamma, str):
        if gamma != "auto":
            raise ValueError(f"margin level gamma must be a positive number or 'auto'; got {gamma!r}")
        return gamma
    return check_positive(gamma, "margin level gamma")


def _margin(a: Array) -> Array:
    return np.linalg.eigvalsh(0.5 * (a + np.swapaxes(a, -1, -2)))[..., 0]


def _info(event: dict, phi: Array, full: bool) -> StepInfo:
    """The :class:`StepInfo` of one update, from the rule's own report."""
    prod, new = event["projected_product"], event["layers"]
    if full:
        new_prod = _product(new)
        scale = np.maximum(1.0, np.linalg.norm(prod, axis=(-2, -1)))
        change = np.linalg.norm(new_prod - prod, axis=(-2, -1)) / scale
        spread, bal = singular_value_spread(new), balancedness(new)
    else:
        change = spread = bal = np.full(event["projected"].shape, np.nan)
    return StepInfo(
        loss=event["loss"],
        loss_gradient=loss_from_product(event["product"], phi),
        loss_projected=loss_from_product(prod, phi),
        margin_gradient=event["margin"],
        margin_projected=_margin(prod),
        projected=event["projected"],
        product_change=change,
        spread=spread,
        balancedness=bal,
    )


def margin_balanced_step_info(layers, target, eta, gamma, balancing: str = "svd") -> tuple[Array, StepInfo]:
    """One iteration of :func:`linres.updates.margin_balanced`, returning ``(new_layers, StepInfo)``.

    ``new_layers`` is what ``linres.margin_balanced_step(layers, target, eta, gamma, balancing)``
    returns (the same rule does the step); ``eta`` may be an array over the batch and
    ``gamma`` a level or ``"auto"``.
    """
    w, phi = check_pair(layers, target)
    gamma = _check_gamma(gamma)
    events: list[dict] = []
    rule = margin_balanced(eta, gamma, balancing, trace=events.append)
    batch = np.broadcast_shapes(w.shape[:-3], phi.shape[:-2])
    batch_eta(rule.eta, batch, int(np.prod(batch)))  # an array eta must fit the batch
    w = np.broadcast_to(w, batch + w.shape[-3:])
    new = rule.update(w, phi, rule.eta)[1]
    return new, _info(events[0], phi, True)


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
        tol = check_positive(tol, "tolerance tol")
        hit = self.loss <= tol
        first = np.argmax(hit, axis=0)
        return np.where(hit.any(axis=0), first, -1)

    @property
    def projections(self) -> Array:
        """Cumulative number of projection events, shape (T + 1, *batch), starting at 0."""
        c = np.cumsum(self.info.projected, axis=0)
        return np.concatenate([np.zeros((1,) + c.shape[1:], dtype=int), c], axis=0)

    def projections_until(self, tol: float) -> Array:
        """Projection events in the iterations before ℓ ≤ ``tol`` (all of them where never reached)."""
        t = self.steps_to(tol)
        t = np.where(t < 0, self.steps, t)
        return np.take_along_axis(self.projections, np.asarray(t)[None, ...], axis=0)[0]


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

    Every iteration is one call of :func:`linres.updates.margin_balanced`'s update on the
    whole batch, which reports its phases through ``trace``. Starts from ``layers``
    (default: the identity), balanced first as the rule's ``init`` does. With
    ``tol``, stops early once every problem has ℓ ≤ ``tol`` (the records then end
    there). ``eta`` may be a float or an array over the batch (one value per
    problem); ``gamma`` is a level or ``"auto"`` (γ = min(1, γ(Φ)) for each target).
    ``diagnostics=False`` skips the balancing measurements (``product_change``,
    ``spread``, ``balancedness`` are then NaN), which roughly halves the cost.
    """
    phi = check_target(target)
    L = check_depth(L)
    gamma = _check_gamma(gamma)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
    if tol is not None:
        tol = check_positive(tol, "tolerance tol")
    if not isinstance(diagnostics, (bool, np.bool_)):
        raise TypeError(f"diagnostics must be True or False; got {diagnostics!r}")
    batch, d = phi.shape[:-2], phi.shape[-1]
    w = identity_layers(L, d, batch) if layers is None else check_layers(layers)
    if w.shape[-3:] != (L, d, d):
        raise ValueError(f"layers must have shape (..., {L}, {d}, {d}); got {w.shape}")
    w = np.broadcast_to(w, batch + (L, d, d)).copy()
    events: list[dict] = []
    rule = margin_balanced(eta, gamma, balancing, trace=events.append)
    eta = rule.eta if np.ndim(rule.eta) == 0 else np.broadcast_to(rule.eta, batch).astype(float)
    w = rule.init(w, phi)
    p = _product(w)
    infos: list[StepInfo] = []
    losses = [loss_from_product(p, phi)]
    margins = [_margin(p)]
    for _ in range(int(steps)):
        if tol is not None and np.all(losses[-1] <= tol):
            break
        w = rule.update(w, phi, eta)[1]
        infos.append(_info(events.pop(), phi, bool(diagnostics)))
        p = _product(w)
        losses.append(loss_from_product(p, phi))
        margins.append(_margin(p))
    if infos:
        stacked = StepInfo(*(np.stack(f) for f in zip(*infos)))
    else:
        stacked = StepInfo(*(np.zeros((0,) + batch, dtype=bool if k == "projected" else float)
                             for k in StepInfo._fields))
    return MarginTrace(np.stack(losses), np.stack(margins), stacked, w, balancing)


class HalvingResult(NamedTuple):
    """Outcome of :func:`run_halving`, per problem of the batch."""

    status: Array    # "converged", or the status of the last stage ("max_steps", "diverged")
    steps: Array     # total iterations over all stages
    loss: Array      # final loss
    gamma: Array     # the level in force at the end
    halvings: Array  # how many times γ was halved
    layers: Array    # final layers


def run_halving(
    target,
    L: int,
    eta,
    *,
    tol: float,
    max_steps: int,
    gamma0: float = 1.0,
    balancing: str = "svd",
    stall_window: int = 200,
    stall_rtol: float = 1e-3,
    min_gamma: float = 1e-6,
) -> HalvingResult:
    r"""The Result 5 algorithm with a level chosen without knowing γ(Φ): halve γ on a stall.

    Start with γ = ``gamma0`` (1 by default: the theorem never allows more) and run
    :func:`linres.updates.margin_balanced` with :func:`linres.train.run`. Every
    ``stall_window`` steps the run compares the loss with its value a window earlier;
    if it fell by less than a fraction ``stall_rtol`` (a *stall*), γ is halved and the
    run goes on from the current layers. Only the loss is read, never Φ's margin.

    Why this works. If γ > γ(Φ), then Φ ∉ C_γ, every iterate stays in C_γ, and the
    loss cannot go below ½ dist(Φ, C_γ)² = ½ Σ_i (γ − λ_i(sym Φ))₊² > 0, so the
    run must stall and γ is halved. After at most ⌈log₂(γ₀/γ(Φ))⌉ such halvings,
    γ ≤ γ(Φ); from then on the level is one the theorem allows. (A stall with
    γ ≤ γ(Φ), if the loss falls slowly, only halves γ once more: a smaller
    level is still allowed.)

    ``eta`` is one step size for the whole batch (a float), or one per problem.
    Problems with different current levels run in separate groups. Returns a
    :class:`HalvingResult`; ``steps`` counts every iteration of every stage.

    >>> import numpy as np
    >>> phi = np.array([[0.2, 1.0], [-1.0, 0.9]])      # γ(Φ) = 0.2
    >>> r = run_halving(phi, 3, 0.1, tol=1e-10, max_steps=20_000)
    >>> str(r.status), float(r.gamma), int(r.halvings)
    ('converged', 0.125, 3)
    """
    phi = check_target(target)
    L = check_depth(L)
    tol = check_positive(tol, "tolerance tol")
    gamma0 = check_positive(gamma0, "gamma0")
    min_gamma = check_positive(min_gamma, "min_gamma")
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer; got {max_steps!r}")
    if isinstance(stall_window, bool) or not isinstance(stall_window, (int, np.integer)) or stall_window < 1:
        raise ValueError(f"stall_window must be a positive integer; got {stall_window!r}")
    stall_rtol = check_positive(stall_rtol, "stall_rtol")
    batch, d = phi.shape[:-2], phi.shape[-1]
    flat = phi.reshape((-1, d, d))
    n = flat.shape[0]
    eta_all = np.broadcast_to(np.asarray(margin_balanced(eta, 1.0).eta, dtype=float), batch).reshape(n)
    w = identity_layers(L, d, (n,))
    gamma = np.full(n, gamma0)
    halvings = np.zeros(n, dtype=int)
    steps = np.zeros(n, dtype=int)
    loss = loss_from_product(_product(w), flat)
    status = np.full(n, "running", dtype="<U9")
    status[loss <= tol] = "converged"
    while np.any(status == "running"):
        live = np.flatnonzero(status == "running")
        for g in np.unique(gamma[live]):
            idx = live[gamma[live] == g]
            # one call per group, up to the smallest remaining budget; a problem that
            # reaches it with budget left simply goes on in the next round
            limit = int((max_steps - steps[idx]).min())
            res = run(margin_balanced(eta_all[idx], float(g), balancing), w[idx], flat[idx], tol=tol,
                      max_steps=limit, stall_window=stall_window, stall_rtol=stall_rtol)
            st = np.atleast_1d(res.status)
            w[idx] = res.layers
            steps[idx] += np.atleast_1d(res.steps)
            loss[idx] = np.atleast_1d(res.loss)
            stalled = st == "stalled"
            status[idx] = np.where(stalled | (st == "max_steps"), "running", st)
            halve = idx[stalled]
            gamma[halve] /= 2
            halvings[halve] += 1
            status[halve[gamma[halve] < min_gamma]] = "stalled"
        status[(status == "running") & (steps >= max_steps)] = "max_steps"

    def b(a):
        return a.reshape(batch) if batch else a.reshape(())[()]

    return HalvingResult(b(status), b(steps), b(loss), b(gamma), b(halvings), w.reshape(batch + (L, d, d)))


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
