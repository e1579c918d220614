r"""linres: deep linear residual networks trained from the identity.

The engine of the executable book on Bartlett, Helmbold & Long (ICML 2018).
A network is a stack of layers (…, L, d, d); the loss is ½‖Θ_L⋯Θ_1 − Φ‖_F².

Public API
----------
model        identity_layers, product, loss, loss_and_grad, grad
updates      UpdateRule, gd, penalized_gd, margin_balanced (and their one-step forms)
penalties    Penalty, WeightDecay, OrthogonalityPenalty
margin       margin_of (also ``linres.margin(A)``), project_margin, balance
train        run (returns an engine Result)
scalar       eigen_reduction, run_scalar, scalar_step, scalar_loss, layers_from_scalar
engine       Status, StopRule, Result; dispatch, monitors, reference loop, compiled kernels
diagnostics  balancedness, layer_distances, max_layer_distance, symmetric_invariants, …
inits        identity, zero_asymmetric, near_identity, perturbed_identity
targets      near_identity, spd_with_condition, symmetric_with_spectrum, witness, …
bounds       the book's proved bounds, one module per chapter
explore      one frame function per chapter, drawn live (ipywidgets) or static (Vega-Lite)
flow         gradient flow of the symmetric reduction (book/spd.ipynb)
margin_trace the Result 5 iteration with every phase recorded (book/positive_margin.ipynb)
normal       complex reduction for normal targets (book/beyond.ipynb)
landscape    target features and determinant diagnostics (book/beyond.ipynb)
backend      choose the compiled (numba) or the pure-numpy engine

``linres.margin`` is the module :mod:`linres.margin`; it is also callable, ``linres.margin(A)``
being :func:`linres.margin.margin_of`.
"""
from . import margin  # noqa: I001  (the module, made callable; see linres.margin)
from . import backend, bounds, diagnostics, engine, explore, flow, inits, landscape, margin_trace, normal, targets
from .diagnostics import balancedness, layer_distances, max_layer_distance, symmetric_invariants
from .engine import Result, Status, StopRule
from .margin import balance, margin_of, project_margin
from .model import grad, identity_layers, loss, loss_and_grad, product
from .penalties import OrthogonalityPenalty, Penalty, WeightDecay
from .scalar import ScalarResult, eigen_reduction, layers_from_scalar, run_scalar, scalar_loss, scalar_step
from .train import STATUSES, TrainResult, run
from .updates import (
    NonFiniteStep, UpdateRule, gd, gd_step, margin_balanced, margin_balanced_step, penalized_gd, penalized_gd_step,
)

__version__ = "0.1.0"

__all__ = [
    "backend", "bounds", "diagnostics", "engine", "explore", "flow", "inits", "landscape", "margin",
    "margin_trace", "normal", "targets",
    "identity_layers", "product", "loss", "loss_and_grad", "grad",
    "UpdateRule", "gd", "penalized_gd", "margin_balanced",
    "gd_step", "penalized_gd_step", "margin_balanced_step", "NonFiniteStep",
    "Penalty", "WeightDecay", "OrthogonalityPenalty",
    "margin_of", "project_margin", "balance",
    "run", "Result", "Status", "StopRule",
    "eigen_reduction", "run_scalar", "scalar_step", "scalar_loss", "layers_from_scalar",
    "balancedness", "layer_distances", "max_layer_distance", "symmetric_invariants",
]
