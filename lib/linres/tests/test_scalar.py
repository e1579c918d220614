"""The exact symmetric reduction against full-matrix gradient descent."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linres import (
    OrthogonalityPenalty, WeightDecay, eigen_reduction, gd, gd_step, identity_layers, layers_from_scalar,
    penalized_gd, run, run_scalar, scalar_step, symmetric_invariants,
)
from linres.bounds.negative import plateau
from linres.targets import spd_with_condition, symmetric_with_negative, symmetric_with_spectrum


@given(seed=st.integers(0, 2**31), L=st.integers(1, 8), d=st.integers(1, 5))
def test_reduction_equals_full_matrix_gd_on_psd_targets(seed, L, d):
    # A fixed number of plain steps on both sides: comparing run() step counts at a
    # tolerance near rounding level would test rounding noise, not the reduction.
    r = np.random.default_rng(seed)
    lam = r.uniform(0.0, 2.0, size=d)  # positive semidefinite (0 allowed)
    phi = symmetric_with_spectrum(lam, r)
    eta = 0.5 / (L * max(1.0, lam.max()) ** 2)
    vals, vecs = eigen_reduction(phi)
    w, z = identity_layers(L, d), np.ones(d)
    for _ in range(200):
        w, z = gd_step(w, phi, eta), scalar_step(z, vals, L, eta)
    np.testing.assert_allclose(layers_from_scalar(z, vecs, L), w, atol=1e-12)
    full = run(gd(eta), identity_layers(L, d), phi, tol=1e-30, max_steps=50)
    sc = run_scalar(vals, L, eta, tol=1e-30, max_steps=50)
    n = min(len(full.history_loss), len(sc.history_loss))
    np.testing.assert_allclose(sc.history_loss[:n], full.history_loss[:n], atol=1e-12)


@pytest.mark.parametrize("penalty", [WeightDecay(0.2), OrthogonalityPenalty(0.2)])
def test_reduction_with_penalty_and_negative_eigenvalue(penalty, rng):
    phi = symmetric_with_negative([-0.5], [0.7, 1.3], rng)
    full = run(penalized_gd(0.05, penalty), identity_layers(4, 3), phi, tol=1e-30, max_steps=300)
    vals, vecs = eigen_reduction(phi)
    sc = run_scalar(vals, 4, 0.05, penalty=penalty, tol=1e-30, max_steps=300)
    np.testing.assert_allclose(layers_from_scalar(sc.z, vecs, 4), full.layers, atol=1e-10)
    inv = symmetric_invariants(full.layers, phi)
    assert max(inv.values()) <= 1e-12
    assert sc.loss >= plateau(vals)


def test_scalar_step_equation():
    z, phi = np.array([1.0, 0.8]), np.array([2.0, -1.0])
    np.testing.assert_allclose(scalar_step(z, phi, 3, 0.1), z - 0.1 * z**2 * (z**3 - phi))


def test_batched_spectra_and_step_sizes(rng):
    phis = np.stack([np.linspace(0.5, 2, 3), np.linspace(0.2, 5, 3)])
    etas = np.array([0.05, 0.01])
    res = run_scalar(phis, 5, etas, tol=1e-10, max_steps=50_000)
    for k in range(2):
        one = run_scalar(phis[k], 5, etas[k], tol=1e-10, max_steps=50_000)
        assert one.steps == res.steps[k]
    assert np.all(res.converged)


def test_spd_convergence_and_odd_depth_jump():
    res = run_scalar(spd_eigs := np.array([0.5, 2.0]), 10, 1 / (10 * 4), tol=1e-8, max_steps=10_000)
    assert res.status == "converged" and np.allclose(res.z**10, spd_eigs, atol=2e-4)
    # L = 3, η = 1, Φ = −1: one step lands on the optimum z = −1.
    jump = run_scalar(np.array([-1.0]), 3, 1.0, tol=1e-20, max_steps=5)
    assert jump.status == "converged" and jump.steps == 1


def test_scalar_validation():
    with pytest.raises(ValueError, match="eta"):
        run_scalar(np.ones(2), 2, 0.0)
    with pytest.raises(ValueError, match="L must be"):
        run_scalar(np.ones(2), 0, 0.1)
    with pytest.raises(ValueError, match="non-finite"):
        run_scalar(np.array([1.0, np.nan]), 2, 0.1)
    with pytest.raises(ValueError, match="symmetric"):
        eigen_reduction(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="penalty"):
        run_scalar(np.ones(2), 2, 0.1, penalty="wd")
