"""Result 2 (book/far_from_identity.ipynb): the witness family and the bounds in linres.bounds.far."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linres import (
    OrthogonalityPenalty, loss, WeightDecay, eigen_reduction, gd, grad, identity_layers, layers_from_scalar,
    penalized_gd, run, run_scalar, scalar_step, symmetric_invariants,
)
from linres.bounds.far import (
    critical_loss_bounds, jump_step, monotone_step, penalized_fixed_point, penalized_plateau,
    plateau_growth_factor, plateau_hessian, plateau_layers, safe_step, iteration_bound, witness_spectrum,
)
from linres.bounds.negative import plateau
from linres.penalties import MaskedWeightDecay
from linres.targets import random_orthogonal, witness

lams = st.floats(0.02, 3.0)
kappas = st.floats(0.0, 3.0)
depths = st.integers(2, 9)
kinds = st.sampled_from([None, WeightDecay, OrthogonalityPenalty])


def _pen(kind, kappa):
    return None if kind is None else kind(kappa)


def _trajectory(lam, L, eta, penalty, steps):
    z, zs = np.array([1.0]), []
    for _ in range(steps):
        z = scalar_step(z, np.array([-lam]), L, eta, penalty)
        zs.append(z[0])
    return np.array(zs)


@given(lam=lams, L=depths, kind=kinds, kappa=kappas, frac=st.floats(0.05, 1.0))
def test_safe_step_keeps_z_in_unit_interval_and_loss_above_plateau(lam, L, kind, kappa, frac):
    pen = _pen(kind, kappa)
    eta = frac * float(safe_step(lam, pen))
    zs = _trajectory(lam, L, eta, pen, 150)
    assert np.all(zs >= 0.0) and np.all(zs <= 1.0)
    assert np.all(0.5 * (zs**L + lam) ** 2 >= 0.5 * lam**2)


@given(lam=lams, L=st.sampled_from([2, 4, 6, 8]), kind=kinds, kappa=kappas, eta=st.floats(0.01, 5.0))
def test_even_depth_never_beats_the_plateau(lam, L, kind, kappa, eta):
    pen = _pen(kind, kappa)
    res = run_scalar(witness_spectrum(lam, 3), L, eta, penalty=pen, tol=1e-30, max_steps=100)
    assert np.all(res.history_loss >= plateau(witness_spectrum(lam, 3)))


@given(lam=lams, L=depths, kind=st.sampled_from([WeightDecay, OrthogonalityPenalty]), kappa=st.floats(0.0, 2.0))
def test_fixed_point_is_a_zero_in_unit_interval(lam, L, kind, kappa):
    pen = kind(kappa)
    z = float(penalized_fixed_point(lam, L, pen))
    assert 0.0 <= z < 1.0
    f = z ** (L - 1) * (z**L + lam) + float(pen.scalar_grad(np.array(z)))
    assert abs(f) < 1e-12
    if kind is WeightDecay and kappa > 0:
        assert z > 0
    assert float(penalized_plateau(lam, L, pen)) >= 0.5 * lam**2


@given(lam=lams, L=depths, kind=st.sampled_from([WeightDecay, OrthogonalityPenalty]),
       k1=st.floats(0.0, 2.0), k2=st.floats(0.0, 2.0))
def test_plateau_is_monotone_in_kappa(lam, L, kind, k1, k2):
    lo, hi = sorted((k1, k2))
    assert penalized_plateau(lam, L, kind(hi)) >= penalized_plateau(lam, L, kind(lo)) - 1e-14


@given(lam=lams, L=st.integers(2, 8), kappa=st.floats(0.0, 2.0))
def test_orthogonality_at_depth_2L_equals_weight_decay_at_depth_L(lam, L, kappa):
    # With w = z², the fixed-point equations and the plateaus coincide.
    a = penalized_plateau(lam, 2 * L, OrthogonalityPenalty(kappa))
    b = penalized_plateau(lam, L, WeightDecay(kappa))
    np.testing.assert_allclose(a, b, rtol=1e-12)


@given(lam=lams, L=depths, kind=st.sampled_from([WeightDecay, OrthogonalityPenalty]), kappa=st.floats(0.0, 2.0))
def test_monotone_step_gives_decreasing_z_above_fixed_point(lam, L, kind, kappa):
    pen = kind(kappa)
    eta = float(monotone_step(lam, L, pen))
    zs = _trajectory(lam, L, eta, pen, 300)
    zstar = float(penalized_fixed_point(lam, L, pen))
    assert np.all(np.diff(zs) <= 1e-15)
    assert np.all(zs >= zstar - 1e-12)


@given(lam=lams, L=depths, kind=st.sampled_from([WeightDecay, OrthogonalityPenalty]),
       k1=st.floats(0.0, 2.0), k2=st.floats(0.0, 2.0))
def test_comparison_in_kappa_at_every_step(lam, L, kind, k1, k2):
    lo, hi = sorted((k1, k2))
    eta = float(monotone_step(lam, L, kind(hi)))
    spec = witness_spectrum(lam, 2)
    a = run_scalar(spec, L, eta, penalty=kind(lo), tol=1e-30, max_steps=200)
    b = run_scalar(spec, L, eta, penalty=kind(hi), tol=1e-30, max_steps=200)
    assert np.all(b.history_loss >= a.history_loss * (1 - 1e-13))


def test_penalized_runs_approach_the_predicted_plateau():
    lam, L = 0.5, 4
    for pen in (WeightDecay(0.3), OrthogonalityPenalty(0.3)):
        eta = float(monotone_step(lam, L, pen))
        res = run_scalar(witness_spectrum(lam), L, eta, penalty=pen, tol=1e-30, max_steps=20_000)
        np.testing.assert_allclose(res.loss, penalized_plateau(lam, L, pen), rtol=1e-10)


def test_subcritical_bound_dominates_measured_steps():
    L = 6
    eta = 1 / (4 * L)
    c = np.linspace(0.0, 0.9, 10)
    spec = np.stack([1 - c, np.ones_like(c)], axis=-1)
    res = run_scalar(spec, L, eta, tol=1e-10, max_steps=50_000)
    bound = iteration_bound(c, L, eta, 1e-10)
    assert np.all(res.converged) and np.all(res.steps <= bound)


def test_critical_bounds_bracket_the_loss():
    L, eta = 5, 1 / 16
    res = run_scalar(np.array([0.0, 1.0]), L, eta, tol=1e-30, max_steps=5000)
    lo, hi = critical_loss_bounds(L, eta, res.history_steps)
    assert np.all(lo <= res.history_loss) and np.all(res.history_loss <= hi)


@pytest.mark.parametrize("L", [3, 5, 7])
@pytest.mark.parametrize("lam", [0.3, 1.0, 2.5])
def test_jump_step_lands_on_the_optimum(L, lam):
    res = run_scalar(np.array([-lam, 1.0]), L, float(jump_step(lam, L)), tol=1e-20, max_steps=3)
    assert res.status == "converged" and res.steps == 1


@pytest.mark.parametrize("L", [3, 5, 7])
def test_first_half_of_the_condition_is_sharp_for_odd_depth(L):
    lam, eps = 0.7, 0.05
    eta = (1 + eps) / (1 + lam)
    z1 = scalar_step(np.array([1.0]), np.array([-lam]), L, eta)[0]
    assert np.isclose(z1, -eps) and 0.5 * (z1**L + lam) ** 2 < 0.5 * lam**2


@pytest.mark.parametrize("L", [3, 5, 7])
def test_second_half_of_the_condition_is_sharp_for_weight_decay(L):
    lam, eps = 1.0, 1e-3
    eta = 1 / (1 + lam)
    pen = WeightDecay((1 + eps) / eta)
    zs = _trajectory(lam, L, eta, pen, 3)
    assert zs[0] == 0.0 and np.isclose(zs[1], 1 + eps) and zs[2] < -eps**2
    assert 0.5 * (zs[2] ** L + lam) ** 2 < 0.5 * lam**2


@pytest.mark.parametrize("pen", [None, WeightDecay(0.4), OrthogonalityPenalty(0.4)])
@pytest.mark.parametrize("L", [2, 3])
def test_full_matrix_gd_on_the_witness_matches_the_reduction(pen, L):
    # A short horizon: off the invariant set the plateau can be unstable (plateau_growth_factor > 1),
    # so rounding errors may grow geometrically over long runs; 40 steps keep them below 1e-10.
    d, lam = 4, 0.6
    u = random_orthogonal(d, np.random.default_rng(7))[:, 0]
    phi = witness(d, lam, u)
    eta = 0.9 * float(safe_step(lam, pen))
    rule = penalized_gd(eta, pen) if pen is not None else gd(eta)
    full = run(rule, identity_layers(L, d), phi, tol=1e-30, max_steps=40)
    vals, vecs = eigen_reduction(phi)
    sc = run_scalar(vals, L, eta, penalty=pen, tol=1e-30, max_steps=40)
    np.testing.assert_allclose(layers_from_scalar(sc.z, vecs, L), full.layers, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(phi - np.eye(d), 2), 1 + lam, rtol=1e-14)
    # rounding (1e-16) grows by at most plateau_growth_factor ≈ 1.2 per step here (L = 2,
    # orthogonality): 1.2^40 ≈ 1.5e3, so 1e-8 leaves a wide margin
    assert max(symmetric_invariants(full.layers, phi).values()) < 1e-8
    assert np.all(full.history_loss >= 0.5 * lam**2 - 1e-12)


def test_validation():
    with pytest.raises(ValueError, match="lam"):
        safe_step(0.0)
    with pytest.raises(TypeError, match="proved for"):
        safe_step(0.5, penalty="wd")
    with pytest.raises(ValueError, match="L >= 2"):
        monotone_step(0.5, 1)
    with pytest.raises(ValueError, match="0 <= c < 1"):
        iteration_bound(1.0, 3, 0.1, 1e-8)
    with pytest.raises(ValueError, match="1/L"):
        iteration_bound(0.5, 3, 0.5, 1e-8)
    with pytest.raises(ValueError, match="4L - 4"):
        critical_loss_bounds(3, 0.5, np.arange(3))
    with pytest.raises(ValueError, match="even L"):
        jump_step(1.0, 4)
    with pytest.raises(ValueError, match="dimension"):
        witness_spectrum(0.5, 0)
    np.testing.assert_array_equal(witness_spectrum(np.array([0.5, 2.0]), 3),
                                  [[-0.5, 1, 1], [-2.0, 1, 1]])


@pytest.mark.parametrize("pen", [None, WeightDecay(0.3), OrthogonalityPenalty(0.3)])
@pytest.mark.parametrize("L", [2, 3, 5])
def test_plateau_is_a_fixed_point_and_hessian_matches_the_reduction(pen, L):
    lam = 0.5
    w = plateau_layers(lam, L, pen, d=3)
    phi = witness(3, lam)
    g = grad(w, phi) + (0 if pen is None else pen.grad(w))
    assert np.abs(g).max() < 1e-13
    hess = plateau_hessian(lam, L, pen, d=3)
    np.testing.assert_allclose(hess, hess.T, atol=1e-12)
    # the Hessian's column k is the derivative of the exact gradient along entry k
    k, e = 0, 1e-6
    dw = np.zeros(w.size); dw[k] = e; dw = dw.reshape(w.shape)
    gk = lambda x: grad(x, phi) + (0 if pen is None else pen.grad(x))
    np.testing.assert_allclose(hess[:, k], ((gk(w + dw) - gk(w - dw)) / (2 * e)).ravel(), atol=1e-5)
    v = np.zeros_like(w)
    v[:, 0, 0] = 1.0  # all layers move together along e1 e1ᵀ: the scalar reduction
    z = float(penalized_fixed_point(lam, L, pen))
    kappa = 0.0 if pen is None else pen.kappa
    p2 = 0.0 if pen is None else (kappa if isinstance(pen, WeightDecay) else kappa * (3 * z * z - 1))
    dF = (2 * L - 1) * z ** (2 * L - 2) + (L - 1) * lam * z ** (L - 2) + p2
    np.testing.assert_allclose(v.ravel() @ hess @ v.ravel() / L, dF, atol=1e-5)


def test_growth_factor_classifies_the_plateau():
    lam, L = 0.5, 3
    eta = float(monotone_step(lam, L, OrthogonalityPenalty(1.0)))
    # strong weight decay: a strict local minimum (every curvature positive)
    assert np.linalg.eigvalsh(plateau_hessian(lam, L, WeightDecay(1.0)))[0] > 0.1
    assert plateau_growth_factor(lam, L, eta, WeightDecay(1.0)) < 0.95
    # weak penalties: negative curvature off the invariant set
    assert plateau_growth_factor(lam, L, eta, WeightDecay(0.1)) > 1.005
    assert plateau_growth_factor(lam, L, eta, OrthogonalityPenalty(0.1)) > 1.01
    # the same factor whatever the extra dimensions
    np.testing.assert_allclose(plateau_growth_factor(lam, L, eta, OrthogonalityPenalty(0.1), d=2),
                               plateau_growth_factor(lam, L, eta, OrthogonalityPenalty(0.1), d=3), rtol=1e-7)
    with pytest.raises(ValueError, match="d must be"):
        plateau_layers(lam, L, None, d=1)


def test_safe_step_relation_with_the_guess():
    # weight decay: the condition follows from η(1+λ+κ) ≤ 1 but not conversely
    lam, kappa = 1e-9, 1.0
    assert float(safe_step(lam, WeightDecay(kappa))) >= 1 / (1 + lam + kappa)
    assert 1.0 * (1 + lam + kappa) > 1.9 and float(safe_step(lam, WeightDecay(kappa))) > 0.99
    # orthogonality: η(1+λ+κ) < 1 does not give 2ηκ ≤ 1
    lam, kappa, eta = 0.1, 10.0, 0.08
    assert eta * (1 + lam + kappa) < 1 and eta > float(safe_step(lam, OrthogonalityPenalty(kappa)))


@given(lam=lams, kappa=kappas, kind=st.sampled_from([WeightDecay, OrthogonalityPenalty]))
def test_safe_step_follows_from_the_sum_condition(lam, kappa, kind):
    c = 1.0 if kind is WeightDecay else 2.0
    assert float(safe_step(lam, kind(kappa))) >= (1 - 1e-15) / (1 + lam + c * kappa)


def test_bad_input_is_refused_by_name():
    with pytest.raises(TypeError, match="lam"):
        safe_step(0.5 + 0j)
    with pytest.raises(TypeError, match="penalty"):
        monotone_step(0.5, 3, penalty=0.3)
    with pytest.raises(TypeError, match="depth L"):
        monotone_step(0.5, 2.0)
    with pytest.raises(TypeError, match="eta"):
        iteration_bound(0.5, 3, 0.1 + 0j, 1e-8)
    with pytest.raises(ValueError, match="eps"):
        iteration_bound(0.5, 3, 0.1, 0.0)
    with pytest.raises(TypeError, match="t must"):
        critical_loss_bounds(3, 0.1, [1j])
    with pytest.raises(ValueError, match="t must"):
        critical_loss_bounds(3, 0.1, [-1.0])
    with pytest.raises(ValueError, match="depth L"):
        critical_loss_bounds(1, 0.1, [1.0])
    with pytest.raises(ValueError, match="eta"):
        plateau_growth_factor(0.5, 3, -1.0)


def test_masked_weight_decay():
    rng = np.random.default_rng(0)
    w = np.eye(3) + 0.3 * rng.standard_normal((2, 3, 3))
    # the all-ones mask is weight decay
    ones = MaskedWeightDecay(0.7, np.ones((3, 3)))
    np.testing.assert_allclose(ones.grad(w), WeightDecay(0.7).grad(w), rtol=1e-15)
    np.testing.assert_allclose(ones.value(w), WeightDecay(0.7).value(w), rtol=1e-15)
    # the gradient is the derivative of the value
    m = rng.uniform(0.5, 1.5, (3, 3))
    pen = MaskedWeightDecay(0.4, m)
    e, dw = 1e-6, np.zeros_like(w)
    dw[1, 0, 2] = e
    fd = (pen.value(w + dw) - pen.value(w - dw)) / (2 * e)
    assert abs(fd - pen.grad(w)[1, 0, 2]) < 1e-8
    # a non-symmetric mask breaks symmetry at the first step from a symmetric layer
    sym = np.stack([np.eye(3) - 1.5 * np.outer(np.ones(3), np.ones(3)) / 3])
    g = pen.grad(sym)[0]
    assert np.abs(g - g.T).max() > 1e-3
    with pytest.raises(TypeError, match="scalar reduction"):
        pen.scalar_grad(np.ones(3))
    with pytest.raises(TypeError, match="mask"):
        MaskedWeightDecay(0.1, np.ones((2, 2)) * 1j)
    with pytest.raises(ValueError, match="mask"):
        MaskedWeightDecay(0.1, np.ones((2, 3)))
    with pytest.raises(ValueError, match="kappa"):
        MaskedWeightDecay(-0.1, np.ones((2, 2)))
    with pytest.raises(ValueError, match="layers"):
        pen.grad(np.ones((2, 2, 2)))


def test_masked_penalty_leaves_the_invariant_set_and_escapes():
    # the chapter's claim in miniature: κ = 0.1 escapes the plateau λ²/2 from exactly I
    d, lam, L = 4, 0.5, 3
    u = random_orthogonal(d, np.random.default_rng(2018))[:, 0]
    phi = witness(d, lam, u)
    m = np.random.default_rng(1).uniform(0.5, 1.5, (d, d))
    eta = float(monotone_step(lam, L, OrthogonalityPenalty(1.0)))
    res = run(penalized_gd(eta, MaskedWeightDecay(0.1, m)), identity_layers(L, d), phi, tol=1e-30,
              max_steps=3000)
    assert res.loss < 0.1 * 0.5 * lam**2
    assert np.linalg.det(res.layers).min() < 0 or np.linalg.det(np.linalg.multi_dot(res.layers[::-1])) < 0


def test_explore_recurrence_matches_run_scalar_and_frames_move():
    from linres.explore import far_from_identity as ex

    lam, L, eta = 0.5, 3, 0.1
    for orth, P in ((False, WeightDecay), (True, OrthogonalityPenalty)):
        got = ex.final_losses(lam, L, eta, 0.3, orth, steps=300)
        ref = run_scalar(witness_spectrum(lam), L, eta, penalty=P(0.3), tol=1e-300, max_steps=300)
        assert ref.steps == 300
        np.testing.assert_allclose(got, ref.loss, rtol=1e-12)
    assert np.isnan(ex.final_losses(1.0, 2, 5.0, 0.0, False, steps=50))  # a diverging step
    base = ex.EXPLORER.defaults
    y0 = np.concatenate([s.y for s in ex.frame(**base).series])
    for c in ex.EXPLORER.controls:
        for v in (c.values[0], c.values[-1]):
            if v == base[c.name]:
                continue
            y = np.concatenate([s.y for s in ex.frame(**{**base, c.name: v}).series])
            assert not np.allclose(y, y0, equal_nan=True), (c.name, v)
