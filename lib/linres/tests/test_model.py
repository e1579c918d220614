"""The closed-form gradient against central finite differences, and model identities."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linres import grad, identity_layers, loss, loss_and_grad, product
from linres.bounds.model import initial_gradient_norm, initial_loss


def _problem(seed, L, d, batch=()):
    r = np.random.default_rng(seed)
    w = np.eye(d) + 0.3 * r.standard_normal(batch + (L, d, d))
    phi = r.standard_normal(batch + (d, d))
    return w, phi


@given(seed=st.integers(0, 2**31), L=st.integers(1, 6), d=st.integers(1, 5))
def test_gradient_matches_central_differences(seed, L, d):
    w, phi = _problem(seed, L, d)
    g = grad(w, phi)
    h = 1e-6
    r = np.random.default_rng(seed + 1)
    for _ in range(3):  # directional derivatives along random directions
        v = r.standard_normal(w.shape)
        fd = (loss(w + h * v, phi) - loss(w - h * v, phi)) / (2 * h)
        assert np.isclose(fd, np.sum(g * v), rtol=1e-6, atol=1e-7)


def test_gradient_matches_entrywise_differences():
    w, phi = _problem(7, 3, 2)
    g = grad(w, phi)
    h = 1e-6
    fd = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = h
        fd[idx] = (loss(w + e, phi) - loss(w - e, phi)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@given(seed=st.integers(0, 2**31), L=st.integers(1, 5), d=st.integers(1, 4))
def test_gradient_formula_layer_by_layer(seed, L, d):
    # ∇_i = Θ_{L:i+1}ᵀ E Θ_{i−1:1}ᵀ, written with explicit products.
    w, phi = _problem(seed, L, d)
    e = product(w) - phi
    g = grad(w, phi)
    for i in range(L):
        left = np.eye(d)
        for j in range(i + 1, L):
            left = w[j] @ left
        right = np.eye(d)
        for j in range(i):
            right = w[j] @ right
        np.testing.assert_allclose(g[i], left.T @ e @ right.T, atol=1e-12)


def test_batched_equals_one_by_one():
    w, phi = _problem(3, 4, 3, batch=(5, 2))
    lb, gb = loss_and_grad(w, phi)
    for idx in np.ndindex(5, 2):
        l1, g1 = loss_and_grad(w[idx], phi[idx])
        assert np.isclose(lb[idx], l1)
        np.testing.assert_allclose(gb[idx], g1, atol=1e-13)


def test_target_broadcasts_over_batch():
    w, phi = _problem(4, 3, 2, batch=(6,))
    np.testing.assert_allclose(loss(w, phi[0]), [loss(wi, phi[0]) for wi in w])


@given(seed=st.integers(0, 2**31), L=st.integers(1, 6))
def test_orthogonal_invariance(seed, L):
    # Conjugating every layer and Φ by the same orthogonal Q leaves ℓ unchanged
    # and conjugates every gradient.
    d = 3
    w, phi = _problem(seed, L, d)
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    wq, phiq = q @ w @ q.T, q @ phi @ q.T
    assert np.isclose(loss(wq, phiq), loss(w, phi))
    np.testing.assert_allclose(grad(wq, phiq), q @ grad(w, phi) @ q.T, atol=1e-10)


def test_identity_start_facts():
    phi = np.random.default_rng(0).standard_normal((4, 4))
    for L in (1, 2, 7):
        w = identity_layers(L, 4)
        lval, g = loss_and_grad(w, phi)
        assert np.isclose(lval, initial_loss(phi))
        np.testing.assert_allclose(g, np.broadcast_to(np.eye(4) - phi, g.shape))
        assert np.isclose(np.linalg.norm(g), initial_gradient_norm(phi, L))


@pytest.mark.parametrize(
    "layers, target, message",
    [
        (np.ones((2, 3, 3)), np.ones((3, 2)), "target must have shape"),
        (np.ones((2, 3, 3)), np.ones((2, 2)), "layers are 3x3 but the target is 2x2"),
        (np.ones((3, 3)), np.ones((3, 3)), "layers must have shape"),
        (np.ones((0, 3, 3)), np.ones((3, 3)), "L >= 1"),
        (np.full((2, 3, 3), np.nan), np.ones((3, 3)), "non-finite"),
        (np.ones((2, 3, 3)), np.full((3, 3), np.inf), "non-finite"),
        (np.ones((4, 2, 3, 3)), np.ones((3, 3, 3)), "do not broadcast"),
    ],
)
def test_bad_inputs_are_refused(layers, target, message):
    with pytest.raises(ValueError, match=message):
        loss_and_grad(layers, target)


@pytest.mark.parametrize("L, d, exc", [(0, 2, ValueError), (2, 0, ValueError), (2.5, 2, TypeError), (True, 2, TypeError)])
def test_identity_layers_validation(L, d, exc):
    with pytest.raises(exc):
        identity_layers(L, d)
