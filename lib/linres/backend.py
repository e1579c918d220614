"""Choose how :func:`linres.run` and :func:`linres.run_scalar` compute.

``"auto"`` (the default) runs the compiled numba kernels where they apply (plain ``gd``;
the scalar recurrence without a penalty or with ``WeightDecay`` / ``OrthogonalityPenalty``)
and the numpy reference elsewhere; ``"numpy"`` always uses the reference; ``"numba"``
insists on numba being installed. The environment variable ``LINRES_BACKEND`` sets the
default when linres is imported. Both backends give the same statuses and step counts;
see :mod:`linres._kernels` for how closely the numbers agree.

Example::

    from linres import backend
    backend.set_backend("numpy")   # returns the previous setting
"""
from ._kernels import BACKENDS, get_backend, numba_available, set_backend

__all__ = ["BACKENDS", "get_backend", "set_backend", "numba_available"]
