"""Every regime of the dispatcher × both backends: same statuses, steps and records, numbers ≤ 1e-12.

Each case runs once on the reference loop (``backend="numpy"``) and once on the compiled
path, after checking that the dispatcher does pick the regime the case is named after. The
scalar kernel promises bit-for-bit equality, and is held to it. Under ``NUMBA_DISABLE_JIT=1``
the kernels run as Python, so coverage sees them; the cases are kept small for that.
"""
import numpy as np
import pytest

import linres
from linres import OrthogonalityPenalty, WeightDecay, gd, identity_layers, run, run_scalar
from linres.engine import dispatch, driver
from linres.normal import run_normal

pytestmark = pytest.mark.skipif(not dispatch.numba_available(), reason="numba is not installed")


def both(fn, *args, **kwargs):
    old = dispatch.set_backend("numpy")
    try:
        ref = fn(*args, **kwargs)
        dispatch.set_backend("numba")
        fast = fn(*args, **kwargs)
    finally:
        dispatch.set_backend(old)
    return ref, fast


def assert_conform(ref, fast, exact=False, atol=1e-12):
    np.testing.assert_array_equal(np.asarray(ref.status), np.asarray(fast.status))
    np.testing.assert_array_equal(ref.steps, fast.steps)
    np.testing.assert_array_equal(ref.history_steps, fast.history_steps)
    assert set(ref.history) == set(fast.history)
    pairs = [(ref.state, fast.state), (ref.loss, fast.loss), (ref.history_loss, fast.history_loss)]
    pairs += [(ref.history[k], fast.history[k]) for k in ref.history]
    for a, b in pairs:
        assert np.shape(a) == np.shape(b)
        if exact:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=atol)


def _targets(rng, n, d, spread=0.6):
    return np.eye(d) + spread * rng.standard_normal((n, d, d)) / np.sqrt(d)


def _etas(rng, n, L, diverge=0):
    eta = rng.uniform(0.1, 0.5, n) / L
    eta[:diverge] = 5.0  # these problems blow up
    return eta


# (name, L, d, n): the regime the dispatcher must choose for plain gd
MATRIX_CASES = [
    ("gd_lanes", 2, 2, 11),       # a batch of ≥ 8 small problems: SIMD lanes (a partial second block)
    ("gd_lanes", 3, 5, 8),
    ("gd_lanes", 24, 2, 9),       # deep L
    ("gd_loops", 2, 3, 3),        # too few problems for the lanes: one at a time
    ("gd_loops", 3, 9, 2),        # too wide for the lanes, too narrow for BLAS
    ("gd_blas", 2, 12, 2),        # BLAS from d = 12 on
    ("gd_blas", 5, 13, 1),
    ("scalar", 3, 1, 10),         # d = 1 from equal layers: the scalar kernel
    ("scalar", 20, 1, 3),         # ... deep, beyond the unrolled powers
]


@pytest.mark.parametrize("plan, L, d, n", MATRIX_CASES)
@pytest.mark.parametrize("options", [
    dict(tol=1e-9, max_steps=60, record_every=1),
    dict(tol=1e-9, max_steps=80, record_every=7, stall_window=10, stall_rtol=0.05),
])
def test_run_conforms(plan, L, d, n, options):
    rng = np.random.default_rng(L * 100 + d * 10 + n)
    assert dispatch.plan_layers("gd", n, L, d, equal_layers=True, backend="numba") == plan
    phi = _targets(rng, n, d)
    phi[0] = np.eye(d) * 1.01  # one converges fast
    eta = _etas(rng, n, L, diverge=1 if n > 2 else 0)
    ref, fast = both(run, gd(eta), identity_layers(L, d, (n,)), phi, monitors=("det", "margin"), **options)
    assert_conform(ref, fast)
    if n > 2:
        assert {"converged", "diverged"} <= set(np.asarray(ref.status))


@pytest.mark.parametrize("plan, L, d, n", [c for c in MATRIX_CASES if c[0] != "scalar"])
def test_run_conforms_from_any_start_with_callback_and_small_blocks(plan, L, d, n, monkeypatch):
    """Non-identity layers, a record callback and history blocks of a few rows (many kernel calls)."""
    monkeypatch.setattr(driver, "ROWS_BUDGET", 3 * n * (1 + L * d * d))
    rng = np.random.default_rng(7)
    w0 = identity_layers(L, d, (n,)) + 0.05 * rng.standard_normal((n, L, d, d))
    phi = _targets(rng, n, d, 0.3)
    rec = lambda W, P: {"p00": linres.product(W)[:, 0, 0]}  # noqa: E731
    ref, fast = both(run, gd(0.2 / L), w0, phi, tol=1e-10, max_steps=40, record_every=2, record=rec)
    assert_conform(ref, fast)
    assert ref.history["p00"].shape == (len(ref.history_steps), n)


@pytest.mark.parametrize("L", [1, 2, 3, 7, 16, 17, 40])
@pytest.mark.parametrize("pen", [None, WeightDecay(0.1), OrthogonalityPenalty(0.1)])
def test_run_scalar_is_bit_identical(L, pen):
    rng = np.random.default_rng(L)
    n, d = 37, 3  # a full block of 32 lanes and a partial one
    phi = rng.uniform(-1.0, 3.0, (n, d))
    eta = rng.uniform(0.05, 1.0, n) / (L * 3.0)
    eta[:2] = 50.0  # diverge
    assert dispatch.plan_spectrum(pen, n, backend="numba") == "scalar"
    ref, fast = both(run_scalar, phi, L, eta, penalty=pen, tol=1e-9, max_steps=70, record_every=3,
                     stall_window=20, stall_rtol=1e-3, monitors=("z",))
    assert_conform(ref, fast, exact=True)
    assert "diverged" in set(np.asarray(ref.status))


def test_run_scalar_wide_spectrum_uses_numpys_pairwise_sum():
    rng = np.random.default_rng(3)
    phi = rng.uniform(0.5, 2.0, (5, 200))  # d ≥ 8: pairwise summation, > 128: recursive
    ref, fast = both(run_scalar, phi, 3, 0.05, tol=1e-12, max_steps=30, record=lambda z, p: {"z0": z[:, 0]})
    assert_conform(ref, fast, exact=True)


def test_run_scalar_tiny_coordinates_are_flushed_alike():
    phi = np.array([[0.0, 1e-300, 2.0]])
    ref, fast = both(run_scalar, phi, 5, 0.05, tol=1e-300, max_steps=200)
    assert_conform(ref, fast, exact=True)


def test_run_normal_is_the_reference_on_both_backends():
    phi = np.array([[np.exp(0.5j), np.exp(-0.5j)], [-1.0 + 0j, 2.0 + 0j]])
    assert dispatch.plan_spectrum(None, 0, backend="numba") == "reference"
    ref, fast = both(run_normal, phi, 3, 0.1, tol=1e-12, max_steps=300, record_every=10, monitors=("z",))
    assert_conform(ref, fast, exact=True)
    # for a real spectrum it is the scalar recurrence
    real = run_scalar(phi.real[1:], 3, 0.1, tol=1e-12, max_steps=300)
    norm = run_normal(phi[1:], 3, 0.1, tol=1e-12, max_steps=300)
    np.testing.assert_allclose(norm.z.real, real.z, atol=1e-12)
    np.testing.assert_array_equal(norm.status, real.status)


def test_other_rules_and_penalties_use_the_reference():
    class MyPenalty(WeightDecay):  # inherits the math declaration, but may change the math: no kernel
        pass

    assert dispatch.penalty_code(MyPenalty(0.1)) is None
    assert dispatch.plan_spectrum(MyPenalty(0.1), 5, backend="numba") == "reference"
    assert dispatch.plan_layers(None, 5, 2, 2, True, backend="numba") == "reference"
    assert dispatch.plan_layers("gd", 5, 2, 2, True, backend="numpy") == "reference"
    assert dispatch.LANES_MIN_BATCH == __import__("linres.engine.compiled").engine.compiled.GD_LANES
    phi = np.array([[1.5, 0.5]])
    a = run_scalar(phi, 3, 0.1, penalty=MyPenalty(0.1), max_steps=50)
    b = run_scalar(phi, 3, 0.1, penalty=WeightDecay(0.1), max_steps=50)
    np.testing.assert_array_equal(a.z, b.z)


def test_empty_batches_return_empty_results():
    for backend in ("numpy", "numba"):
        old = dispatch.set_backend(backend)
        try:
            r = run(gd(0.1), identity_layers(2, 2, (0,)), np.eye(2))
            assert r.layers.shape == (0, 2, 2, 2) and r.status.shape == (0,) and r.history_loss.shape[1:] == (0,)
            s = run_scalar(np.zeros((0, 2)), 2, 0.1, monitors=("z",))
            assert s.z.shape == (0, 2) and s.steps.shape == (0,)
            q = run_normal(np.zeros((0, 2), dtype=complex), 2, 0.1)
            assert q.z.shape == (0, 2)
        finally:
            dispatch.set_backend(old)
