"""The book's Result 1 theorem (book/near_identity.ipynb) and the inequalities of its proof."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linres import gd, identity_layers, max_layer_distance, product, run
from linres.bounds import near_identity as ni
from linres.bounds.beyond import det_floor
from linres.targets import sweep_targets


def test_remainder_factor_formula_and_properties():
    x = np.array([0.0, 1e-8, 1e-5, 1e-4, 2e-4, 0.01, 0.5, 2.0, 10.0])
    phi = ni.remainder_factor(x)
    big = x > 1e-3
    np.testing.assert_allclose(phi[big], (np.expm1(x[big]) - x[big]) / x[big], rtol=1e-12)
    # the series branch agrees with the formula across the switch, to rounding
    np.testing.assert_allclose(ni.remainder_factor(1e-4), (np.expm1(1e-4) - 1e-4) / 1e-4, rtol=1e-8)
    assert phi[0] == 0 and np.all(np.diff(phi) > 0)
    assert np.all(phi <= x / 2 * np.exp(x) + 1e-300)
    with pytest.raises(ValueError, match="x >= 0"):
        ni.remainder_factor(-1.0)


def test_corollary_numbers():
    c = ni.COROLLARY
    for L in (1, 2, 3, 8, 64, 4096):
        assert ni.hypotheses_hold(c["delta"], L, c["eta_L"] / L, c["r"])
        assert ni.contraction(c["delta"], L, c["eta_L"] / L, c["r"]) >= c["kappa"]
    # smaller δ and smaller steps stay admissible (κ is decreasing in both)
    assert ni.hypotheses_hold(0.05, 1, 0.1, c["r"]) and ni.hypotheses_hold(0.1, 1, 0.2, c["r"])
    assert not ni.hypotheses_hold(0.11, 1, 0.5, c["r"])


def test_max_distance():
    assert ni.max_distance() == pytest.approx(1 / (3 * np.e))
    vals = ni.max_distance(1, np.array([1e-6, 0.1, 0.5, 0.8]))
    assert np.all(np.diff(vals) < 0) and vals[0] < 1 / (3 * np.e)
    assert vals[0] == pytest.approx(1 / (3 * np.e), rel=1e-4)
    for v, e in zip(vals, (1e-6, 0.1, 0.5, 0.8)):
        assert np.isfinite(ni.radius(0.999 * v, 1, e)) and np.isnan(ni.radius(1.001 * v, 1, e))
    assert ni.max_distance(1, 1.0) == 0.0  # ηL = 1 leaves no radius r > 0
    with pytest.raises(ValueError, match="depth L"):
        ni.max_distance(eta=0.1)


@given(delta=st.floats(1e-6, 0.118), eta_L=st.floats(0.01, 0.95))
def test_radius_is_admissible_and_smallest(delta, eta_L):
    r = ni.radius(delta, 1, eta_L)
    if np.isnan(r):
        assert delta > 0.999 * ni.max_distance(1, eta_L)
        return
    assert ni.hypotheses_hold(delta, 1, eta_L, r)
    assert not ni.hypotheses_hold(delta, 1, eta_L, r * (1 - 1e-6))
    # depth enters only through ηL
    assert ni.radius(delta, 7, eta_L / 7) == pytest.approx(r, rel=1e-9)


def test_radius_edge_cases_and_broadcasting():
    assert ni.radius(0.0, 1, 0.5) == 0.0 and ni.rate(0.0, 1, 0.5) == pytest.approx(0.5)
    assert np.isnan(ni.radius(0.05, 1, 1.2)) and np.isnan(ni.rate(0.2, 1, 0.5))
    r = ni.radius(np.array([[0.01], [0.05]]), 1, np.array([0.1, 0.5]))
    assert r.shape == (2, 2) and np.all(np.isfinite(r))
    with pytest.raises(ValueError, match="delta"):
        ni.radius(-0.1, 1, 0.5)
    with pytest.raises(ValueError, match="step size"):
        ni.radius(0.1, 1, 0.0)
    with pytest.raises(TypeError, match="depth L"):
        ni.radius(0.1, 2.5, 0.1)


@given(delta=st.floats(1e-4, 0.1), eta_L=st.floats(0.05, 0.8), eps=st.floats(1e-20, 1e-4))
def test_iteration_bound_is_the_first_step_below_eps(delta, eta_L, eps):
    T = ni.iteration_bound(delta, 1, eta_L, eps)
    if 0.5 * delta**2 <= eps:
        assert T == 0
        return
    assert ni.loss_bound(delta, 1, eta_L, T) <= eps < ni.loss_bound(delta, 1, eta_L, T - 1)


def test_bounds_broadcast_over_t():
    t = np.arange(5)[:, None]
    b = ni.loss_bound(np.array([0.02, 0.05]), 1, 0.5, t)
    assert b.shape == (5, 2)
    np.testing.assert_allclose(b[0], 0.5 * np.array([0.02, 0.05]) ** 2)
    np.testing.assert_allclose(b[1:] / b[:-1], np.broadcast_to(ni.rate(np.array([0.02, 0.05]), 1, 0.5) ** 2, (4, 2)))
    np.testing.assert_allclose(ni.layer_bound(0.05, 8, 0.5 / 8), ni.radius(0.05, 1, 0.5) / 8)
    with pytest.raises(ValueError, match="step t"):
        ni.error_bound(0.05, 1, 0.5, -1)


@given(seed=st.integers(0, 2**31), L=st.integers(1, 12), d=st.integers(1, 4),
       eta_L=st.floats(0.05, 0.9), frac=st.floats(0.05, 0.999))
def test_theorem_on_gd_runs(seed, L, d, eta_L, frac):
    """The theorem itself: loss and layer movement below the bounds at every step."""
    rng = np.random.default_rng(seed)
    delta = frac * float(ni.max_distance(1, eta_L))
    phis = sweep_targets(d, delta, rng, n_random=2)
    eta = eta_L / L
    res = run(gd(eta), identity_layers(L, d), phis, tol=1e-20, max_steps=400,
              record=lambda W, P: {"move": max_layer_distance(W)})
    t = res.history_steps[:, None]
    live = t <= np.asarray(res.steps)[None, :]
    dl = np.linalg.norm(phis - np.eye(d), axis=(-2, -1))
    bound = ni.loss_bound(dl[None, :], L, eta, t)
    assert np.all(res.history_loss[live] <= bound[live] * (1 + 1e-12))
    assert np.all(res.history["move"][live] <= ni.layer_bound(dl, L, eta)[None, :].repeat(len(t), 0)[live])
    err = np.sqrt(2 * res.history_loss)
    ok = live[1:] & (err[:-1] >= 1e-6)
    assert np.all((err[1:] / err[:-1])[ok] <= np.broadcast_to(ni.rate(dl, L, eta), ok.shape)[ok])


@given(seed=st.integers(0, 2**31), L=st.integers(1, 20), d=st.integers(1, 4),
       r=st.floats(0.001, 1.0), step=st.floats(0.01, 1.0), scale=st.floats(-5, 0.5),
       boundary=st.booleans())
def test_every_inequality_of_the_proof(seed, L, d, r, step, scale, boundary):
    rng = np.random.default_rng(seed)
    layers = ni.sample_region(L, d, r, rng, boundary=boundary)
    E = rng.standard_normal((d, d))
    E *= 10**scale / np.linalg.norm(E)
    eta = step / (L * np.cosh(2 * r))
    for q in ni.step_inequalities(layers, product(layers) - E, eta, r):
        assert q.holds, q


@pytest.mark.parametrize("sign", [1, -1])
def test_step1_bounds_are_attained_by_scaled_identities(sign):
    L, d, r = 6, 3, 0.7
    layers = np.stack([(1 + sign * r / L) * np.eye(d)] * L)
    ineq = {q.name: q for q in ni.step_inequalities(layers, 0.9 * np.eye(d), 0.05, r)}
    name = "upper-partial" if sign > 0 else "lower-partial"
    assert ineq[name].ratio == pytest.approx(1.0, rel=1e-12)


def test_step_inequalities_validation(rng):
    layers = ni.sample_region(4, 2, 0.5, rng)
    with pytest.raises(ValueError, match="outside the region"):
        ni.step_inequalities(layers, np.eye(2), 0.05, 0.1)
    with pytest.raises(ValueError, match="cosh"):
        ni.step_inequalities(layers, np.eye(2), 0.3, 0.5)
    with pytest.raises(ValueError, match="r <= 1"):
        ni.step_inequalities(layers, np.eye(2), 0.01, 1.5)
    with pytest.raises(ValueError, match="one problem"):
        ni.step_inequalities(layers[None], np.eye(2), 0.05, 0.5)


def test_sample_region_and_sweep_targets(rng):
    w = ni.sample_region(5, 3, 0.4, rng, boundary=True)
    np.testing.assert_allclose(np.linalg.norm(w - np.eye(3), ord=2, axis=(-2, -1)), 0.4 / 5)
    assert np.all(np.linalg.norm(ni.sample_region(5, 3, 0.4, rng) - np.eye(3), ord=2, axis=(-2, -1)) <= 0.08 + 1e-15)
    for d in (1, 2, 5):
        t = sweep_targets(d, 0.07, rng, n_random=2)
        assert t.shape == (4 if d == 1 else 5, d, d)
        np.testing.assert_allclose(np.linalg.norm(t - np.eye(d), axis=(-2, -1)), 0.07)
    with pytest.raises(TypeError, match="Generator"):
        sweep_targets(2, 0.1, 3)
    with pytest.raises(ValueError, match="dimension"):
        ni.sample_region(2, 0, 0.1, rng)


def test_bad_input_is_refused_with_the_argument_named():
    for call, exc, name in [
        (lambda: ni.loss_bound(0.05 + 0j, 2, 0.1, 3), TypeError, "delta"),
        (lambda: ni.loss_bound(0.05, 0, 0.1, 3), ValueError, "depth L"),
        (lambda: ni.loss_bound(0.05, True, 0.1, 3), TypeError, "depth L"),
        (lambda: ni.loss_bound(0.05, 2.0, 0.1, 3), TypeError, "depth L"),
        (lambda: ni.loss_bound(0.05, 2, np.inf, 3), ValueError, "step size eta"),
        (lambda: ni.loss_bound(0.05, 2, -0.1, 3), ValueError, "step size eta"),
        (lambda: ni.loss_bound(0.05, 2, 0.1, np.nan), ValueError, "step t"),
        (lambda: ni.loss_bound(0.05, 2, 0.1, "a"), TypeError, "step t"),
        (lambda: ni.iteration_bound(0.05, 2, 0.1, 0.0), ValueError, "eps"),
        (lambda: ni.iteration_bound(0.05, 2, 0.1, 1j), TypeError, "eps"),
        (lambda: ni.rate(np.nan, 2, 0.1), ValueError, "delta"),
        (lambda: ni.contraction(0.05, 2, 0.1, None), TypeError, "radius r"),
        (lambda: ni.hypotheses_hold(0.05, 2, 0.1, 1j), TypeError, "radius r"),
        (lambda: ni.remainder_factor(-1.0), ValueError, "x"),
        (lambda: ni.max_distance(2), ValueError, "eta"),
        (lambda: ni.step_inequalities(np.eye(2)[None] + 0j, np.eye(2), 0.1, 0.1), TypeError, "layers"),
        (lambda: ni.step_inequalities(np.eye(2)[None], np.eye(2), 0.0, 0.1), ValueError, "step size eta"),
        (lambda: ni.sample_region(2, 2, 0.1, np.random.default_rng(0), boundary=1), TypeError, "boundary"),
        (lambda: ni.sample_region(2, 2.5, 0.1, np.random.default_rng(0)), TypeError, "dimension"),
        (lambda: sweep_targets(2, 0.1 + 1j, np.random.default_rng(0)), TypeError, "delta"),
        (lambda: sweep_targets(2, 0.1, np.random.default_rng(0), n_random=-1), ValueError, "n_random"),
    ]:
        with pytest.raises(exc, match=name):
            call()


@given(seed=st.integers(0, 2**31), d=st.integers(2, 4))
def test_determinant_barrier(seed, d):
    """If det Φ < 0 and det A ≥ 0 then ½‖A − Φ‖² ≥ ½σ_min(Φ)², attained by a singular A."""
    rng = np.random.default_rng(seed)
    phi = rng.standard_normal((d, d))
    if np.linalg.det(phi) > 0:
        phi[0] *= -1
    floor = det_floor(phi)
    u, s, vt = np.linalg.svd(phi)
    nearest = phi - s[-1] * np.outer(u[:, -1], vt[-1])  # Eckart–Young: singular, at distance σ_min
    assert abs(np.linalg.det(nearest)) < 1e-8 * max(1.0, np.prod(s[:-1]))
    assert 0.5 * np.linalg.norm(nearest - phi) ** 2 == pytest.approx(floor, rel=1e-10)
    for _ in range(50):
        a = phi + rng.standard_normal((d, d)) * rng.uniform(0.01, 3)
        if np.linalg.det(a) >= 0:
            assert 0.5 * np.linalg.norm(a - phi) ** 2 >= floor * (1 - 1e-12)
