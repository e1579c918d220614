import numpy as np
import pytest

from linres import margin
from linres.diagnostics import balancedness, layer_distances, symmetric_invariants
from linres.targets import (
    near_identity, positive_margin, random_orthogonal, rotation, spd_with_condition,
    symmetric_with_negative, witness,
)


def test_targets_have_their_named_properties(rng):
    assert np.isclose(np.linalg.norm(near_identity(5, 0.7, rng) - np.eye(5)), 0.7)
    q = random_orthogonal(4, rng)
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-12)
    ev = np.linalg.eigvalsh(spd_with_condition(4, 0.1, 10.0, rng))
    np.testing.assert_allclose(ev[[0, -1]], [0.1, 10.0])
    ev = np.linalg.eigvalsh(symmetric_with_negative([-0.3], [1.0, 2.0], rng))
    np.testing.assert_allclose(ev, [-0.3, 1.0, 2.0], atol=1e-12)
    w = witness(3, 0.4)
    assert np.isclose(np.linalg.norm(w - np.eye(3)), 1.4) and np.isclose(np.linalg.eigvalsh(w)[0], -0.4)
    phi = positive_margin(4, 0.25, 2.0, rng)
    assert np.isclose(margin(phi), 0.25) and np.isclose(np.linalg.norm(phi - phi.T) / 2, 2.0)
    assert np.isclose(margin(rotation(0.3)), np.cos(0.3))


def test_target_validation(rng):
    with pytest.raises(TypeError, match="Generator"):
        near_identity(3, 0.1, 42)
    with pytest.raises(ValueError, match="lo <= hi"):
        spd_with_condition(3, 2.0, 1.0, rng)
    with pytest.raises(ValueError, match="negative"):
        symmetric_with_negative([0.5], [1.0], rng)
    with pytest.raises(ValueError, match="dimension"):
        near_identity(0, 0.1, rng)
    with pytest.raises(ValueError, match="rotation"):
        rotation(0.1, d=1)


def test_diagnostics_on_known_layers():
    w = np.stack([np.diag([2.0, 1.0]), np.diag([2.0, 1.0])])
    assert balancedness(w) == 0
    np.testing.assert_allclose(layer_distances(w), [1.0, 1.0])
    inv = symmetric_invariants(w, np.diag([3.0, 1.0]))
    assert max(inv.values()) == 0
    skew = np.stack([np.eye(2), np.array([[1.0, 1.0], [0.0, 1.0]])])
    assert balancedness(skew) > 0
    assert symmetric_invariants(skew, np.diag([3.0, 1.0]))["asymmetry"] == np.sqrt(2.0)


def test_initializations(rng):
    from linres import inits

    assert np.all(inits.zero_asymmetric(3, 2)[-1] == 0) and np.all(inits.zero_asymmetric(3, 2)[0] == np.eye(2))
    p = inits.perturbed_identity(4, 3, 1e-3, rng)
    np.testing.assert_allclose(np.linalg.norm(p - np.eye(3), axis=(-2, -1)), 1e-3)
    assert inits.near_identity(2, 3, 0.1, rng, batch=(5,)).shape == (5, 2, 3, 3)
    with pytest.raises(TypeError):
        inits.near_identity(2, 3, 0.1, 0)
