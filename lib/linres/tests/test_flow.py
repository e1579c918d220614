"""Gradient flow of the symmetric reduction (linres.flow) against its closed forms and GD."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linres import flow, run_scalar
from linres.bounds import spd


def test_closed_forms_L1_and_L2():
    phi = np.array([0.3, 1.0, 2.5])
    tau = np.linspace(0, 3, 13)
    s1 = flow.solve_flow(phi, 1, tau)
    np.testing.assert_allclose(s1.z, phi + (1 - phi) * np.exp(-tau[:, None]), atol=1e-9)
    s2 = flow.solve_flow(phi, 2, tau)
    np.testing.assert_allclose(s2.z**2, phi / (1 + (phi - 1) * np.exp(-2 * phi * tau[:, None])), atol=1e-9)
    # the implicit solution by quadrature, L = 2: τ = (1/2φ) ln(w(φ − 1)/(φ − w)) with w = z²
    z = np.array([0.8, 1.3])
    p = np.array([0.3, 2.5])
    w = z**2
    np.testing.assert_allclose(flow.flow_time(p, 2, z), np.log(w * (p - 1) / (p - w)) / (2 * p), rtol=1e-9)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31), L=st.integers(1, 30))
def test_quadrature_inverts_the_ode(seed, L):
    r = np.random.default_rng(seed)
    phi = np.exp(r.uniform(np.log(0.1), np.log(10.0), size=3))
    tau = np.array([0.0, 0.05, 0.2])
    sol = flow.solve_flow(phi, L, tau)
    zs = phi ** (1.0 / L)
    # away from both ends of the path, where τ(z) is well conditioned
    moved = (np.abs(sol.z[-1] - 1) > 1e-6) & (np.abs(sol.z[-1] - zs) > 1e-3 * np.abs(1 - zs))
    back = flow.flow_time(phi[moved], L, sol.z[-1][moved])
    np.testing.assert_allclose(back, 0.2, rtol=1e-6)


def test_flow_loss_below_flow_bound_and_monotone():
    phi = np.array([[0.1, 0.7, 4.0], [0.5, 1.5, 2.0]])
    L = 8
    tau = np.linspace(0, 20, 81)
    sol = flow.solve_flow(phi, L, tau)
    assert sol.z.shape == (81, 2, 3) and sol.loss.shape == (81, 2)
    assert np.all(sol.loss <= spd.flow_loss_bound(phi, L, tau[:, None]) * (1 + 1e-8) + 1e-14)
    assert np.all(np.diff(sol.loss, axis=0) <= 1e-14)


def test_time_to_loss_and_gd_limit():
    phi = np.array([0.25, 3.0])
    L, eps = 5, 1e-8
    tau = flow.flow_time_to_loss(phi, L, eps)
    sol = flow.solve_flow(phi, L, np.array([0.0, tau]))
    np.testing.assert_allclose(sol.loss[-1], eps, rtol=1e-5)
    # GD with a small step: η·T → τ_ε, error O(η)
    gaps = []
    for f in (1 / 8, 1 / 32):
        eta = f * spd.max_step(phi, L)
        steps = run_scalar(phi, L, eta, tol=eps, max_steps=10**6).steps
        gaps.append(abs(eta * steps / tau - 1))
    assert gaps[1] < gaps[0] < 0.2
    assert flow.flow_time_to_loss(np.ones(2), 3, 1e-8) == 0.0
    assert flow.flow_time_to_loss(np.array([[0.5, 2.0], [0.5, 2.0]]), 3, 1e-6).shape == (2,)


def test_flow_validation():
    with pytest.raises(ValueError, match="positive"):
        flow.solve_flow(np.array([-1.0]), 2, [0.0, 1.0])
    with pytest.raises(ValueError, match="tau"):
        flow.solve_flow(np.array([0.5]), 2, [1.0, 0.5])
    with pytest.raises(ValueError, match="path"):
        flow.flow_time(np.array([0.5]), 2, np.array([1.2]))
    np.testing.assert_allclose(flow.flow_rhs(np.array([1.0]), np.array([0.5]), 3), [-0.5])
