"""The compiled kernels against the numpy reference (same statuses, steps, histories; states ≤ 1e-12)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linres
from linres import OrthogonalityPenalty, WeightDecay, gd, identity_layers, run, run_scalar
from linres.engine import dispatch as _kernels
from linres.engine.arith import ipow, underflow_floor
from linres.targets import near_identity, symmetric_with_negative, witness

pytestmark = pytest.mark.skipif(not _kernels.numba_available(), reason="numba is not installed")


def both(fn, *args, **kwargs):
    old = _kernels.set_backend("numpy")
    try:
        ref = fn(*args, **kwargs)
        _kernels.set_backend("numba")
        fast = fn(*args, **kwargs)
    finally:
        _kernels.set_backend(old)
    return ref, fast


def assert_same(ref, fast, state, atol=1e-12, exact=False):
    np.testing.assert_array_equal(np.asarray(ref.status), np.asarray(fast.status))
    np.testing.assert_array_equal(ref.steps, fast.steps)
    np.testing.assert_array_equal(ref.history_steps, fast.history_steps)
    assert set(ref.history) == set(fast.history)
    if exact:
        np.testing.assert_array_equal(getattr(ref, state), getattr(fast, state))
        np.testing.assert_array_equal(ref.history_loss, fast.history_loss)
        np.testing.assert_array_equal(ref.loss, fast.loss)
        for k in ref.history:
            np.testing.assert_array_equal(ref.history[k], fast.history[k])
    else:
        np.testing.assert_allclose(getattr(fast, state), getattr(ref, state), rtol=0, atol=atol)
        np.testing.assert_allclose(fast.history_loss, ref.history_loss, rtol=1e-10, atol=atol)
        np.testing.assert_allclose(fast.loss, ref.loss, rtol=1e-10, atol=atol)
        for k in ref.history:
            np.testing.assert_allclose(fast.history[k], ref.history[k], rtol=0, atol=atol)


# --- scalar recurrence: bit-for-bit ------------------------------------------------------------

@given(seed=st.integers(0, 10_000), L=st.sampled_from([1, 2, 3, 4, 7, 16, 17, 40]), d=st.sampled_from([1, 2, 3, 5, 8, 9, 17]),
       n=st.integers(1, 70), record_every=st.sampled_from([1, 7, 100]),
       stall=st.sampled_from([None, 50]), pen=st.sampled_from([None, "wd", "orth"]))
def test_scalar_kernel_is_bit_identical(seed, L, d, n, record_every, stall, pen):
    r = np.random.default_rng(seed)
    phi = r.uniform(-1.0, 3.0, size=(n, d))
    eta = r.uniform(0.05, 1.2, size=n) / (L * 9.0)
    penalty = {None: None, "wd": WeightDecay(0.1), "orth": OrthogonalityPenalty(0.1)}[pen]
    ref, fast = both(run_scalar, phi, L, eta, penalty=penalty, tol=1e-9, max_steps=600,
                     record_every=record_every, stall_window=stall, stall_rtol=1e-6)
    assert_same(ref, fast, "z", exact=True)


def test_scalar_kernel_statuses_and_callbacks():
    # every status in one batch, a record callback, a scalar step size and batch shape (2, 3)
    phi = np.array([[[2.0], [0.5], [-1.0]], [[50.0], [1.0], [0.8]]])
    rec = lambda z, p: {"z": z.copy(), "top": z.max(axis=1)}  # noqa: E731
    ref, fast = both(run_scalar, phi, 4, 0.05, tol=1e-10, max_steps=3000, record_every=40,
                     record=rec, stall_window=200, stall_rtol=1e-3, blowup=1e3)
    assert set(np.unique(ref.status)) >= {"converged", "stalled", "diverged"}
    assert_same(ref, fast, "z", exact=True)
    assert ref.history["z"].shape == (len(ref.history_steps), 2, 3, 1)


@pytest.mark.parametrize("max_steps", [0, 1, 2, 13])
@pytest.mark.parametrize("record", [False, True])
def test_scalar_kernel_edges(max_steps, record):
    phi = np.linspace(0.3, 2.0, 6).reshape(3, 2)
    cb = (lambda z, p: {"s": z.sum(axis=1)}) if record else None
    ref, fast = both(run_scalar, phi, 3, 0.1, tol=1e-12, max_steps=max_steps, record_every=3, record=cb)
    assert_same(ref, fast, "z", exact=True)
    one_ref, one_fast = both(run_scalar, np.array([0.5]), 2, 0.2, max_steps=max_steps)
    assert_same(one_ref, one_fast, "z", exact=True)
    assert isinstance(one_fast.status, str) and isinstance(one_fast.steps, int)


def test_scalar_kernel_wide_spectra_use_numpy_summation_order():
    r = np.random.default_rng(3)
    for d in (8, 64, 129, 300):
        phi = r.uniform(0.1, 2.0, size=(2, d))
        ref, fast = both(run_scalar, phi, 5, 0.02, tol=1e-10, max_steps=300, record_every=10)
        assert_same(ref, fast, "z", exact=True)


def test_underflow_guard_is_harmless_and_identical():
    # z^{L-1} would be subnormal here: z0 = 0.004, L = 128, a negative eigenvalue.
    phi = np.array([[-1.0], [-0.5], [0.7]])
    ref, fast = both(run_scalar, phi, 128, 1e-3, z0=0.004, tol=1e-12, max_steps=500)
    assert_same(ref, fast, "z", exact=True)
    # the guard drops only terms far below an ulp: exact powers give the same z
    z = np.array([0.004, -0.0039, 1e-200])
    assert np.all(np.abs(z[:2]) < underflow_floor(128))
    exact = z - 1e-3 * z**127 * (z**128 - phi[:, 0])
    np.testing.assert_array_equal(linres.scalar_step(z, phi[:, 0], 128, 1e-3), exact)


@pytest.mark.parametrize("L", [64, 1100])
def test_scalar_kernel_deep_networks(L):
    # beyond the unrolled depths, one kernel per bit length of L − 1 (numba caps tuples at 1000)
    phi = np.random.default_rng(L).uniform(0.5, 2.0, size=(40, 2))
    ref, fast = both(run_scalar, phi, L, 0.1 / (4 * L), tol=1e-8, max_steps=2000, record_every=50)
    assert_same(ref, fast, "z", exact=True)


def test_ipow_matches_power():
    x = np.random.default_rng(0).uniform(-2, 2, 1000)
    for e in range(0, 70):
        np.testing.assert_allclose(ipow(x, e), x**e, rtol=1e-14, atol=0)


# --- full-matrix GD: agreement to rounding -----------------------------------------------------

@given(seed=st.integers(0, 10_000), L=st.integers(1, 12), d=st.sampled_from([1, 2, 3, 4, 6, 12, 16]),
       n=st.integers(1, 5), record_every=st.sampled_from([1, 9]), stall=st.sampled_from([None, 40]))
def test_gd_kernel_matches_reference(seed, L, d, n, record_every, stall):
    r = np.random.default_rng(seed)
    phi = np.stack([near_identity(d, 0.4, r) for _ in range(n)])
    eta = r.uniform(0.2, 0.8, size=n) / L
    w0 = identity_layers(L, d, (n,)) + 0.01 * r.standard_normal((n, L, d, d))
    ref, fast = both(run, gd(eta), w0, phi, tol=1e-9, max_steps=400, record_every=record_every,
                     stall_window=stall, stall_rtol=1e-3)
    assert_same(ref, fast, "layers")
    assert fast.rule == "gd"


def test_gd_kernel_statuses_callbacks_and_broadcasting():
    # one target broadcast over a batch of step sizes: converged, diverged, max_steps
    phi = near_identity(3, 0.3, np.random.default_rng(1))
    etas = np.array([[0.1, 3.0], [0.001, 0.05]])
    rec = lambda W, P: {"dist": np.abs(W - np.eye(3)).max(axis=(1, 2, 3))}  # noqa: E731
    ref, fast = both(run, gd(etas), identity_layers(4, 3, (2, 2)), phi, tol=1e-10, max_steps=500,
                     record_every=25, record=rec)
    assert set(np.unique(ref.status)) == {"converged", "diverged", "max_steps"}
    assert_same(ref, fast, "layers")
    # the stall of the witness target
    ref, fast = both(run, gd(0.1), identity_layers(4, 2), witness(2, 0.5), max_steps=20_000,
                     stall_window=500, stall_rtol=1e-6)
    assert ref.status == "stalled"
    assert_same(ref, fast, "layers")


def test_gd_kernel_negative_eigenvalue_short_run():
    phi = symmetric_with_negative([-0.5], [0.7, 1.3], np.random.default_rng(2))
    ref, fast = both(run, gd(0.05), identity_layers(6, 3), phi, tol=1e-12, max_steps=300)
    assert_same(ref, fast, "layers")


def test_other_rules_and_penalties_fall_back_to_numpy():
    phi = near_identity(2, 0.2, np.random.default_rng(0))
    rule = linres.penalized_gd(0.1, WeightDecay(0.1))
    ref, fast = both(run, rule, identity_layers(3, 2), phi, max_steps=50)
    assert_same(ref, fast, "layers", exact=True)

    class Custom:  # any object with the three methods is a penalty
        def value(self, w):
            return 0.0

        def grad(self, w):
            return 0 * w

        def scalar_grad(self, z):
            return 0.1 * z

    ref, fast = both(run_scalar, np.array([0.5, 2.0]), 3, 0.1, penalty=Custom(), max_steps=50)
    assert_same(ref, fast, "z", exact=True)


def test_backend_selection():
    old = _kernels.get_backend()
    try:
        assert _kernels.set_backend("numpy") == old
        assert _kernels.get_backend() == "numpy"
        with pytest.raises(ValueError, match="backend"):
            _kernels.set_backend("cuda")
    finally:
        _kernels.set_backend(old)


def test_parameters_put_each_value_at_its_kernel_index():
    pytest.importorskip("numba")
    from linres.engine import StopRule, compiled_module
    from linres.engine.driver import parameters
    K = compiled_module()
    stop = StopRule(tol=1e-7, max_steps=123, record_every=5, blowup=1e6, stall_window=9, stall_rtol=1e-4)
    fp, ip = parameters(stop, True, 0.25, 1e-200, 2)
    assert (fp[K.F_TOL], fp[K.F_BLOWUP], fp[K.F_STALL_RTOL], fp[K.F_KAPPA], fp[K.F_ZMIN]) == (1e-7, 1e6, 1e-4, 0.25, 1e-200)
    assert (ip[K.I_STALL_W], ip[K.I_MAX_STEPS], ip[K.I_REC], ip[K.I_SNAP], ip[K.I_PEN]) == (9, 123, 5, 1, 2)
    assert ip[K.I_T0] == ip[K.I_T1] == ip[K.I_J0] == 0 and fp.shape == (5,) and ip.shape == (8,)
