r"""The engine contract: what every training loop promises, whichever backend runs it.

A loop advances a flat batch of n independent problems and tracks ℓ_t for each. Problem k
stops (its state frozen) at the first step t at which one of these holds, in this order of
precedence:

- ``diverged``  ℓ_t is not finite, or ℓ_t > ``blowup`` · max(1, ℓ_0); its loss
  is then reported as ``inf`` if it was not finite (divergence is a status, never a NaN);
- ``converged`` ℓ_t ≤ ``tol``;
- ``stalled``   (only with ``stall_window`` = w) \|ℓ_{t−w} − ℓ_t\| ≤ ``stall_rtol`` · ℓ_t
  at a multiple t > 0 of w;
- ``max_steps`` t reached ``max_steps``.

Both backends write these statuses as the integer :attr:`Status.code` (the compiled kernels
read the codes as constants) and turn them into names once, at the end.

>>> Status.CONVERGED == "converged", Status.CONVERGED.code
(True, 1)
>>> StopRule(tol=1e-10, max_steps=100).max_steps
100
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Array = np.ndarray

__all__ = ["Status", "StopRule", "Result", "RUNNING", "CONVERGED", "MAX_STEPS", "DIVERGED", "STALLED"]

# Largest step budget: steps are int64 inside the kernels and t + record_every must not overflow.
MAX_BUDGET = 2**62


class Status(str, enum.Enum):
    """How a problem stopped. A ``str``: ``Status.CONVERGED == "converged"`` is True."""

    CONVERGED = "converged"
    MAX_STEPS = "max_steps"
    DIVERGED = "diverged"
    STALLED = "stalled"

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__

    @property
    def code(self) -> int:
        """The integer the loops write for this status (0 means still running)."""
        return _CODES[self]

    @staticmethod
    def names(codes: Array) -> Array:
        """Status names (a ``str`` array) of an array of codes."""
        return _NAMES.take(np.asarray(codes))


_CODES = {Status.CONVERGED: 1, Status.MAX_STEPS: 2, Status.DIVERGED: 3, Status.STALLED: 4}
_NAMES = np.array(["running"] + [s.value for s in _CODES], dtype="<U9")
#: The status code of a problem that has not stopped yet.
RUNNING = 0
#: The status codes the kernels write, one per :class:`Status` (``Status.CONVERGED.code``, …).
CONVERGED, MAX_STEPS, DIVERGED, STALLED = (s.code for s in Status)


def _count(x, name: str, *, minimum: int, none_ok: bool = False):
    """An integer ≥ minimum (an integral float is accepted), naming ``name`` when refused."""
    if x is None and none_ok:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, np.integer, float, np.floating)):
        raise TypeError(f"{name} must be an integer; got {x!r}")
    if isinstance(x, (float, np.floating)) and not (math.isfinite(x) and float(x).is_integer()):
        raise ValueError(f"{name} must be a finite integer; got {x!r}")
    v = int(x)
    if v < minimum or v > MAX_BUDGET:
        raise ValueError(f"{name} must be an integer in [{minimum}, 2**62]; got {x!r}")
    return v


def _real(x, name: str, *, positive: bool) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {x!r}")
    v = float(x)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(f"{name} must be finite and {'> 0' if positive else '>= 0'}; got {x!r}")
    return v


@dataclass(frozen=True)
class StopRule:
    """When a loop stops, and how often it records; validated once, at construction.

    ``record_every`` = r: the loss (and every monitor) is recorded at the steps that are
    multiples of r, and at the last step.
    """

    tol: float = 1e-8
    max_steps: int = 10_000
    record_every: int = 1
    blowup: float = 1e8
    stall_window: int | None = None
    stall_rtol: float = 1e-9

    def __post_init__(self):
        s = object.__setattr__
        s(self, "tol", _real(self.tol, "tol", positive=True))
        s(self, "max_steps", _count(self.max_steps, "max_steps", minimum=0))
        s(self, "record_every", _count(self.record_every, "record_every", minimum=1))
        s(self, "blowup", _real(self.blowup, "blowup", positive=True))
        s(self, "stall_window", _count(self.stall_window, "stall_window", minimum=1, none_ok=True))
        s(self, "stall_rtol", _real(self.stall_rtol, "stall_rtol", positive=False))

    @classmethod
    def of(cls, tol=1e-8, max_steps=10_000, record_every=1, blowup=1e8, stall_window=None, stall_rtol=1e-9):
        """``StopRule(...)``, validated once per distinct arguments and then shared (a rule is
        immutable). The cache is keyed on each argument's type and value, so that ``True`` is
        never taken for ``1``; unhashable arguments are simply validated.
        """
        args = (tol, max_steps, record_every, blowup, stall_window, stall_rtol)
        key = args + tuple(map(type, args))
        try:
            return _RULES[key]
        except KeyError:
            pass
        except TypeError:  # unhashable, so not a valid argument: the constructor says which
            return cls(*args)
        rule = cls(*args)
        if len(_RULES) < 256:
            _RULES[key] = rule
        return rule

    def records(self, last: int) -> Array:
        """The recorded steps of a run whose last step is ``last``."""
        r = self.record_every
        steps = np.arange(0, last + 1, r, dtype=np.int64)
        return steps if steps.size and steps[-1] == last else np.append(steps, np.int64(last))


_RULES: dict = {}  # StopRule.of's cache


@dataclass
class Result:
    r"""Outcome of :func:`linres.train.run`, :func:`linres.scalar.run_scalar` and :func:`linres.normal.run_normal`.

    ``state`` is the final state: layers (…, L, d, d) for ``run`` (also as ``layers``), a
    spectrum (…, d) for the scalar and normal reductions (also as ``z``). ``loss``, ``status``
    (:class:`Status` names) and ``steps`` have the batch shape (plain Python values for an
    unbatched problem). ``history_steps[k]`` is the step of row k of ``history_loss`` and of
    each ``history[name]``; a problem that has stopped keeps its final value in later rows.
    """

    state: Array
    loss: Array
    status: Array
    steps: Array
    history_steps: Array
    history_loss: Array
    history: dict[str, Array] = field(default_factory=dict)
    rule: str = ""

    @property
    def layers(self) -> Array:
        """The final layers (:func:`linres.train.run`)."""
        return self.state

    @property
    def z(self) -> Array:
        """The final eigen-coordinates (:func:`linres.scalar.run_scalar`, :func:`linres.normal.run_normal`)."""
        return self.state

    @property
    def converged(self) -> Array:
        return np.asarray(self.status) == Status.CONVERGED.value

    def summary(self) -> str:
        """Counts of each status, e.g. ``"converged: 7, max_steps: 1"``."""
        kinds, counts = np.unique(np.asarray(self.status), return_counts=True)
        return ", ".join(f"{k}: {c}" for k, c in zip(kinds, counts))


Recorder = Callable[[Array, Array], "dict[str, Array]"]
