r"""Compile, ahead of time, the kernels the book uses into numba's on-disk cache.

``python -m linres.engine.warm`` (run once by ``make`` after installing, see the Makefile's
install recipe) compiles exactly the specialisations of :mod:`linres.engine.compiled` that
the book's notebooks use, so that a fresh process, notebook kernel or test worker loads them
from the cache (about 1 s for the first ``run()``, numba's import included) instead of
compiling them (7–15 s of CPU each).

Why ahead of time. numba caches a compiled kernel next to its source file (or in
``NUMBA_CACHE_DIR``), keyed on the source file's stamp (modification time and size): a fresh
clone, a CI run, or any edit of ``compiled.py`` starts with an empty cache, and the book's
cold execution then spends most of its CPU time compiling. A specialisation is one type
signature: :mod:`linres.engine.dispatch` passes d (small matrix kernels) and z^{L−1}'s
exponent (scalar kernel) as tuple types, so that LLVM unrolls their loops, and each value
compiles once.

What is compiled. :data:`WARM_UP` lists, per kernel, the values the book compiles. It was
read from the cache index after executing every notebook of ``_toc.yml`` with an empty cache
(``NUMBA_CACHE_DIR`` a new directory; :func:`cached_specialisations` reads such an index).
Each entry is compiled by a tiny call of the public API (one or two steps), so it has
exactly the types a notebook's call has. Other values still work: they compile on first use,
as before.

Two processes. The kernels are split into two groups, one process each (``jobs=2``, the
default when there are two cores or more): numba writes one index file per kernel function,
and each group owns its index files, so the two never write the same file.

Robust. Without numba, with ``NUMBA_DISABLE_JIT=1`` or with ``LINRES_BACKEND=numpy`` in
effect for the caller, it compiles nothing and says so; an entry that fails is reported
and skipped (the kernel then compiles on first use), and the exit status is 0 unless
``--strict`` is given. Running it again loads from the cache and compiles nothing.

>>> sorted(GROUPS)
['lanes', 'matrix']
>>> [k for k, _ in WARM_UP]
['gd_loops', 'gd_runtime_d', 'gd_lanes', 'scalar_unrolled', 'scalar_bits']
"""
from __future__ import annotations

import argparse
import os
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["WARM_UP", "GROUPS", "entries", "parse_only", "warm", "cached_specialisations", "main"]

#: (kind, values): the specialisations the book compiles, one per value.
#:
#: - ``gd_loops``: ``gd_chunk`` with d unrolled (d ≤ ``LANES_MAX_D``, fewer than
#:   ``LANES_MIN_BATCH`` problems); value d;
#: - ``gd_runtime_d``: ``gd_chunk`` with d read at run time (BLAS from d = ``BLAS_MIN_D``, loops
#:   for the d between); one specialisation serves every such d; value: the d of the call;
#: - ``gd_lanes``: ``gd_chunk_lanes`` (small d, batches of ``LANES_MIN_BATCH`` or more; d = 1 when
#:   the layers differ); value d;
#: - ``scalar_unrolled``: ``scalar_chunk`` with z^{L−1} unrolled (L ≤ ``UNROLL_MAX_L``); value L;
#: - ``scalar_bits``: ``scalar_chunk`` for deeper L, one per bit length K of L − 1; value K.
WARM_UP: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("gd_loops", (2, 3, 4, 5, 6, 8)),
    ("gd_runtime_d", (12,)),
    ("gd_lanes", (1, 2, 3, 4, 5, 6, 8)),
    ("scalar_unrolled", (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16)),
    ("scalar_bits", (5, 6, 7, 8, 10)),
)

#: Which process compiles what: each group owns the cache index files of its kernel functions
#: (a ``gd_chunk`` entry's call runs through ``gd_solve``, which compiles and caches both;
#: ``gd_chunk`` also compiles and caches ``_gd_step_blas`` and ``_gd_update_blas``;
#: ``scalar_chunk`` compiles ``_pairwise_strided``). Measured at install on 2 cores (load 3–5):
#: about 150 s CPU for the 7 ``gd_chunk`` entries (each compiles ``gd_solve`` too, and two depth
#: cases), about 120 s for the 7 ``gd_lanes`` and 16 scalar entries together, so that the two
#: processes take about the same time.
GROUPS = {
    "matrix": ("gd_loops", "gd_runtime_d"),
    "lanes": ("gd_lanes", "scalar_unrolled", "scalar_bits"),
}

KERNEL_OF = {"gd_loops": "gd_chunk", "gd_runtime_d": "gd_chunk", "gd_lanes": "gd_chunk_lanes",
             "scalar_unrolled": "scalar_chunk", "scalar_bits": "scalar_chunk"}


def entries(kinds=None, only=None) -> list[tuple[str, int]]:
    """The (kind, value) pairs of :data:`WARM_UP`, restricted to ``kinds`` and to the pairs in
    ``only`` if given (``only`` may also name pairs outside :data:`WARM_UP`)."""
    pairs = [(k, v) for k, vals in WARM_UP for v in vals]
    if only is not None:
        pairs = list(dict.fromkeys(tuple(x) for x in only))
    return [(k, v) for k, v in pairs if kinds is None or k in kinds]


def parse_only(text: str) -> list[tuple[str, int]]:
    """``"gd_lanes:2,scalar_unrolled:3"`` → [("gd_lanes", 2), ("scalar_unrolled", 3)]."""
    out = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        kind, sep, value = item.partition(":")
        if not sep or kind not in KERNEL_OF or not value.strip().isdigit():
            raise ValueError(f"--only takes kind:value pairs, kind one of {sorted(KERNEL_OF)}; got {item!r}")
        out.append((kind, int(value)))
    return out


def _call(kind: str, value: int):
    """A call of the public API that compiles (or loads) the specialisation (kind, value)."""
    import numpy as np

    import linres
    from . import dispatch

    if kind in ("gd_loops", "gd_runtime_d", "gd_lanes"):
        d = value
        n = dispatch.LANES_MIN_BATCH if kind == "gd_lanes" else 1
        W = linres.identity_layers(2, d, batch=(n,)) if n > 1 else linres.identity_layers(2, d)
        W[..., 1, :, :] *= 1.01  # unequal layers: at d = 1 equal ones would go to the scalar kernel
        T = 1.1 * np.eye(d)
        expect = {"gd_loops": "gd_loops", "gd_lanes": "gd_lanes"}.get(kind, "gd_blas" if d >= dispatch.BLAS_MIN_D
                                                                       else "gd_loops")
        plan = dispatch.plan_layers("gd", n, 2, d, equal_layers=False, backend="numba")
        if plan != expect or (kind == "gd_loops" and d > dispatch.LANES_MAX_D) \
                or (kind == "gd_runtime_d" and d <= dispatch.LANES_MAX_D):
            raise ValueError(f"{kind} {value}: the dispatcher plans {plan!r} for this call")
        linres.run(linres.gd(1e-3), W, T, max_steps=1)
        return
    if kind == "scalar_unrolled":
        L = value
        if not 1 <= L <= dispatch.UNROLL_MAX_L:
            raise ValueError(f"scalar_unrolled {L}: L must be between 1 and {dispatch.UNROLL_MAX_L}")
    elif kind == "scalar_bits":
        L = 2 ** (value - 1) + 1  # the smallest L with (L − 1).bit_length() == value
        if L <= dispatch.UNROLL_MAX_L:
            raise ValueError(f"scalar_bits {value}: L = {L} is unrolled, not run by bit length")
    else:
        raise ValueError(f"unknown kind {kind!r}; known: {sorted(KERNEL_OF)}")
    if dispatch.plan_spectrum(None, 1, backend="numba") != "scalar":  # pragma: no cover - a dispatch change
        raise ValueError(f"{kind} {value}: the dispatcher does not plan the scalar kernel")
    linres.run_scalar(np.array([1.5]), L, 1e-3, max_steps=1)


def _why_not() -> str | None:
    """Why nothing can be compiled here, or None."""
    if os.environ.get("NUMBA_DISABLE_JIT", "0").strip() not in ("", "0"):
        return "NUMBA_DISABLE_JIT is set"
    from . import dispatch
    if not dispatch.numba_available():
        return "numba cannot be imported"
    return None


def _misses(f) -> int:
    stats = getattr(f, "stats", None)  # a plain function under NUMBA_DISABLE_JIT
    return sum(stats.cache_misses.values()) if stats is not None else 0


def warm(kinds=None, only=None, strict: bool = False, out=sys.stderr) -> dict:
    """Compile (or load) the specialisations of ``kinds`` (all of :data:`WARM_UP` by default;
    see :func:`entries` for ``only``) in this process. Returns counts: ``compiled``, ``loaded``
    (already cached), ``failed``, and ``skipped`` (the reason nothing was done, or None)."""
    counts = {"compiled": 0, "loaded": 0, "failed": 0, "skipped": _why_not()}
    if counts["skipped"]:
        return counts
    from . import compiled_module, dispatch
    K = compiled_module()
    old = dispatch.set_backend("numba")
    try:
        for kind, value in entries(kinds, only):
            f = getattr(K, KERNEL_OF.get(kind, "gd_chunk"))
            before = _misses(f)
            try:
                _call(kind, value)
            except Exception as exc:  # a failed entry compiles on first use instead
                if strict:
                    raise
                counts["failed"] += 1
                print(f"linres.engine.warm: {kind} {value} failed ({type(exc).__name__}: {exc}); "
                      "it will compile on first use", file=out)
                continue
            counts["compiled" if _misses(f) > before else "loaded"] += 1
    finally:
        dispatch.set_backend(old)
    return counts


def cached_specialisations(cache_dir) -> dict[str, list[str]]:
    """The signatures in the numba cache index files (``*.nbi``) under ``cache_dir``, per function
    (as ``compiled.<function>``): what a run with that cache compiled."""
    out = {}
    for nbi in sorted(Path(cache_dir).rglob("*.nbi")):
        with open(nbi, "rb") as f:
            pickle.load(f)  # numba's version
            _stamp, overloads = pickle.loads(f.read())
        name = nbi.name.split("-")[0]
        out.setdefault(name, []).extend(str(key[0]) for key in overloads)
    return out


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m linres.engine.warm", description=__doc__.split("\n")[0])
    p.add_argument("--group", choices=sorted(GROUPS), help="compile only this group, in this process")
    p.add_argument("--jobs", type=int, default=None,
                   help="processes (1 or 2; default: 2 if there are two cores or more)")
    p.add_argument("--strict", action="store_true", help="fail (exit 1) if an entry fails")
    p.add_argument("--only", type=parse_only, default=None,
                   help="only these kind:value pairs, comma-separated (e.g. gd_lanes:2)")
    p.add_argument("--list", action="store_true", help="print the specialisations and exit")
    a = p.parse_args(argv)
    if a.list:
        for group, kinds in GROUPS.items():
            for kind, value in entries(kinds, a.only):
                print(f"{group}\t{KERNEL_OF[kind]}\t{kind}\t{value}")
        return 0
    why = _why_not()
    if why:
        print(f"linres.engine.warm: {why}; nothing to compile (the numpy path needs none)")
        return 0
    if a.group:
        t0, c0 = time.perf_counter(), time.process_time()
        c = warm(GROUPS[a.group], a.only, strict=a.strict)
        print(f"linres.engine.warm[{a.group}]: {c['compiled']} compiled, {c['loaded']} already cached, "
              f"{c['failed']} failed ({time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU)",
              flush=True)
        return 0  # with --strict, a failed entry has raised
    jobs = a.jobs if a.jobs is not None else min(2, os.cpu_count() or 1)
    t0, c0 = time.perf_counter(), _cpu_children()
    cmd = [sys.executable, "-m", "linres.engine.warm"] + (["--strict"] if a.strict else []) \
        + (["--only", ",".join(f"{k}:{v}" for k, v in a.only)] if a.only is not None else [])
    groups = sorted(GROUPS)
    rc = 0
    if jobs >= 2:
        procs = [subprocess.Popen(cmd + ["--group", g]) for g in groups]
        rc = max(pr.wait() for pr in procs)
    else:
        for g in groups:
            rc = max(rc, subprocess.call(cmd + ["--group", g]))
    print(f"linres.engine.warm: {len(entries(None, a.only))} kernel specialisations in numba's cache "
          f"({time.perf_counter() - t0:.0f} s wall, {_cpu_children() - c0:.0f} s CPU, {min(jobs, 2)} process"
          f"{'es' if jobs >= 2 else ''})", flush=True)
    return rc if a.strict else 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    sys.exit(main())
