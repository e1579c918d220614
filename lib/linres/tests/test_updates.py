"""Update rules, the training loop and its statuses."""
import numpy as np
import pytest

from linres import (
    OrthogonalityPenalty, WeightDecay, gd, gd_step, grad, identity_layers, loss, margin,
    margin_balanced, margin_balanced_step, penalized_gd, penalized_gd_step, product, run,
)
from linres.diagnostics import balancedness, singular_value_spread
from linres.margin import balance, project_margin
from linres.targets import near_identity, positive_margin, witness


def test_gd_step_is_the_update_equation(rng):
    w = np.eye(3) + 0.1 * rng.standard_normal((4, 3, 3))
    phi = rng.standard_normal((3, 3))
    np.testing.assert_allclose(gd_step(w, phi, 0.05), w - 0.05 * grad(w, phi))


@pytest.mark.parametrize("penalty", [WeightDecay(0.3), OrthogonalityPenalty(0.3)])
def test_penalty_gradients_match_differences(penalty, rng):
    w = np.eye(3) + 0.2 * rng.standard_normal((2, 3, 3))
    v = rng.standard_normal(w.shape)
    h = 1e-6
    fd = (penalty.value(w + h * v) - penalty.value(w - h * v)) / (2 * h)
    assert np.isclose(fd, np.sum(penalty.grad(w) * v), rtol=1e-6)
    # The scalar form is the matrix form restricted to diagonal layers.
    z = rng.uniform(-1, 2, size=3)
    np.testing.assert_allclose(np.diag(penalty.grad(np.diag(z)[None])[0]), penalty.scalar_grad(z))
    step = penalized_gd_step(w, np.eye(3), 0.1, penalty)
    np.testing.assert_allclose(step, w - 0.1 * (grad(w, np.eye(3)) + penalty.grad(w)))


def test_penalties_are_conjugation_invariant_and_minimal_at_identity(rng):
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    w = np.eye(3) + 0.3 * rng.standard_normal((2, 3, 3))
    for p in (WeightDecay(1.0), OrthogonalityPenalty(1.0)):
        assert np.isclose(p.value(q @ w @ q.T), p.value(w))
        assert p.value(identity_layers(2, 3)) == 0
        np.testing.assert_allclose(p.grad(identity_layers(2, 3)), 0)


def test_gd_converges_near_identity(rng):
    phi = near_identity(4, 0.3, rng)
    res = run(gd(0.1), identity_layers(5, 4), phi, tol=1e-10, max_steps=5000)
    assert res.status == "converged"
    assert res.loss <= 1e-10
    assert res.history_loss[0] == pytest.approx(0.5 * 0.3**2)
    assert np.all(np.diff(res.history_loss) <= 0)


def test_history_records_on_schedule(rng):
    phi = near_identity(3, 0.2, rng)
    res = run(gd(0.05), identity_layers(3, 3), phi, tol=1e-30, max_steps=100, record_every=10,
              record=lambda W, P: {"dist": np.abs(W - np.eye(3)).max(axis=(1, 2, 3))})
    assert res.status == "max_steps" and res.steps == 100
    assert list(res.history_steps) == list(range(0, 101, 10))
    assert res.history["dist"].shape == (11,)
    # The record at step t sees the layers on which ℓ_t was measured.
    assert res.history["dist"][0] == 0.0


def test_divergence_is_a_status_not_a_nan():
    phi = 3.0 * np.eye(2)
    res = run(gd(5.0), identity_layers(4, 2), phi, max_steps=1000)
    assert res.status == "diverged"
    assert not np.isnan(res.loss)
    assert res.steps < 1000


def test_stall_is_detected_on_the_witness():
    res = run(gd(0.1), identity_layers(4, 2), witness(2, 0.5), max_steps=100_000, stall_window=500, stall_rtol=1e-6)
    assert res.status == "stalled"
    assert res.loss >= 0.5 * 0.5**2


def test_batched_run_matches_single_runs(rng):
    phis = np.stack([near_identity(3, r, rng) for r in (0.05, 0.2, 0.4)])
    etas = np.array([0.1, 0.05, 0.2])
    res = run(gd(etas), identity_layers(3, 3), phis, tol=1e-9, max_steps=3000)
    for k in range(3):
        one = run(gd(etas[k]), identity_layers(3, 3), phis[k], tol=1e-9, max_steps=3000)
        assert one.steps == res.steps[k] and one.status == res.status[k]
        np.testing.assert_allclose(one.layers, res.layers[k], atol=1e-14)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(tol=0), "tol"), (dict(tol=-1), "tol"), (dict(max_steps=-1), "max_steps"),
        (dict(record_every=0), "record_every"), (dict(stall_window=0), "stall_window"),
    ],
)
def test_run_option_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run(gd(0.1), identity_layers(2, 2), np.eye(2), **kwargs)


@pytest.mark.parametrize("eta", [0.0, -0.1, np.inf, np.nan])
def test_step_size_validation(eta):
    with pytest.raises(ValueError, match="eta"):
        gd(eta)
    with pytest.raises(ValueError, match="eta"):
        gd(np.array([0.1, eta]))


def test_penalty_type_is_checked():
    with pytest.raises(TypeError, match="penalty"):
        penalized_gd(0.1, object())


# --- Result 5 pieces -------------------------------------------------------------

def test_projection_is_the_frobenius_projection(rng):
    a = rng.standard_normal((4, 4))
    g = 0.3
    p = project_margin(a, g)
    assert margin(p) >= g - 1e-12
    np.testing.assert_allclose(p - p.T, a - a.T, atol=1e-12)  # skew part kept
    # Variational inequality: ⟨A − Π(A), B − Π(A)⟩ ≤ 0 for B in the set.
    for _ in range(20):
        b = project_margin(rng.standard_normal((4, 4)) * 2, g)
        assert np.sum((a - p) * (b - p)) <= 1e-10


def test_projection_never_increases_distance_to_a_member(rng):
    phi = positive_margin(4, 0.4, 1.0, rng)
    for _ in range(20):
        a = rng.standard_normal((4, 4))
        assert np.linalg.norm(project_margin(a, 0.4) - phi) <= np.linalg.norm(a - phi) + 1e-12


@pytest.mark.parametrize("method", ["svd", "root"])
def test_balancing_keeps_the_product_and_equalizes_singular_values(method, rng):
    g = positive_margin(3, 0.3, 0.8, rng, top=2.0)
    w = balance(g, 5, method)
    np.testing.assert_allclose(product(w), g, atol=1e-10)
    assert singular_value_spread(w) <= 1e-10
    if method == "svd":
        assert balancedness(w) <= 1e-10


def test_root_balancing_refuses_negative_real_eigenvalues():
    with pytest.raises(ValueError, match="negative real axis"):
        balance(-np.eye(2), 3, "root")


@pytest.mark.parametrize("method", ["svd", "root"])
def test_margin_balanced_converges_and_keeps_margin(method, rng):
    phi = positive_margin(3, 0.3, 1.5, rng)
    rule = margin_balanced(0.05, 0.3, method)
    res = run(rule, identity_layers(4, 3), phi, tol=1e-10, max_steps=20_000, record_every=50,
              record=lambda W, P: {"margin": margin(product(W))})
    assert res.status == "converged"
    assert np.all(res.history["margin"] >= 0.3 - 1e-10)


def test_margin_balanced_step_validation():
    with pytest.raises(ValueError, match="gamma"):
        margin_balanced_step(identity_layers(2, 2), np.eye(2), 0.1, 0.0)
    with pytest.raises(ValueError, match="balancing"):
        margin_balanced(0.1, 0.5, "qr")


def test_a_rising_loss_is_not_a_stall():
    # With a penalty the unpenalized loss can rise; only a flat loss is a stall.
    from linres.model import loss_and_grad
    from linres.updates import UpdateRule

    def grow(w, phi, eta):  # a rule whose loss rises at every step
        return loss_and_grad(w, phi)[0], w * (1 + eta)

    rule = UpdateRule("grow", lambda w, phi: w, grow, 1e-3)
    res = run(rule, identity_layers(2, 2), np.zeros((2, 2)), max_steps=200, stall_window=1, stall_rtol=1e-4)
    assert np.all(np.diff(res.history_loss) > 0)
    assert res.status == "max_steps"
    flat = UpdateRule("flat", lambda w, phi: w, lambda w, phi, eta: (loss_and_grad(w, phi)[0], w), 1e-3)
    assert run(flat, identity_layers(2, 2), np.zeros((2, 2)), max_steps=200, stall_window=10).status == "stalled"
