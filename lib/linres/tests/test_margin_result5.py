"""Result 5: projection, balancings, the instrumented step, and the chapter's bounds."""
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

import linres
from linres import gd_step, identity_layers, margin, margin_balanced, margin_balanced_step, product, run
from linres.bounds import margin as bm
from linres.diagnostics import balancedness, singular_value_spread
from linres.margin import balance, project_margin
from linres.margin_trace import margin_balanced_step_info, partial_product_slack, trace_margin_balanced
from linres.targets import positive_margin, rotation

seeds = st.integers(0, 2**32 - 1)


def _target(seed, d=None):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 5)) if d is None else d
    m = 10 ** rng.uniform(-1.5, 0)
    return positive_margin(d, m, 10 ** rng.uniform(-1, 1), rng, top=10 ** rng.uniform(0, 0.6)), rng


# --- the projection (Lemma: exact Frobenius projection) -------------------------

@given(seeds, st.floats(0.01, 2.0))
def test_projection_is_the_nearest_point_of_the_set(seed, gamma):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 6))
    a = 2 * rng.standard_normal((d, d))
    p = project_margin(a, gamma)
    assert margin(p) >= gamma - 1e-12
    np.testing.assert_allclose(p - p.T, a - a.T, atol=1e-12)
    np.testing.assert_allclose(project_margin(p, gamma), p, atol=1e-12)  # idempotent
    # No member of the set is closer: compare with projections of random matrices and with p + small moves.
    dist = np.linalg.norm(a - p)
    for _ in range(10):
        b = project_margin(3 * rng.standard_normal((d, d)), gamma)
        assert np.linalg.norm(a - b) >= dist - 1e-12
        assert np.linalg.norm(project_margin(a, gamma) - b) <= np.linalg.norm(a - b) + 1e-12  # non-expansive


def test_projection_leaves_members_alone(rng):
    phi = positive_margin(4, 0.4, 1.0, rng)
    np.testing.assert_allclose(project_margin(phi, 0.4), phi, atol=1e-12)


# --- the balancings ---------------------------------------------------------------

@given(seeds, st.integers(1, 9))
def test_svd_balancing_meets_hypothesis_H_exactly(seed, L):
    g, _ = _target(seed)
    w = balance(g, L, "svd")
    np.testing.assert_allclose(product(w), g, atol=1e-11 * max(1, np.linalg.norm(g)))
    assert singular_value_spread(w) <= 1e-10
    assert balancedness(w) <= 1e-10 * max(1, np.linalg.norm(g))
    lo, hi = partial_product_slack(w)
    assert lo >= 1 - 1e-10 and hi <= 1 + 1e-10


@given(seeds, st.integers(1, 9))
def test_root_balancing_keeps_the_product_with_equal_layers(seed, L):
    g, _ = _target(seed)
    w = balance(g, L, "root")
    np.testing.assert_allclose(product(w), g, atol=1e-10 * max(1, np.linalg.norm(g)))
    np.testing.assert_allclose(w, np.broadcast_to(w[:1], w.shape), atol=0)
    ref = np.real(scipy.linalg.fractional_matrix_power(g, 1.0 / L))
    np.testing.assert_allclose(w[0], ref, atol=1e-10)


def test_root_of_a_defective_matrix_uses_the_schur_fallback():
    jordan = np.array([[1.0, 1.0], [0.0, 1.0]])  # one eigenvector: the eig fast path cannot work
    w = balance(jordan, 3, "root")
    np.testing.assert_allclose(w[0], [[1.0, 1 / 3], [0.0, 1.0]], atol=1e-12)
    np.testing.assert_allclose(product(w), jordan, atol=1e-12)


def test_root_of_a_rotation_is_the_rotation_by_a_fraction():
    w = balance(rotation(1.2), 4, "root")
    np.testing.assert_allclose(w[0], rotation(0.3), atol=1e-12)


def test_partial_product_slack_detects_a_violation():
    w = np.stack([np.diag([2.0, 0.5]), np.eye(2)])  # product diag(2, .5): block Θ_1 alone is too spread
    lo, hi = partial_product_slack(w)
    assert lo < 1 and hi > 1


# --- the rule with gamma="auto", and the instrumented step --------------------------

def test_auto_level_matches_explicit_levels(rng):
    phis = np.stack([positive_margin(3, m, 1.0, rng) for m in (0.2, 0.5, 1.5)])
    res = run(margin_balanced(0.05, "auto"), identity_layers(3, 3), phis, tol=1e-10, max_steps=5000)
    for k, lvl in enumerate(np.minimum(1, margin(phis))):
        one = run(margin_balanced(0.05, float(lvl)), identity_layers(3, 3), phis[k], tol=1e-10, max_steps=5000)
        assert one.steps == res.steps[k]
        np.testing.assert_allclose(one.layers, res.layers[k], atol=1e-13)
    half = margin_balanced(0.05, "auto", auto_fraction=0.5)
    one = margin_balanced_step(identity_layers(3, 3), phis[0], 0.05, 0.5 * min(1, margin(phis[0])))
    np.testing.assert_allclose(half.update(identity_layers(3, 3)[None], phis[:1], 0.05)[1][0], one, atol=1e-14)


def test_auto_level_validation():
    with pytest.raises(ValueError, match="auto"):
        margin_balanced(0.1, "target")
    with pytest.raises(ValueError, match="auto_fraction"):
        margin_balanced(0.1, "auto", auto_fraction=1.5)
    rule = margin_balanced(0.1, "auto")
    with pytest.raises(ValueError, match="positive margin"):
        rule.update(identity_layers(2, 2)[None], -np.eye(2)[None], 0.1)


@pytest.mark.parametrize("method", ["svd", "root"])
def test_step_info_is_the_rule_step(method, rng):
    phis = np.stack([positive_margin(3, 0.3, s, rng, top=2.0) for s in (0.1, 2.0, 4.0)])
    w = balance(np.stack([np.eye(3) + 0.3 * rng.standard_normal((3, 3)) for _ in range(3)]), 4, method)
    for gamma in (0.3, "auto"):
        new, info = margin_balanced_step_info(w, phis, 0.1, gamma, method)
        ref = margin_balanced_step(w, phis, 0.1, gamma, method)
        np.testing.assert_array_equal(new, ref)
        assert np.all(info.margin_projected >= np.minimum(info.margin_gradient, 0.3) - 1e-12)
        assert np.all(info.loss_projected <= info.loss_gradient + 1e-14)
        assert np.all(info.product_change <= 1e-10)
        assert np.all(info.spread <= 1e-10)


def test_trace_matches_the_training_loop(rng):
    phis = np.stack([positive_margin(3, m, 2.0, rng, top=2.0) for m in (0.2, 0.6)])
    eta = np.array([0.02, 0.05])
    tr = trace_margin_balanced(phis, 4, eta, "auto", steps=300)
    res = run(margin_balanced(eta, "auto"), identity_layers(4, 3), phis, tol=1e-300, max_steps=300)
    np.testing.assert_allclose(tr.loss, res.history_loss, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(tr.layers, res.layers)
    assert tr.info.projected.any()  # the skew is large enough to trigger projections
    assert tr.projections[-1].tolist() == tr.info.projected.sum(axis=0).tolist()
    assert np.all(tr.margin >= np.minimum(1, margin(phis)) - 1e-12)
    assert tr.steps_to(1e-300).tolist() == [-1, -1]


def test_trace_stops_early_and_validates(rng):
    phi = positive_margin(2, 0.5, 0.5, rng)
    tr = trace_margin_balanced(phi, 3, 0.2, 0.5, steps=10_000, tol=1e-12)
    assert tr.steps < 10_000 and tr.loss[-1] <= 1e-12 and tr.steps_to(1e-12) == tr.steps
    with pytest.raises(ValueError, match="steps"):
        trace_margin_balanced(phi, 3, 0.2, 0.5, steps=-1)
    with pytest.raises(ValueError, match="gamma"):
        trace_margin_balanced(phi, 3, 0.2, 0.0, steps=1)
    with pytest.raises(ValueError, match="balancing"):
        trace_margin_balanced(phi, 3, 0.2, 0.5, "qr", steps=1)


# --- the bounds (book/positive_margin.ipynb) -----------------------------------------

@given(seeds, st.integers(1, 8))
def test_one_step_lemma(seed, L):
    """(H) + the lemma's step ⇒ ‖Γ' − Φ‖ ≤ (1 − (5/6)ηLm^{2−2/L})‖Γ − Φ‖, for any Γ and Φ."""
    g, rng = _target(seed)
    d = g.shape[0]
    phi = g + 10 ** rng.uniform(-3, 0.5) * rng.standard_normal((d, d))
    w = balance(g, L, "svd")
    s = np.linalg.svd(g, compute_uv=False)
    m, M = min(1.0, s[-1]), max(1.0, s[0])
    e0 = np.linalg.norm(g - phi)
    eta = bm.lemma_max_step(m, M, e0, L)
    e1 = np.linalg.norm(product(gd_step(w, phi, eta)) - phi)
    assert e1 <= (1 - 5 / 6 * eta * L * m ** (2 - 2 / L)) * e0 * (1 + 1e-12) + 1e-15


@given(seeds, st.integers(1, 6))
def test_theorem_loss_bound_holds_along_runs(seed, L):
    phi, _ = _target(seed, d=2)
    gamma = min(1.0, float(margin(phi)))
    eta = bm.max_step(phi, gamma, L)
    res = run(margin_balanced(eta, gamma), identity_layers(L, 2), phi, tol=1e-300, max_steps=200)
    bound = bm.loss_bound(phi, gamma, L, eta, res.history_steps)
    assert np.all(res.history_loss <= bound * (1 + 1e-10) + 1e-30)


def test_iteration_bound_on_a_target(rng):
    phi = positive_margin(3, 0.6, 0.5, rng, top=1.5)
    L, gamma, eps = 4, 0.6, 1e-8
    eta = bm.max_step(phi, gamma, L)
    res = run(margin_balanced(eta, gamma), identity_layers(L, 3), phi, tol=eps, max_steps=100_000)
    assert res.status == "converged"
    T = bm.iteration_bound(phi, gamma, L, bm.max_step(phi, gamma, L), eps)
    assert res.steps <= T
    assert bm.simple_iteration_bound(phi, gamma, eps) >= bm.iteration_bound(phi, gamma, L, bm.notes_step(phi, gamma, L), eps)


def test_bound_constants_and_validation(rng):
    phi = positive_margin(3, 0.4, 1.0, rng)
    c = bm.constants(phi)
    assert np.isclose(c.delta0, np.linalg.norm(phi - np.eye(3)))
    assert c.M >= c.B >= c.delta0
    assert np.all(bm.notes_step(phi, 0.4, 5) <= bm.max_step(phi, 0.4, 5))
    with pytest.raises(ValueError, match="gamma"):
        bm.max_step(phi, 0.5, 3)  # above the target's margin
    with pytest.raises(ValueError, match="eta"):
        bm.loss_bound(phi, 0.4, 3, 2 * bm.max_step(phi, 0.4, 3), 1)
    assert bm.iteration_bound(np.eye(2), 1.0, 3, bm.max_step(np.eye(2), 1.0, 3), 1e-8) == 0
    assert np.isfinite(bm.max_step(np.eye(2), 1.0, 3))
    batch = np.stack([phi, positive_margin(3, 0.8, 0.2, rng)])
    assert bm.iteration_bound(batch, 0.4, 3, bm.max_step(batch, 0.4, 3), 1e-6).shape == (2,)
    with pytest.raises(ValueError):
        bm.lemma_max_step(1.5, 2.0, 1.0, 3)


def test_trace_without_diagnostics_follows_the_same_path(rng):
    phi = positive_margin(3, 0.2, 3.0, rng, top=2.0)
    full = trace_margin_balanced(phi, 4, 0.02, "auto", steps=50)
    light = trace_margin_balanced(phi, 4, 0.02, "auto", steps=50, diagnostics=False)
    np.testing.assert_array_equal(full.loss, light.loss)
    np.testing.assert_array_equal(full.info.projected, light.info.projected)
    assert np.all(np.isnan(light.info.spread))


# --- projection events, ablations, the halving schedule (issue 14, 16) ---------------

from linres.margin_trace import ProjectionCounter, run_halving  # noqa: E402


def test_trace_reports_every_phase_of_the_rule(rng):
    phis = np.stack([positive_margin(3, 0.1, 3.0, rng, top=3.0) for _ in range(3)])
    w = identity_layers(4, 3, (3,))
    events = []
    rule = margin_balanced(0.02, "auto", trace=events.append)
    new = rule.update(w, phis, rule.eta)[1]
    (ev,) = events
    assert set(ev) == {"loss", "product", "margin", "level", "projected", "projected_product", "layers", "target"}
    np.testing.assert_array_equal(ev["layers"], new)
    np.testing.assert_array_equal(ev["projected"], ev["margin"] < ev["level"])
    np.testing.assert_allclose(product(new), ev["projected_product"], atol=1e-12)
    untouched = ~ev["projected"]
    np.testing.assert_array_equal(ev["projected_product"][untouched], ev["product"][untouched])


def test_counter_counts_the_events_the_trace_records(rng):
    phis = np.stack([positive_margin(3, m, 4.0, rng, top=3.0) for m in (0.05, 0.1, 0.3, 0.6)])
    eta = 1 / (4 * np.linalg.norm(phis, ord=2, axis=(1, 2)) ** 2)
    count = ProjectionCounter(targets=phis)
    res = run(margin_balanced(eta, "auto", trace=count), identity_layers(4, 3), phis, tol=1e-10, max_steps=5000)
    tr = trace_margin_balanced(phis, 4, eta, "auto", steps=int(res.steps.max()) + 1, diagnostics=False)
    # the loop also counts each problem's final update (made at the step where ℓ ≤ tol)
    expected = [int(tr.info.projected[: s + 1, k].sum()) for k, s in enumerate(res.steps)]
    assert count.per_problem.tolist() == expected
    assert count.projections == sum(expected) > 0
    assert count.iterations == int(np.sum(res.steps + 1))
    assert 0 < count.fraction < 1
    assert tr.projections_until(1e-10).tolist() == [int(tr.info.projected[:s, k].sum()) for k, s in enumerate(res.steps)]
    clear = ProjectionCounter(slack=1e-9)
    run(margin_balanced(eta, "auto", trace=clear), identity_layers(4, 3), phis, tol=1e-10, max_steps=5000)
    assert clear.projections <= count.projections


def test_counter_validation(rng):
    with pytest.raises(ValueError, match="slack"):
        ProjectionCounter(slack=-1)
    phi = positive_margin(2, 0.3, 1.0, rng)
    with pytest.raises(ValueError, match="distinct"):
        ProjectionCounter(targets=np.stack([phi, phi]))
    with pytest.raises(TypeError, match="trace"):
        margin_balanced(0.1, 0.3, trace=5)
    with pytest.raises(TypeError, match="project"):
        margin_balanced(0.1, 0.3, project="yes")


@pytest.mark.parametrize("L", [1, 2, 4])
def test_ablations(L, rng):
    phi = positive_margin(3, 0.1, 3.0, rng, top=3.0)
    w = balance(np.eye(3) + 0.2 * rng.standard_normal((3, 3)), L)
    eta = 0.01
    # neither regularizer: plain GD, bit for bit
    np.testing.assert_array_equal(margin_balanced_step(w, phi, eta, 0.1, project=False, balance=False),
                                  gd_step(w, phi, eta))
    # balancing only: the balanced GD product
    only_bal = margin_balanced_step(w, phi, eta, 0.1, project=False)
    np.testing.assert_allclose(only_bal, balance(product(gd_step(w, phi, eta)), L), atol=1e-13)
    # projection only: the product is the projected GD product; only the last layer moved
    events = []
    only_proj = margin_balanced_step(w, phi, 10 * eta, 5.0, balance=False, trace=events.append)
    g = gd_step(w, phi, 10 * eta)
    assert events[0]["projected"]  # a level above every margin forces the projection
    np.testing.assert_allclose(product(only_proj), project_margin(product(g), 5.0), atol=1e-11)
    np.testing.assert_array_equal(only_proj[:-1], g[:-1])
    # names
    assert margin_balanced(0.1, 0.3, project=False).name == "margin_balanced[svd, no projection]"
    assert margin_balanced(0.1, 0.3, balance=False).name == "margin_balanced[no balancing]"


def test_step_refuses_a_non_finite_result():
    with pytest.raises(ValueError, match="eta"):
        margin_balanced_step(identity_layers(2, 2), np.array([[0.5, 3.0], [-3.0, 0.5]]), 1e300, 0.5)


def test_halving_reaches_an_allowed_level_and_converges(rng):
    phis = np.stack([positive_margin(2, m, s, rng, top=2.0) for m, s in ((0.05, 2.0), (0.2, 1.0), (0.6, 0.2))])
    true = margin(phis)
    eta = 1 / (3 * np.linalg.norm(phis, ord=2, axis=(1, 2)) ** 2)
    h = run_halving(phis, 3, eta, tol=1e-10, max_steps=40_000, stall_window=50, stall_rtol=1e-2)
    assert h.status.tolist() == ["converged"] * 3
    assert np.all(h.gamma <= np.minimum(1, true) + 1e-15)  # γ ended at or below γ(Φ)
    # at most ⌈log₂(1/γ(Φ))⌉ halvings are forced; a stall with an allowed level adds at most one more
    assert np.all(h.halvings <= np.ceil(np.log2(1 / true)) + 1)
    assert np.all(h.loss <= 1e-10)
    assert h.layers.shape == (3, 3, 2, 2)


def test_halving_does_not_halve_when_gamma0_is_allowed(rng):
    phi = positive_margin(2, 0.6, 0.3, rng, top=1.5)
    h = run_halving(phi, 2, 0.1, tol=1e-10, max_steps=10_000, gamma0=0.5)
    assert h.status == "converged" and h.halvings == 0 and h.gamma == 0.5
    with pytest.raises(ValueError, match="max_steps"):
        run_halving(phi, 2, 0.1, tol=1e-10, max_steps=0)
    with pytest.raises(ValueError, match="stall_window"):
        run_halving(phi, 2, 0.1, tol=1e-10, max_steps=10, stall_window=0)
    with pytest.raises(ValueError, match="gamma0"):
        run_halving(phi, 2, 0.1, tol=1e-10, max_steps=10, gamma0=-1)


def test_halving_respects_the_budget(rng):
    phi = positive_margin(2, 0.05, 2.0, rng, top=2.0)
    h = run_halving(phi, 3, 0.01, tol=1e-14, max_steps=300, stall_window=50)
    assert h.status == "max_steps" and h.steps == 300


def test_bounds_refuse_bad_input(rng):
    phi = positive_margin(2, 0.5, 0.5, rng)
    eta = bm.max_step(phi, 0.5, 2)
    with pytest.raises(TypeError, match="phi"):
        bm.constants(phi.astype(complex))
    with pytest.raises(TypeError, match="gamma"):
        bm.max_step(phi, True, 2)
    with pytest.raises(TypeError, match="depth L"):
        bm.max_step(phi, 0.5, 2.0)
    with pytest.raises(ValueError, match="depth L"):
        bm.loss_bound(phi, 0.5, 0, eta, 1)
    with pytest.raises(ValueError, match="eta"):
        bm.loss_bound(phi, 0.5, 2, -eta, 1)
    with pytest.raises(ValueError, match="eta"):
        bm.loss_bound(phi, 0.5, 2, np.nan, 1)
    with pytest.raises(ValueError, match="t must"):
        bm.loss_bound(phi, 0.5, 2, eta, -1)
    with pytest.raises(ValueError, match="eps"):
        bm.iteration_bound(phi, 0.5, 2, eta, 0.0)
    with pytest.raises(ValueError, match="phi"):
        bm.constants(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="gamma"):
        bm.check_level(np.stack([phi, phi]), np.ones(3) * 0.1)
    with pytest.raises(ValueError, match="m must"):
        bm.lemma_max_step(0.0, 2.0, 1.0, 2)
    with pytest.raises(ValueError, match="gamma"):
        bm.contraction(-1.0, 2, 0.1)
