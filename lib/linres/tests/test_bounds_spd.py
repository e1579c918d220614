"""The bounds of book/spd.ipynb (Result 3) against the scalar recurrence they are about."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linres import run_scalar
from linres.bounds import spd


def _spectrum(seed, d, lo=0.05, hi=20.0):
    r = np.random.default_rng(seed)
    return np.exp(r.uniform(np.log(lo), np.log(hi), size=d))


def _trajectory(phi, L, eta, steps):
    """z_0..z_steps of the recurrence, straight from its definition."""
    z = np.ones_like(phi)
    out = [z]
    for _ in range(steps):
        z = z - eta * z ** (L - 1) * (z**L - phi)
        out.append(z)
    return np.array(out)


@given(seed=st.integers(0, 2**31), L=st.integers(1, 40), d=st.integers(1, 5), u=st.floats(0.05, 1.0))
def test_theorem_parts_1_to_3_along_the_trajectory(seed, L, d, u):
    phi = _spectrum(seed, d)
    eta = u * spd.max_step(phi, L)
    zs = _trajectory(phi, L, eta, 300)
    zstar = phi ** (1.0 / L)
    ulp = 1e-14 * np.maximum(1.0, phi)  # rounding allowance: the theorem is about exact arithmetic
    dist = (zs - zstar) * np.sign(1.0 - zstar)  # signed: >= 0 on the starting side
    assert np.all(dist >= -ulp)  # part 1: never passes z*
    q = spd.contraction(phi, L, eta)
    assert np.all(np.abs(dist[1:]) <= q * np.abs(dist[:-1]) + ulp)  # part 2
    a = spd.residual_coefficients(phi, L)
    resid = np.abs(zs**L - phi)
    assert np.all(resid <= a * q ** np.arange(301)[:, None] + L * ulp)  # part 3, per coordinate
    loss = 0.5 * np.sum(resid**2, axis=-1)
    bound = spd.loss_bound(phi, L, np.arange(301), eta)
    np.testing.assert_allclose(bound, 0.5 * np.sum(a**2 * q ** (2 * np.arange(301)[:, None]), axis=-1))
    assert loss[0] <= bound[0] * (1 + 1e-12)
    assert np.all(np.diff(loss) <= 1e-28)  # the loss never increases


@given(seed=st.integers(0, 2**31), L=st.integers(1, 30), d=st.integers(1, 4), k=st.integers(2, 10))
def test_measured_count_below_sharp_below_closed_form(seed, L, d, k):
    phi = _spectrum(seed, d, 0.2, 5.0)
    eps = 10.0 ** (-k)
    eta = spd.proved_step(phi, L)
    sharp = spd.sharp_iterations_bound(phi, L, eps)
    closed = spd.iterations_bound(phi, eps)
    res = run_scalar(phi, L, eta, tol=eps, max_steps=int(sharp) + 5)
    assert res.status == "converged"
    assert res.steps <= sharp <= closed
    # sharp is the least T whose bound is <= eps
    assert spd.loss_bound(phi, L, sharp) <= eps
    if sharp > 0:
        assert spd.loss_bound(phi, L, sharp - 1) > eps


@given(seed=st.integers(0, 2**31), L=st.integers(1, 60), d=st.integers(1, 6))
def test_residual_coefficients_facts(seed, L, d):
    phi = _spectrum(seed, d, 0.01, 100.0)
    a = spd.residual_coefficients(phi, L)
    M, m = spd.scale(phi)
    assert np.all(a <= M * np.log(M / m) * (1 + 1e-12))
    assert np.all(a >= np.abs(1.0 - phi) * (1 - 1e-12))  # a_j bounds the t = 0 residual too
    above = phi > 1
    assert np.all(a[above] <= phi[above] * np.log(phi[above]) * (1 + 1e-12))
    np.testing.assert_allclose(a[~above], 1.0 - phi[~above])


def test_iterations_bound_closed_form_values():
    phi = np.array([0.5, 2.0])
    # M = 2, m = 1/2: T = ceil(8 ln(2·4·ln²4 / (2ε)))
    expect = int(np.ceil(8 * np.log(2 * 4 * np.log(4.0) ** 2 / (2 * 1e-8))))
    assert spd.iterations_bound(phi, 1e-8) == expect == 164
    assert spd.iterations_bound(np.ones(3), 1e-8) == 0  # Φ = I: nothing to do
    assert spd.sharp_iterations_bound(np.ones(3), 5, 1e-8) == 0
    batch = spd.iterations_bound(np.array([[0.5, 2.0], [0.1, 10.0]]), 1e-8)
    assert batch.shape == (2,) and batch[0] == 164
    # the count shrinks as ε grows, and is 0 once ε exceeds the initial bound
    assert spd.iterations_bound(phi, 1e-4) < 164 and spd.iterations_bound(phi, 1e3) == 0


def test_reference_runs_of_the_notes():
    """η = 1/(LM²), ‖Θ_{L:1} − Φ‖_F ≤ 1e-8 (ℓ ≤ 5e-17), d = 2: 127/223/249 steps on {0.5, 2}."""
    phi = np.array([0.5, 2.0])
    got = [run_scalar(phi, L, spd.proved_step(phi, L), tol=5e-17, max_steps=1000).steps for L in (2, 10, 50)]
    assert got == [127, 223, 249]
    assert max(got) <= spd.iterations_bound(phi, 5e-17)
    wide = np.array([0.1, 10.0])
    res = run_scalar(wide, 2, spd.proved_step(wide, 2), tol=5e-17, max_steps=20_000)
    assert res.steps == 16003 <= spd.sharp_iterations_bound(wide, 2, 5e-17) <= spd.iterations_bound(wide, 5e-17)


def test_max_step_is_sharp_and_monitor_sees_overshoot():
    phi = np.array([0.5, 4.0])
    L = 3
    ok, bad = spd.OvershootMonitor(phi, L), spd.OvershootMonitor(phi, L)
    run_scalar(phi, L, spd.max_step(phi, L), tol=1e-12, max_steps=5000, record=ok)
    # at the limit itself the top coordinate lands on z* in one step, up to one rounding
    assert ok.overshoot <= 1e-15 and ok.increase <= 1e-15 and ok.calls > 10
    run_scalar(phi, L, 1.3 * spd.max_step(phi, L), tol=1e-12, max_steps=5000, record=bad)
    assert bad.overshoot > 1e-3
    # at the limit the local factor at the top eigenvalue is exactly 0; beyond it, negative
    assert spd.local_rate(phi, L, spd.max_step(phi, L))[1] < 1e-12
    with pytest.raises(ValueError, match="exceeds"):
        spd.contraction(phi, L, 1.01 * spd.max_step(phi, L))


def test_monitor_batched_shapes():
    phis = np.array([[[0.5, 2.0]], [[0.2, 1.0]]])  # batch (2, 1), d = 2
    mon = spd.OvershootMonitor(phis, 4)
    run_scalar(phis, 4, spd.proved_step(phis, 4), tol=1e-10, max_steps=10_000, record=mon)
    assert mon.overshoot.shape == (2, 1) and np.all(mon.overshoot == 0) and np.all(mon.increase == 0)


def test_epsilon_slope_and_steps_to():
    phi = np.array([0.3, 1.0, 2.5])
    L = 6
    eta = spd.proved_step(phi, L)
    res = run_scalar(phi, L, eta, tol=1e-14, max_steps=100_000)
    eps = np.array([1e-6, 1e-10, 1e-14])
    t = spd.steps_to(res.history_steps, res.history_loss, eps)
    for e, te in zip(eps, t):
        assert run_scalar(phi, L, eta, tol=e, max_steps=100_000).steps == te
    slope = (t[2] - t[1]) / np.log(1e4)
    assert abs(slope / spd.epsilon_slope(phi, L, eta) - 1) < 0.01
    assert spd.steps_to(res.history_steps, res.history_loss, 1e-30) == -1


def test_flow_bound_dominates_gd_bound():
    phi = np.array([0.2, 0.9, 3.0])
    L, eta = 7, 0.5 * spd.max_step(np.array([0.2, 0.9, 3.0]), 7)
    t = np.arange(0, 2000, 50)
    assert np.all(spd.loss_bound(phi, L, t, eta) <= spd.flow_loss_bound(phi, L, eta * t) * (1 + 1e-12))


def test_validation():
    with pytest.raises(ValueError, match="positive"):
        spd.scale(np.array([1.0, -0.5]))
    with pytest.raises(ValueError, match="positive"):
        spd.iterations_bound(np.array([0.0, 1.0]), 1e-8)
    with pytest.raises(ValueError, match="eps"):
        spd.iterations_bound(np.array([0.5, 2.0]), 0.0)
    with pytest.raises(ValueError, match="t must"):
        spd.loss_bound(np.array([0.5]), 2, -1)
    with pytest.raises(TypeError, match="depth"):
        spd.max_step(np.array([0.5]), 2.0)
    with pytest.raises(ValueError, match="shape"):
        spd.scale(np.float64(2.0))
    with pytest.raises(ValueError, match="attracting"):
        spd.epsilon_slope(np.array([4.0]), 2, 10.0)
