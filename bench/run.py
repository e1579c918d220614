"""The engine's benchmark: every figure is a ratio measured in the same run.

Usage (from the repository root; `make bench` does this)::

    .venv/bin/python bench/run.py                 # everything, writes bench/results/latest.{json,md}
    .venv/bin/python bench/run.py --quick         # fewer repeats and cases, a smoke test
    .venv/bin/python bench/run.py --only scalar,subnormal

Sections: ``torch`` (full-matrix GD step against a PyTorch autograd loop, and the
engine's GF/s against the large-matmul peak), ``batched`` (d ≤ 4, per problem-step,
against running the engine one problem at a time), ``scalar`` (symmetric scalar path
against the streaming-bandwidth limit), ``subnormal`` (slowdown once values underflow),
``notebooks`` (time to execute every notebook of _toc.yml).

Method: each timed quantity is measured after a warm-up, as the median of several
repeats, each repeat long enough (``--min-time``) to swamp the timer; the two sides of
a ratio are measured alternately within each repeat, and the reported ratio is the
median of the per-repeat ratios, so that the load of this shared machine, which
drifts by ±30%, cancels as far as possible. Every timed code is single-threaded and is
timed in CPU time of this process (``time.process_time``), which does not count the
time the process waits for a core while other jobs run; the notebooks are timed in
CPU time of every process that executes them (tools/execute.py and the notebook kernels
it starts and reaps), wall-clock time alongside. Cold start (sections ``first_run`` and
``notebooks``) is measured with a new numba cache directory per case: empty, and holding
only what `make`'s install warm-up (``python -m linres.engine.warm``) compiles. The machine's load (1-minute load average and whole-machine CPU
use, our own process included) is recorded for every row.

JAX and PyTorch are only benchmark baselines (``requirements-bench.txt``, installed by
``make bench``); when one is missing, its rows are skipped with a message. One BLAS thread
everywhere; XLA is restricted to one thread through ``XLA_FLAGS`` set before import.

The JAX baseline (section ``jax``) is the strongest one we know how to write: ``jax.jit`` of
a ``lax.scan`` over the steps whose body is ``jax.value_and_grad`` of the loss, float64, the
loss of every step returned (as linres computes it at every step for its stopping rules),
compiled before timing; batches with ``jax.vmap``. Both sides run the same number of steps
from the same layers, and their final layers are compared. The torch section measures
*eager* PyTorch autograd (``torch.compile`` needs a compiler toolchain and is not used):
at small d it measures mostly PyTorch's fixed cost per operation, so it is a weak baseline
there, reported for continuity.
"""
from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
# JAX (an optional baseline): one thread, float64; both must be set before jax is imported.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import atexit  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))
import linres  # noqa: E402
from linres import backend as _kernels  # noqa: E402  (set_backend)

try:
    import psutil  # noqa: E402
except ImportError:  # pragma: no cover
    psutil = None

GOALS = {
    "torch_small": ("full-matrix step vs torch autograd, d ≤ 32", 5.0, "≥ 5×"),
    "torch_128": ("full-matrix step vs torch autograd, d = 128", 1.0, "≥ 1× (no slower)"),
    "peak": ("engine GF/s vs measured f64 matmul peak, d ≥ 32", 0.40, "≥ 40%"),
    "batched": ("d ≤ 4, per problem-step vs the naive per-problem loop", 50.0, "≥ 50×"),
    "scalar": ("symmetric scalar path vs the streaming limit", 2.5, "≥ 2.5×"),
    "subnormal": ("slowdown once values turn subnormal", 1.5, "≤ 1.5×"),
    "notebooks": ("every book notebook, total", 180.0, "≤ 3 min"),
    "jax_single": ("single problem vs JAX jit(scan(value_and_grad))", 1.0, "≥ 1× in every cell"),
    "jax_batched": ("1024 problems vs JAX vmap", 1.0, "≥ 1× in every cell"),
    "first_run": ("first run() in a fresh process, empty numba cache", 2.0, "≤ 2 s CPU"),
    "first_run_installed": ("first run() in a fresh process after make's install warm-up", 2.0, "≤ 2 s CPU"),
    "notebooks_cold": ("every notebook after a fresh install (warm-up cache only) / warm cache", 1.3,
                       "≤ 1.3× (CPU time)"),
    "notebooks_empty": ("every notebook, empty numba cache / warm cache", 1.3, "≤ 1.3× (CPU time)"),
}


# Why a goal can be missed on this machine: printed under the table for every goal not met.
WHY = {
    "torch_small": "At small d a step is dominated by fixed costs per call; see the per-cell table.",
    "peak": "Small products cannot reach the BLAS peak; see the per-cell table.",
    "batched": "See the per-cell table: the lane kernel is bounded by the arithmetic of d×d products.",
    "subnormal": "The guard flushes z^{L−1} to 0 below 2^(−1000/L); see linres.engine.arith.underflow_floor.",
    "notebooks": "Most of a cold run is compiling kernels; a warm cache removes it.",
}


def why(key: str, res: dict) -> str:
    """The explanation printed under a missed goal, built from this run's measurements."""
    if key in ("jax_single", "jax_batched"):
        j = res["jax"]
        rows = [r for r in j["single" if key == "jax_single" else "batched"] if r["ratio_jax_over_linres"] < 1]
        c = j.get("call_overhead", {})
        parts = []
        for r in rows:
            # this cell's own 0-step call if measured (older results: the L = 2, d = 2 one)
            fixed = r.get("linres_fixed_us", c.get("linres_us", float("nan")))
            per_call = fixed * 1e3 / (r["steps_per_call"] * r["problems"])
            parts.append(f"L = {r['L']}, d = {r['d']} ({r['kernel']}): linres {r['linres_ns_per_problem_step']:.1f} "
                         f"against JAX {r['jax_ns_per_problem_step']:.1f} ns per problem-step; linres's fixed cost "
                         f"per call, {fixed:.0f} µs (a JAX call doing nothing: {c.get('jax_us', float('nan')):.0f} µs), "
                         f"comes to {per_call:.1f} ns per problem-step over {r['steps_per_call']} steps"
                         + (f" × {r['problems']} problems" if r["problems"] > 1 else ""))
        return ("Cells below 1×: " + "; ".join(parts) + ". The fixed cost is the same call with 0 steps, "
                "measured separately, so it is an estimate of the share, not a part of the same sample.")
    if key in ("first_run", "first_run_installed"):
        fr = res["first_run"]
        txt = (f"With an empty cache the first call compiles (numba, LLVM) the kernel it needs: "
               f"{fr['first_run_cpu_s']:.1f} s CPU here (numba's import included), against "
               f"{fr['warm_first_run_cpu_s']:.2f} s once that kernel is in the cache")
        if "installed_first_run_cpu_s" in fr:
            txt += (f", and {fr['installed_first_run_cpu_s']:.2f} s after `make`'s install warm-up "
                    f"(python -m linres.engine.warm: {fr['warm_up_specialisations']} specialisations, "
                    f"{fr['warm_up_cpu_s']:.0f} s CPU, {fr['warm_up_wall_s']:.0f} s wall, once per install)")
            if fr.get("installed_compiled"):
                txt += f"; that run still compiled {fr['installed_compiled']} kernel(s) the warm-up did not cover"
        return txt + "."
    if key == "notebooks":
        run = res["notebooks"]["runs"]["warm"]
        slow = sorted(run["per_notebook_wall_s"].items(), key=lambda kv: -kv[1])[:3]
        return (f"With every kernel in the cache ({run.get('compiled', 0)} compiled in that run) the notebooks took "
                f"{run['cpu_s']:.0f} s CPU ({run['wall_s']:.0f} s wall at load {run.get('loadavg_1min', float('nan')):.1f}): "
                f"this is their computation, not compilation. The slowest by wall time: "
                + ", ".join(f"{k} {v:.0f} s" for k, v in slow) + ".")
    if key in ("notebooks_cold", "notebooks_empty"):
        runs, w = res["notebooks"]["runs"], res["notebooks"].get("warm_up", {})
        warm = runs["warm"]["total_s"]
        parts = []
        if "cold" in runs:
            parts.append(f"with an empty cache every notebook process compiles the kernels it uses: "
                         f"{runs['cold']['total_s']:.0f} s CPU against {warm:.0f} s warm")
        if "installed" in runs:
            parts.append(f"after the install warm-up ({w.get('specialisations', '?')} specialisations, "
                         f"{w.get('cpu_s', float('nan')):.0f} s CPU once) {runs['installed']['total_s']:.0f} s, of which "
                         f"{runs['installed'].get('compiled', '?')} kernel compilation(s) the warm-up did not cover")
        txt = "; ".join(parts)
        return txt[:1].upper() + txt[1:] + "."
    if key == "torch_128":
        rows = [r for r in res["torch"]["rows"] if r["d"] == 128]
        flops = {r["L"]: 6.0 * (r["L"] - 1) * 128**3 for r in rows}
        cells = "; ".join(f"L = {r['L']}: linres {r['engine_gflops']:.1f} GF/s, torch "
                          f"{flops[r['L']] / (r['torch_us_per_step'] * 1e3):.1f} GF/s" for r in rows)
        peak = statistics.median(r["peak_gflops"] for r in rows)
        return (f"At d = 128 a step is almost entirely 3(L − 1) products of 128×128 matrices on both sides "
                f"(linres through the BLAS of SciPy's wheel, torch through its own). Measured in this run: "
                f"{cells}; the 1024×1024 matmul of numpy's BLAS ran at {peak:.1f} GF/s.")
    if key == "scalar":
        rows = res["scalar"]["rows"]
        cells = "; ".join(f"L = {r['L']}: {r['kernel_Gupdates_per_s']:.2f} G updates/s against "
                          f"{r['stream_Gupdates_per_s']:.2f}" for r in rows)
        return ("The kernel reproduces the numpy reference bit for bit, so it may not fuse multiply-adds or "
                "reorder sums, and it computes every problem's loss and tests the stopping rules at every step; "
                "its rate falls as L grows (about 2·log2(L) multiplications for z^{L−1}). Measured in this run: "
                + cells + ".")
    return WHY[key]


# --- timing utilities --------------------------------------------------------------------------

class Load:
    """Machine load over a measurement: 1-min load average and whole-machine CPU %."""

    def __init__(self):
        self.load0 = os.getloadavg()[0]
        if psutil:
            psutil.cpu_percent(None)

    def done(self) -> dict:
        out = {"loadavg_1min": round(max(self.load0, os.getloadavg()[0]), 2)}
        if psutil:
            out["cpu_percent_all_cores"] = round(psutil.cpu_percent(None), 1)
        return out


def calibrate(fn, min_time: float) -> int:
    """How many calls of ``fn`` take at least ``min_time`` (after one warm-up call)."""
    fn()
    n = 1
    while True:
        t = time.process_time()
        for _ in range(n):
            fn()
        dt = time.process_time() - t
        if dt >= min_time or n >= 1 << 20:
            return n
        n = max(n * 2, int(n * 1.2 * min_time / max(dt, 1e-9)))


def timed(fn, n: int) -> float:
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n


def paired(fns: dict, repeats: int, min_time: float) -> dict:
    """Median seconds per call of each function, measured alternately; per-repeat samples kept."""
    counts = {k: calibrate(f, min_time) for k, f in fns.items()}
    samples = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            samples[k].append(timed(f, counts[k]))
    return {"median": {k: statistics.median(v) for k, v in samples.items()}, "samples": samples}


def ratio(samples: dict, num: str, den: str) -> float:
    """Median over repeats of samples[num] / samples[den] (paired)."""
    return statistics.median(a / b for a, b in zip(samples[num], samples[den]))


# --- the baseline as peers write it --------------------------------------------------------------

def torch_gd(L: int, d: int, phi: np.ndarray, eta: float):
    """The usual PyTorch loop: a ParameterList of identities, autograd, SGD; the loss is logged."""
    import torch

    params = torch.nn.ParameterList(
        [torch.nn.Parameter(torch.eye(d, dtype=torch.float64)) for _ in range(L)])
    target = torch.tensor(phi, dtype=torch.float64)
    opt = torch.optim.SGD(params, lr=eta)

    def steps(k: int):
        for _ in range(k):
            opt.zero_grad()
            prod = params[0]
            for w in params[1:]:
                prod = w @ prod
            loss = 0.5 * ((prod - target) ** 2).sum()
            loss.backward()
            opt.step()
            loss.item()

    return steps


def engine_gd(L: int, d: int, phi: np.ndarray, eta: float):
    layers = linres.identity_layers(L, d)

    def steps(k: int):
        res = linres.run(linres.gd(eta), layers, phi, tol=1e-300, max_steps=k, record_every=k)
        assert res.steps == k and res.status == "max_steps", (res.status, res.steps)

    return steps


def matmul_peak(n: int = 1024):
    a = np.random.default_rng(0).standard_normal((n, n))
    b = np.random.default_rng(1).standard_normal((n, n))
    c = np.empty((n, n))
    return (lambda: np.matmul(a, b, out=c)), 2.0 * n**3


# --- sections ------------------------------------------------------------------------------------

def bench_torch(cfg) -> dict:
    try:
        import torch
    except ImportError:
        msg = "torch is not installed: the torch rows are skipped (pip install torch==2.13.0)"
        print("SKIPPED:", msg)
        return {"skipped": msg}
    torch.set_num_threads(1)
    rows = []
    peak_fn, peak_flops = matmul_peak()
    for L in cfg.Ls:
        for d in cfg.ds:
            phi = linres.targets.near_identity(d, 0.5, np.random.default_rng(d))
            eta = 0.5 / L
            flops = 6.0 * (L - 1) * d**3  # 3(L−1) products of d×d matrices per step
            # steps per call: long enough that the per-call overhead of run() is amortized
            k = int(np.clip(2e-2 / (3 * L * (1e-6 + 2 * d**3 / 5e10)), 3, 2000))
            eng, tor = engine_gd(L, d, phi, eta), torch_gd(L, d, phi, eta)
            fns = {"engine": lambda: eng(k), "torch": lambda: tor(k)}
            if d >= 32:
                fns["peak"] = peak_fn
            load = Load()
            m = paired(fns, cfg.repeats, cfg.min_time)
            row = {"L": L, "d": d, "steps_per_call": k,
                   "engine_us_per_step": 1e6 * m["median"]["engine"] / k,
                   "torch_us_per_step": 1e6 * m["median"]["torch"] / k,
                   "speedup_vs_torch": ratio(m["samples"], "torch", "engine"),
                   "engine_gflops": flops * k / m["median"]["engine"] / 1e9}
            if d >= 32:
                row["peak_gflops"] = peak_flops / m["median"]["peak"] / 1e9
                row["fraction_of_peak"] = statistics.median(
                    (flops * k / e) / (peak_flops / p)
                    for e, p in zip(m["samples"]["engine"], m["samples"]["peak"]))
            row.update(load.done())
            rows.append(row)
            print(f"  torch  L={L:4d} d={d:4d}  engine {row['engine_us_per_step']:10.1f} µs/step  "
                  f"torch {row['torch_us_per_step']:10.1f}  ×{row['speedup_vs_torch']:6.2f}"
                  + (f"  {100 * row['fraction_of_peak']:5.1f}% of peak" if d >= 32 else ""), flush=True)
    return {"rows": rows, "torch_version": torch.__version__}


# --- JAX baseline ---------------------------------------------------------------------------------

def jax_gd(L: int, k: int, batched: bool):
    """jit(scan(value_and_grad)) over k GD steps from layers W (L, d, d) (vmap over a batch);
    returns (final layers, the k losses)."""
    import jax
    import jax.numpy as jnp

    def loss(W, phi):
        p = W[0]
        for i in range(1, L):
            p = W[i] @ p
        e = p - phi
        return 0.5 * jnp.sum(e * e)

    vg = jax.value_and_grad(loss)
    if batched:
        vg = jax.vmap(vg)

    @jax.jit
    def steps(W, phi, eta):
        e = eta[:, None, None, None] if batched else eta

        def body(W, _):
            lv, g = vg(W, phi)
            return W - e * g, lv

        return jax.lax.scan(body, W, None, length=k)

    return steps


def _jax_version():
    try:
        import jax
        assert jax.config.jax_enable_x64, "JAX_ENABLE_X64 was not honoured"
        return jax.__version__
    except ImportError:
        return None


def bench_jax(cfg) -> dict:
    if _jax_version() is None:
        msg = "jax is not installed: the JAX rows are skipped (pip install -r requirements-bench.txt)"
        print("SKIPPED:", msg)
        return {"skipped": msg}
    import jax
    import jax.numpy as jnp

    out = {"jax_version": jax.__version__, "xla_flags": os.environ.get("XLA_FLAGS", ""),
           "single": [], "batched": []}

    def one_cell(L, d, n, k, eta, phi):
        batched = n > 1
        W0 = np.broadcast_to(np.eye(d), ((n,) if batched else ()) + (L, d, d)).copy()
        f = jax_gd(L, k, batched)
        Wj, Pj, Ej = jnp.asarray(W0), jnp.asarray(phi), jnp.asarray(eta)
        t = time.process_time()
        jax.block_until_ready(f(Wj, Pj, Ej))  # compilation (excluded from the timing)
        compile_s = time.process_time() - t
        layers = linres.identity_layers(L, d, (n,) if batched else ())

        def lin():
            return linres.run(linres.gd(eta), layers, phi, tol=1e-300, max_steps=k, record_every=k)

        def jx():
            return jax.block_until_ready(f(Wj, Pj, Ej))

        res, (Wf, _) = lin(), jx()
        # a problem whose loss reaches exactly 0 stops (converged); its gradient is 0, so JAX's
        # further steps leave its layers unchanged and the final layers still compare
        assert np.all((np.asarray(res.steps) == k) | (np.asarray(res.loss) == 0.0)), res.summary()
        diff = float(np.max(np.abs(np.asarray(Wf) - res.layers)) / max(1.0, float(np.max(np.abs(res.layers)))))
        load = Load()
        m = paired({"linres": lin, "jax": jx}, cfg.repeats, cfg.min_time)
        # the same call with 0 steps: this cell's fixed cost per call (validation, dispatch, result)
        m0 = paired({"fixed": lambda: linres.run(linres.gd(eta), layers, phi, tol=1e-300, max_steps=0)},
                    3, cfg.min_time)
        row = {"L": L, "d": d, "problems": n, "steps_per_call": k,
               "linres_fixed_us": 1e6 * m0["median"]["fixed"],
               "linres_ns_per_problem_step": 1e9 * m["median"]["linres"] / (k * n),
               "jax_ns_per_problem_step": 1e9 * m["median"]["jax"] / (k * n),
               "ratio_jax_over_linres": ratio(m["samples"], "jax", "linres"),
               "max_rel_diff_final_layers": diff, "jax_compile_s": compile_s,
               "kernel": linres.engine.dispatch.plan_layers("gd", n, L, d, d == 1)}
        row.update(load.done())
        print(f"  jax {'vmap ' if batched else 'single'} L={L:3d} d={d:4d} k={k:5d}  linres "
              f"{row['linres_ns_per_problem_step']:10.1f} ns/problem-step  jax {row['jax_ns_per_problem_step']:10.1f}"
              f"  ×{row['ratio_jax_over_linres']:5.2f}  ({row['kernel']}; |ΔW| {diff:.0e})", flush=True)
        return row

    for L in cfg.jax_Ls:
        for d in cfg.jax_ds:
            # steps per call: about 10 ms of work, so that per-call costs weigh as in a real run
            k = int(np.clip(1e-2 / (L * (5e-8 + 6 * d**3 / 3e10)), 10, cfg.jax_max_steps))
            phi = linres.targets.near_identity(d, 0.5, np.random.default_rng(d))
            out["single"].append(one_cell(L, d, 1, k, 0.5 / L, phi))
    for L in cfg.jax_Ls:
        for d in (1, 2, 3, 4):
            n = cfg.jax_batch
            rng = np.random.default_rng(10 * L + d)
            phi = np.stack([linres.targets.near_identity(d, 0.3, rng) for _ in range(n)])
            eta = rng.uniform(0.2, 0.5, n) / L
            out["batched"].append(one_cell(L, d, n, cfg.jax_batch_steps, eta, phi))
    out["call_overhead"] = call_overhead(cfg)
    return out


def call_overhead(cfg) -> dict:
    """CPU time of one run() call of 0 steps (L = 2, d = 2) and of one jitted JAX call doing nothing."""
    import jax
    import jax.numpy as jnp

    layers, phi = linres.identity_layers(2, 2), np.eye(2)
    g = jax.jit(lambda W: W)
    Wj = jnp.asarray(layers)
    jax.block_until_ready(g(Wj))
    m = paired({"linres": lambda: linres.run(linres.gd(0.1), layers, phi, max_steps=0),
                "jax": lambda: jax.block_until_ready(g(Wj))}, cfg.repeats, cfg.min_time)
    return {"linres_us": 1e6 * m["median"]["linres"], "jax_us": 1e6 * m["median"]["jax"]}


def bench_batched(cfg) -> dict:
    rows = []
    n, k = cfg.batch, cfg.batch_steps
    for L in cfg.batch_Ls:
        for d in (1, 2, 3, 4):
            rng = np.random.default_rng(10 * L + d)
            phi = np.stack([linres.targets.near_identity(d, 0.3, rng) for _ in range(n)])
            eta = rng.uniform(0.2, 0.5, n) / L
            layers = linres.identity_layers(L, d, (n,))
            n_naive = 4

            def batched():
                linres.run(linres.gd(eta), layers, phi, tol=1e-300, max_steps=k, record_every=k)

            def naive():  # the reference engine, one problem at a time
                old = _kernels.set_backend("numpy")
                try:
                    for j in range(n_naive):
                        linres.run(linres.gd(eta[j]), layers[j], phi[j], tol=1e-300, max_steps=k,
                                   record_every=k)
                finally:
                    _kernels.set_backend(old)

            def batched_numpy():
                old = _kernels.set_backend("numpy")
                try:
                    batched()
                finally:
                    _kernels.set_backend(old)

            load = Load()
            m = paired({"batched": batched, "naive": naive, "batched_numpy": batched_numpy},
                       cfg.repeats, cfg.min_time)
            s = m["samples"]
            per = {key: [t / (cnt * k) for t in s[key]] for key, cnt in
                   (("batched", n), ("naive", n_naive), ("batched_numpy", n))}
            row = {"L": L, "d": d, "problems": n, "steps": k,
                   "engine_ns_per_problem_step": 1e9 * statistics.median(per["batched"]),
                   "naive_ns_per_problem_step": 1e9 * statistics.median(per["naive"]),
                   "batched_numpy_ns_per_problem_step": 1e9 * statistics.median(per["batched_numpy"]),
                   "speedup_vs_naive": ratio(per, "naive", "batched"),
                   "speedup_numpy_batching_only": ratio(per, "naive", "batched_numpy")}
            row.update(load.done())
            rows.append(row)
            print(f"  batched L={L:3d} d={d}  {row['engine_ns_per_problem_step']:9.1f} ns/problem-step  "
                  f"naive {row['naive_ns_per_problem_step']:10.1f}  ×{row['speedup_vs_naive']:8.1f}  "
                  f"(numpy batching alone ×{row['speedup_numpy_batching_only']:.1f})", flush=True)
    return {"rows": rows}


def stream_limit(size: int):
    """One read-and-write pass over a DRAM-sized array: elements per second = updates/s limit."""
    a = np.full(size, 1.0)

    def one():
        np.multiply(a, 1.0000000001, out=a)

    return one, size


def bench_scalar(cfg) -> dict:
    rows = []
    stream_fn, stream_n = stream_limit(cfg.stream_size)
    for L in cfg.scalar_Ls:
        rng = np.random.default_rng(L)
        n, d, k = cfg.scalar_problems, 4, cfg.scalar_steps
        phi = rng.uniform(0.5, 2.0, size=(n, d))
        eta = rng.uniform(0.2, 0.5, size=n) / (4.0 * L)

        def kern():
            res = linres.run_scalar(phi, L, eta, tol=1e-300, max_steps=k, record_every=k)
            assert np.all(res.steps == k)

        def numpy_path():
            old = _kernels.set_backend("numpy")
            try:
                linres.run_scalar(phi, L, eta, tol=1e-300, max_steps=k // 10, record_every=k)
            finally:
                _kernels.set_backend(old)

        load = Load()
        m = paired({"kernel": kern, "stream": stream_fn, "numpy": numpy_path}, cfg.repeats, cfg.min_time)
        s = m["samples"]
        ups = {"kernel": [n * d * k / t for t in s["kernel"]], "stream": [stream_n / t for t in s["stream"]],
               "numpy": [n * d * (k // 10) / t for t in s["numpy"]]}
        row = {"L": L, "problems": n, "d": d, "steps": k,
               "kernel_Gupdates_per_s": statistics.median(ups["kernel"]) / 1e9,
               "stream_Gupdates_per_s": statistics.median(ups["stream"]) / 1e9,
               "numpy_Gupdates_per_s": statistics.median(ups["numpy"]) / 1e9,
               "ratio_vs_stream": statistics.median(a / b for a, b in zip(ups["kernel"], ups["stream"])),
               "speedup_vs_numpy_path": statistics.median(a / b for a, b in zip(ups["kernel"], ups["numpy"]))}
        row.update(load.done())
        rows.append(row)
        print(f"  scalar L={L:4d}  {row['kernel_Gupdates_per_s']:6.2f} G updates/s  stream "
              f"{row['stream_Gupdates_per_s']:5.2f}  ×{row['ratio_vs_stream']:5.2f}  "
              f"(numpy path ×{row['speedup_vs_numpy_path']:.0f} slower)", flush=True)
    return {"rows": rows, "stream_array_bytes": 8 * stream_n}


def bench_subnormal(cfg) -> dict:
    """Negative eigenvalues at large L: z^{L−1} would be subnormal (z0 = 0.003, L = 128)."""
    L, n, d, k = 128, cfg.scalar_problems, 4, cfg.scalar_steps
    rng = np.random.default_rng(0)
    phi_neg = -rng.uniform(0.5, 2.0, size=(n, d))
    phi_pos = rng.uniform(0.5, 2.0, size=(n, d))
    eta = np.full(n, 1e-3)
    z_sub = np.full((n, d), 0.003)
    assert 0 < 0.003**127 < np.finfo(float).tiny

    def normal():
        linres.run_scalar(phi_pos, L, eta, tol=1e-300, max_steps=k, record_every=k)

    def subnormal():
        linres.run_scalar(phi_neg, L, eta, z0=z_sub, tol=1e-300, max_steps=k, record_every=k)

    x_norm = np.full(1 << 16, 0.9)
    x_sub = np.full(1 << 16, 0.003)
    load = Load()
    m = paired({"normal": normal, "subnormal": subnormal,
                "raw_normal": lambda: x_norm**127, "raw_subnormal": lambda: x_sub**127},
               cfg.repeats, cfg.min_time)
    s = m["samples"]
    row = {"L": L, "problems": n, "d": d, "steps": k,
           "slowdown": ratio(s, "subnormal", "normal"),
           "unguarded_numpy_power_slowdown": ratio(s, "raw_subnormal", "raw_normal")}
    row.update(load.done())
    print(f"  subnormal: run_scalar slowdown ×{row['slowdown']:.2f}; an unguarded numpy x**127 "
          f"×{row['unguarded_numpy_power_slowdown']:.1f}", flush=True)
    return {"rows": [row]}


_FIRST_RUN = """
import sys, time
t0 = time.process_time()
sys.path.insert(0, sys.argv[1])
import numpy as np, linres
t1 = time.process_time()
linres.run(linres.gd(0.1), linres.identity_layers(2, 2), np.eye(2) * 1.1, max_steps=10)
t2 = time.process_time()
from linres.engine import compiled_module
K = compiled_module()
compiled = sum(sum(f.stats.cache_misses.values()) for f in (K.gd_chunk, K.gd_chunk_lanes, K.scalar_chunk))
print(t1 - t0, t2 - t1, compiled)
"""

_WARM_UP: dict = {}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def install_warm_up() -> dict:
    """What `make` does after installing: ``python -m linres.engine.warm`` into a new, empty
    NUMBA_CACHE_DIR (once per benchmark run). Returns the directory, the CPU seconds of the
    warm-up and of the processes it started, its wall seconds and its number of specialisations."""
    if "dir" not in _WARM_UP:
        tmp = tempfile.mkdtemp(prefix="linres-numba-install-")
        atexit.register(shutil.rmtree, tmp, True)
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "lib")] + [p for p in [env.get("PYTHONPATH")] if p])
        c0, t = _children_cpu(), time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "linres.engine.warm", "--strict"], env=env, capture_output=True,
                           text=True, check=True)
        from linres.engine import warm as _warm
        sigs = _warm.cached_specialisations(tmp)
        _WARM_UP.update(dir=tmp, cpu_s=_children_cpu() - c0, wall_s=time.perf_counter() - t,
                        specialisations=sum(len(v) for k, v in sigs.items() if "chunk" in k),
                        output=p.stdout.strip().splitlines())
        print(f"  install warm-up: {_WARM_UP['specialisations']} kernel specialisations, {_WARM_UP['cpu_s']:.0f} s "
              f"CPU, {_WARM_UP['wall_s']:.0f} s wall", flush=True)
    return _WARM_UP


def _cache_copy(src: str | None) -> str:
    """A new NUMBA_CACHE_DIR: empty, or a copy of ``src``."""
    tmp = tempfile.mkdtemp(prefix="linres-numba-")
    atexit.register(shutil.rmtree, tmp, True)
    if src:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
    return tmp


def bench_first_run(cfg) -> dict:
    """CPU time of import and of the first run() (L = 2, d = 2) in a fresh process: with an empty
    numba cache (NUMBA_CACHE_DIR a new directory), again in a second process with the cache the
    first one wrote, and in a fresh process whose cache holds only `make`'s install warm-up."""
    def first(cache):
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        p = subprocess.run([sys.executable, "-c", _FIRST_RUN, str(ROOT / "lib")], env=env, capture_output=True,
                           text=True, check=True)
        imp, run, compiled = p.stdout.split()
        return float(imp), float(run), int(compiled)

    empty = _cache_copy(None)
    out = [first(empty), first(empty)]
    w = install_warm_up()
    inst = first(_cache_copy(w["dir"]))
    row = {"import_cpu_s": out[0][0], "first_run_cpu_s": out[0][1], "warm_first_run_cpu_s": out[1][1],
           "installed_import_cpu_s": inst[0], "installed_first_run_cpu_s": inst[1], "installed_compiled": inst[2],
           "warm_up_cpu_s": w["cpu_s"], "warm_up_wall_s": w["wall_s"], "warm_up_specialisations": w["specialisations"]}
    print(f"  first run(): {row['first_run_cpu_s']:.1f} s CPU with an empty cache, "
          f"{row['warm_first_run_cpu_s']:.2f} s with a warm one, {row['installed_first_run_cpu_s']:.2f} s after the "
          f"install warm-up", flush=True)
    return row


def bench_notebooks(cfg) -> dict:
    """CPU time of tools/execute.py on copies of the _toc.yml notebooks (next to the originals) and of
    every process it starts (the notebook kernels: they are reaped, so RUSAGE_CHILDREN counts them).

    Caches, each a new NUMBA_CACHE_DIR: ``installed`` holds only `make`'s install warm-up (a fresh
    clone after `make`); ``warm`` is the same directory after that run (everything the book compiles);
    ``cold`` is empty (with ``--cold``, the default)."""
    nbs = subprocess.run([sys.executable, str(ROOT / "tools" / "toc_notebooks.py")], capture_output=True,
                         text=True, check=True).stdout.split()
    nbs = [nb for nb in nbs if not nb.endswith("appendix_performance.ipynb")] + \
        [nb for nb in nbs if nb.endswith("appendix_performance.ipynb")]
    from linres.engine import warm as _warm
    w = install_warm_up()
    out = {"notebooks": nbs, "runs": {}, "warm_up": {k: w[k] for k in ("cpu_s", "wall_s", "specialisations")}}
    shared = _cache_copy(w["dir"])
    modes = [("installed", shared), ("warm", shared)] + ([("cold", "empty")] if cfg.cold else []) + \
        ([("numpy backend", "numpy")] if cfg.numpy_notebooks else [])
    for mode, cache in modes:
        env = dict(os.environ)
        # the notebooks must import this checkout's linres, not whichever one the venv has installed
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "lib")] + [p for p in [env.get("PYTHONPATH")] if p])
        if cache == "numpy":
            env["LINRES_BACKEND"] = "numpy"
            cache = _cache_copy(None)
        elif cache == "empty":
            cache = _cache_copy(None)
        env["NUMBA_CACHE_DIR"] = cache
        before = sum(len(v) for v in _warm.cached_specialisations(cache).values())
        copies, per = [], {}
        try:
            for nb in nbs:
                src = ROOT / nb
                dst = src.with_name(f".bench-{src.name}")
                shutil.copyfile(src, dst)
                copies.append(dst)
            load = Load()
            t = time.perf_counter()
            cpu0 = _children_cpu()
            proc = subprocess.run([sys.executable, str(ROOT / "tools" / "execute.py"), *map(str, copies)],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t
            # CPU time of execute.py and of every kernel process it started and reaped
            total = _children_cpu() - cpu0
            if proc.returncode != 0:
                raise RuntimeError(f"executing the notebooks failed:\n{proc.stdout}\n{proc.stderr}")
            for line in proc.stdout.splitlines():
                mm = re.match(r"(.*): executed in ([0-9.]+) s", line)
                if mm:
                    per[Path(mm.group(1)).name.replace(".bench-", "")] = float(mm.group(2))
        finally:
            for c in copies:
                c.unlink(missing_ok=True)
        compiled = sum(len(v) for v in _warm.cached_specialisations(cache).values()) - before
        out["runs"][mode] = {"total_s": total, "cpu_s": total, "wall_s": wall, "compiled": compiled,
                             "per_notebook_wall_s": per, **load.done()}
        print(f"  notebooks ({mode} numba cache): {total:.1f} s CPU ({wall:.1f} s wall) for {len(nbs)} notebooks; "
              f"{compiled} kernel functions compiled", flush=True)
    return out


# --- report --------------------------------------------------------------------------------------

def summarize(res: dict) -> list[dict]:
    """One line per goal: the measured ratio (worst case over the rows it covers) and the verdict."""
    lines = []

    def add(key, value, fmt, ok, detail):
        name, _, goal = GOALS[key]
        lines.append({"key": key, "measurement": name, "goal": goal, "measured": fmt.format(value),
                      "value": value, "met": bool(ok), "detail": detail})

    j = res.get("jax", {})
    if "single" in j:
        for key, rows in (("jax_single", j["single"]), ("jax_batched", j["batched"])):
            if not rows:
                continue
            w = min(rows, key=lambda r: r["ratio_jax_over_linres"])
            below = [r for r in rows if r["ratio_jax_over_linres"] < 1]
            add(key, w["ratio_jax_over_linres"], "×{:.2f} (worst)", not below,
                f"worst at L={w['L']}, d={w['d']}; {len(below)} of {len(rows)} cells below 1×; median ×"
                f"{statistics.median(r['ratio_jax_over_linres'] for r in rows):.2f}")
    elif "skipped" in j:
        for key in ("jax_single", "jax_batched"):
            name, _, goal = GOALS[key]
            lines.append({"key": key, "measurement": name, "goal": goal, "measured": "skipped",
                          "value": None, "met": None, "detail": j["skipped"]})
    t = res.get("torch", {})
    if "rows" in t:
        small = [r for r in t["rows"] if r["d"] <= 32]
        if small:
            w = min(small, key=lambda r: r["speedup_vs_torch"])
            add("torch_small", w["speedup_vs_torch"], "×{:.1f} (worst)", w["speedup_vs_torch"] >= 5,
                f"worst at L={w['L']}, d={w['d']}; median over cells "
                f"×{statistics.median(r['speedup_vs_torch'] for r in small):.1f}")
        big = [r for r in t["rows"] if r["d"] == 128]
        if big:
            w = min(big, key=lambda r: r["speedup_vs_torch"])
            add("torch_128", w["speedup_vs_torch"], "×{:.2f} (worst)", w["speedup_vs_torch"] >= 1,
                f"worst at L={w['L']}")
        pk = [r for r in t["rows"] if r["d"] >= 32 and r["L"] >= 2]
        if pk:
            w = min(pk, key=lambda r: r["fraction_of_peak"])
            add("peak", 100 * w["fraction_of_peak"], "{:.0f}% (worst)", w["fraction_of_peak"] >= 0.4,
                f"worst at L={w['L']}, d={w['d']}; peak ≈ {statistics.median(r['peak_gflops'] for r in pk):.0f} GF/s")
    elif "skipped" in t:
        for key in ("torch_small", "torch_128", "peak"):
            name, _, goal = GOALS[key]
            lines.append({"key": key, "measurement": name, "goal": goal, "measured": "skipped",
                          "value": None, "met": None, "detail": t["skipped"]})
    b = res.get("batched", {})
    if "rows" in b:
        w = min(b["rows"], key=lambda r: r["speedup_vs_naive"])
        add("batched", w["speedup_vs_naive"], "×{:.0f} (worst)", w["speedup_vs_naive"] >= 50,
            f"worst at L={w['L']}, d={w['d']}")
    s = res.get("scalar", {})
    if "rows" in s:
        w = min(s["rows"], key=lambda r: r["ratio_vs_stream"])
        add("scalar", w["ratio_vs_stream"], "×{:.1f} (worst)", w["ratio_vs_stream"] >= 2.5,
            f"worst at L={w['L']}; best ×{max(r['ratio_vs_stream'] for r in s['rows']):.1f}")
    sn = res.get("subnormal", {})
    if "rows" in sn:
        r = sn["rows"][0]
        add("subnormal", r["slowdown"], "×{:.2f}", r["slowdown"] <= 1.5,
            f"L=128; an unguarded numpy power slows ×{r['unguarded_numpy_power_slowdown']:.0f}")
    fr = res.get("first_run")
    if fr:
        add("first_run", fr["first_run_cpu_s"], "{:.1f} s", fr["first_run_cpu_s"] <= 2.0,
            f"import {fr['import_cpu_s']:.1f} s; {fr['warm_first_run_cpu_s']:.2f} s with a warm cache")
        if "installed_first_run_cpu_s" in fr:
            v = fr["installed_first_run_cpu_s"]
            add("first_run_installed", v, "{:.2f} s", v <= 2.0,
                f"import {fr['installed_import_cpu_s']:.1f} s; the install warm-up compiled "
                f"{fr['warm_up_specialisations']} specialisations in {fr['warm_up_cpu_s']:.0f} s CPU "
                f"({fr['warm_up_wall_s']:.0f} s wall), once")
    nb = res.get("notebooks", {})
    if "runs" in nb and "installed" in nb["runs"]:
        q = nb["runs"]["installed"]["total_s"] / nb["runs"]["warm"]["total_s"]
        wu = nb.get("warm_up", {})
        add("notebooks_cold", q, "×{:.2f}", q <= 1.3,
            f"CPU seconds of every process; {nb['runs']['installed'].get('compiled', '?')} kernel functions compiled "
            f"beyond the warm-up; the warm-up itself: {wu.get('cpu_s', float('nan')):.0f} s CPU once per install")
    if "runs" in nb and "cold" in nb["runs"]:
        q = nb["runs"]["cold"]["total_s"] / nb["runs"]["warm"]["total_s"]
        add("notebooks_empty", q, "×{:.2f}", q <= 1.3, "CPU seconds of every process, empty numba cache against warm")
    if "runs" in nb:
        warm = nb["runs"]["warm"]["total_s"]
        cold = nb["runs"].get("cold", {}).get("total_s")
        add("notebooks", warm, "{:.0f} s", warm <= 180,
            f"{len(nb['notebooks'])} notebooks, compiled kernels cached"
            + (f"; {cold:.0f} s with an empty kernel cache (compilation included)" if cold else ""))
    # every goal keeps a line: those whose section did not run (or failed) in this run say so
    seen = {line["key"] for line in lines}
    for key, (name, _, goal) in GOALS.items():
        if key not in seen:
            lines.append({"key": key, "measurement": name, "goal": goal, "measured": "not measured in this run",
                          "value": None, "met": None, "detail": "section not run or interrupted; see meta.command"})
    return lines


def jax_tables(j: dict) -> list[str]:
    """The two JAX tables: ratio = JAX CPU time / linres CPU time per cell (above 1: linres faster)."""
    out = []
    for key, title in (("single", "one problem"), ("batched", f"{j['batched'][0]['problems'] if j['batched'] else ''} problems (`jax.vmap`)")):
        rows = j[key]
        if not rows:
            continue
        Ls = sorted({r["L"] for r in rows})
        ds = sorted({r["d"] for r in rows})
        cell = {(r["L"], r["d"]): r for r in rows}
        out += ["", f"**Against JAX, {title}** (ratio = JAX CPU time / linres CPU time for the same steps; "
                "above 1: linres is faster)", "",
                f"| {title} | " + " | ".join(f"d = {d}" for d in ds) + " |", "|---|" + "---|" * len(ds)]
        for L in Ls:
            out.append(f"| L = {L} | " + " | ".join(
                (f"**×{cell[L, d]['ratio_jax_over_linres']:.2f}**" if cell[L, d]["ratio_jax_over_linres"] < 1
                 else f"×{cell[L, d]['ratio_jax_over_linres']:.2f}") if (L, d) in cell else "" for d in ds) + " |")
        out += ["", "| L | d | steps | linres ns/problem-step | JAX ns/problem-step | ratio | linres kernel | "
                "linres µs per call of 0 steps | max rel. ΔW | load |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            out.append(f"| {r['L']} | {r['d']} | {r['steps_per_call']} | {r['linres_ns_per_problem_step']:.1f} | "
                       f"{r['jax_ns_per_problem_step']:.1f} | ×{r['ratio_jax_over_linres']:.2f} | {r['kernel']} | "
                       f"{r.get('linres_fixed_us', float('nan')):.0f} | "
                       f"{r['max_rel_diff_final_layers']:.0e} | {r['loadavg_1min']:.1f} |")
    if "call_overhead" in j:
        c = j["call_overhead"]
        out += ["", f"Fixed cost of one call (0 steps): linres `run` {c['linres_us']:.1f} µs, "
                f"a jitted JAX call {c['jax_us']:.1f} µs."]
    return out


def markdown(res: dict) -> str:
    meta = res["meta"]
    out = [f"Measured {meta['date']} on {meta['machine']} ({meta['cpus']} cores), "
           f"Python {meta['python']}, numpy {meta['numpy']}, numba {meta['numba']}, "
           f"torch {meta['torch']}, jax {meta.get('jax', 'not installed')}; one BLAS thread; {meta['repeats']} repeats per figure.", ""]
    out += ["| measurement | goal | measured | met | detail |", "|---|---|---|---|---|"]
    for line in res["summary"]:
        met = {True: "yes", False: "**no**", None: "—"}[line["met"]]
        out.append(f"| {line['measurement']} | {line['goal']} | {line['measured']} | {met} | {line['detail']} |")
    missed = [line for line in res["summary"] if line["met"] is False]
    if missed:
        out += ["", "**Goals not met in this run.**", ""]
        for line in missed:
            out.append(f"- *{line['measurement']}*: {line['measured']} against {line['goal']}. "
                       + why(line["key"], res))
    j = res.get("jax", {})
    if "single" in j:
        out += jax_tables(j)
    t = res.get("torch", {})
    if "rows" in t:
        out += ["", "**Full-matrix GD step against PyTorch autograd** (f64, one thread; µs per step; "
                "speed-up = torch time / engine time; last column: engine GF/s as a share of the "
                "same run's 1024×1024 matmul)", "",
                "| L | d | engine µs | torch µs | speed-up | engine GF/s | % of peak | load |",
                "|---|---|---|---|---|---|---|---|"]
        for r in t["rows"]:
            pk = f"{100 * r['fraction_of_peak']:.0f}%" if "fraction_of_peak" in r else ""
            out.append(f"| {r['L']} | {r['d']} | {r['engine_us_per_step']:.1f} | {r['torch_us_per_step']:.1f} | "
                       f"×{r['speedup_vs_torch']:.1f} | {r['engine_gflops']:.2f} | {pk} | {r['loadavg_1min']:.1f} |")
    b = res.get("batched", {})
    if "rows" in b:
        out += ["", f"**Batched small d** ({b['rows'][0]['problems']} problems at once; ns per problem-step; "
                "naive = the numpy engine run one problem at a time)", "",
                "| L | d | engine ns | naive ns | speed-up | numpy batching alone | load |",
                "|---|---|---|---|---|---|---|"]
        for r in b["rows"]:
            out.append(f"| {r['L']} | {r['d']} | {r['engine_ns_per_problem_step']:.1f} | "
                       f"{r['naive_ns_per_problem_step']:.0f} | ×{r['speedup_vs_naive']:.0f} | "
                       f"×{r['speedup_numpy_batching_only']:.1f} | {r['loadavg_1min']:.1f} |")
    s = res.get("scalar", {})
    if "rows" in s:
        out += ["", f"**Symmetric scalar path** ({s['rows'][0]['problems']} problems × d = {s['rows'][0]['d']}; "
                "G coordinate-updates per second; streaming limit = one read-and-write pass over a "
                f"{s['stream_array_bytes'] / 2**20:.0f} MiB array)", "",
                "| L | kernel | streaming limit | ratio | numpy path | load |", "|---|---|---|---|---|---|"]
        for r in s["rows"]:
            out.append(f"| {r['L']} | {r['kernel_Gupdates_per_s']:.2f} | {r['stream_Gupdates_per_s']:.2f} | "
                       f"×{r['ratio_vs_stream']:.1f} | {r['numpy_Gupdates_per_s']:.3f} | {r['loadavg_1min']:.1f} |")
    nb = res.get("notebooks", {})
    if "runs" in nb:
        runs = nb["runs"]
        out += ["", "**Notebooks** (`tools/execute.py` on copies; total = CPU seconds of every process it started; "
                "per notebook: wall-clock seconds as execute.py reports them)", "",
                "| notebook | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
        key = "per_notebook_wall_s" if "per_notebook_wall_s" in runs["warm"] else "per_notebook_s"
        for name in runs["warm"][key]:
            out.append(f"| {name} | " + " | ".join(f"{run.get(key, {}).get(name, float('nan')):.1f}"
                                                   for run in runs.values()) + " |")
        out.append("| **total, CPU s** (incl. kernel start-up) | " +
                   " | ".join(f"{run.get('cpu_s', run['total_s']):.1f}" for run in runs.values()) + " |")
        if "installed" in runs:
            wu = nb.get("warm_up", {})
            out.append("")
            out.append(f"After a fresh install (only `make`'s warm-up in the cache) / warm: "
                       f"×{runs['installed']['total_s'] / runs['warm']['total_s']:.2f} in CPU time (goal ≤ 1.3×); "
                       f"the warm-up: {wu.get('specialisations', '?')} kernel specialisations, "
                       f"{wu.get('cpu_s', float('nan')):.0f} s CPU, {wu.get('wall_s', float('nan')):.0f} s wall, once.")
        if "cold" in runs:
            out.append("")
            out.append(f"Cold (empty numba cache) / warm: ×{runs['cold']['total_s'] / runs['warm']['total_s']:.2f} "
                       "in CPU time (goal ≤ 1.3×).")
    fr = res.get("first_run")
    if fr:
        out += ["", f"First `run()` in a fresh process with an empty numba cache: {fr['first_run_cpu_s']:.1f} s CPU "
                f"(import {fr['import_cpu_s']:.1f} s; goal ≤ 2 s); with a warm cache: {fr['warm_first_run_cpu_s']:.2f} s"
                + (f"; after `make`'s install warm-up: {fr['installed_first_run_cpu_s']:.2f} s "
                   f"({fr['warm_up_specialisations']} specialisations compiled at install in {fr['warm_up_cpu_s']:.0f} s CPU, "
                   f"{fr['warm_up_wall_s']:.0f} s wall)." if "installed_first_run_cpu_s" in fr else ".")]
    return "\n".join(out) + "\n"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats and cases (a smoke test)")
    p.add_argument("--render", action="store_true",
                   help="only rewrite latest.md (and the summary) from the stored latest.json")
    p.add_argument("--only", default="jax,first_run,notebooks,batched,subnormal,scalar,torch",
                   help="comma-separated sections to run; the results written hold only these")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    p.add_argument("--no-cold", dest="cold", action="store_false",
                   help="skip the notebook run with an empty kernel cache")
    p.add_argument("--numpy-notebooks", action="store_true",
                   help="also time the notebooks on the pure-numpy path (LINRES_BACKEND=numpy)")
    cfg = p.parse_args(argv)
    if cfg.render:
        path = Path(cfg.out) / "latest.json"
        res = json.loads(path.read_text())
        res["summary"] = summarize(res)
        path.write_text(json.dumps(res, indent=1, default=float) + "\n")
        (Path(cfg.out) / "latest.md").write_text(markdown(res))
        return res
    cfg.repeats = 3 if cfg.quick else 7
    cfg.min_time = 0.02 if cfg.quick else 0.1
    cfg.Ls = (2, 8) if cfg.quick else (2, 8, 32, 128)
    cfg.ds = (2, 32) if cfg.quick else (2, 8, 32, 128)
    cfg.batch, cfg.batch_steps = (256, 50) if cfg.quick else (1024, 200)
    cfg.batch_Ls = (2, 8) if cfg.quick else (2, 8, 32)
    cfg.scalar_Ls = (2, 128) if cfg.quick else (2, 8, 32, 128)
    cfg.scalar_problems, cfg.scalar_steps = (256, 500) if cfg.quick else (1024, 2000)
    cfg.stream_size = (1 << 23) if cfg.quick else (1 << 26)
    cfg.jax_Ls = (2, 8, 32)
    cfg.jax_ds = (2, 4, 8, 32, 128)
    cfg.jax_batch = 1024
    cfg.jax_batch_steps = 20 if cfg.quick else 100
    cfg.jax_max_steps = 500 if cfg.quick else 2000
    sections = [s.strip() for s in cfg.only.split(",") if s.strip()]

    _kernels.set_backend("auto")
    try:
        import numba
        numba_version = numba.__version__
    except ImportError:
        numba_version = "not installed"
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    res = {"meta": {"date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
                    "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "numpy": np.__version__, "numba": numba_version,
                    "torch": torch_version, "jax": _jax_version() or "not installed", "repeats": cfg.repeats, "quick": cfg.quick,
                    "command": "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])}}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            if m:
                res["meta"]["machine"] = m.group(1).strip()
    except OSError:
        pass
    start = time.perf_counter()
    runners = {"jax": bench_jax, "torch": bench_torch, "batched": bench_batched, "scalar": bench_scalar,
               "subnormal": bench_subnormal, "first_run": bench_first_run, "notebooks": bench_notebooks}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    def save():
        res["meta"]["benchmark_seconds"] = round(time.perf_counter() - start, 1)
        res["summary"] = summarize(res)
        (out / "latest.json").write_text(json.dumps(res, indent=1, default=float) + "\n")
        (out / "latest.md").write_text(markdown(res))

    for name in sections:
        print(f"[{name}]", flush=True)
        if name == "notebooks":
            save()  # the appendix page, executed among the notebooks, reads this file
        res[name] = runners[name](cfg)
        save()  # after every section: an interrupted run keeps what it measured
    md = (out / "latest.md").read_text()
    print()
    print(md)
    print(f"wrote {out / 'latest.json'} and {out / 'latest.md'} in {res['meta']['benchmark_seconds']:.0f} s")
    return res


if __name__ == "__main__":
    main()
