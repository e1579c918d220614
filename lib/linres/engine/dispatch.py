r"""Which loop runs a call, decided in one place.

Backends. ``"numpy"`` always runs the reference loop (:mod:`linres.engine.reference`);
``"numba"`` insists on numba and runs a compiled kernel (:mod:`linres.engine.compiled`)
wherever one applies; ``"auto"`` (the default) does the same when numba can be imported.
The environment variable ``LINRES_BACKEND`` sets the default at import; :func:`set_backend`
changes it.

What each backend promises. Both apply the same stopping rules in the same order
(:mod:`linres.engine.contract`). The scalar kernel performs the reference's floating-point
operations in the reference's order, so on one machine its results are bit for bit those of
the numpy path. The matrix kernels sum the products in a different order from numpy's
matmul and BLAS, so each step agrees to rounding (about 1e-16 relative), and
``tests/test_conformance.py`` checks 1e-12 on every regime. Rounding differences are not
always harmless: they are amplified where the trajectory is unstable, most visibly near a
sign change of a layer's determinant (a saddle of the loss), where the two paths can then
converge at different steps (for one 2×2 target with L = 2, 4515 steps against 4492) or
even end in a different status. A count that depends on such a trajectory is a property of
one backend on one machine, not of the mathematics.

Regimes (every threshold lives here):

============================  ===============================================================
call                          kernel
============================  ===============================================================
``run``, rule kernel ``gd``,  ``scalar_chunk`` when d = 1 and all layers are equal (the scalar
d = 1                         recurrence, exact for that start), else as below
d ≥ ``BLAS_MIN_D``            ``gd_chunk`` with BLAS products, one problem at a time
d ≤ ``LANES_MAX_D`` and       ``gd_chunk_lanes``, ``LANES_MIN_BATCH`` problems per SIMD vector,
n ≥ ``LANES_MIN_BATCH``       specialised per d
other                         ``gd_chunk`` by loops, one problem at a time
any other rule                the reference loop
``run_scalar``                ``scalar_chunk`` if the penalty declares kernel code
                              (``scalar_kernel()``), else the reference loop; z^{L−1} is
                              unrolled per L ≤ ``UNROLL_MAX_L``, deeper L share one kernel
                              per bit length of L − 1
``run_normal``                the reference loop (no kernel)
============================  ===============================================================

How a compiled run is driven. A run that records no states (no monitors, no ``record``
callback) and whose loss rows fit ``ROWS_BUDGET`` runs whole in one kernel call, its
bookkeeping built and its history closed in compiled code (``whole_run`` and
``close_history``; for ``gd_chunk`` all three in one call, ``gd_solve``); every other compiled
run goes through :func:`linres.engine.driver.run_chunks`, which hands recorded states to the
monitors between kernel calls. Both give the same Result, bit for bit
(``tests/test_lean_path.py``).

>>> plan_layers("gd", n=100, L=4, d=3, equal_layers=False, backend="numba")
'gd_lanes'
>>> plan_layers("gd", n=1, L=4, d=1, equal_layers=True, backend="numba")
'scalar'
>>> plan_layers(None, n=1, L=4, d=3, equal_layers=True, backend="numba")
'reference'
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from . import compiled_module
from .arith import floor_for, ipow
from .contract import Array, Result, Status, StopRule
from .driver import control, fits_one_call, parameters, run_chunks
from .monitors import LAYER_MONITORS, SPECTRUM_MONITORS, evaluate
from .reference import loop

__all__ = ["BACKENDS", "get_backend", "set_backend", "numba_available", "plan_layers", "plan_spectrum"]

#: The backend settings accepted by :func:`set_backend` and ``LINRES_BACKEND``.
BACKENDS = ("auto", "numba", "numpy")

BLAS_MIN_D = 12  # from this width on, gd multiplies the d×d blocks with BLAS
LANES_MAX_D = 8  # up to this width, large batches run in SIMD lanes ...
LANES_MIN_BATCH = 8  # ... from this many problems on (the kernel's GD_LANES)
UNROLL_MAX_L = 16  # the scalar kernel unrolls z^{L−1} up to this depth

_backend = os.environ.get("LINRES_BACKEND", "auto").strip().lower() or "auto"
if _backend not in BACKENDS:
    raise ValueError(f"LINRES_BACKEND must be one of {BACKENDS}; got {_backend!r}")
_numba_ok: bool | None = None


def set_backend(name: str) -> str:
    """Select the backend for later calls: ``"auto"`` (default), ``"numba"`` or ``"numpy"``.

    Returns the previous setting. ``"numba"`` raises ``ImportError`` if numba cannot be imported.
    """
    global _backend
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a str, one of {BACKENDS}; got {name!r}")
    name = name.strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {name!r}")
    if name == "numba" and not numba_available():  # pragma: no cover - numba is a requirement
        raise ImportError("the numba backend was requested but numba cannot be imported")
    old, _backend = _backend, name
    return old


def get_backend() -> str:
    """The current backend setting (``"auto"``, ``"numba"`` or ``"numpy"``)."""
    return _backend


def numba_available() -> bool:
    """Whether numba can be imported (checked once)."""
    global _numba_ok
    if _numba_ok is None:
        try:
            import numba  # noqa: F401
            _numba_ok = True
        except Exception:  # pragma: no cover - depends on the environment
            _numba_ok = False
    return _numba_ok


def _compiled(backend: str | None) -> bool:
    b = _backend if backend is None else backend
    return b != "numpy" and numba_available()


def _check_n(n) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a number of problems, an integer >= 0; got {n!r}")


def plan_layers(kernel: str | None, n: int, L: int, d: int, equal_layers: bool, backend: str | None = None) -> str:
    """The loop for :func:`linres.train.run`: ``"reference"``, ``"scalar"``, ``"gd_blas"``,
    ``"gd_lanes"`` or ``"gd_loops"`` (see the table above)."""
    _check_n(n)
    for name, v in (("L", L), ("d", d)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
    return _plan(kernel, n, L, d, equal_layers, backend)


def _plan(kernel, n: int, L: int, d: int, equal_layers: bool, backend) -> str:
    # plan_layers without its argument checks, for sizes read off validated arrays
    if kernel != "gd" or n == 0 or not _compiled(backend):
        return "reference"
    if d == 1 and equal_layers:
        return "scalar"
    if d >= BLAS_MIN_D:
        return "gd_blas"
    if d <= LANES_MAX_D and n >= LANES_MIN_BATCH:
        return "gd_lanes"
    return "gd_loops"


def penalty_code(penalty) -> tuple[int, float] | None:
    """(code, κ) of a penalty for the scalar kernel, or None if it declares none.

    A penalty class declares kernel code by defining ``scalar_kernel(self) -> (code, κ)`` in
    its own body (an inherited declaration does not count: a subclass may change the math).
    """
    if penalty is None:
        return 0, 0.0
    if "scalar_kernel" not in type(penalty).__dict__:
        return None
    code, kappa = penalty.scalar_kernel()
    return int(code), float(kappa)


def plan_spectrum(penalty, n: int, backend: str | None = None) -> str:
    """The loop for :func:`linres.scalar.run_scalar`: ``"scalar"`` or ``"reference"``."""
    _check_n(n)
    if penalty is not None and not callable(getattr(penalty, "scalar_grad", None)):
        raise TypeError(f"penalty must be None or a Penalty with scalar_grad; got {penalty!r}")
    if n == 0 or not _compiled(backend) or penalty_code(penalty) is None:
        return "reference"
    return "scalar"


# --- observing recorded states ---------------------------------------------------------------

def observer(names, table, record, to_user: Callable[[Array], Array], T_user: Array):
    """A function mapping recorded states (rows, n, …) to history entries (rows, n, …):
    the named monitors in one vectorised pass, then the ``record`` callback row by row."""
    if not names and record is None:
        return None

    def observe(states: Array, _T) -> dict:
        rows, n = states.shape[:2]
        U = to_user(states.reshape((rows * n,) + states.shape[2:]))
        out = {}
        if names:
            TT = np.broadcast_to(T_user[None], (rows,) + T_user.shape).reshape((rows * n,) + T_user.shape[1:])
            for m, v in evaluate(names, table, U, TT).items():
                out[m] = v.reshape((rows, n) + v.shape[1:])
        if record is not None:
            got: dict[str, list] = {}
            Ur = U.reshape((rows, n) + U.shape[1:])
            for j in range(rows):
                d = record(Ur[j], T_user)
                if not isinstance(d, dict):
                    raise TypeError(f"record must return a dict of arrays; got {type(d).__name__}")
                for k, v in d.items():
                    if k in out and k not in got:
                        raise ValueError(f"record entry {k!r} has the name of a monitor")
                    got.setdefault(k, []).append(np.array(v))
            out.update({k: np.stack(v) for k, v in got.items()})
        return out

    return observe


# --- the three problems ------------------------------------------------------------------------

def solve_layers(rule, W: Array, P: Array, eta, stop: StopRule, monitors=(), record=None, backend=None):
    """Run ``rule`` on flat layers W (n, L, d, d) toward P (n, d, d); W holds the result.

    Returns (final loss, status codes, steps, (history steps, loss rows, {name: rows})).
    """
    n, L, d = W.shape[0], W.shape[1], W.shape[-1]
    W1 = W.reshape((n, L), copy=False) if d == 1 else None  # a view of W (the caller's own copy)
    equal = d == 1 and bool((W1 == W1[:, :1]).all())
    plan = _plan(getattr(rule, "kernel", None), n, L, d, equal, backend)
    ident = lambda S: S  # noqa: E731
    if plan == "reference":
        obs = observer(monitors, LAYER_MONITORS, record, ident, P)
        return loop(W, P, eta, rule.update, _layer_loss, stop, obs)
    eta_arr = _per_problem(eta, n)
    K = compiled_module()
    if plan == "scalar":
        z = np.ascontiguousarray(W[:, 0, :, 0])
        to_layers = lambda zz: np.repeat(zz[:, None, :, None], L, axis=1)  # noqa: E731
        obs = observer(monitors, LAYER_MONITORS, record, to_layers, P)
        out = _scalar(K, z, np.ascontiguousarray(P[:, :, 0]), eta_arr, L, 0, 0.0, stop, obs)
        W1[:] = z  # every layer is the scalar z
        return out
    obs = observer(monitors, LAYER_MONITORS, record, ident, P)
    P, eta_arr = _frozen(np.ascontiguousarray(P)), _frozen(eta_arr)
    # small d as a type (unrolled loops, one compiled kernel per d); else d at run time
    blas = plan == "gd_blas"
    dims = (0,) * d if not blas and d <= LANES_MAX_D else ()
    if plan == "gd_lanes":
        kern = lambda S, Sn, T, e, c: K.gd_chunk_lanes(S, Sn, T, e, dims, c)  # noqa: E731
    elif obs is None and fits_one_call(n, stop):
        # the whole run in one compiled call: most of a short run's cost was the Python around it
        fl, code, steps, hs, hl = K.gd_solve(W, P, eta_arr, blas, dims, *parameters(stop))
        return fl, code, steps, (hs, hl, {})
    else:
        kern = lambda S, Sn, T, e, c: K.gd_chunk(S, Sn, T, e, blas, dims, c)  # noqa: E731
    return run_chunks(W, P, eta_arr, kern, stop, control(n, stop, obs and W.shape), obs)


def _per_problem(eta, n: int) -> Array:
    """The step size of each of n problems, as the kernels read it: a contiguous (n,) array
    (read-only when made here from a number; see :func:`_frozen`)."""
    if isinstance(eta, float):
        out = np.empty(n)
        out.fill(eta)
        out.flags.writeable = False
        return out
    if type(eta) is np.ndarray and eta.shape == (n,) and eta.dtype == float and eta.flags.c_contiguous:
        return eta  # (batch_eta's output: already checked and flattened)
    return np.ascontiguousarray(np.broadcast_to(np.asarray(eta, dtype=float), (n,)))


def _layer_loss(S, T):
    p = S[..., 0, :, :]
    for i in range(1, S.shape[-3]):
        p = S[..., i, :, :] @ p
    e = p - T
    return 0.5 * np.einsum("...ij,...ij->...", e, e)


def _frozen(a: Array) -> Array:
    """A read-only view of a kernel input (targets, step sizes), O(1).

    numba compiles one kernel per writeable flag of each array argument, and these inputs
    arrive either way (``np.broadcast_to`` gives read-only views, a copy is writeable): a
    kernel only reads them, so it always receives them read-only, and a call compiles (or
    loads from the cache) one specialisation instead of up to four.
    """
    if not a.flags.writeable:
        return a
    v = a.view()
    v.flags.writeable = False
    return v


def _scalar(K, z, P, eta_arr, L, pen, kappa, stop, obs, zmin=None):
    e = L - 1
    P, eta_arr = _frozen(P), _frozen(eta_arr)
    # compiled once per L up to UNROLL_MAX_L, then once per bit length of L − 1
    spec = (0.0,) * e if L <= UNROLL_MAX_L else (0,) * e.bit_length()
    zmin = floor_for(L, eta_arr, P) if zmin is None else zmin
    if obs is None and fits_one_call(z.shape[0], stop):
        # the whole run in one kernel call, its bookkeeping built and closed in compiled code
        ctl = K.whole_run(z.shape[0], *parameters(stop, False, kappa, zmin, pen), np.empty((0,) + z.shape))
        K.scalar_chunk(z, np.empty_like(z), P, eta_arr, spec, e, ctl)
        hs, hl = K.close_history(ctl[4], ctl[8], ctl[7], stop.record_every)
        return ctl[8], ctl[6], ctl[7], (hs, hl, {})
    ctl = control(z.shape[0], stop, obs and z.shape, kappa=kappa, zmin=zmin, pen=pen)
    kern = lambda S, Sn, T, et, c: K.scalar_chunk(S, Sn, T, et, spec, e, c)  # noqa: E731
    return run_chunks(z, P, eta_arr, kern, stop, ctl, obs)


def scalar_update(L: int, penalty, zmin: float):
    """The reference step of the scalar recurrence (see :mod:`linres.scalar`)."""
    def update(z, phi, eta):
        e = eta if np.ndim(eta) == 0 else eta[:, None]
        return scalar_step(z, phi, L, e, penalty, zmin)
    return update


def scalar_powers(z, L, zmin):
    """z^{L−1} and the base it was computed from (0 where |z| < zmin)."""
    zb = np.where(np.abs(z) < zmin, 0.0, z) if zmin > 0.0 else z
    return ipow(zb, L - 1), zb


def scalar_loss(z, phi, L, zmin):
    zl1, zb = scalar_powers(z, L, zmin)
    r = zl1 * zb - phi
    return 0.5 * np.sum(r * r, axis=-1)


def scalar_step(z, phi, L, eta, penalty, zmin):
    zl1, zb = scalar_powers(z, L, zmin)
    r = zl1 * zb - phi
    g = zl1 * r
    if penalty is not None:
        g = g + penalty.scalar_grad(z)
    return 0.5 * np.sum(r * r, axis=-1), z - eta * g


def solve_spectrum(z: Array, P: Array, L: int, eta, penalty, stop: StopRule, monitors=(), record=None,
                   backend=None):
    """The scalar recurrence on flat spectra z, P (n, d); z holds the result."""
    n = z.shape[0]
    zmin = floor_for(L, eta, P)
    ident = lambda S: S  # noqa: E731
    obs = observer(monitors, SPECTRUM_MONITORS, record, ident, P)
    if plan_spectrum(penalty, n, backend) == "reference":
        return loop(z, P, eta, scalar_update(L, penalty, zmin), lambda S, T: scalar_loss(S, T, L, zmin), stop, obs)
    pen, kappa = penalty_code(penalty)
    eta_arr = _per_problem(eta, n)
    return _scalar(compiled_module(), z, np.ascontiguousarray(P), eta_arr, L, pen, kappa, stop, obs, zmin)


def normal_step(z, phi, L, eta):
    """The reference step of the complex recurrence (see :mod:`linres.normal`)."""
    zl1 = ipow(np.conj(z), L - 1)
    r = ipow(z, L) - phi
    return 0.5 * np.sum(r.real**2 + r.imag**2, axis=-1), z - eta * zl1 * r


def solve_normal(z: Array, P: Array, L: int, eta, stop: StopRule, monitors=(), record=None):
    """The complex recurrence on flat spectra z, P (n, d); reference loop only."""
    def update(za, pa, ea):
        return normal_step(za, pa, L, ea if np.ndim(ea) == 0 else ea[:, None])

    def loss(S, T):
        r = ipow(S, L) - T
        return 0.5 * np.sum(r.real**2 + r.imag**2, axis=-1)

    obs = observer(monitors, SPECTRUM_MONITORS, record, lambda S: S, P)
    return loop(z, P, eta, update, loss, stop, obs)


def result(out, state: Array, batch: tuple, state_shape: tuple, rule: str = "") -> Result:
    """The caller's :class:`~linres.engine.contract.Result`: every field with the batch shape
    (plain Python values when unbatched)."""
    final_loss, code, steps, (hs, hl, extra) = out
    nrec = len(hs)
    if batch:
        loss, status = final_loss.reshape(batch), Status.names(code).reshape(batch)
        steps = steps.astype(int).reshape(batch)
    else:
        loss, status, steps = float(final_loss[0]), _STATUS_NAMES[code[0]], int(steps[0])
    return Result(
        state=state.reshape(batch + state_shape), loss=loss, status=status, steps=steps,
        history_steps=hs.astype(int, copy=False), history_loss=hl.reshape((nrec,) + batch),
        history={k: v.reshape((nrec,) + batch + v.shape[2:]) for k, v in extra.items()} if extra else {},
        rule=rule,
    )


_STATUS_NAMES = tuple(str(s) for s in Status.names(range(5)))  # by code, for one problem
