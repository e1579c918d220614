"""The lean path of ``run`` gives exactly the Result of the general one.

A run that fits one kernel call (the common case) skips work that only longer or more
general runs need: its block of recorded rows is the history (no copy), the stopping rule
is validated once per distinct options, and a rule whose ``init`` is the identity is not
called. Each case here runs three ways on the compiled backend: as it is, split into many
kernel calls (a tiny ``ROWS_BUDGET``), and with a copying ``init`` (the general path for
the starting layers). The three Results must be equal bit for bit, statuses and history
included.
"""
import numpy as np
import pytest

from linres import gd, identity_layers, run
from linres.engine import dispatch, driver

pytestmark = pytest.mark.skipif(not dispatch.numba_available(), reason="numba is not installed")


def assert_same(a, b):
    assert type(a.loss) is type(b.loss) and type(a.status) is type(b.status) and type(a.steps) is type(b.steps)
    for name in ("state", "loss", "status", "steps", "history_steps", "history_loss"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.shape(x) == np.shape(y) and np.asarray(x).dtype == np.asarray(y).dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.history.keys() == b.history.keys()
    for k in a.history:
        np.testing.assert_array_equal(a.history[k], b.history[k], err_msg=k)
    assert a.rule == b.rule


# (plan, L, d, batch): the kernel the dispatcher must pick, and the problems
CASES = [
    ("gd_loops", 2, 2, ()),      # the benchmark's single problem
    ("gd_loops", 3, 3, (2,)),
    ("gd_lanes", 2, 2, (3, 4)),  # a batch of 12 problems in lanes
    ("gd_blas", 2, 12, ()),
    ("scalar", 2, 1, (9,)),      # d = 1 from equal layers
]
OPTIONS = [
    dict(tol=1e-9, max_steps=60),                                      # every step recorded
    dict(tol=1e-9, max_steps=83, record_every=10),                     # last steps not recorded
    dict(tol=1e-300, max_steps=0),                                     # only step 0
    dict(tol=1e-9, max_steps=90, record_every=4, stall_window=6, stall_rtol=0.2, monitors=("det",)),
]


@pytest.mark.parametrize("plan, L, d, batch", CASES)
@pytest.mark.parametrize("options", OPTIONS)
def test_one_call_equals_many_calls_and_the_general_init(plan, L, d, batch, options, monkeypatch):
    n = int(np.prod(batch, dtype=int))
    assert dispatch.plan_layers("gd", n, L, d, equal_layers=True, backend="numba") == plan
    rng = np.random.default_rng(L * 100 + d * 10 + n)
    phi = np.eye(d) + 0.5 * rng.standard_normal(batch + (d, d)) / np.sqrt(d)
    eta = rng.uniform(0.1, 0.5, batch) / L if batch else 0.3 / L
    if n > 2:
        eta.flat[0] = 5.0  # diverges
        phi[(0,) * len(batch)][:] = np.eye(d) * 1.01  # converges fast
    layers = identity_layers(L, d, batch)
    rule = gd(eta)
    old = dispatch.set_backend("numba")
    try:
        lean = run(rule, layers, phi, **options)
        general_init = run(rule._replace(init=lambda W, P: W * 1.0), layers, phi, **options)
        monkeypatch.setattr(driver, "ROWS_BUDGET", 2 * max(n, 1))  # two rows (or one, with states) per call
        many_calls = run(rule, layers, phi, **options)
    finally:
        dispatch.set_backend(old)
    assert_same(lean, general_init)
    assert_same(lean, many_calls)
    if n > 2 and options["max_steps"]:
        assert {"converged", "diverged"} <= set(np.asarray(lean.status).ravel())
