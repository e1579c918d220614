"""The complex reduction for normal targets against full-matrix gradient descent,
and the chapter's bounds on the complex recurrence (book/beyond.ipynb)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linres import gd, identity_layers, run, run_scalar
from linres.bounds import beyond as bb
from linres.normal import (
    NormalForm, convergence_map, is_normal, layers_from_normal, normal_form, normal_loss,
    normal_step, normal_target, principal_root, random_normal_targets, root_index, run_normal,
)
from linres.targets import random_orthogonal, rotation


def _random_normal(r, d):
    """A random normal target: a random mix of 2×2 rotation-scaling blocks and real entries."""
    spec = []
    while len(spec) < d:
        if d - len(spec) >= 2 and r.random() < 0.6:
            z = r.uniform(0.2, 2.0) * np.exp(1j * r.uniform(0.05, np.pi - 0.05))
            spec += [z, np.conj(z)]
        else:
            spec.append(r.uniform(-1.5, 2.0) + 0j)
    spec = np.array(spec)
    return normal_target(spec, random_orthogonal(d, r)), spec


@given(seed=st.integers(0, 2**31), L=st.integers(1, 7), d=st.integers(1, 6))
def test_reduction_agrees_with_full_matrix_gd(seed, L, d):
    r = np.random.default_rng(seed)
    phi, _ = _random_normal(r, d)
    eta = 0.3 / (L * max(1.0, np.linalg.norm(phi, 2)) ** 2)
    full = run(gd(eta), identity_layers(L, d), phi, tol=1e-30, max_steps=150)
    form = normal_form(phi)
    red = run_normal(form.spectrum, L, eta, tol=1e-30, max_steps=150)
    np.testing.assert_allclose(layers_from_normal(red.z, form, L), full.layers, atol=1e-10)
    np.testing.assert_allclose(red.history_loss, full.history_loss, atol=1e-10)
    # conjugate entries stay conjugate
    pair = form.pair[:-1]
    np.testing.assert_allclose(red.z[1:][pair], np.conj(red.z[:-1][pair]), atol=1e-14)


def test_rotation_and_rotation_times_symmetric(rng):
    # a rotation, and a rotation composed with a symmetric matrix commuting with it
    q = random_orthogonal(5, rng)
    blocks = normal_target(np.array([1.5 * np.exp(2.6j), 1.5 * np.exp(-2.6j), np.exp(0.4j), np.exp(-0.4j), 0.7]))
    rot = np.eye(5)
    rot[:2, :2] = rotation(2.6)
    rot[2:4, 2:4] = rotation(0.4)
    sym = np.diag([1.5, 1.5, 1.0, 1.0, 0.7])
    np.testing.assert_allclose(blocks, rot @ sym, atol=1e-14)
    for phi in (rotation(2.0), q @ rot @ sym @ q.T):
        d, L, eta = phi.shape[0], 4, 0.05
        full = run(gd(eta), identity_layers(L, d), phi, tol=1e-30, max_steps=400)
        form = normal_form(phi)
        red = run_normal(form.spectrum, L, eta, tol=1e-30, max_steps=400)
        np.testing.assert_allclose(layers_from_normal(red.z, form, L), full.layers, atol=1e-10)


def test_real_spectra_reduce_to_the_scalar_recurrence():
    phi = np.array([[0.5, 2.0, -0.3], [1.5, 0.2, 0.9]])
    a = run_normal(phi, 5, 0.02, tol=1e-30, max_steps=300)
    b = run_scalar(phi, 5, 0.02, tol=1e-30, max_steps=300)
    np.testing.assert_allclose(a.z.real, b.z, atol=1e-14)
    assert np.all(a.z.imag == 0)
    np.testing.assert_allclose(a.loss, b.loss, atol=1e-14)


def test_step_equation_and_conjugation():
    z, phi, L, eta = np.array([0.9 + 0.2j]), np.array([-0.5 + 1.0j]), 3, 0.1
    np.testing.assert_allclose(normal_step(z, phi, L, eta), z - eta * np.conj(z) ** 2 * (z**3 - phi))
    a = run_normal(phi, 4, 0.05, tol=1e-30, max_steps=50)
    b = run_normal(np.conj(phi), 4, 0.05, tol=1e-30, max_steps=50)
    np.testing.assert_array_equal(a.z, np.conj(b.z))
    assert np.isclose(normal_loss(z, phi, L), 0.5 * abs(z[0] ** 3 - phi[0]) ** 2)


def test_normal_form_round_trip(rng):
    phi, spec = _random_normal(rng, 6)
    form = normal_form(phi)
    assert isinstance(form, NormalForm)
    np.testing.assert_allclose(normal_target(form.spectrum, form.basis, form.pair), phi, atol=1e-12)
    np.testing.assert_allclose(np.sort_complex(form.spectrum), np.sort_complex(spec), atol=1e-10)
    batch = normal_form(np.stack([phi, rotation(0.3, d=6)]))
    assert batch.spectrum.shape == (2, 6) and batch.basis.shape == (2, 6, 6)


def test_validation():
    with pytest.raises(ValueError, match="normal"):
        normal_form(np.array([[1.0, 1.0], [0.0, 1.0]]))
    assert not is_normal(np.array([[1.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="conjugate"):
        normal_target(np.array([1 + 1j, 2 + 0j]), pair=np.array([True, False]))
    with pytest.raises(ValueError, match="last row"):
        normal_target(np.array([1 + 1j]))
    with pytest.raises(ValueError, match="real"):
        normal_target(np.array([1 - 1j, 1 + 1j]), pair=np.array([False, False]))
    with pytest.raises(ValueError, match="orthogonal"):
        normal_target(np.array([1.0, 2.0]), basis=np.array([[1.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="overlap"):
        normal_target(np.array([1 + 1j, 1 - 1j, 1 + 1j]), pair=np.array([True, True, False]))
    with pytest.raises(ValueError, match="non-finite"):
        run_normal(np.array([np.nan + 0j]), 2, 0.1)
    with pytest.raises(ValueError, match="eta"):
        run_normal(np.array([1j]), 2, 0.0)
    with pytest.raises(ValueError, match="L must be"):
        run_normal(np.array([1j]), 0, 0.1)
    with pytest.raises(ValueError, match="batch"):
        run_normal(np.ones((3, 1)) * 1j, 2, np.array([0.1, 0.2]))
    with pytest.raises(TypeError, match="NormalForm"):
        layers_from_normal(np.ones(2), (np.ones(2), np.eye(2), np.zeros(2, bool)), 2)
    with pytest.raises(ValueError, match="confirm"):
        convergence_map(np.array([1j]), 2, 0.1, confirm=0)


@given(k=st.integers(-3, 3), L=st.integers(1, 7), arg=st.floats(-3.1, 3.1), mod=st.floats(0.1, 3.0))
def test_root_index(k, L, arg, mod):
    phi = mod * np.exp(1j * arg)
    z = principal_root(phi, L) * np.exp(2j * np.pi * k / L)
    np.testing.assert_allclose(z**L, phi, rtol=1e-10)
    expect = k % L
    expect = expect - L if expect > L // 2 else expect
    assert root_index(z, phi, L) == expect


def test_convergence_map_cases():
    phi = np.array([-1.0 + 0j, 1j, 2.0 + 0j, -0.5 + 0.5j])
    small = convergence_map(phi, 4, 0.05 / 4, max_steps=20_000)
    assert list(small.kind) == [2, 0, 0, 0]  # the negative real axis fails, the rest reach the principal root
    assert small.loss[0] >= 0.5  # ½φ² for φ = −1
    # odd depth, η = 1: one step from z = 1 lands on the real cube root −1 (root index 1)
    jump = convergence_map(np.array([-1.0 + 0j]), 3, 1.0, max_steps=10)
    assert jump.kind[0] == 1 and jump.root[0] == 1
    # beyond the stability radius no root attracts: never a confirmed convergence
    far = np.array([2.5 + 0j, 2.5j, -2.0 + 1.0j])
    big = convergence_map(far, 2, 1.0 / 2, max_steps=3000)
    assert np.all(np.abs(far) > bb.stability_radius(2, 0.5)) and not np.any(big.kind <= 1)


# ---- the chapter's bounds -------------------------------------------------------------------


def test_segment_distance_is_distance_to_negative_axis(rng):
    phi = rng.uniform(-3, 3, 400) + 1j * rng.uniform(-3, 3, 400)
    rho = bb.segment_distance(phi)
    s = np.linspace(0, 1, 2001)[:, None]
    seg = 1 + s * (phi - 1)  # points of the segment
    x = np.minimum(seg.real, 0.0)  # nearest point of the ray (−∞, 0]
    brute = np.abs(seg - x).min(axis=0)
    np.testing.assert_allclose(rho, brute, atol=2e-3)
    assert np.all(bb.segment_distance(np.array([-2.0, -0.1, 0.0])) == 0)
    assert np.all(bb.small_step_eta(np.array([-2.0, 0.0]), 3) == 0)


@given(seed=st.integers(0, 2**31), L=st.integers(2, 5))
def test_small_step_theorem(seed, L):
    r = np.random.default_rng(seed)
    phi = r.uniform(-2.5, 2.5, 60) + 1j * r.uniform(-2.5, 2.5, 60)
    phi = phi[bb.segment_distance(phi) > 0.2]
    eta = bb.small_step_eta(phi, L)
    assert np.all(eta > 0)
    res = run_normal(phi[:, None], L, eta, tol=1e-30, max_steps=400,
                     record=lambda z, p: {"w": z[:, 0] ** L, "z": z[:, 0]})
    w, z = res.history["w"], res.history["z"]
    env = bb.small_step_envelope(phi, L, eta, res.history_steps[:, None])
    assert np.all(np.abs(w - phi) <= env * (1 + 1e-9) + 1e-13)  # + rounding, once converged
    assert np.all(bb.distance_to_segment(w, 1.0, phi) <= bb.segment_distance(phi) / 2 + 1e-12)
    np.testing.assert_allclose(z, principal_root(w, L), atol=1e-12)


def test_root_multiplier_is_the_jacobian():
    for L, phi, eta in ((2, 1.3 - 0.4j, 0.2), (3, -0.7 + 0.9j, 0.1), (5, 2.0 + 0.0j, 0.03)):
        for k in range(L):
            z0 = principal_root(phi, L) * np.exp(2j * np.pi * k / L)
            h = 1e-7
            for dz in (h, 1j * h):
                jac = (normal_step(z0 + dz, phi, L, eta) - normal_step(z0 - dz, phi, L, eta)) / (2 * dz)
                assert abs(jac - bb.root_multiplier(phi, L, eta)) < 1e-6
    assert np.isclose(bb.root_multiplier(bb.stability_radius(4, 0.3), 4, 0.3), -1.0)


def test_det_floor_and_nearest_singular(rng):
    phi = rng.standard_normal((300, 3, 3))
    phi[:, 0] *= np.sign(np.linalg.det(phi))[:, None] * -1  # det Φ < 0 for all
    assert np.all(np.linalg.det(phi) < 0)
    floor = bb.det_floor(phi)
    ns = bb.nearest_singular(phi)
    np.testing.assert_allclose(np.linalg.det(ns), 0, atol=1e-12)
    np.testing.assert_allclose(0.5 * np.linalg.norm(ns - phi, axis=(1, 2)) ** 2, floor, rtol=1e-12)
    for _ in range(20):  # any A with det A >= 0 is at least that far
        a = phi + rng.standard_normal(phi.shape) * rng.uniform(0, 3)
        ok = np.linalg.det(a) >= 0
        assert np.all(0.5 * np.linalg.norm(a - phi, axis=(1, 2))[ok] ** 2 >= floor[ok] - 1e-12)
    assert bb.det_floor(np.eye(2)) == 0
    with pytest.raises(ValueError, match="L >= 2"):
        bb.small_step_eta(1j, 1)


def test_random_normal_targets(rng):
    phi = random_normal_targets(20, 5, rng)
    assert phi.shape == (20, 5, 5) and np.all(is_normal(phi))
    form = normal_form(phi)
    assert np.any(form.pair) and np.any(np.abs(form.spectrum.imag) == 0)
    with pytest.raises(ValueError, match="pair_prob"):
        random_normal_targets(2, 2, rng, pair_prob=2.0)
