r"""The compiled (numba) kernels behind :mod:`linres.engine.dispatch`.

Each kernel advances the still-running problems of a flat batch from step t0 to step t1
(inclusive) under the contract of :mod:`linres.engine.contract`:

- at step t it evaluates ℓ_t and the next state; when the record interval r divides t it
  writes ℓ_t (non-finite → inf) to row t // r − j0 of ``hist`` and, if asked to, the state
  at t to the same row of ``snap``;
- a problem stops at the first t at which a stopping rule holds; its state stays the one at t
  and its status code (``CONVERGED``, …) is written;
- a problem still running at t1 leaves its state at t1 in ``S`` and the state at t1 + 1 in
  ``Sn`` (the next call resumes from there, t0 = t1 + 1).

Every kernel takes the problem arrays and one record ``ctl`` (a tuple, see
:func:`linres.engine.driver.control`): two parameter arrays, read through the index
constants ``F_*`` and ``I_*`` below, and the per-problem bookkeeping arrays.

Layouts. Scalar kernel: blocks of 32 problems advance in lock step; lane j·32 + q holds
coordinate j of problem q, so the update vectorizes across problems, and a problem that
stops frees its lanes (they then compute on zeros, cheap and never subnormal). Matrix
kernels: ``gd_chunk`` runs one problem at a time (by loops, or with SciPy's BLAS dgemm
when the dispatcher asks, each layer's update fused into its last product);
``gd_chunk_lanes`` runs ``GD_LANES`` problems at a time in the lanes of SIMD registers.

The kernels also run as plain Python under ``NUMBA_DISABLE_JIT=1`` (slowly), so that
coverage can see them; the BLAS call then becomes a numpy product.
"""
from __future__ import annotations

import llvmlite.binding as _llvm
import numpy as np
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import get_cython_function_address, intrinsic, overload
from numba.np.numpy_support import carray

# BLAS dgemm (Fortran interface, 32-bit ints) from SciPy, bound by symbol name so that
# kernels that call it can be cached: C ← α op(A) op(B) + β C.
_llvm.add_symbol("linres_dgemm", get_cython_function_address("scipy.linalg.cython_blas", "dgemm"))
_dgemm = types.ExternalFunction("linres_dgemm", types.void(*([types.voidptr] * 13)))

from .contract import CONVERGED, DIVERGED, MAX_STEPS, STALLED

LANES = 32  # target number of SIMD lanes per block in the scalar kernel
GD_LANES = 8  # problems per block in the lane kernel of gd (one SIMD lane each)
_INF = np.inf

# Fields of the control record: ctl = (fpar, ipar, first, stall_ref, hist, active, status,
# steps, final_loss, snap). fpar and ipar hold the loop's parameters:
F_TOL, F_BLOWUP, F_STALL_RTOL, F_KAPPA, F_ZMIN = range(5)
I_STALL_W, I_T0, I_T1, I_MAX_STEPS, I_REC, I_J0, I_SNAP, I_PEN = range(8)


@njit(cache=True, inline="always")
def _judge(k, t, lv, lim, tol, do_stall, stall_rtol, stall_ref, do_rec, row, hist, max_steps,
           status, steps, final_loss):
    """The stopping rules of :func:`linres.engine.reference.loop` for problem k at step t.

    Records ℓ_t in row ``row`` of ``hist`` when ``do_rec`` (row = t // r − j0, computed by
    the caller once per step rather than once per problem) and, when a rule fires, writes
    the status code, the step and the final loss.
    Returns (stopped, ℓ_t with a non-finite value reported as inf).
    """
    lsan = lv if abs(lv) < _INF else _INF
    bad = (not (abs(lv) < _INF)) or lv > lim
    done = lv <= tol
    stl = False
    if do_stall:
        if t > 0:
            stl = abs(stall_ref[k] - lv) <= stall_rtol * lv
        stall_ref[k] = lv
    if do_rec:
        hist[row, k] = lsan
    if bad or done or stl or t == max_steps:
        if bad:
            status[k] = DIVERGED
        elif done:
            status[k] = CONVERGED
        elif stl:
            status[k] = STALLED
        else:
            status[k] = MAX_STEPS
        steps[k] = t
        final_loss[k] = lsan
        return True, lsan
    return False, lsan


@njit(cache=True, inline="always")
def _ipow(x, e):
    # x**e by binary powering; with a literal e, LLVM unrolls this into a fixed chain.
    acc = 1.0
    p = x
    while e:
        if e & 1:
            acc = acc * p
        e >>= 1
        if e:
            p = p * p
    return acc


@njit(cache=True)
def _pairwise_strided(a, lo, stride, n):
    # numpy's summation order for a row of n ≥ 8 numbers (umath pairwise_sum), reading
    # a[lo], a[lo + stride], …, so that losses match np.sum(r * r, axis=-1) bit for bit.
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[lo + i * stride]
        return res
    elif n <= 128:
        r0 = a[lo]
        r1 = a[lo + stride]
        r2 = a[lo + 2 * stride]
        r3 = a[lo + 3 * stride]
        r4 = a[lo + 4 * stride]
        r5 = a[lo + 5 * stride]
        r6 = a[lo + 6 * stride]
        r7 = a[lo + 7 * stride]
        i = 8
        stop = n - (n % 8)
        while i < stop:
            r0 += a[lo + i * stride]
            r1 += a[lo + (i + 1) * stride]
            r2 += a[lo + (i + 2) * stride]
            r3 += a[lo + (i + 3) * stride]
            r4 += a[lo + (i + 4) * stride]
            r5 += a[lo + (i + 5) * stride]
            r6 += a[lo + (i + 6) * stride]
            r7 += a[lo + (i + 7) * stride]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[lo + i * stride]
            i += 1
        return res
    else:
        n2 = n // 2
        n2 -= n2 % 8
        return _pairwise_strided(a, lo, stride, n2) + _pairwise_strided(a, lo + n2 * stride, stride, n - n2)


@njit(cache=True, inline="always")
def _ipow_bits(x, e, K):
    # x**e by binary powering over the K = e.bit_length() bits of e: the same multiplications,
    # in the same order, as _ipow; with K a compile-time constant the loop unrolls and the
    # bit tests become selects, so the update still vectorizes across lanes.
    acc = 1.0
    p = x
    for k in range(K):
        if (e >> k) & 1:
            acc = acc * p
        if k < K - 1:
            p = p * p
    return acc


def _zpow(x, spec, e):
    # Plain-Python form (NUMBA_DISABLE_JIT); compiled kernels use the overload below.
    if len(spec) and isinstance(spec[0], float):
        return _ipow(x, len(spec))
    return _ipow_bits(x, e, len(spec))


@overload(_zpow, inline="always")
def _zpow_impl(x, spec, e):
    # x**e. ``spec`` is a tuple whose type fixes what is compiled in: e float zeros → e is
    # the constant len(spec) (fully unrolled); K integer zeros → e at run time, over K bits.
    if isinstance(spec, types.UniTuple) and isinstance(spec.dtype, types.Float):
        return lambda x, spec, e: _ipow(x, len(spec))
    return lambda x, spec, e: _ipow_bits(x, e, len(spec))


@njit(cache=True)
def scalar_chunk(z, zn, phi, eta, spec, e, ctl):
    """Scalar recurrence z ← z − η[z^{L−1}(z^L − φ) + ψ'(z)] on flat (n, d) spectra.

    ``spec`` fixes, through its type, what numba compiles (and caches) once: for small L
    it is a tuple of L − 1 float zeros, so that z^{L−1} is an unrolled chain of
    multiplications; for larger L it is a tuple of K int zeros, K = (L − 1).bit_length(),
    and the same chain runs over the bits of e = L − 1 (one kernel per K covers
    2^{K−1} ≤ L − 1 < 2^K). Both perform exactly the multiplications of ``_ipow``.
    A block holds m problems; lane j·m + q is coordinate j of problem q, so that both the
    update and the per-problem loss sums run along contiguous lanes (SIMD over problems).
    """
    fp, ip, first, stall_ref, hist, active, status, steps, final_loss, snap = ctl
    tol, blowup, stall_rtol, kappa, zmin = fp[F_TOL], fp[F_BLOWUP], fp[F_STALL_RTOL], fp[F_KAPPA], fp[F_ZMIN]
    stall_w, t0, t1, max_steps, rec, j0 = ip[I_STALL_W], ip[I_T0], ip[I_T1], ip[I_MAX_STEPS], ip[I_REC], ip[I_J0]
    do_snap, pen = ip[I_SNAP] != 0, ip[I_PEN]
    n_act = active.shape[0]
    d = z.shape[1]
    m = LANES
    nl = m * d
    zb = np.zeros(nl)  # the state being advanced
    znb = np.zeros(nl)  # the state one step back (the one whose loss was just measured)
    pb = np.zeros(nl)
    eb = np.zeros(nl)
    r2 = np.zeros(nl)
    kb = np.full(m, -1, dtype=np.int64)
    lq = np.zeros(m)
    tolq = np.full(m, -1.0)
    lim = np.full(m, _INF)
    for s in range(0, n_act, m):
        cnt = min(m, n_act - s)
        for q in range(m):
            if q < cnt:
                k = active[s + q]
                kb[q] = k
                for j in range(d):
                    zb[j * m + q] = zn[k, j] if t0 > 0 else z[k, j]
                    pb[j * m + q] = phi[k, j]
                    eb[j * m + q] = eta[k]
                tolq[q] = tol
                lim[q] = blowup * max(1.0, first[k]) if t0 > 0 else _INF
            else:
                kb[q] = -1
                for j in range(d):
                    zb[j * m + q] = 0.0
                    pb[j * m + q] = 0.0
                    eb[j * m + q] = 0.0
                tolq[q] = -1.0
                lim[q] = _INF
        live = cnt
        next_rec = ((t0 + rec - 1) // rec) * rec
        next_stall = ((t0 + stall_w - 1) // stall_w) * stall_w if stall_w > 0 else -1
        for t in range(t0, t1 + 1):
            # The update, vectorized over the lanes of the block (LANES is a constant);
            # for d < 8 the per-problem loss is summed on the fly, left to right as numpy does.
            for j in range(d):
                o = j * LANES
                for q in range(LANES):
                    x = zb[o + q]
                    xb = x if abs(x) >= zmin else 0.0
                    a = _zpow(xb, spec, e)
                    r = a * xb - pb[o + q]
                    rr = r * r
                    if d >= 8:
                        r2[o + q] = rr
                    elif j == 0:
                        lq[q] = rr
                    else:
                        lq[q] += rr
                    g = a * r
                    if pen == 1:
                        g = g + kappa * (x - 1.0)
                    elif pen == 2:
                        g = g + kappa * x * (x * x - 1.0)
                    znb[o + q] = x
                    zb[o + q] = x - eb[o + q] * g
            if d >= 8:  # numpy's pairwise order
                for q in range(LANES):
                    lq[q] = _pairwise_strided(r2, q, LANES, d)
            flag = False
            for q in range(LANES):
                lv = 0.5 * lq[q]
                lq[q] = lv
                flag |= (lv <= tolq[q]) | (not (abs(lv) < _INF)) | (lv > lim[q])
            do_rec = t == next_rec
            do_stall = t == next_stall
            if flag or do_rec or do_stall or t == t1 or t == max_steps:
                row = t // rec - j0
                if do_rec:
                    next_rec += rec
                if do_stall:
                    next_stall += stall_w
                for q in range(m):
                    k = kb[q]
                    if k < 0:
                        continue
                    lv = lq[q]
                    if t == 0:
                        first[k] = lv
                        lim[q] = blowup * max(1.0, lv)
                    stop, lsan = _judge(k, t, lv, lim[q], tol, do_stall, stall_rtol, stall_ref, do_rec, row,
                                        hist, max_steps, status, steps, final_loss)
                    if do_rec and do_snap:
                        for j in range(d):
                            snap[row, k, j] = znb[j * m + q]
                    if stop:
                        for j in range(d):
                            z[k, j] = znb[j * m + q]
                            zb[j * m + q] = 0.0
                            znb[j * m + q] = 0.0
                            pb[j * m + q] = 0.0
                            eb[j * m + q] = 0.0
                        kb[q] = -1
                        tolq[q] = -1.0
                        lim[q] = _INF
                        live -= 1
                    elif t == t1:
                        final_loss[k] = lsan
                        for j in range(d):
                            z[k, j] = znb[j * m + q]
                            zn[k, j] = zb[j * m + q]
                if live == 0:
                    break


# --- full-matrix gradient descent ---------------------------------------------------------------

@njit(cache=True, inline="always")
def _gd_step_small(w, P, S, phi, L, d):
    # Forward pass by explicit loops (no array views: for small d the reference counting of
    # views would cost more than the arithmetic); each entry is summed in a register, in the
    # order k = 0, 1, …, and stored once. P_i = Θ_{i+1:1}. Returns ℓ; S[L−1] = Θ_{L:1} − Φ.
    for r in range(d):
        for c in range(d):
            P[0, r, c] = w[0, r, c]
    for i in range(1, L):
        for r in range(d):
            for c in range(d):
                acc = 0.0
                for k in range(d):
                    acc += w[i, r, k] * P[i - 1, k, c]
                P[i, r, c] = acc
    ss = 0.0
    for r in range(d):
        for c in range(d):
            e_ = P[L - 1, r, c] - phi[r, c]
            S[L - 1, r, c] = e_
            ss += e_ * e_
    return 0.5 * ss


@njit(cache=True, inline="always")
def _gd_update_small(w, P, S, et, L, d):
    for i in range(L - 1, 0, -1):  # S_{i−1} = Θ_iᵀ S_i
        for r in range(d):
            for c in range(d):
                acc = 0.0
                for k in range(d):
                    acc += w[i, k, r] * S[i, k, c]
                S[i - 1, r, c] = acc
    for r in range(d):
        for c in range(d):
            w[0, r, c] = w[0, r, c] - et * S[0, r, c]
    for i in range(1, L):  # Θ_i ← Θ_i − η S_i P_{i−1}ᵀ
        for r in range(d):
            for c in range(d):
                acc = 0.0
                for k in range(d):
                    acc += S[i, r, k] * P[i - 1, c, k]
                w[i, r, c] = w[i, r, c] - et * acc


if not config.DISABLE_JIT:
    @njit(cache=True, inline="always")
    def _gemm(ta, tb, al, A, B, be, C, n):
        # Row-major d×d blocks seen by column-major BLAS as their transposes: see the callers.
        _dgemm(ta.ctypes, tb.ctypes, n.ctypes, n.ctypes, n.ctypes, al.ctypes, A.ctypes, n.ctypes,
               B.ctypes, n.ctypes, be.ctypes, C.ctypes, n.ctypes)
else:
    def _gemm(ta, tb, al, A, B, be, C, n):
        # The same product in numpy (plain Python, no BLAS binding): column-major Cᵀ ← α op(Aᵀ) op(Bᵀ) + β Cᵀ.
        a = A if ta[0] == ord("T") else A.T
        b = B if tb[0] == ord("T") else B.T
        prod = al[0] * (a @ b)
        C[:] = (prod if be[0] == 0.0 else prod + be[0] * C.T).T


@njit(cache=True)
def _gd_step_blas(w, P, S, phi, L, d, tN, one, zero, n):
    P[0] = w[0]
    for i in range(1, L):  # P_i = Θ_i P_{i−1}, i.e. P_iᵀ = P_{i−1}ᵀ Θ_iᵀ
        _gemm(tN, tN, one, P[i - 1], w[i], zero, P[i], n)
    ss = 0.0
    for r in range(d):
        for c in range(d):
            e_ = P[L - 1, r, c] - phi[r, c]
            S[(L - 1) % 2, r, c] = e_
            ss += e_ * e_
    return 0.5 * ss


@njit(cache=True)
def _gd_update_blas(w, P, S, et, L, d, tN, tT, one, zero, n, meta):
    # Layer by layer from the top: S_{i−1} = Θ_iᵀ S_i with the old Θ_i, then, in the same
    # BLAS call's output, Θ_i ← Θ_i − η S_i P_{i−1}ᵀ. S holds S_i and S_{i−1} alternately.
    meta[0] = -et
    for i in range(L - 1, 0, -1):
        cur, nxt = i % 2, (i - 1) % 2
        _gemm(tN, tT, one, S[cur], w[i], zero, S[nxt], n)  # S_{i−1}ᵀ = S_iᵀ Θ_i
        _gemm(tT, tN, meta, P[i - 1], S[cur], one, w[i], n)  # Θ_iᵀ ← Θ_iᵀ − η P_{i−1} S_iᵀ
    for r in range(d):
        for c in range(d):
            w[0, r, c] = w[0, r, c] - et * S[0, r, c]


@intrinsic
def _stack(typingctx, nl, dims):
    # A float64 buffer of nl·d² entries on the stack, its size fixed by the types (nl a literal,
    # d the length of the tuple dims): with constant indices LLVM keeps it in registers.
    if not isinstance(nl, types.IntegerLiteral):
        return None
    size = max(1, nl.literal_value * len(dims) ** 2)

    def codegen(context, builder, sig, args):
        return cgutils.alloca_once(builder, context.get_value_type(types.float64), size=size)
    return types.CPointer(types.float64)(nl, dims), codegen


if config.DISABLE_JIT:
    def _stack(nl, dims):  # noqa: F811 - plain Python (NUMBA_DISABLE_JIT): a heap buffer
        return np.empty(max(1, nl * len(dims) ** 2))

    def carray(buf, shape):  # noqa: F811
        return buf[:int(np.prod(shape))].reshape(shape)


@njit(cache=True, inline="always")
def _gd_problem(k, W, Wn, T, eta, blas, L, d, ctl, w, P, S, S2, tN, tT, one, zero, meta, nn):
    # Problem k of gd_chunk from step t0 to its stop or to t1, in the work arrays w, P, S.
    fp, ip, first, stall_ref, hist, active, status, steps, final_loss, snap = ctl
    tol, blowup, stall_rtol = fp[F_TOL], fp[F_BLOWUP], fp[F_STALL_RTOL]
    stall_w, t0, t1, max_steps, rec, j0 = ip[I_STALL_W], ip[I_T0], ip[I_T1], ip[I_MAX_STEPS], ip[I_REC], ip[I_J0]
    do_snap = ip[I_SNAP] != 0
    src = Wn if t0 > 0 else W
    for i in range(L):
        for r in range(d):
            for c in range(d):
                w[i, r, c] = src[k, i, r, c]
    phi = T[k]
    et = eta[k]
    lim = blowup * max(1.0, first[k]) if t0 > 0 else _INF
    # the next recorded step and the next stall check, as counters (no division per step)
    next_rec = ((t0 + rec - 1) // rec) * rec
    next_stall = ((t0 + stall_w - 1) // stall_w) * stall_w if stall_w > 0 else -1
    last = min(t1, max_steps)
    for t in range(t0, t1 + 1):
        if blas:
            lv = _gd_step_blas(w, P, S2, phi, L, d, tN, one, zero, nn)
        else:
            lv = _gd_step_small(w, P, S, phi, L, d)
        if t == 0:
            first[k] = lv
            lim = blowup * max(1.0, lv)
        # the bookkeeping of _judge only at a step where it can act: a record, a stall
        # check, the end of the call, or a loss that stops the problem
        do_rec = t == next_rec
        do_stall = t == next_stall
        if do_rec or do_stall or t == last or lv <= tol or not (abs(lv) < _INF) or lv > lim:
            if do_rec:
                next_rec += rec
            if do_stall:
                next_stall += stall_w
            row = t // rec - j0
            stop, lsan = _judge(k, t, lv, lim, tol, do_stall, stall_rtol, stall_ref, do_rec, row,
                                hist, max_steps, status, steps, final_loss)
            if do_rec and do_snap:
                _put(snap[row, k], w, L, d)
            if stop:
                _put(W[k], w, L, d)
                return
            if t == t1:
                final_loss[k] = lsan
                _put(W[k], w, L, d)
        if blas:
            _gd_update_blas(w, P, S2, et, L, d, tN, tT, one, zero, nn, meta)
        else:
            _gd_update_small(w, P, S, et, L, d)
        if t == t1:
            _put(Wn[k], w, L, d)


@njit(cache=True, inline="always")
def _put(dst, w, L, d):
    for i in range(L):
        for r in range(d):
            for c in range(d):
                dst[i, r, c] = w[i, r, c]


@njit(cache=True)
def gd_chunk(W, Wn, T, eta, blas, dims, ctl):
    """Plain GD Θ_i ← Θ_i − η Θ_{L:i+1}ᵀ(Θ_{L:1} − Φ)Θ_{i−1:1}ᵀ on flat (n, L, d, d) layers.

    Backprop order: prefix products P_i, the loss, the back-chain S_{i−1} = Θ_iᵀ S_i from
    S_L = Θ_{L:1} − Φ, then every layer's update; 3(L − 1) products of d×d blocks, by
    BLAS when ``blas`` (larger d), else by loops. One problem at a time: used for d ≥ 12,
    and for batches too small to fill the lanes of ``gd_chunk_lanes``. ``dims`` is empty
    (d read from W at run time) or a tuple of d zeros: d is then a compile-time constant
    and the loops of a small d unroll (the same operations in the same order, about 8×
    faster per step at d = 2). With such a d, two layers (L = 2) also run with a literal
    depth in work arrays on the stack, which LLVM keeps in registers (about 1.5× faster
    per step at d = 2, the same operations in the same order).
    """
    active = ctl[5]
    L = W.shape[1]
    d = len(dims) if len(dims) > 0 else W.shape[2]
    w = np.empty((L, d, d))
    P = np.empty((L, d, d))
    S = np.empty((L, d, d))
    S2 = np.empty((2, d, d))
    tN = np.full(1, ord("N"), dtype=np.int8)
    tT = np.full(1, ord("T"), dtype=np.int8)
    one = np.ones(1)
    zero = np.zeros(1)
    meta = np.zeros(1)
    nn = np.full(1, d, dtype=np.int32)
    if L == 2 and len(dims) > 0 and not blas:
        w2 = carray(_stack(2, dims), (2, d, d))
        P2 = carray(_stack(2, dims), (2, d, d))
        S22 = carray(_stack(2, dims), (2, d, d))
        for a in range(active.shape[0]):
            _gd_problem(active[a], W, Wn, T, eta, False, 2, d, ctl, w2, P2, S22, S2, tN, tT, one, zero, meta, nn)
    else:
        for a in range(active.shape[0]):
            _gd_problem(active[a], W, Wn, T, eta, blas, L, d, ctl, w, P, S, S2, tN, tT, one, zero, meta, nn)


@njit(cache=True)
def whole_run(n, fp, ip, snap):
    """The control record of a run done in one kernel call (t0 = 0, t1 = ``max_steps``) that
    records no states (``snap`` is empty): :func:`linres.engine.driver.control` with the
    history block of the whole run (the recorded rows and one spare), built in compiled code.
    """
    rec, max_steps = ip[I_REC], ip[I_MAX_STEPS]
    ip[I_T0], ip[I_T1], ip[I_J0] = 0, max_steps, 0
    hist = np.full((max_steps // rec + 2, n), np.nan)
    return (fp, ip, np.zeros(n), np.full(n, _INF), hist, np.arange(n), np.zeros(n, dtype=np.int8),
            np.full(n, max_steps, dtype=np.int64), np.zeros(n), snap)


@njit(cache=True)
def close_history(hist, final_loss, steps, rec):
    """The history of a :func:`whole_run` call, closed as
    :func:`linres.engine.driver.run_chunks` closes its last block: a row for the last step if
    it is not a recorded one, and every row after a problem's stop holding its final loss.
    Returns (recorded steps, loss rows).
    """
    n = hist.shape[1]
    last = steps.max()
    m = last // rec + 1
    rs = np.arange(0, (m + 1) * rec, rec)
    if rs[m - 1] != last:  # the run's last step, not a recorded one
        rs[m] = last
        hist[m] = final_loss
        m += 1
    first_stop = steps.min()
    for j in range(m):
        if rs[j] > first_stop:
            for k in range(n):
                if rs[j] > steps[k]:
                    hist[j, k] = final_loss[k]
    return rs[:m], hist[:m]


@njit(cache=True)
def gd_solve(W, T, eta, blas, dims, fp, ip):
    """A whole run of ``gd_chunk`` in one call, for a run that records no states.

    Returns (final loss, codes, steps, recorded steps, loss rows), equal bit for bit to the
    chunked path's (``tests/test_lean_path.py``). It exists for the per-call cost: the
    Python side of a short run was most of its time. (The scalar kernel's whole runs call
    :func:`whole_run` and :func:`close_history` from Python: a compiled wrapper would be one
    more specialisation per depth to compile.)
    """
    ctl = whole_run(W.shape[0], fp, ip, np.empty((0,) + W.shape))
    gd_chunk(W, np.empty_like(W), T, eta, blas, dims, ctl)
    rs, hist = close_history(ctl[4], ctl[8], ctl[7], ip[I_REC])
    return ctl[8], ctl[6], ctl[7], rs, hist


@njit(cache=True)
def gd_chunk_lanes(W, Wn, T, eta, dims, ctl):
    """``gd_chunk`` for small d, GD_LANES problems at a time in SIMD lanes.

    Same arithmetic, in the same order, as the loops of ``gd_chunk`` for each problem;
    every block array carries a last axis of GD_LANES lanes. A problem that stops frees its
    lane, which then computes on zeros (cheap, never subnormal).
    """
    fp, ip, first, stall_ref, hist, active, status, steps, final_loss, snap = ctl
    tol, blowup, stall_rtol = fp[F_TOL], fp[F_BLOWUP], fp[F_STALL_RTOL]
    stall_w, t0, t1, max_steps, rec, j0 = ip[I_STALL_W], ip[I_T0], ip[I_T1], ip[I_MAX_STEPS], ip[I_REC], ip[I_J0]
    do_snap = ip[I_SNAP] != 0
    V = GD_LANES
    L = W.shape[1]
    d = len(dims)
    w = np.zeros((L, d, d, V))
    P = np.zeros((L, d, d, V))
    S = np.zeros((2, d, d, V))  # S_i and S_{i−1} of the back-chain, alternating
    ph = np.zeros((d, d, V))
    et = np.zeros(V)
    ss = np.zeros(V)
    kb = np.full(V, -1, dtype=np.int64)
    lim = np.full(V, _INF)
    tolv = np.full(V, -1.0)  # tol for a live lane, −1 for a free one (its loss is 0)
    n_act = active.shape[0]
    for s0 in range(0, n_act, V):
        cnt = min(V, n_act - s0)
        for v in range(V):
            if v < cnt:
                k = active[s0 + v]
                kb[v] = k
                src = Wn if t0 > 0 else W
                for i in range(L):
                    for r in range(d):
                        for c in range(d):
                            w[i, r, c, v] = src[k, i, r, c]
                for r in range(d):
                    for c in range(d):
                        ph[r, c, v] = T[k, r, c]
                et[v] = eta[k]
                lim[v] = blowup * max(1.0, first[k]) if t0 > 0 else _INF
                tolv[v] = tol
            else:
                kb[v] = -1
                tolv[v] = -1.0
                for i in range(L):
                    for r in range(d):
                        for c in range(d):
                            w[i, r, c, v] = 0.0
                for r in range(d):
                    for c in range(d):
                        ph[r, c, v] = 0.0
                et[v] = 0.0
                lim[v] = _INF
        live = cnt
        next_rec = ((t0 + rec - 1) // rec) * rec  # counters, as in gd_chunk
        next_stall = ((t0 + stall_w - 1) // stall_w) * stall_w if stall_w > 0 else -1
        for t in range(t0, t1 + 1):
            # forward: P_i = Θ_{i+1:1}, E = P_{L−1} − Φ, ℓ
            for r in range(d):
                for c in range(d):
                    for v in range(V):
                        P[0, r, c, v] = w[0, r, c, v]
            for i in range(1, L):
                for r in range(d):
                    for c in range(d):
                        for v in range(V):  # the k loop (constant d) unrolls; v vectorizes
                            acc = 0.0
                            for k in range(d):
                                acc += w[i, r, k, v] * P[i - 1, k, c, v]
                            P[i, r, c, v] = acc
            for v in range(V):
                ss[v] = 0.0
            for r in range(d):
                for c in range(d):
                    for v in range(V):
                        e_ = P[L - 1, r, c, v] - ph[r, c, v]
                        S[(L - 1) % 2, r, c, v] = e_
                        ss[v] += e_ * e_
            # the stopping rules, lane by lane; first a vectorised test of whether any lane
            # can stop at this step (the scalar kernel's shortcut), so that a step at which
            # nothing is recorded and no rule fires skips the per-lane bookkeeping
            do_stall = t == next_stall
            do_rec = t == next_rec
            if do_stall:
                next_stall += stall_w
            if do_rec:
                next_rec += rec
            if not (do_stall or do_rec or t == t0 or t == t1 or t == max_steps):
                flag = False
                for v in range(V):
                    lv = 0.5 * ss[v]
                    flag |= (lv <= tolv[v]) | (not (abs(lv) < _INF)) | (lv > lim[v])
                continue_lanes = flag
            else:
                continue_lanes = True
            row = t // rec - j0
            for v in range(V if continue_lanes else 0):
                k = kb[v]
                if k < 0:
                    continue
                lv = 0.5 * ss[v]
                if t == 0:
                    first[k] = lv
                    lim[v] = blowup * max(1.0, lv)
                stop, lsan = _judge(k, t, lv, lim[v], tol, do_stall, stall_rtol, stall_ref, do_rec, row,
                                    hist, max_steps, status, steps, final_loss)
                if do_rec and do_snap:
                    for i in range(L):
                        for r in range(d):
                            for c in range(d):
                                snap[row, k, i, r, c] = w[i, r, c, v]
                if stop:
                    for i in range(L):
                        for r in range(d):
                            for c in range(d):
                                W[k, i, r, c] = w[i, r, c, v]
                                w[i, r, c, v] = 0.0
                    for r in range(d):
                        for c in range(d):
                            ph[r, c, v] = 0.0
                    et[v] = 0.0
                    kb[v] = -1
                    lim[v] = _INF
                    tolv[v] = -1.0
                    live -= 1
                elif t == t1:
                    final_loss[k] = lsan
                    for i in range(L):
                        for r in range(d):
                            for c in range(d):
                                W[k, i, r, c] = w[i, r, c, v]
            if live == 0:
                break
            # backward, layer by layer from the top: S_{i−1} = Θ_iᵀ S_i with the old Θ_i,
            # then Θ_i ← Θ_i − η S_i P_{i−1}ᵀ (Θ_i is not needed again in this step)
            for i in range(L - 1, 0, -1):
                cur, nxt = i % 2, (i - 1) % 2
                for r in range(d):
                    for c in range(d):
                        for v in range(V):
                            acc = 0.0
                            for k in range(d):
                                acc += w[i, k, r, v] * S[cur, k, c, v]
                            S[nxt, r, c, v] = acc
                for r in range(d):
                    for c in range(d):
                        for v in range(V):
                            acc = 0.0
                            for k in range(d):
                                acc += S[cur, r, k, v] * P[i - 1, c, k, v]
                            w[i, r, c, v] = w[i, r, c, v] - et[v] * acc
            for r in range(d):
                for c in range(d):
                    for v in range(V):
                        w[0, r, c, v] = w[0, r, c, v] - et[v] * S[0, r, c, v]
            if t == t1:
                for v in range(V):
                    k = kb[v]
                    if k >= 0:
                        for i in range(L):
                            for r in range(d):
                                for c in range(d):
                                    Wn[k, i, r, c] = w[i, r, c, v]
