"""linres.bounds.model (the setup chapter) and the chapter's Explore frame function."""
import numpy as np
import pytest

import linres
from linres.bounds.model import depth_one_loss, initial_gradient_norm, initial_loss
from linres.explore import model as explore_model

PHI = np.random.default_rng(3).standard_normal((3, 3))


def test_initial_values_match_the_engine_at_the_identity():
    for L in (1, 2, 5):
        lval, g = linres.loss_and_grad(linres.identity_layers(L, 3), PHI)
        assert np.isclose(lval, initial_loss(PHI))
        assert np.isclose(np.linalg.norm(g), initial_gradient_norm(PHI, L))


def test_initial_loss_batches():
    phis = np.stack([PHI, np.eye(3)])
    np.testing.assert_allclose(initial_loss(phis), [initial_loss(PHI), 0.0])


@pytest.mark.parametrize("eta", [0.1, 0.5, 0.9, 1.5])
def test_depth_one_loss_is_the_loss_of_a_depth_one_run(eta):
    res = linres.run(linres.gd(eta), linres.identity_layers(1, 3), PHI, tol=1e-300,
                     max_steps=30)
    exact = depth_one_loss(PHI, eta, res.history_steps)
    # compare ‖E_t‖_F = √(2ℓ_t): each step rounds E at about ε‖Φ‖ (absolute), 30 steps
    np.testing.assert_allclose(np.sqrt(2 * res.history_loss), np.sqrt(2 * exact),
                               rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    "call, error, word",
    [
        (lambda: initial_loss(PHI + 0j), TypeError, "target"),
        (lambda: initial_loss(np.ones((2, 3))), ValueError, "target"),
        (lambda: initial_loss([[np.nan]]), ValueError, "target"),
        (lambda: initial_gradient_norm(PHI, 0), ValueError, "L"),
        (lambda: initial_gradient_norm(PHI, 2.5), TypeError, "L"),
        (lambda: initial_gradient_norm(PHI, True), TypeError, "L"),
        (lambda: depth_one_loss(PHI, 0.0, 1), ValueError, "eta"),
        (lambda: depth_one_loss(PHI, np.inf, 1), ValueError, "eta"),
        (lambda: depth_one_loss(PHI, 0.1j, 1), TypeError, "eta"),
        (lambda: depth_one_loss(PHI, "0.1", 1), TypeError, "eta"),
        (lambda: depth_one_loss(PHI, 0.1, -1), ValueError, "t"),
        (lambda: depth_one_loss(PHI, 0.1, 1.5), ValueError, "t"),
        (lambda: depth_one_loss(PHI, 0.1, [1j]), TypeError, "t"),
        (lambda: depth_one_loss(PHI, 0.1, "a"), TypeError, "t"),
    ],
)
def test_bad_input_is_refused_by_name(call, error, word):
    with pytest.raises(error, match=rf"\b{word}\b"):
        call()


def test_explore_frame_reference_and_bound():
    # L = 1: the measured loss is the depth-one reference, point for point.
    fr = explore_model.frame(L=1, delta=0.5, eta_L=0.5)
    meas, ref = fr.series[0], fr.series[1]
    assert ref.kind == "reference"
    phi = linres.targets.near_identity(4, 0.5, np.random.default_rng(explore_model.SEED))
    exact = depth_one_loss(phi, 0.5, meas.x)
    np.testing.assert_allclose(meas.y, exact, rtol=1e-10)
    np.testing.assert_allclose(ref.y[0], meas.y[0], rtol=1e-12)
    # Small δ: the bound of Result 1 is drawn, and the measurement lies below it.
    fr = explore_model.frame(L=8, delta=0.05, eta_L=0.5)
    kinds = [s.kind for s in fr.series]
    assert kinds == ["measured", "reference", "bound"]
    meas, bound = fr.series[0], fr.series[2]
    rho2 = (bound.y[1] / bound.y[0]) ** (1 / bound.x[1])
    assert np.all(meas.y <= bound.y[0] * rho2**meas.x * (1 + 1e-9))
    # Far from I no bound applies.
    assert [s.kind for s in explore_model.frame(L=8, delta=1.0, eta_L=0.5).series] == [
        "measured", "reference"]


def test_explore_frame_changes_with_every_control():
    base = explore_model.EXPLORER.defaults
    y0 = explore_model.frame(**base).series[0].y
    for c in explore_model.EXPLORER.controls:
        for v in (c.values[0], c.values[-1]):
            if v == base[c.name]:
                continue
            y = explore_model.frame(**{**base, c.name: v}).series[0].y
            assert y.shape != y0.shape or not np.allclose(y, y0), (c.name, v)


@pytest.mark.parametrize("kw", [{"L": 0}, {"L": 2.0}, {"delta": -0.1}, {"delta": np.nan},
                                {"eta_L": 1.0}, {"eta_L": "a"}])
def test_explore_frame_refuses_bad_input(kw):
    with pytest.raises((TypeError, ValueError), match=list(kw)[0]):
        explore_model.frame(**kw)
