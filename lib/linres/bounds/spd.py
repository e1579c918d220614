"""Result 3: symmetric positive definite Φ (book/spd.ipynb)."""
from __future__ import annotations

__all__: list[str] = []
