"""The named monitors (linres.engine.monitors) against their definitions, computed problem by
problem and layer by layer here, and the names a run accepts."""
from __future__ import annotations

import numpy as np
import pytest

from linres import gd, identity_layers, run, run_scalar
from linres.engine.monitors import LAYER_MONITORS, SPECTRUM_MONITORS, check_monitors, evaluate


def _layers(rng, m, L, d, scale=0.3):
    return np.eye(d) + scale * rng.standard_normal((m, L, d, d))


def _explicit(name, w):
    """One problem's monitor from its definition (w: (L, d, d))."""
    L, d = w.shape[0], w.shape[-1]
    prod = np.eye(d)
    for i in range(L):
        prod = w[i] @ prod
    if name == "product":
        return prod
    if name == "margin":
        return min(np.linalg.eigvalsh((prod + prod.T) / 2))
    if name == "balancedness":
        return max([np.linalg.norm(w[i + 1].T @ w[i + 1] - w[i] @ w[i].T, "fro") for i in range(L - 1)], default=0.0)
    if name == "layer_distances":
        return np.array([max(np.linalg.svd(w[i] - np.eye(d), compute_uv=False)) for i in range(L)])
    if name == "max_layer_distance":
        return max(max(np.linalg.svd(w[i] - np.eye(d), compute_uv=False)) for i in range(L))
    if name == "det":
        return np.array([np.linalg.det(w[i]) for i in range(L)])
    if name == "min_det":
        return min(np.linalg.det(w[i]) for i in range(L))
    raise KeyError(name)


@pytest.mark.parametrize("L,d", [(1, 2), (2, 3), (4, 2), (3, 1)])
def test_layer_monitors_match_their_definitions(rng, L, d):
    w = _layers(rng, 5, L, d)
    phi = rng.standard_normal((5, d, d))
    got = evaluate(tuple(LAYER_MONITORS), LAYER_MONITORS, w, phi)
    assert set(got) == set(LAYER_MONITORS)
    for name, v in got.items():
        assert v.shape[0] == 5
        for k in range(5):
            np.testing.assert_allclose(v[k], _explicit(name, w[k]), rtol=1e-12, atol=1e-12, err_msg=name)


def test_balancedness_is_zero_for_balanced_layers_and_one_layer(rng):
    # Θ_i = Q symmetric for every i: Θ_{i+1}ᵀΘ_{i+1} = Θ_iΘ_iᵀ
    a = rng.standard_normal((3, 3))
    q = np.broadcast_to(a + a.T, (2, 4, 3, 3)).copy()
    assert np.all(LAYER_MONITORS["balancedness"](q, None) < 1e-12)
    assert np.array_equal(LAYER_MONITORS["balancedness"](q[:, :1], None), np.zeros(2))
    q[1, 2] += 0.5 * np.eye(3)
    b = LAYER_MONITORS["balancedness"](q, None)
    assert b[0] < 1e-12 < 0.1 < b[1]


def test_spectrum_monitor_is_a_copy():
    z = np.array([[1.0, 2.0]])
    out = SPECTRUM_MONITORS["z"](z, None)
    z[0, 0] = 5.0
    assert out[0, 0] == 1.0


@pytest.mark.parametrize("backend_batch", [(1,), (9,)])  # one problem (loops) and a batch of lanes
def test_recorded_monitors_are_the_monitors_of_the_recorded_layers(rng, backend_batch):
    n = backend_batch[0]
    d, L = 2, 3
    W = _layers(rng, n, L, d, 0.1)
    phi = np.eye(d) + 0.2 * rng.standard_normal((n, d, d))
    names = tuple(LAYER_MONITORS)
    r = run(gd(0.05), W, phi, max_steps=23, record_every=5, monitors=names,
            record=lambda w, t: {"w": w.copy()})
    assert list(r.history_steps) == [0, 5, 10, 15, 20, 23]
    for name in names:
        h = r.history[name]
        assert h.shape[:2] == (6, n)
        for j in range(6):
            for k in range(n):
                np.testing.assert_allclose(h[j, k], _explicit(name, r.history["w"][j, k]), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(r.history["w"][-1], r.state)


def test_recorded_spectrum(rng):
    r = run_scalar(np.array([1.5, 0.5]), 3, 0.05, max_steps=12, record_every=4, monitors="z")
    assert r.history["z"].shape == (4, 2)
    np.testing.assert_array_equal(r.history["z"][-1], r.state)
    assert np.all(r.history["z"][0] == 1.0)


def test_check_monitors_names():
    assert check_monitors(None, LAYER_MONITORS) == ()
    assert check_monitors("margin", LAYER_MONITORS) == ("margin",)
    assert check_monitors(["det", "margin"], LAYER_MONITORS) == ("det", "margin")
    assert check_monitors(iter(["z"]), SPECTRUM_MONITORS) == ("z",)
    with pytest.raises(TypeError, match="sequence of names"):
        check_monitors(3, LAYER_MONITORS)
    with pytest.raises(TypeError, match="names"):
        check_monitors(["margin", 3], LAYER_MONITORS)
    with pytest.raises(ValueError, match="unknown monitor 'z'"):
        check_monitors(["z"], LAYER_MONITORS)
    with pytest.raises(ValueError, match="repeated"):
        check_monitors(("det", "det"), LAYER_MONITORS)
    with pytest.raises(ValueError, match="unknown monitor"):
        run(gd(0.1), identity_layers(2, 2), np.eye(2), monitors=("z",))


@pytest.mark.parametrize("n", [1, 9])
def test_a_record_entry_may_not_take_a_monitor_name(n):
    W = identity_layers(2, 2, batch=(n,))
    with pytest.raises(ValueError, match="record entry 'margin' has the name of a monitor"):
        run(gd(0.1), W, 1.2 * np.eye(2), max_steps=3, monitors=("margin",),
            record=lambda w, t: {"margin": np.zeros(len(w))})
