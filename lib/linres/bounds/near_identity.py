"""Result 1: small initial excess loss ⇒ linear convergence (book/near_identity.ipynb)."""
from __future__ import annotations

__all__: list[str] = []
