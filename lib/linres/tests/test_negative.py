"""The statements of book/negative_eigenvalue.ipynb (Result 4), in linres.bounds.negative."""
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linres
from linres import analysis
from linres import OrthogonalityPenalty, WeightDecay, gd, identity_layers, penalized_gd, run, run_scalar
from linres.bounds import negative as N
from linres.targets import symmetric_with_spectrum

PENALTIES = [None, WeightDecay(0.05), WeightDecay(1.0), OrthogonalityPenalty(0.05), OrthogonalityPenalty(1.0)]


def _spectrum(r, d):
    """A spectrum with at least one negative eigenvalue."""
    phi = r.uniform(-2.0, 2.5, size=d)
    phi[0] = -r.uniform(0.05, 2.0)
    return phi


@given(seed=st.integers(0, 2**31), d=st.integers(1, 6))
def test_plateau_is_the_distance_to_the_psd_cone(seed, d):
    # ½‖P − Φ‖² ≥ plateau(φ) for every PSD P, with equality at the PSD part of Φ.
    r = np.random.default_rng(seed)
    phi_vals = _spectrum(r, d)
    phi = symmetric_with_spectrum(phi_vals, r)
    g = r.standard_normal((d, d))
    p = g @ g.T
    assert 0.5 * np.linalg.norm(p - phi) ** 2 >= N.plateau(phi_vals) - 1e-12
    vals, vecs = np.linalg.eigh(phi)
    psd_part = (vecs * np.maximum(vals, 0)) @ vecs.T
    assert abs(0.5 * np.linalg.norm(psd_part - phi) ** 2 - N.plateau(phi_vals)) < 1e-12


@given(seed=st.integers(0, 2**31), L=st.integers(2, 9), d=st.integers(1, 4),
       k=st.integers(0, len(PENALTIES) - 1), scale=st.sampled_from([0.1, 0.5, 0.99, 1.0, 2.0, 10.0]))
def test_plateau_theorem_on_scalar_runs(seed, L, d, k, scale):
    # Whenever the hypotheses hold, the loss never goes below the plateau (every step).
    r = np.random.default_rng(seed)
    phi = _spectrum(r, d)
    pen = PENALTIES[k]
    eta = scale * float(N.odd_depth_max_step(phi, pen))
    with np.errstate(over="ignore", invalid="ignore"):  # large even-L steps may diverge: allowed
        res = run_scalar(phi, L, eta, penalty=pen, tol=1e-30, max_steps=300, blowup=1e30)
    hist = res.history_loss[np.isfinite(res.history_loss)]
    if N.plateau_guaranteed(phi, L, eta, pen):
        assert hist.min() >= N.plateau(phi) - 1e-12
    if L % 2 == 1 and scale <= 1.0:
        # odd depth under the step condition: negative coordinates stay in [0, 1]
        assert np.all(res.z[phi < 0] >= 0) and np.all(res.z[phi < 0] <= 1)


def test_odd_depth_needs_the_step_condition():
    # L = 3, Φ = −1, η = 1: one step lands on z = −1, the optimum; the theorem does not apply.
    assert not N.plateau_guaranteed([-1.0], 3, 1.0)
    jump = run_scalar(np.array([-1.0]), 3, 1.0, tol=1e-20, max_steps=3)
    assert jump.status == "converged" and jump.steps == 1
    # the same target with η = 0.3 (allowed: 0.3 ≤ 1/2) stalls at ½.
    assert N.plateau_guaranteed([-1.0], 3, 0.3)
    stuck = run_scalar(np.array([-1.0]), 3, 0.3, tol=1e-20, max_steps=2000)
    assert stuck.loss >= 0.5 and stuck.status == "max_steps"
    assert not N.plateau_guaranteed([-1.0], 1, 0.01)
    assert N.plateau_guaranteed([-1.0], 4, 123.0)


@pytest.mark.parametrize("pen", PENALTIES[1:])
def test_penalty_constant_is_the_sharp_constant(pen):
    z = np.linspace(0.0, 1.0, 20001)[:-1]
    dp = pen.scalar_grad(z)
    k = N.penalty_constant(pen)
    assert np.all(dp <= 1e-15) and np.all(dp >= -k * (1 - z) - 1e-12)
    assert np.max(-dp / (1 - z)) > 0.999 * k  # sharp


def test_penalty_constant_unknown_and_none():
    assert N.penalty_constant(None) == 0.0

    @dataclass(frozen=True)
    class Other:
        def value(self, w): return 0.0
        def grad(self, w): return 0 * w
        def scalar_grad(self, z): return 0 * z

    with pytest.raises(TypeError, match="κ_ψ"):
        N.penalty_constant(Other())
    np.testing.assert_allclose(N.odd_depth_max_step([[-1.0, 2.0], [-0.5, -3.0]]), [0.5, 0.25])
    assert N.odd_depth_max_step([-1.0, 2.0], WeightDecay(4.0)) == 0.25


@given(L=st.integers(2, 40), eta_frac=st.floats(0.05, 0.95), lam=st.floats(0.05, 3.0))
def test_stall_bound_holds_at_every_step(L, eta_frac, lam):
    eta = eta_frac / (1 + lam)
    res = run_scalar(np.array([-lam]), L, eta, tol=1e-300, max_steps=400, record=lambda z, p: {"z": z})
    z = res.history["z"][:, 0]
    assert np.all(z > 0)
    assert np.all(z <= N.stall_bound(lam, L, eta, res.history_steps) * (1 + 1e-12))


def test_stall_bound_is_asymptotically_exact():
    L, eta, lam = 8, 0.2, 0.5
    res = run_scalar(np.array([-lam]), L, eta, tol=1e-300, max_steps=20_000, record_every=500,
                     record=lambda z, p: {"z": z})
    ratio = res.history["z"][:, 0] / N.stall_bound(lam, L, eta, res.history_steps)
    assert ratio[-1] > 0.99 and np.all(np.diff(ratio[1:]) > 0)


def test_stall_bound_validation():
    with pytest.raises(ValueError, match="eta"):
        N.stall_bound(1.0, 4, 0.5, 1)
    with pytest.raises(ValueError, match="L must be >= 2"):
        N.stall_bound(1.0, 1, 0.1, 1)
    with pytest.raises(ValueError, match="t must be >= 0"):
        N.stall_bound(1.0, 4, 0.1, -1)


def _hessian(w, phi, h=1e-4):
    return analysis.hessian(lambda x: float(linres.loss(x, phi)), w, h=h)


@pytest.mark.parametrize("L", [2, 3, 4, 5])
@pytest.mark.parametrize("spec", [[-1.0, 0.5, 1.5], [-0.4, 0.5, 1.5], [-0.4, -1.2, 0.7], [-2.0, 3.0]])
def test_saddle_curvature_matches_the_numerical_hessian(L, spec, rng):
    spec = np.array(spec)
    phi = symmetric_with_spectrum(spec, rng)
    vals, vecs = linres.eigen_reduction(phi)
    w = linres.layers_from_scalar(N.saddle_point(vals, L), vecs, L)
    assert np.abs(linres.grad(w, phi)).max() < 1e-12  # a critical point
    assert abs(linres.loss(w, phi) - N.plateau(spec)) < 1e-12
    lo = np.linalg.eigvalsh(_hessian(w, phi))[0]
    assert abs(lo - N.saddle_min_curvature(spec, L)) < 1e-6


def test_saddle_curvature_sign_rule_and_escape_rate():
    # L ≥ 3: negative iff some |negative| exceeds some positive eigenvalue.
    assert N.saddle_min_curvature([-0.4, 0.5, 1.5], 4) == 0.0
    assert N.saddle_min_curvature([-0.6, 0.5, 1.5], 4) < 0
    assert N.saddle_min_curvature([-0.4, -0.1], 4) == 0.0  # no positive eigenvalue
    assert N.saddle_min_curvature([-0.4, 0.5], 2) == -0.4
    np.testing.assert_allclose(N.saddle_min_curvature([[-1.0, 0.5], [-0.1, 0.5]], 3),
                               [0.5 ** (1 / 3) * (0.5 - 1.0), 0.0])
    assert N.escape_rate([-0.4, 0.5, 1.5], 4, 0.1) == 0.0
    np.testing.assert_allclose(N.escape_rate([-1.0, 0.5], 3, 0.1), np.log1p(0.1 * 0.5 ** (1 / 3) * 0.5))
    with pytest.raises(ValueError, match="L must be >= 2"):
        N.saddle_min_curvature([-1.0, 1.0], 1)


@pytest.mark.parametrize("pen", PENALTIES)
@pytest.mark.parametrize("L", [2, 3, 6])
def test_flow_limit_is_where_small_step_gd_stops(pen, L):
    phi = np.array([-1.2, -0.3, 0.4, 1.0, 1.7])
    z = N.flow_limit(phi, L, pen)
    h = z ** (L - 1) * (z**L - phi) + (0 if pen is None else pen.scalar_grad(z))
    assert np.abs(h).max() < 1e-12
    if pen is None:
        assert N.flow_limit_loss(phi, L) == pytest.approx(N.plateau(phi), abs=1e-14)
        return
    res = run_scalar(phi, L, 0.03, penalty=pen, tol=1e-30, max_steps=100_000, stall_window=500, stall_rtol=1e-15)
    np.testing.assert_allclose(res.z, z, atol=1e-7)
    assert res.loss == pytest.approx(N.flow_limit_loss(phi, L, pen), abs=1e-9)
    assert N.flow_limit_loss(phi, L, pen) > N.plateau(phi)  # a penalty makes it worse


def test_flow_limit_batched_and_validation():
    phis = np.array([[-1.0, 2.0], [-0.5, 0.5]])
    z = N.flow_limit(phis, 4, WeightDecay(0.3))
    for k in range(2):
        np.testing.assert_allclose(z[k], N.flow_limit(phis[k], 4, WeightDecay(0.3)))

    @dataclass(frozen=True)
    class Pushy:  # pushes every coordinate up: no zero below 1 for a negative eigenvalue
        def value(self, w): return 0.0
        def grad(self, w): return 0 * w
        def scalar_grad(self, z): return 0 * z + 5.0

    with pytest.raises(ValueError, match="outside the class"):
        N.flow_limit([-1.0], 3, Pushy())
    with pytest.raises(ValueError, match="grid"):
        N.flow_limit([-1.0], 3, grid=2)


@dataclass(frozen=True)
class TracePenalty:
    """ψ(Θ) = (κ/2)(tr Θ − d)²: conjugation invariant, not separable (a test of the invariants theorem)."""

    kappa: float

    def value(self, w):
        d = w.shape[-1]
        return 0.5 * self.kappa * np.sum((np.trace(w, axis1=-2, axis2=-1) - d) ** 2, axis=-1)

    def grad(self, w):
        d = w.shape[-1]
        c = self.kappa * (np.trace(w, axis1=-2, axis2=-1) - d)
        return c[..., None, None] * np.eye(d)

    def scalar_grad(self, z):
        return self.kappa * (np.sum(z, axis=-1, keepdims=True) - z.shape[-1]) * np.ones_like(z)


@given(seed=st.integers(0, 2**31), L=st.integers(2, 6), d=st.integers(2, 4))
def test_invariants_hold_for_a_non_separable_invariant_penalty(seed, L, d):
    r = np.random.default_rng(seed)
    spec = _spectrum(r, d)
    phi = symmetric_with_spectrum(spec, r)
    pen = TracePenalty(0.3)
    res = run(penalized_gd(0.05, pen), identity_layers(L, d), phi, tol=1e-30, max_steps=60)
    inv = linres.symmetric_invariants(res.layers, phi)
    assert max(inv.values()) < 1e-12
    vals, vecs = linres.eigen_reduction(phi)
    sc = run_scalar(vals, L, 0.05, penalty=pen, tol=1e-30, max_steps=60)
    np.testing.assert_allclose(linres.layers_from_scalar(sc.z, vecs, L), res.layers, atol=1e-11)
    if L % 2 == 0:
        assert sc.history_loss.min() >= N.plateau(spec) - 1e-12


@given(seed=st.integers(0, 2**31), L=st.integers(2, 7), d=st.integers(1, 4))
def test_gd_keeps_the_palindromic_invariant(seed, L, d):
    # Θ_{L+1−i} = Θ_iᵀ at the start ⇒ at every step; for even L the product is then PSD.
    r = np.random.default_rng(seed)
    phi = symmetric_with_spectrum(_spectrum(r, d), r)
    a = 0.2 * r.standard_normal((L, d, d))
    a = 0.5 * (a + np.swapaxes(a[::-1], -1, -2))
    w0 = np.eye(d) + a
    assert N.palindromic_gap(w0) < 1e-15
    res = run(gd(0.05), w0, phi, tol=1e-30, max_steps=50)
    assert N.palindromic_gap(res.layers) < 1e-12
    if L % 2 == 0:
        assert np.linalg.eigvalsh(linres.product(res.layers)).min() > -1e-12


def test_palindromic_gap_detects_a_break():
    w = identity_layers(3, 2)
    assert N.palindromic_gap(w) == 0.0
    w[0, 0, 1] = 1e-3
    assert N.palindromic_gap(w) == pytest.approx(1e-3)


@pytest.mark.parametrize("L", [2, 3, 5])
def test_stall_curvature_without_penalty_is_the_saddle_curvature(L):
    for spec in ([-1.0, 0.5, 1.5], [-0.4, 0.5, 1.5], [-0.7, -0.2, 1.1]):
        assert N.stall_min_curvature(spec, L) == pytest.approx(N.saddle_min_curvature(spec, L), abs=1e-6)


def test_stall_curvature_with_penalties():
    # Weight decay turns the degenerate saddle (λ = 0.4 < 0.5) strict at L = 3 ...
    assert N.stall_min_curvature([-0.4, 0.5, 1.0], 3, WeightDecay(0.1)) < -0.05
    # ... and into a strict local minimum of ℓ + Σψ at L = 8.
    assert N.stall_min_curvature([-0.4, 0.5, 1.0], 8, WeightDecay(0.1)) > 0.03
    # The stall point is a critical point of ℓ + Σψ.
    phi = np.array([-0.4, 0.5, 1.0])
    pen = OrthogonalityPenalty(0.1)
    z = N.flow_limit(phi, 4, pen)
    w = linres.layers_from_scalar(z, np.eye(3), 4)
    assert np.abs(linres.grad(w, np.diag(phi)) + pen.grad(w)).max() < 1e-12
    with pytest.raises(ValueError, match="spectrum must be one spectrum"):
        N.stall_min_curvature(np.ones((2, 3)), 3)


@pytest.mark.parametrize("pen", [None, WeightDecay(0.3), OrthogonalityPenalty(0.3)])
@pytest.mark.parametrize("L", [2, 3, 5])
def test_pair_hessian_matches_the_numerical_hessian(pen, L):
    zu, zv, pu, pv = 0.6, 1.1, -1.0, 0.7

    def f(x):
        w = np.zeros((L, 2, 2))
        w[:, 0, 0], w[:, 1, 1], w[:, 0, 1], w[:, 1, 0] = zu, zv, x[:L], x[L:]
        v = float(linres.loss(w, np.diag([pu, pv])))
        return v + (0.0 if pen is None else float(pen.value(w)))

    H = N._pair_hessian(zu, zv, zu**L - pu, zv**L - pv, L, pen)
    np.testing.assert_allclose(H, analysis.hessian(f, np.zeros(2 * L), h=1e-4), atol=1e-6)


def test_escape_growth_at_the_saddle_is_the_escape_rate():
    # L = 3 on B reaches S fast; afterwards g grows by log10(1 − ηc) per step.
    spec, L, eta = [-1.0, 0.5, 1.0, 1.5], 3, 0.5 / 3
    g = N.escape_growth(spec, L, eta, np.array([1500, 2000]))
    rate = float(N.escape_rate(spec, L, eta)) / np.log(10)
    assert (g[1] - g[0]) / 500 == pytest.approx(rate, rel=0.02)
    # no negative eigenvalue larger than a positive one, L ≥ 3: growth stays small
    assert N.escape_growth([-0.4, 0.5, 1.0], 4, 0.1, np.array([3000]))[0] < 2


def test_escape_growth_predicts_a_small_perturbation_of_full_gd():
    # d = 2, Φ = diag(−1, 0.5): perturb the off-diagonal entries by 1e-9 (top direction unknown,
    # so compare growth factors up to an O(1) factor) and run plain GD.
    L, eta, T = 4, 0.1, 300
    w = linres.identity_layers(L, 2)
    rng = np.random.default_rng(0)
    w[:, 0, 1] += 1e-9 * rng.standard_normal(L)
    w[:, 1, 0] += 1e-9 * rng.standard_normal(L)
    res = run(gd(eta), w, np.diag([-1.0, 0.5]), tol=1e-30, max_steps=T)
    off = np.abs(res.layers[:, [0, 1], [1, 0]]).max()
    g = N.escape_growth([-1.0, 0.5], L, eta, np.array([T]))[0]
    assert off <= 1e-9 * 10**g * 10 and off >= 1e-9 * 10**g / 100


def test_rounding_envelope_bounds_float64_runs():
    spec = np.array([-1.0, 0.5, 1.0])
    phi = symmetric_with_spectrum(spec, np.random.default_rng(3))
    L, eta = 3, 0.5 / 3
    res = run(gd(eta), identity_layers(L, 3), phi, tol=1e-30, max_steps=400, record_every=20,
              record=linres.symmetric_invariants)
    dev = np.max([res.history[q] for q in res.history], axis=0)
    env = np.finfo(float).eps * L * 3 * 1.0 * N.rounding_envelope(spec, L, eta, res.history_steps)
    small = env <= 1e-3
    assert np.all(dev[small] <= env[small])
    A = N.rounding_envelope([-0.4, 0.5, 1.0], 8, 0.05, np.array([10, 1000]))
    assert A[1] >= 1000  # at least linear accumulation


@pytest.mark.parametrize("call", [
    lambda: N.plateau([1 + 1j]),
    lambda: N.plateau("abc"),
    lambda: N.plateau_guaranteed([-1.0], 3, 1j),
    lambda: N.stall_bound(True, 3, 0.1, 1),
    lambda: N.stall_bound(0.5, 3, 0.1, [1 + 0j]),
    lambda: N.escape_growth([-1.0, 0.5], 3, 0.1, [1.5]),
    lambda: N.rounding_envelope([-1.0, 0.5], 3, 0.1, [1], penalty=object()),
    lambda: N.flow_limit([-1.0], 3, penalty=object()),
])
def test_bad_input_raises_type_error(call):
    with pytest.raises(TypeError):
        call()


@pytest.mark.parametrize("call, word", [
    (lambda: N.plateau([np.nan]), "spectrum"),
    (lambda: N.plateau_guaranteed([-1.0], 0, 0.1), "L"),
    (lambda: N.plateau_guaranteed([-1.0], 3, -0.1), "eta"),
    (lambda: N.escape_rate([-1.0, 0.5], 3, 0.0), "eta"),
    (lambda: N.escape_growth([-1.0], 3, 0.1, [1]), "spectrum"),
    (lambda: N.escape_growth([-1.0, 0.5], 3, 0.1, [-1]), "t"),
    (lambda: N.rounding_envelope([-1.0, 0.5], 3, np.inf, [1]), "eta"),
    (lambda: N.stall_min_curvature([-1.0, 0.5], 3, h=2.0), "h"),
    (lambda: N.flow_limit([-1.0], 3, iters=0), "iters"),
])
def test_bad_input_names_the_argument(call, word):
    with pytest.raises(ValueError, match=word):
        call()
