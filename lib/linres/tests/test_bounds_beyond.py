"""The bounds of book/beyond.ipynb (linres.bounds.beyond): values, signatures, bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linres import normal
from linres.bounds import beyond as bb


def test_segment_distance_vanishes_exactly_on_the_closed_negative_axis():
    assert np.all(bb.segment_distance(np.array([-3.0, -0.1, 0.0])) == 0)
    assert np.all(bb.segment_distance(np.array([-1 + 1e-3j, 1e-3, 2.0, 1j])) > 0)
    # ρ(φ) = dist(0, [1, φ]) from the general segment distance
    phi = np.array([-1 + 1j, 2 - 3j, 0.5j])
    np.testing.assert_allclose(bb.segment_distance(phi), bb.distance_to_segment(0.0, 1.0, phi))


@given(re=st.floats(-3, 3), im=st.floats(0.05, 3), L=st.integers(2, 5))
def test_small_step_envelope_holds_on_random_targets(re, im, L):
    # Theorem thm-normal-small-step at eta = eta_0, 300 steps of the recurrence
    phi = np.array([complex(re, im)])
    eta = bb.small_step_eta(phi, L)
    res = normal.run_normal(phi[:, None], L, eta, tol=1e-30, max_steps=300,
                            record=lambda z, p: {"z": z[:, 0]})
    w = res.history["z"] ** L
    env = bb.small_step_envelope(phi, L, eta, res.history_steps[:, None])
    assert np.all(np.abs(w - phi) <= env * (1 + 1e-9) + 1e-13)


def test_root_multiplier_and_stability_radius():
    for L, eta in ((2, 0.5), (4, 0.3), (7, 0.01)):
        R = bb.stability_radius(L, eta)
        assert np.isclose(bb.root_multiplier(R, L, eta), -1.0)
        assert bb.root_multiplier(0.9 * R, L, eta) > -1 > bb.root_multiplier(1.1 * R, L, eta)
    np.testing.assert_allclose(bb.small_step_rate(1j, 2, 0.1), 0.1 * 2 * (np.sqrt(0.5) / 2))


def test_det_floor_is_the_distance_to_det_nonnegative(rng):
    phi = rng.standard_normal((200, 3, 3))
    floor = bb.det_floor(phi)
    ns = bb.nearest_singular(phi)
    neg = np.linalg.det(phi) < 0
    assert np.all(floor[~neg] == 0)
    np.testing.assert_allclose(floor[neg], 0.5 * np.linalg.norm(ns - phi, axis=(1, 2))[neg] ** 2)
    assert np.all(np.abs(np.linalg.det(ns)) < 1e-12)
    # no matrix with det >= 0 near Φ beats the floor: random candidates around the singular point
    for k in np.flatnonzero(neg)[:20]:
        cand = ns[k] + 0.05 * rng.standard_normal((500, 3, 3))
        ok = np.linalg.det(cand) >= 0
        assert np.all(0.5 * np.linalg.norm(cand[ok] - phi[k], axis=(1, 2)) ** 2 >= floor[k] - 1e-12)


def test_bad_input_names_the_argument():
    cases = [
        (lambda: bb.small_step_eta(1j, 1), ValueError, "L"),
        (lambda: bb.small_step_eta(1j, 2.0), TypeError, "L"),
        (lambda: bb.small_step_eta(np.nan, 2), ValueError, "phi"),
        (lambda: bb.small_step_eta("x", 2), TypeError, "phi"),
        (lambda: bb.small_step_rate(1j, 2, 0.0), ValueError, "eta"),
        (lambda: bb.small_step_rate(1j, 2, 1j), TypeError, "eta"),
        (lambda: bb.small_step_rate(1j, 2, True), TypeError, "eta"),
        (lambda: bb.small_step_envelope(1j, 2, 0.1, -1), ValueError, "t"),
        (lambda: bb.small_step_envelope(1j, 2, 0.1, np.inf), ValueError, "t"),
        (lambda: bb.small_step_envelope(1j, 2, 0.1, 1j), TypeError, "t"),
        (lambda: bb.root_multiplier(1j, 0, 0.1), ValueError, "L"),
        (lambda: bb.stability_radius(1, 0.1), ValueError, "L"),
        (lambda: bb.stability_radius(2, -0.1), ValueError, "eta"),
        (lambda: bb.distance_to_segment(np.inf, 0, 1), ValueError, "w"),
        (lambda: bb.det_floor(np.ones(3)), ValueError, "target"),
        (lambda: bb.nearest_singular(np.ones((2, 3))), ValueError, "target"),
    ]
    for f, err, name in cases:
        with pytest.raises(err, match=name):
            f()
