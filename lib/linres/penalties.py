r"""Penalties that pull each layer toward the identity.

A penalty adds Σ_i ψ(Θ_i) to the loss. Every penalty here is *invariant under
orthogonal conjugation*, ψ(QΘQᵀ) = ψ(Θ) for orthogonal Q, and is minimized at
Θ = I. That is the class for which the book proves (chapters on Results 2 and 4)
that identity-initialized gradient descent keeps the layers equal, symmetric and
commuting with a symmetric Φ, so the penalty cannot help it past a negative
eigenvalue.

A penalty provides

- ``value(layers)``: Σ_i ψ(Θ_i) over the layer axis;
- ``grad(layers)``: ∇ψ(Θ_i) for every layer, shaped like ``layers``;
- ``scalar_grad(z)``: ψ restricted to the symmetric reduction. If Θ = Q diag(z) Qᵀ
  then ∇ψ(Θ) = Q diag(ψ'(z)) Qᵀ, and this returns ψ'(z) elementwise.

Any object with these three methods can be passed where a penalty is expected.

Kernel code. A penalty class may also define ``scalar_kernel(self) -> (code, κ)``, declaring
that the compiled scalar kernel computes its ψ' as formula ``code`` with constant κ
(1: κ(z − 1); 2: κz(z² − 1)). :func:`linres.scalar.run_scalar` then runs it compiled; a penalty
without that declaration (in its own class body) runs on the numpy reference loop.
The bounds use ``kind`` ("wd", "orth") to recognise the penalties their theorems cover.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ._validate import Array, check_nonnegative

__all__ = ["Penalty", "WeightDecay", "OrthogonalityPenalty"]


@runtime_checkable
class Penalty(Protocol):
    def value(self, layers: Array) -> Array: ...
    def grad(self, layers: Array) -> Array: ...
    def scalar_grad(self, z: Array) -> Array: ...


@dataclass(frozen=True)
class WeightDecay:
    r"""Weight decay toward the identity: ψ(Θ) = (κ/2)‖Θ − I‖_F².

    ∇ψ(Θ) = κ(Θ − I); on the symmetric reduction ψ'(z) = κ(z − 1).
    """

    kappa: float

    def __post_init__(self):
        object.__setattr__(self, "kappa", check_nonnegative(self.kappa, "kappa"))

    def value(self, layers: Array) -> Array:
        dev = layers - np.eye(layers.shape[-1])
        return 0.5 * self.kappa * np.einsum("...lij,...lij->...", dev, dev)

    def grad(self, layers: Array) -> Array:
        return self.kappa * (layers - np.eye(layers.shape[-1]))

    def scalar_grad(self, z: Array) -> Array:
        return self.kappa * (z - 1.0)

    kind = "wd"

    def scalar_kernel(self) -> tuple[int, float]:
        """Kernel code 1: ψ'(z) = κ(z − 1)."""
        return 1, self.kappa


@dataclass(frozen=True)
class OrthogonalityPenalty:
    r"""A spectral penalty: ψ(Θ) = (κ/4)‖ΘᵀΘ − I‖_F² = (κ/4)Σ_j (σ_j² − 1)².

    It depends on Θ only through its singular values σ_j, so it is invariant under
    Θ ↦ UΘVᵀ for orthogonal U, V (in particular under conjugation), and it is
    minimized exactly on the orthogonal matrices, I among them.
    ∇ψ(Θ) = κ Θ(ΘᵀΘ − I); on the symmetric reduction ψ'(z) = κ z(z² − 1).
    """

    kappa: float

    def __post_init__(self):
        object.__setattr__(self, "kappa", check_nonnegative(self.kappa, "kappa"))

    def value(self, layers: Array) -> Array:
        gram = np.swapaxes(layers, -1, -2) @ layers - np.eye(layers.shape[-1])
        return 0.25 * self.kappa * np.einsum("...lij,...lij->...", gram, gram)

    def grad(self, layers: Array) -> Array:
        gram = np.swapaxes(layers, -1, -2) @ layers - np.eye(layers.shape[-1])
        return self.kappa * (layers @ gram)

    def scalar_grad(self, z: Array) -> Array:
        return self.kappa * z * (z * z - 1.0)

    kind = "orth"

    def scalar_kernel(self) -> tuple[int, float]:
        """Kernel code 2: ψ'(z) = κz(z² − 1)."""
        return 2, self.kappa
