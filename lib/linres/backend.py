"""Choose how :func:`linres.train.run` and :func:`linres.scalar.run_scalar` compute.

``"auto"`` (the default) runs the compiled numba kernels where they apply and the numpy
reference elsewhere; ``"numpy"`` always uses the reference; ``"numba"`` insists on numba
being installed. The environment variable ``LINRES_BACKEND`` sets the default when linres
is imported.

The two backends do not always give the same step counts. The scalar kernel is bit for bit
the reference; the matrix kernels add the products in another order, so every step agrees
only to rounding. Rounding differences are amplified near a sign change of a layer's
determinant (a saddle of the loss): there the compiled and numpy paths can converge at
different steps, or end in different statuses. :mod:`linres.engine.dispatch` gives the
details and an example.

>>> from linres import backend
>>> old = backend.set_backend("numpy")   # returns the previous setting
>>> backend.get_backend()
'numpy'
>>> _ = backend.set_backend(old)
"""
from .engine.dispatch import BACKENDS, get_backend, numba_available, set_backend

__all__ = ["BACKENDS", "get_backend", "set_backend", "numba_available"]
