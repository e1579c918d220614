"""Recorded rows of a run, stored in preallocated blocks and assembled once at the end.

Rows arrive one at a time (reference loop) or many at a time (compiled kernels). Each field
is kept in blocks whose size doubles up to a cap; ``History.arrays`` copies the blocks,
one by one, into arrays of exactly the recorded size, so that memory peaks at what the
history holds plus one block. A run that the compiled kernels record in one call has a
single block, which is handed over as it is, without a copy.
"""
from __future__ import annotations

import math

import numpy as np

Array = np.ndarray

_FIRST, _CAP_ENTRIES = 16, 1 << 20


class _Field:
    def __init__(self, row_shape, dtype):
        self.row_shape, self.dtype = tuple(row_shape), dtype
        self.blocks: list[Array] = []
        self.fill = 0  # rows used in the last block
        self.rows = 0

    def _room(self):
        if not self.blocks or self.fill == len(self.blocks[-1]):
            per_row = max(1, math.prod(self.row_shape))
            size = _FIRST if not self.blocks else 2 * len(self.blocks[-1])
            size = max(1, min(size, _CAP_ENTRIES // per_row))
            self.blocks.append(np.empty((size,) + self.row_shape, dtype=self.dtype))
            self.fill = 0

    def add(self, rows: Array, own: bool = False):
        if own and not self.rows and rows.dtype == self.dtype:  # the first rows become the first block
            self.blocks.append(rows)
            self.fill = self.rows = len(rows)
            return
        i = 0
        while i < len(rows):
            self._room()
            blk = self.blocks[-1]
            k = min(len(blk) - self.fill, len(rows) - i)
            blk[self.fill:self.fill + k] = rows[i:i + k]
            self.fill += k
            i += k
        self.rows += len(rows)

    def array(self) -> Array:
        if len(self.blocks) == 1 and self.fill == self.rows == len(self.blocks[0]):
            return self.blocks.pop()  # one full block: it is the array
        out = np.empty((self.rows,) + self.row_shape, dtype=self.dtype)
        i = 0
        while self.blocks:
            blk = self.blocks.pop(0)
            k = min(len(blk), self.rows - i)
            out[i:i + k] = blk[:k]
            i += k
        return out


class History:
    """The steps, the loss rows (n,) and any named rows (n, …) recorded so far."""

    def __init__(self, n: int):
        self.n = n
        self.steps = _Field((), np.int64)
        self.loss = _Field((n,), np.float64)
        self.extra: dict[str, _Field] = {}

    def __len__(self):
        return self.steps.rows

    def add(self, steps, loss_rows, extra: dict | None = None, own: bool = False):
        """Append k rows: ``steps`` (k,), ``loss_rows`` (k, n), each ``extra[name]`` (k, n, …).

        ``own``: the arrays are the caller's to give away (no one writes them later), so the
        first rows are kept as they are, not copied (a run recorded in one go is then never
        copied).
        """
        steps = np.asarray(steps, dtype=np.int64).reshape(-1)
        self.steps.add(steps, own)
        self.loss.add(np.asarray(loss_rows, dtype=float).reshape(len(steps), self.n), own)
        for name, rows in (extra or {}).items():
            rows = np.asarray(rows)
            if rows.shape[:1] != (len(steps),) or rows.shape[1:2] != (self.n,):
                raise ValueError(f"record entry {name!r} must have one value per problem: shape ({self.n}, ...); "
                                 f"got {rows.shape[1:]}")
            f = self.extra.get(name)
            if f is None:
                f = self.extra[name] = _Field(rows.shape[1:], rows.dtype)
            if f.rows != self.steps.rows - len(steps):
                raise ValueError(f"record entry {name!r} is missing at some recorded steps")
            f.add(rows, own)

    def last_step(self) -> int:
        return int(self.steps.blocks[-1][self.steps.fill - 1]) if self.steps.rows else -1

    def arrays(self) -> tuple[Array, Array, dict[str, Array]]:
        return self.steps.array(), self.loss.array(), {k: f.array() for k, f in self.extra.items()}
