"""Result 5: positive margin, the margin-keeping balanced algorithm (book/positive_margin.ipynb)."""
from __future__ import annotations

__all__: list[str] = []
