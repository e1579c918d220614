r"""The numba kernels (imported lazily by :mod:`linres._kernels`; see its docstring).

Each kernel advances the still-running problems of a flat batch from step ``t0``
to step ``t1`` (inclusive) with the stopping rules of :mod:`linres._loop`:

- at step t it evaluates ℓ_t and the next state; it records ℓ_t (non-finite → inf)
  in row ``t // rec − j0`` of ``hist`` when rec divides t;
- a problem stops at the first t with (in this order of precedence) ℓ_t not finite
  or ℓ_t > blowup·max(1, ℓ_0) (diverged), ℓ_t ≤ tol (converged), a stall test at a
  multiple of the stall window, or t = max_steps; its state stays the one at t;
- a problem still running at ``t1`` leaves its state at t1 in ``S`` and the state
  at t1 + 1 in ``Sn`` (the next call resumes from there, ``t0 = t1 + 1``).

Status codes: 0 running, 1 converged, 2 max_steps, 3 diverged, 4 stalled.
"""
from __future__ import annotations

import numpy as np
from numba import njit

LANES = 32  # target number of SIMD lanes per block in the scalar kernel
_INF = np.inf


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


@njit(cache=True)
def scalar_chunk(z, zn, phi, eta, depth, pen, kappa, zmin, tol, blowup, first, stall_w, stall_rtol,
                 stall_ref, t0, t1, max_steps, rec, hist, j0, active, status, steps, final_loss):
    """Scalar recurrence z ← z − η[z^{L−1}(z^L − φ) + ψ'(z)] on flat (n, d) spectra.

    ``depth`` is a tuple of L − 1 zeros: its length is part of the type, so numba compiles
    (and caches) one kernel per L in which z^{L−1} is a fixed chain of multiplications.
    A block holds m problems; lane j·m + q is coordinate j of problem q, so that both the
    update and the per-problem loss sums run along contiguous lanes (SIMD over problems).
    """
    e = len(depth)
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
                    a = _ipow(xb, e)
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
                    lsan = lv if abs(lv) < _INF else _INF
                    bad = (not (abs(lv) < _INF)) or lv > lim[q]
                    done = lv <= tol
                    stl = False
                    if do_stall:
                        if t > 0:
                            stl = (stall_ref[k] - lv) <= stall_rtol * lv
                        stall_ref[k] = lv
                    if do_rec:
                        hist[t // rec - j0, k] = lsan
                    if bad or done or stl or t == max_steps:
                        if bad:
                            status[k] = 3
                        elif done:
                            status[k] = 1
                        elif stl:
                            status[k] = 4
                        else:
                            status[k] = 2
                        steps[k] = t
                        final_loss[k] = lsan
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
def _mm(a, b, out, d, blas):
    # out = a @ b for d×d blocks (any strides); small d by loops, larger d by BLAS.
    if blas:
        np.dot(a, b, out)
    else:
        for i in range(d):
            for j in range(d):
                out[i, j] = 0.0
            for k in range(d):
                aik = a[i, k]
                for j in range(d):
                    out[i, j] += aik * b[k, j]


@njit(cache=True)
def gd_chunk(W, Wn, T, eta, tol, blowup, first, stall_w, stall_rtol, stall_ref, t0, t1, max_steps,
             rec, hist, j0, active, status, steps, final_loss, blas):
    """Plain GD Θ_i ← Θ_i − η Θ_{L:i+1}ᵀ(Θ_{L:1} − Φ)Θ_{i−1:1}ᵀ on flat (n, L, d, d) layers."""
    L = W.shape[1]
    d = W.shape[2]
    w = np.empty((L, d, d))
    P = np.empty((L, d, d))
    S = np.empty((L, d, d))
    G = np.empty((d, d))
    for a in range(active.shape[0]):
        k = active[a]
        if t0 > 0:
            w[:] = Wn[k]
        else:
            w[:] = W[k]
        phi = T[k]
        et = eta[k]
        lim = blowup * max(1.0, first[k]) if t0 > 0 else _INF
        for t in range(t0, t1 + 1):
            # forward: prefix products P_i = Θ_{i+1:1}
            P[0] = w[0]
            for i in range(1, L):
                _mm(w[i], P[i - 1], P[i], d, blas)
            ss = 0.0
            for i in range(d):
                for j in range(d):
                    e_ = P[L - 1, i, j] - phi[i, j]
                    S[L - 1, i, j] = e_
                    ss += e_ * e_
            lv = 0.5 * ss
            if t == 0:
                first[k] = lv
                lim = blowup * max(1.0, lv)
            lsan = lv if abs(lv) < _INF else _INF
            bad = (not (abs(lv) < _INF)) or lv > lim
            done = lv <= tol
            stl = False
            if stall_w > 0 and t % stall_w == 0:
                if t > 0:
                    stl = (stall_ref[k] - lv) <= stall_rtol * lv
                stall_ref[k] = lv
            if t % rec == 0:
                hist[t // rec - j0, k] = lsan
            if bad or done or stl or t == max_steps:
                if bad:
                    status[k] = 3
                elif done:
                    status[k] = 1
                elif stl:
                    status[k] = 4
                else:
                    status[k] = 2
                steps[k] = t
                final_loss[k] = lsan
                W[k] = w
                break
            if t == t1:
                final_loss[k] = lsan
                W[k] = w
            # backward: S_{i−1} = Θ_iᵀ S_i, then Θ_i ← Θ_i − η S_i P_{i−1}ᵀ (P_0 = I)
            for i in range(L - 1, 0, -1):
                _mm(w[i].T, S[i], S[i - 1], d, blas)
            for i in range(d):
                for j in range(d):
                    w[0, i, j] = w[0, i, j] - et * S[0, i, j]
            for li in range(1, L):
                _mm(S[li], P[li - 1].T, G, d, blas)
                for i in range(d):
                    for j in range(d):
                        w[li, i, j] = w[li, i, j] - et * G[i, j]
            if t == t1:
                Wn[k] = w
