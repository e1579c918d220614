r"""The training engine: one contract, explicit dispatch, a reference loop and compiled kernels.

A call ``linres.run(gd(η), W, Φ)`` crosses these modules:

- :mod:`linres.train` (or :mod:`linres.scalar`, :mod:`linres.normal`) validates the input
  once, builds a :class:`~linres.engine.contract.StopRule` and flattens the batch;
- :mod:`linres.engine.dispatch` picks the loop (every threshold is there) and builds the
  result;
- :mod:`linres.engine.reference` (numpy, one step per Python iteration) or
  :mod:`linres.engine.compiled` (numba kernels, many steps per call) run it: a run that
  records no states in one kernel call (``gd_solve`` for the matrix kernel), others block
  by block through :mod:`linres.engine.driver`, which turns recorded states into monitors
  between calls;
- :mod:`linres.engine.history` stores what is recorded; :mod:`linres.engine.monitors` holds
  the named diagnostics computed on recorded states.
"""
from __future__ import annotations

_compiled = None


def compiled_module():
    """The module of compiled kernels, imported (and compiled or loaded from numba's cache) on first use."""
    global _compiled
    if _compiled is None:
        from . import compiled
        _compiled = compiled
    return _compiled


from .contract import Result, Status, StopRule  # noqa: E402

__all__ = ["Result", "Status", "StopRule"]
