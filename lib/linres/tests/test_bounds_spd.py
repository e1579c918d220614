"""The bounds of book/spd.ipynb (Result 3) against the scalar recurrence they are about."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linres import run_scalar
from linres.analysis import first_crossing
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
    bound = spd.loss_bound(phi, L, eta, np.arange(301))
    np.testing.assert_allclose(bound, 0.5 * np.sum(a**2 * q ** (2 * np.arange(301)[:, None]), axis=-1))
    assert loss[0] <= bound[0] * (1 + 1e-12)
    assert np.all(np.diff(loss) <= 1e-28)  # the loss never increases


@given(seed=st.integers(0, 2**31), L=st.integers(1, 30), d=st.integers(1, 4), k=st.integers(2, 10))
def test_measured_count_below_sharp_below_closed_form(seed, L, d, k):
    phi = _spectrum(seed, d, 0.2, 5.0)
    eps = 10.0 ** (-k)
    eta = spd.proved_step(phi, L)
    sharp = spd.sharp_iteration_bound(phi, L, None, eps)
    closed = spd.iteration_bound(phi, eps)
    res = run_scalar(phi, L, eta, tol=eps, max_steps=int(sharp) + 5)
    assert res.status == "converged"
    assert res.steps <= sharp <= closed
    # sharp is the least T whose bound is <= eps
    assert spd.loss_bound(phi, L, None, sharp) <= eps
    if sharp > 0:
        assert spd.loss_bound(phi, L, None, sharp - 1) > eps


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


def test_iteration_bound_closed_form_values():
    phi = np.array([0.5, 2.0])
    # M = 2, m = 1/2: T = ceil(8 ln(2·4·ln²4 / (2ε)))
    expect = int(np.ceil(8 * np.log(2 * 4 * np.log(4.0) ** 2 / (2 * 1e-8))))
    assert spd.iteration_bound(phi, 1e-8) == expect == 164
    assert spd.iteration_bound(np.ones(3), 1e-8) == 0  # Φ = I: nothing to do
    assert spd.sharp_iteration_bound(np.ones(3), 5, None, 1e-8) == 0
    batch = spd.iteration_bound(np.array([[0.5, 2.0], [0.1, 10.0]]), 1e-8)
    assert batch.shape == (2,) and batch[0] == 164
    # the count shrinks as ε grows, and is 0 once ε exceeds the initial bound
    assert spd.iteration_bound(phi, 1e-4) < 164 and spd.iteration_bound(phi, 1e3) == 0


def test_reference_runs_of_the_notes():
    """η = 1/(LM²), ‖Θ_{L:1} − Φ‖_F ≤ 1e-8 (ℓ ≤ 5e-17), d = 2: 127/223/249 steps on {0.5, 2}."""
    phi = np.array([0.5, 2.0])
    got = [run_scalar(phi, L, spd.proved_step(phi, L), tol=5e-17, max_steps=1000).steps for L in (2, 10, 50)]
    assert got == [127, 223, 249]
    assert max(got) <= spd.iteration_bound(phi, 5e-17)
    wide = np.array([0.1, 10.0])
    res = run_scalar(wide, 2, spd.proved_step(wide, 2), tol=5e-17, max_steps=20_000)
    assert res.steps == 16003 <= spd.sharp_iteration_bound(wide, 2, None, 5e-17) <= spd.iteration_bound(wide, 5e-17)


def test_max_step_is_sharp_and_replay_sees_overshoot():
    phi = np.array([0.5, 4.0])
    L = 3
    ok_eta, bad_eta = spd.max_step(phi, L), 1.3 * spd.max_step(phi, L)
    ok = run_scalar(phi, L, ok_eta, tol=1e-12, max_steps=5000)
    bad = run_scalar(phi, L, bad_eta, tol=1e-12, max_steps=5000)
    seen_ok, seen_bad = spd.replay(phi, L, ok_eta, ok.steps), spd.replay(phi, L, bad_eta, bad.steps)
    # the replay reproduces the engine's final state
    np.testing.assert_allclose(seen_ok.z, ok.z, atol=1e-13)
    np.testing.assert_allclose(seen_bad.z, bad.z, atol=1e-13)
    # at the limit itself the top coordinate lands on z* in one step, up to one rounding
    assert seen_ok.overshoot <= 1e-15 and seen_ok.increase <= 1e-15 and ok.steps > 10
    assert seen_bad.overshoot > 1e-3
    # at the limit the local factor at the top eigenvalue is exactly 0; beyond it, negative
    assert spd.local_rate(phi, L, spd.max_step(phi, L))[1] < 1e-12
    with pytest.raises(ValueError, match="exceeds"):
        spd.contraction(phi, L, 1.01 * spd.max_step(phi, L))


@given(L=st.integers(2, 12), c=st.floats(1e-3, 0.95))
def test_no_overshoot_step_is_exact_below_one(L, c):
    """Φ = cI, c < 1: the limit is 1/Σ_{k<L} c^{k/L} (> 1/L); just above it the first step overshoots."""
    phi = np.array([c])
    limit = float(spd.no_overshoot_step(phi, L))
    assert limit == pytest.approx(1.0 / np.sum(c ** (np.arange(L) / L)), rel=1e-12)
    assert 1.0 / L < limit < 1.0
    assert limit > float(spd.max_step(phi, L))
    below = spd.replay(phi, L, 0.999 * limit, 400)
    above = spd.replay(phi, L, 1.001 * limit, 1)
    assert below.overshoot <= 1e-14 and below.increase <= 1e-14
    assert above.overshoot > 0
    # parts 1-3 hold up to the exact limit: the loss bound is valid there
    zs = _trajectory(phi, L, limit, 200)
    loss = 0.5 * (zs[:, 0] ** L - c) ** 2
    assert np.all(loss <= spd.loss_bound(phi, L, limit, np.arange(201)) * (1 + 1e-9) + 1e-30)


def test_no_overshoot_step_matches_max_step_above_one_and_the_issue_example():
    phi = np.array([0.3, 1.0, 2.5])
    assert spd.no_overshoot_step(phi, 4) == pytest.approx(spd.max_step(phi, 4), rel=1e-14)
    # Φ = 0.01·I, L = 5, η = 0.6 = 3/L: converges with no overshoot (980 steps)
    res = run_scalar([0.01], 5, 0.6, tol=1e-8, max_steps=10_000)
    seen = spd.replay([0.01], 5, 0.6, res.steps)
    assert res.converged and res.steps == 980 and seen.overshoot == 0.0


def test_lower_bound_against_runs():
    """prop-spd-lower: above 2/(Lλ_max^a) no convergence; the final slope is ≥ (κ^a − 2)/4."""
    phi = np.array([0.05, 0.4, 2.0])
    for L in (2, 3, 8):
        top = float(spd.stable_step(phi, L))
        with np.errstate(over="ignore", invalid="ignore"):
            res = run_scalar(phi, L, 1.05 * top, tol=1e-10, max_steps=20_000)
        assert not res.converged
        for frac in (0.3, 0.6, 0.95):
            eta = frac * top
            res = run_scalar(phi, L, eta, tol=1e-12, max_steps=2_000_000)
            assert res.converged
            slope = spd.epsilon_slope(phi, L, eta)
            assert slope >= spd.lower_slope(phi, L)
            t = first_crossing(res.history_steps, res.history_loss, 1e-10)
            measured = (res.steps - t) / np.log(100.0)
            assert measured >= spd.lower_slope(phi, L)


def test_replay_batches_depths_and_lengths():
    phis = np.array([[0.5, 2.0], [0.2, 1.0], [3.0, 1.0]])
    Ls = np.array([2, 5, 7])
    eta = spd.proved_step(phis, 7)
    res = [run_scalar(p, int(L), float(eta[k]), tol=1e-10, max_steps=50_000) for k, (p, L) in enumerate(zip(phis, Ls))]
    seen = spd.replay(phis, Ls, eta, np.array([r.steps for r in res]))
    np.testing.assert_allclose(seen.z, np.array([r.z for r in res]), atol=1e-12)
    assert np.all(seen.overshoot == 0) and np.all(seen.increase <= 1e-15)
    with np.errstate(over="ignore"):
        blow = spd.replay([4.0], 3, 10.0, 50)
    assert blow.overshoot == np.inf


def test_epsilon_slope_against_first_crossing():
    phi = np.array([0.3, 1.0, 2.5])
    L = 6
    eta = spd.proved_step(phi, L)
    res = run_scalar(phi, L, eta, tol=1e-14, max_steps=100_000)
    t = [int(first_crossing(res.history_steps, res.history_loss, e)) for e in (1e-6, 1e-10, 1e-14)]
    assert run_scalar(phi, L, eta, tol=1e-10, max_steps=100_000).steps == t[1]
    slope = (t[2] - t[1]) / np.log(1e4)
    assert abs(slope / spd.epsilon_slope(phi, L, eta) - 1) < 0.01


def test_flow_bound_dominates_gd_bound():
    phi = np.array([0.2, 0.9, 3.0])
    L, eta = 7, 0.5 * spd.max_step(np.array([0.2, 0.9, 3.0]), 7)
    t = np.arange(0, 2000, 50)
    assert np.all(spd.loss_bound(phi, L, eta, t) <= spd.flow_loss_bound(phi, L, eta * t) * (1 + 1e-12))


def test_validation():
    with pytest.raises(ValueError, match="positive"):
        spd.scale(np.array([1.0, -0.5]))
    with pytest.raises(ValueError, match="positive"):
        spd.iteration_bound(np.array([0.0, 1.0]), 1e-8)
    with pytest.raises(ValueError, match="eps"):
        spd.iteration_bound(np.array([0.5, 2.0]), 0.0)
    with pytest.raises(ValueError, match="t must"):
        spd.loss_bound(np.array([0.5]), 2, None, -1)
    with pytest.raises(TypeError, match="depth"):
        spd.max_step(np.array([0.5]), 2.0)
    with pytest.raises(ValueError, match="shape"):
        spd.scale(np.float64(2.0))
    with pytest.raises(ValueError, match="attracting"):
        spd.epsilon_slope(np.array([4.0]), 2, 10.0)


@pytest.mark.parametrize("call, exc, word", [
    (lambda: spd.scale(np.array([1.0 + 1j])), TypeError, "phi"),
    (lambda: spd.scale([]), ValueError, "phi"),
    (lambda: spd.scale([np.nan]), ValueError, "phi"),
    (lambda: spd.scale(["a"]), TypeError, "phi"),
    (lambda: spd.max_step([0.5], 0), ValueError, "depth L"),
    (lambda: spd.max_step([0.5], True), TypeError, "depth L"),
    (lambda: spd.no_overshoot_step([0.5], -1), ValueError, "depth L"),
    (lambda: spd.contraction([0.5], 2, -0.1), ValueError, "eta"),
    (lambda: spd.contraction([0.5], 2, np.inf), ValueError, "eta"),
    (lambda: spd.contraction([0.5], 2, 0.1 + 0j), TypeError, "eta"),
    (lambda: spd.contraction([[0.5], [0.6]], 2, [0.1, 0.1, 0.1]), ValueError, "eta"),
    (lambda: spd.loss_bound([0.5], 2, 0.1, np.nan), ValueError, "t"),
    (lambda: spd.flow_loss_bound([0.5], 2, -1.0), ValueError, "tau"),
    (lambda: spd.iteration_bound([0.5], np.nan), ValueError, "eps"),
    (lambda: spd.iteration_bound([0.5], [1e-3, 1e-4]), ValueError, "eps"),
    (lambda: spd.sharp_iteration_bound([0.5], 2, None, -1.0), ValueError, "eps"),
    (lambda: spd.local_rate([0.5], 2, 0.0), ValueError, "eta"),
    (lambda: spd.lower_slope([0.5, -1.0], 2), ValueError, "phi"),
    (lambda: spd.replay([0.5], 2, 0.1, 1.5), TypeError, "steps"),
    (lambda: spd.replay([0.5], 2, 0.1, -1), ValueError, "steps"),
    (lambda: spd.replay([[0.5], [0.5]], [2, 0], 0.1, 3), TypeError, "depth L"),
])
def test_bad_input_is_refused_naming_the_argument(call, exc, word):
    with pytest.raises(exc, match=word):
        call()
