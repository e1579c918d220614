"""Target features and determinant diagnostics (linres.landscape), and the target
families of book/beyond.ipynb (linres.targets.random_targets, pair_target)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linres import gd_step, identity_layers, inits
from linres.landscape import (
    balance_differences, balance_drift, det_crossing, features, layer_dets, scaled_step,
)
from linres.targets import pair_target, random_targets, rotation


@given(seed=st.integers(0, 2**31), L=st.integers(2, 6), d=st.integers(1, 4), eta=st.floats(1e-3, 0.5))
def test_balance_drift_is_exact(seed, L, d, eta):
    r = np.random.default_rng(seed)
    w = inits.near_identity(L, d, 0.3, r)
    phi = r.standard_normal((d, d))
    after = gd_step(w, phi, eta)
    change = balance_differences(after) - balance_differences(w)
    np.testing.assert_allclose(change, balance_drift(w, phi, eta), atol=1e-11)


def test_flow_conserves_balance_to_second_order(rng):
    # halving η divides the one-step drift by four
    w = inits.near_identity(4, 3, 0.2, rng)
    phi = rng.standard_normal((3, 3))
    a = np.linalg.norm(balance_drift(w, phi, 0.1))
    b = np.linalg.norm(balance_drift(w, phi, 0.05))
    assert np.isclose(a / b, 4.0)
    assert np.all(balance_differences(identity_layers(3, 2)) == 0)


def test_features_on_known_targets():
    f = features(np.stack([rotation(2.0), np.diag([-1.0, 2.0]), np.diag([-1.0, -2.0])]))
    np.testing.assert_allclose(f["max_angle"], [2.0, np.pi, np.pi])
    np.testing.assert_allclose(f["margin"], [np.cos(2.0), -1.0, -2.0])
    np.testing.assert_allclose(f["det"], [1.0, -2.0, 2.0])
    np.testing.assert_array_equal(f["n_negative"], [0, 1, 2])
    np.testing.assert_allclose(f["sigma_min"], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(f["nonnormality"], 0, atol=1e-15)
    np.testing.assert_allclose(f["distance"], [np.linalg.norm(rotation(2.0) - np.eye(2)), np.sqrt(5), np.sqrt(13)])
    assert features(np.array([[1.0, 3.0], [0.0, 1.0]]))["nonnormality"] > 0


def test_random_targets_and_steps(rng):
    phi, delta = random_targets(50, 3, rng, max_distance=2.0)
    np.testing.assert_allclose(np.linalg.norm(phi - np.eye(3), axis=(1, 2)), delta)
    assert phi.shape == (50, 3, 3) and delta.max() <= 2.0
    eta = scaled_step(phi, 4, 0.5)
    np.testing.assert_allclose(eta, 0.5 / (4 * np.maximum(1, np.linalg.norm(phi, 2, axis=(1, 2))) ** 2))
    with pytest.raises(TypeError, match="Generator"):
        random_targets(5, 2, 0)
    with pytest.raises(ValueError, match="positive integer"):
        random_targets(0, 2, rng)


def test_pair_target_keeps_the_spectrum():
    for shear in (0.0, 0.7, 3.0):
        phi = pair_target(1.3, 2.2, shear)
        ev = np.linalg.eigvals(phi)
        np.testing.assert_allclose(np.sort(np.angle(ev)), [-2.2, 2.2], atol=1e-12)
        np.testing.assert_allclose(np.abs(ev), 1.3, atol=1e-12)
    assert features(pair_target(1.0, 1.0, 0.0))["nonnormality"] < 1e-15
    assert features(pair_target(1.0, 1.0, 1.0))["nonnormality"] > 0.1
    with pytest.raises(ValueError):
        pair_target(-1.0, 1.0)


def test_layer_dets_and_det_crossing():
    w = np.stack([np.eye(2), np.diag([1.0, -2.0])])
    np.testing.assert_allclose(layer_dets(w), [1.0, -2.0])
    # a symmetric target with a negative eigenvalue never crosses (Result 4); a generic
    # det < 0 target at L = 2 and a large step crosses, and its recorded min det says so
    phi = np.stack([np.diag([1.0, -0.5]), np.array([[0.3, 1.2], [0.9, -0.4]])])
    first, res = det_crossing(phi, 2, np.array([0.2, 0.2]), max_steps=4000, record_every=5)
    assert first[0] == -1 and first[1] > 0
    k = np.searchsorted(res.history_steps, first[1])
    assert res.history["min_det"][k, 1] < 0 and np.all(res.history["min_det"][:k, 1] >= 0)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="max_steps"):
            det_crossing(phi, 2, 0.1, max_steps=bad)
    with pytest.raises(ValueError, match="record_every"):
        det_crossing(phi, 2, 0.1, max_steps=10, record_every=0)


def test_bad_input_names_the_argument(rng):
    w = inits.near_identity(2, 2, 0.1, rng)
    for bad, err in ((0.0, ValueError), (np.nan, ValueError), (1j, TypeError), ("a", TypeError)):
        with pytest.raises(err, match="eta"):
            balance_drift(w, np.eye(2), bad)
    with pytest.raises(ValueError, match="c"):
        scaled_step(np.eye(2), 2, -1.0)
    with pytest.raises(TypeError, match="L"):
        scaled_step(np.eye(2), 2.5)
    with pytest.raises(ValueError, match="radius"):
        pair_target(0.0, 1.0)
    with pytest.raises(ValueError, match="angle"):
        pair_target(1.0, np.inf)
    with pytest.raises(TypeError, match="shear"):
        pair_target(1.0, 1.0, "x")
    with pytest.raises(ValueError, match="max_distance"):
        random_targets(3, 2, rng, max_distance=0.0)
    with pytest.raises(ValueError, match="d"):
        random_targets(3, 0, rng)
