"""The engine's entry points refuse bad input with a TypeError/ValueError naming the argument."""
import numpy as np
import pytest

import linres
from linres import (
    NonFiniteStep, OrthogonalityPenalty, gd, gd_step, identity_layers, layers_from_scalar, penalized_gd,
    penalized_gd_step, run, run_scalar, scalar_loss, scalar_step,
)
from linres.engine import Status, StopRule
from linres.engine.arith import ipow
from linres.normal import normal_step, run_normal

W, PHI = identity_layers(2, 2), np.diag([1.5, 0.5])


def runners():
    return {
        "run": lambda **kw: run(gd(0.1), W, PHI, **kw),
        "run_scalar": lambda **kw: run_scalar(np.array([1.5, 0.5]), 2, 0.1, **kw),
        "run_normal": lambda **kw: run_normal(np.array([1.5, 0.5]), 2, 0.1, **kw),
    }


@pytest.mark.parametrize("name", ["run", "run_scalar", "run_normal"])
@pytest.mark.parametrize("kw, exc, word", [
    (dict(max_steps=None), TypeError, "max_steps"),
    (dict(max_steps=float("inf")), ValueError, "max_steps"),
    (dict(max_steps=2**70), ValueError, "max_steps"),
    (dict(max_steps=2.5), ValueError, "max_steps"),
    (dict(max_steps=True), TypeError, "max_steps"),
    (dict(record_every=None), TypeError, "record_every"),
    (dict(record_every=0), ValueError, "record_every"),
    (dict(stall_window="a"), TypeError, "stall_window"),
    (dict(record=5), TypeError, "record"),
    (dict(tol=0.0), ValueError, "tol"),
    (dict(tol="x"), TypeError, "tol"),
    (dict(blowup=float("nan")), ValueError, "blowup"),
    (dict(stall_rtol=-1.0), ValueError, "stall_rtol"),
    (dict(monitors=("nope",)), ValueError, "monitors"),
    (dict(monitors=(3,)), TypeError, "monitors"),
    (dict(record=lambda s, t: 5), TypeError, "record"),
])
def test_loop_options_are_refused_by_name(name, kw, exc, word):
    with pytest.raises(exc, match=word):
        runners()[name](**kw)


def test_stop_rule_is_validated_once():
    s = StopRule(max_steps=10.0, stall_window=5)
    assert s.max_steps == 10 and isinstance(s.max_steps, int)
    assert list(s.records(7)) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert Status.DIVERGED == "diverged" and f"{Status.STALLED}" == "stalled" and str(Status.CONVERGED) == "converged"


@pytest.mark.parametrize("call, exc, word", [
    (lambda: run(None, W, PHI), TypeError, "rule"),
    (lambda: run(gd(np.array([0.1, 0.2, 0.3])), identity_layers(2, 2, (2,)), PHI), ValueError, "eta"),
    (lambda: run(gd(0.1), W + 0j, PHI), TypeError, "layers"),
    (lambda: run(gd(0.1), W, PHI + 1j), TypeError, "target"),
    (lambda: run(gd(0.1), np.zeros((2, 0, 0)), np.zeros((0, 0))), ValueError, "d >= 1"),
    (lambda: run(gd(0.1), "abc", PHI), TypeError, "layers"),
    (lambda: run_scalar(np.zeros(0), 2, 0.1), ValueError, "phi"),
    (lambda: run_scalar(np.ones((3, 2)), 2, np.ones(4) * 0.1), ValueError, "eta"),
    (lambda: run_scalar(np.ones((3, 2)), 2, 0.1, z0=np.ones(3)), ValueError, "z0"),
    (lambda: run_scalar(np.ones(2) + 1j, 2, 0.1), TypeError, "phi"),
    (lambda: run_scalar(np.ones(2), 2, 0.1, penalty=3), TypeError, "penalty"),
    (lambda: run_scalar(np.ones(2), 0, 0.1), ValueError, "depth L"),
    (lambda: run_normal(np.ones((3, 2)), 2, 0.1, z0=np.ones(3)), ValueError, "z0"),
    (lambda: run_normal(np.ones((3, 2)), 2, np.ones(2) * 0.1), ValueError, "eta"),
    (lambda: scalar_loss(np.ones(2), np.ones(2), 0), ValueError, "depth L"),
    (lambda: scalar_loss(np.ones(2), np.ones(2), -1), ValueError, "depth L"),
    (lambda: scalar_loss(np.ones(2), np.ones(2), True), TypeError, "depth L"),
    (lambda: scalar_loss(np.array([np.nan]), np.ones(1), 2), ValueError, "z"),
    (lambda: scalar_loss(np.float64(1.0), np.ones(1), 2), ValueError, "z"),
    (lambda: scalar_loss(np.ones(2), np.ones(3), 2), ValueError, "broadcast"),
    (lambda: ipow(np.ones(2), -1), ValueError, "exponent"),
    (lambda: ipow(np.ones(2), 1.5), TypeError, "exponent"),
    (lambda: scalar_step(np.ones(3), np.ones(3), 2, np.ones(2)), ValueError, "eta"),
    (lambda: gd_step(identity_layers(2, 2, (3,)), PHI, np.ones(2)), ValueError, "eta"),
    (lambda: gd_step(W, PHI, None), TypeError, "eta"),
    (lambda: penalized_gd(0.1, None), TypeError, "penalty"),
    (lambda: layers_from_scalar(np.ones(2), np.eye(3), 2), ValueError, "eigvecs"),
    (lambda: layers_from_scalar(np.ones((4, 2)), np.ones((3, 2, 2)), 2), ValueError, "batch"),
    (lambda: layers_from_scalar(np.ones(2), np.eye(2), 0), ValueError, "depth L"),
    (lambda: linres.eigen_reduction(np.eye(2) + 1j), TypeError, "target"),
    (lambda: identity_layers(2, 2, batch=5), TypeError, "batch"),
    (lambda: identity_layers(2, 2, batch=(-1,)), ValueError, "batch"),
    (lambda: identity_layers(2, 0), ValueError, "dimension d"),
    (lambda: linres.backend.set_backend(3), TypeError, "backend"),
    (lambda: linres.project_margin(PHI, None), TypeError, "gamma"),
])
def test_entry_points_refuse_bad_input_by_name(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_a_non_finite_step_is_reported():
    big = identity_layers(2, 2) * 1e200
    with pytest.raises(NonFiniteStep, match="not finite"):
        gd_step(big, PHI, 1e300)
    with pytest.raises(ValueError, match="not finite"):
        penalized_gd_step(big, PHI, 1e300, OrthogonalityPenalty(1.0))
    with pytest.raises(FloatingPointError):
        scalar_step(np.array([1e200]), np.array([1.0]), 3, 1e300)
    with pytest.raises(NonFiniteStep):
        normal_step(np.array([1e200 + 0j]), np.array([1.0 + 0j]), 3, 1e300)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_divergence_is_a_status_without_nan(backend):
    old = linres.backend.set_backend(backend)
    try:
        r = run(gd(10.0), identity_layers(3, 2, (2,)), np.stack([PHI, 3 * PHI]), max_steps=100)
        s = run_scalar(np.array([[3.0], [5.0]]), 3, 10.0, max_steps=100)
    finally:
        linres.backend.set_backend(old)
    for res in (r, s):
        assert np.all(res.status == "diverged")
        assert not np.any(np.isnan(res.loss)) and not np.any(np.isnan(res.history_loss))


def test_margin_is_a_module_and_callable():
    import linres.margin as m
    assert m.__name__ == "linres.margin"
    assert float(linres.margin(np.eye(2))) == 1.0 == float(linres.margin_of(np.eye(2)))


def test_unbatched_results_are_plain_values():
    r = run(gd(0.1), W, PHI, tol=1e-10, monitors=("min_det", "layer_distances"))
    assert isinstance(r.status, str) and isinstance(r.steps, int) and isinstance(r.loss, float)
    assert r.history["layer_distances"].shape == (len(r.history_steps), 2)
    assert r.summary() == "converged: 1" and bool(r.converged)
