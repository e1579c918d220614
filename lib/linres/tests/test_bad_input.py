"""Every public function refuses malformed input clearly (issue: bad input).

The callables are found by walking ``__all__`` of the package and of every public
submodule, so a new function is covered as soon as it is exported. For each one, a
valid call is built from the parameter names (``L``, ``eta``, ``phi``, ``layers``, …);
Hypothesis then draws one parameter and one malformed value for it, and the call
must raise ``TypeError`` or ``ValueError`` whose message names that parameter, within
a time limit. Nothing may hang, return NaN silently, or fail inside numpy.
"""
from __future__ import annotations

import faulthandler
import importlib
import inspect
import pkgutil
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import linres

TIME_LIMIT = 5.0  # seconds for one refused call; the process is killed after 120 s

# -- the malformed values, by kind of parameter -------------------------------------
_NOT_A_NUMBER = [None, "a", object(), [1, 2], 1 + 2j]
BAD = {
    "depth": [0, -1, 2.5, True, np.nan, 2**70] + _NOT_A_NUMBER,
    "count": [0, -3, 2.5, True, np.inf] + _NOT_A_NUMBER,
    "positive": [0.0, -1.0, np.nan, np.inf, True] + _NOT_A_NUMBER,
    "real": [np.nan, np.inf, True] + _NOT_A_NUMBER,
    "matrix": [np.zeros((2, 3)), np.zeros((0, 0)), np.full((2, 2), np.nan), np.eye(2) * (1 + 1j),
               np.zeros(2), "a", None, [[1, 2], [3]]],
    "layers": [np.zeros((2, 2, 3)), np.zeros((0, 2, 2)), np.full((2, 2, 2), np.inf),
               np.ones((2, 2, 2)) * 1j, np.eye(2), "a", None],
    "vector": [np.zeros((2, 2, 2)), np.zeros(0), np.array([np.nan, 1.0]), np.array([1j, 1.0]), "a", None],
    "rng": [0, "a", None, np.random.RandomState(0)],
    "callable": [5, "a"],
}
# Parameter name -> kind. A parameter not listed keeps its valid value.
KIND = {
    "L": "depth", "d": "count", "n": "count", "max_steps": "count", "record_every": "count",
    "stall_window": "count", "iterations": "count", "nrows": "count", "ncols": "count",
    "eta": "positive", "tol": "positive", "eps": "positive", "h": "positive", "kappa": "positive",
    "max_distance": "positive", "scale": "positive", "k": "count",
    "delta": "real", "lam": "real", "gamma": "real", "t": "real", "level": "real", "theta": "real",
    "phi": "matrix", "target": "matrix", "layers": "layers", "spectrum": "vector", "z": "vector",
    "rng": "rng", "rule": "callable", "f": "callable", "product": "matrix", "prod": "matrix",
    "eigvecs": "matrix", "tau": "positive", "eigenvalues": "vector", "penalty": "callable",
}
# A valid value for every parameter name the public API uses (2×2 problems, L = 2).
PHI = np.array([[1.2, 0.1], [0.1, 0.9]])
VALID = {
    "L": 2, "d": 2, "n": 3, "max_steps": 5, "record_every": 1, "stall_window": 50, "iterations": 5,
    "nrows": 1, "ncols": 1, "eta": 0.05, "tol": 1e-8, "eps": 1e-6, "h": 1e-4, "kappa": 0.1,
    "max_distance": 1.0, "scale": 0.01, "delta": 0.1, "lam": 0.5, "gamma": 0.5, "t": 3,
    "level": 0.0, "theta": 0.3, "phi": PHI, "target": PHI, "layers": np.stack([np.eye(2)] * 2),
    "spectrum": np.array([0.8, 1.5]), "z": np.ones(2), "rng": None, "rule": None, "f": None,
    "penalty": None, "a": PHI, "product": PHI, "prod": PHI, "eigvecs": np.eye(2), "r": 0.3, "tau": 1.0,
    "steps": np.arange(4), "values": np.array([1.0, 0.5, 0.1, 0.01]),
    "history_steps": np.arange(4), "history_loss": np.array([1.0, 0.5, 0.1, 0.01]),
    "x": np.array([1.0, 2.0, 4.0]), "y": np.array([1.0, 4.0, 16.0]), "y_fit": np.array([1.1, 3.9, 16.0]),
    "x_edges": np.array([0.0, 2.0, 5.0]), "y_edges": np.array([0.0, 10.0, 20.0]),
    "m": 0.5, "M": 2.0, "radius": 1.0, "angle": 0.5, "distance": 0.1, "eigenvalues": np.array([0.5, 2.0]),
    "lo": 0.5, "hi": 2.0, "negative": np.array([0.5]), "positive": np.array([1.5]), "margin": 0.3, "skew": 0.5,
    "c": 0.5, "w": 0.5 + 0.5j, "b": 2.0 + 0.0j, "form": None,
    # engine helpers exported from linres.engine.*
    "e": 2, "record": None, "batch": (2,), "kernel": "gd", "equal_layers": True,
    "monitors": None, "table": {},
    # a finished batched run of two problems, and a problem index into it
    "result": linres.run(linres.gd(0.1), linres.identity_layers(2, 1, (2,)), np.array([[[1.2]], [[1.5]]]),
                         tol=1e-6, record_every=10),
    "k": 1,
}
# Where a parameter name means something else in one function: its own valid values.
OVERRIDES = {
    "linres.analysis.hessian": {"x": np.array([1.0, 2.0])},
    "linres.bounds.beyond.distance_to_segment": {"a": 1.0 + 0.0j},
    "linres.bounds.near_identity.remainder_factor": {"x": 0.1},
    "linres.analysis.binned_mean": {"values": np.array([1.0, 2.0, 3.0])},
    "linres.analysis.binned_median": {"values": np.array([1.0, 2.0, 3.0])},
    "linres.bounds.far.jump_step": {"L": 3},
    "linres.bounds.margin.loss_bound": {"eta": 1e-4},
    "linres.bounds.margin.iteration_bound": {"eta": 1e-4},
    "linres.flow.solve_flow": {"tau": np.array([0.0, 1.0])},
    "linres.margin_trace.trace_margin_balanced": {"steps": 3},
    "linres.targets.symmetric_with_negative": {"negative": np.array([-0.5])},
    "linres.normal.layers_from_normal": {"z": np.array([1.0 + 0j, 1.0 + 0j])},
    # steps is one count per problem (PHI gives a batch of 2 spectra), or a scalar
    "linres.bounds.spd.replay": {"steps": 3},
    # n is the number of problems in batch (2,)
    "linres.engine.checks.batch_eta": {"n": 2},
}
# Where a "bad" value is valid input for one function: (function, parameter) -> why.
# Only a non-empty array of finite real numbers is let through (see _legitimate); every
# other malformed value (NaN, inf, strings, None, wrong kinds) must still be refused.
_VECTORIZED = "vectorized elementwise: an array of values is a batch of problems"
_BATCHED = "shape (..., d): a higher-dimensional array is a batch of spectra"
LEGITIMATE = {
    **{(f"linres.bounds.far.{f}", "lam"): _VECTORIZED for f in (
        "jump_step", "monotone_step", "penalized_fixed_point", "penalized_plateau", "safe_step",
        "witness_spectrum")},
    ("linres.bounds.margin.contraction", "gamma"): _VECTORIZED,
    ("linres.bounds.margin.lemma_max_step", "delta"): _VECTORIZED,
    **{(f"linres.bounds.near_identity.{f}", "delta"): _VECTORIZED for f in (
        "contraction", "error_bound", "hypotheses_hold", "layer_bound", "loss_bound", "radius", "rate")},
    ("linres.bounds.near_identity.iteration_bound", "eta"): _VECTORIZED,
    ("linres.engine.checks.check_eta", "eta"): "documented: a positive number or an array of them",
    ("linres.engine.arith.guard_floor", "eta"): "eta may be an array over the batch",
    **{(f"linres.updates.{f}", "eta"): "eta may be an array over the batch" for f in (
        "gd", "margin_balanced", "penalized_gd")},
    ("linres.bounds.far.critical_loss_bounds", "t"): _VECTORIZED,
    ("linres.bounds.margin.loss_bound", "t"): _VECTORIZED,
    ("linres.bounds.model.depth_one_loss", "t"): _VECTORIZED,
    ("linres.bounds.margin.contraction", "eta"): _VECTORIZED,
    **{(f"linres.bounds.near_identity.{f}", "eta"): _VECTORIZED for f in (
        "contraction", "hypotheses_hold", "layer_bound", "max_distance", "radius", "rate")},
    ("linres.bounds.near_identity.iteration_bound", "delta"): _VECTORIZED,
    ("linres.bounds.negative.plateau_guaranteed", "eta"): _VECTORIZED,
    ("linres.bounds.spd.local_rate", "eta"): "eta: a scalar or the batch shape",
    ("linres.bounds.spd.replay", "L"): "documented: L is a scalar or an integer array of the batch shape",
    ("linres.flow.solve_flow", "tau"): "tau holds the output times",
    **{(q, "eta"): "eta may be an array over the batch" for q in (
        "linres.bounds.spd.replay", "linres.engine.checks.batch_eta", "linres.normal.convergence_map")},
    ("linres.engine.arith.guard_floor", "phi"): "phi: any array of targets (only its largest entry is used)",
    # complex eigenvalues, one problem per entry, any shape (empty: an empty batch)
    **{(f"linres.normal.{f}", "z"): "complex, elementwise" for f in ("root_index", "normal_loss", "normal_step")},
    **{(f"linres.normal.{f}", "phi"): "complex eigenvalues of any shape" for f in (
        "convergence_map", "principal_root", "normal_loss", "normal_step", "root_index", "run_normal")},
    **{(f"linres.bounds.negative.{f}", "spectrum"): _BATCHED for f in (
        "escape_rate", "flow_limit", "flow_limit_loss", "odd_depth_max_step", "plateau",
        "plateau_guaranteed", "saddle_min_curvature", "saddle_point")},
    ("linres.normal.normal_target", "spectrum"): _BATCHED,
    **{(f"linres.normal.{f}", "z"): _VECTORIZED for f in ("root_index", "normal_loss", "normal_step")},
    ("linres.flow.flow_rhs", "z"): _VECTORIZED,
    **{(f"linres.scalar.{f}", "z"): _VECTORIZED for f in ("layers_from_scalar", "scalar_step", "scalar_loss")},
    # phi is the spectrum of Φ here (the eigenvalues per problem), not a matrix
    **{(f"linres.normal.{f}", "phi"): _BATCHED for f in ("convergence_map", "principal_root", "run_normal")},
    ("linres.scalar.run_scalar", "phi"): _BATCHED,
}

# Where 0 is meaningful for a "positive" parameter: (function, parameter) -> why.
ZERO_OK = {
    ("linres.inits.perturbed_identity", "eps"): "eps = 0 means no perturbation",
    ("linres.inits.near_identity", "scale"): "scale = 0 means no perturbation",
    ("linres.bounds.spd.flow_loss_bound", "tau"): "tau is a time: the bound at tau = 0 is the initial loss",
    ("linres.engine.dispatch.plan_layers", "n"): "n = 0 (an empty batch) is planned as the reference loop",
    ("linres.engine.dispatch.plan_spectrum", "n"): "n = 0 (an empty batch) is planned as the reference loop",
    ("linres.analysis.problem_history", "k"): "k is an index: 0 is the first problem",
    **{(q, "max_steps"): "max_steps = 0 evaluates the start without stepping" for q in (
        "linres.normal.run_normal", "linres.scalar.run_scalar", "linres.train.run")},
}
# Where None is meaningful: (function, parameter) -> why.
NONE_OK = {
    **{(f"linres.bounds.spd.{f}", "eta"): "eta=None means the proved step" for f in (
        "contraction", "loss_bound", "sharp_iteration_bound")},
    ("linres.margin_trace.trace_margin_balanced", "tol"): "tol=None means no early stop",
    ("linres.margin_trace.trace_margin_balanced", "layers"): "layers=None means the identity start",
}

# Parameters that are complex eigenvalues of any shape: complex or empty arrays are valid.
# The beyond bounds take phi as a batch of complex eigenvalues (any shape), and their
# step sizes and balance_drift's eta broadcast over batches.
LEGITIMATE.update({(f"linres.bounds.beyond.{f}", "phi"): _VECTORIZED for f in (
    "root_multiplier", "small_step_envelope", "small_step_eta", "small_step_rate", "segment_distance")})
LEGITIMATE.update({(f"linres.bounds.beyond.{f}", "eta"): _VECTORIZED for f in (
    "root_multiplier", "small_step_envelope", "small_step_rate")})
LEGITIMATE.update({("linres.bounds.beyond.stability_radius", "eta"): _VECTORIZED,
                   ("linres.landscape.balance_drift", "eta"): _VECTORIZED})
COMPLEX_OK = {(f"linres.bounds.beyond.{f}", "phi") for f in (
    "root_multiplier", "small_step_envelope", "small_step_eta", "small_step_rate", "segment_distance")} | {
    (f"linres.normal.{f}", n) for f, n in (
    ("root_index", "z"), ("normal_loss", "z"), ("normal_step", "z"),
    ("convergence_map", "phi"), ("principal_root", "phi"), ("normal_loss", "phi"), ("normal_step", "phi"),
    ("root_index", "phi"), ("run_normal", "phi"))} | {("linres.engine.arith.guard_floor", "phi")}


def _legitimate(qual, name, value):
    """True when ``value`` is a valid input for this parameter of this function (LEGITIMATE)."""
    if (qual, name) in ZERO_OK and type(value) in (int, float) and value == 0:
        return True
    if (qual, name) in NONE_OK and value is None:
        return True
    if (qual, name) not in LEGITIMATE or not isinstance(value, (list, np.ndarray)):
        return False
    try:
        a = np.asarray(value)
    except ValueError:
        return False
    if (qual, name) in COMPLEX_OK:
        return a.dtype.kind in "iufc" and bool(np.all(np.isfinite(a)))
    return a.size > 0 and a.dtype.kind in "iuf" and bool(np.all(np.isfinite(a)))


FORM_TARGET = PHI
# Functions that need more than the table above, or whose inputs are not arrays of numbers.
SKIP = {
    # display helpers (figures, pages) and the global backend switch
    "linres.explore", "linres.figures", "linres.page", "linres._kernels.set_backend",
    "linres.backend.set_backend", "linres.engine.dispatch.set_backend",
    # the install-time warm-up of numba's cache: a command (its defaults compile every kernel), tested in test_warm.py
    "linres.engine.warm",
}


def _fresh(name, qual=""):
    if name in OVERRIDES.get(qual, {}):
        v = OVERRIDES[qual][name]
        return v.copy() if isinstance(v, np.ndarray) else v
    if name == "penalty":
        return linres.WeightDecay(0.1)
    if name == "form":
        from linres import normal
        return normal.normal_form(PHI)
    if name == "rng":
        return np.random.default_rng(0)
    if name == "rule":
        return linres.gd(0.05)
    if name == "f":
        return lambda v: float(np.sum(np.asarray(v) ** 2))
    v = VALID[name]
    return v.copy() if isinstance(v, np.ndarray) else v


def _public_callables():
    found = {}
    modules = [linres] + [importlib.import_module(m.name)
                          for m in pkgutil.walk_packages(linres.__path__, "linres.")
                          if ".tests" not in m.name and not m.name.rsplit(".", 1)[-1].startswith("_")]
    for mod in modules:
        if any(mod.__name__ == s or mod.__name__.startswith(s + ".") for s in SKIP):
            continue
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            qual = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
            if inspect.isfunction(obj) and not any(qual == s or obj.__module__.startswith(s) for s in SKIP):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return found


CALLABLES = _public_callables()


def _baseline(fn):
    """Valid keyword arguments for ``fn``, or None when a parameter is unknown."""
    kwargs = {}
    qual = f"{fn.__module__}.{fn.__qualname__}"
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in VALID or p.name in OVERRIDES.get(qual, {}):
            kwargs[p.name] = _fresh(p.name, qual)
        elif p.default is p.empty:
            return None
    return kwargs


def _fuzzable(fn):
    base = _baseline(fn)
    return [] if base is None else [k for k in base if k in KIND]


def test_every_public_function_is_covered():
    """Each public function can be called from the table of valid values, and that call
    succeeds; a new parameter name needs a row in VALID (and KIND)."""
    failures = []
    for qual, fn in CALLABLES.items():
        base = _baseline(fn)
        if base is None:
            missing = [p for p in inspect.signature(fn).parameters.values()
                       if p.name not in VALID and p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            failures.append(f"{qual}: no valid value for {[p.name for p in missing]}")
            continue
        try:
            fn(**base)
        except Exception as exc:  # noqa: BLE001 - report every kind of failure
            failures.append(f"{qual}: the valid call raised {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("qual", sorted(q for q, f in CALLABLES.items() if _fuzzable(f)))
def test_malformed_input_is_refused_naming_the_argument(qual):
    fn = CALLABLES[qual]
    params = _fuzzable(fn)

    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        name = data.draw(st.sampled_from(params), label="parameter")
        bad = data.draw(st.sampled_from(BAD[KIND[name]]), label="value")
        assume(not _legitimate(qual, name, bad))
        kwargs = _baseline(fn)
        kwargs[name] = bad
        faulthandler.dump_traceback_later(120, exit=True)
        start = time.process_time()
        try:
            with np.errstate(all="ignore"):
                fn(**kwargs)
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            assert name in msg, f"{qual}({name}={bad!r}): the error does not name {name!r}: {msg}"
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(f"{qual}({name}={bad!r}) raised {type(exc).__name__}: {exc}") from exc
        else:
            raise AssertionError(f"{qual}({name}={bad!r}) was accepted")
        finally:
            faulthandler.cancel_dump_traceback_later()
        assert time.process_time() - start < TIME_LIMIT, f"{qual}({name}={bad!r}) took too long to refuse"

    check()
