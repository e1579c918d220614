"""Bounds proved in the book, one module per chapter, as plain functions.

Each function's docstring names the chapter whose theorem it implements. These are
the *book's own* precise versions [ours]; where a chapter could only source the
shape of a result from the paper, it says so in the chapter, not here.

- :mod:`linres.bounds.model`         the setup chapter (the model)
- :mod:`linres.bounds.near_identity` Result 1 (small initial loss)
- :mod:`linres.bounds.spd`           Result 3 (symmetric positive definite)
- :mod:`linres.bounds.negative`      Results 2 and 4 (a negative eigenvalue)
- :mod:`linres.bounds.far`           Result 2 (the witness, regularization)
- :mod:`linres.bounds.margin`        Result 5 (positive margin)
- :mod:`linres.bounds.beyond`        beyond the paper (normal targets, determinant)
"""
from . import beyond, far, margin, model, near_identity, negative, spd

__all__ = ["model", "near_identity", "far", "spd", "negative", "margin", "beyond"]
