"""Triton source of the fused curves + trilinear 3D-LUT kernel (imports ``triton``).

Imported lazily by :mod:`ppr10k.lut.triton_kernels` only; without Triton it defines
nothing (the package and its doctest collection still import). Triton's interpreter
(``TRITON_INTERPRET=1``) must be chosen before ``triton`` is first imported: its own library
functions (``tl.sum``) are decorated then.

One kernel body serves forward and backward (``FORWARD`` is a compile-time flag), so that
both take the same cell, segment and fraction from the same float32 operations. A program
handles ``BLOCK`` pixels of one image (grid ``(cdiv(H*W, BLOCK), B)``):

* inputs, outputs and output gradients are NCHW float32 planes, read and written as three
  coalesced vectors (red, green, blue); per-pixel values whose three channels are needed
  together live in ``[BLOCK, 4]`` rows held by the pixel's own thread (with one pixel per
  thread, the default, nothing moves between threads: no shared memory, no barrier);
* curves (optional): per channel, segment ``k = #{knots < x} - 1`` clamped to
  ``[0, K - 2]`` (a count over the K knots, as the float64 reference defines it), then
  ``y = v_k + (x - x_k) / (x_{k+1} - x_k + eps) * (v_{k+1} - v_k)``;
* trilinear: ``t = clamp(y, 0, 1) * (D - 1)``, cell ``i = min(floor(t), D - 2)``,
  fraction ``f = t - i``, exactly as :func:`ppr10k.lut.ops.trilinear`;
* the LUT is read from a packed copy ``(N, D^3, 4)`` (entry ``[(b*D + g)*D + r, c]``, the
  fourth column zero), so that each of the 8 corners is one 16-byte load of all three output
  channels instead of three scattered loads.

Backward (same pass, recomputing the forward's intermediates from the inputs):

* LUT gradient: float32 ``atomic_add`` (relaxed) of ``w_corner * grad_out`` into the packed
  gradient buffer ``(N * COPIES, D^3, 4)``, a whole row per corner (the fourth column adds
  zero), which sm_90 does as one 16-byte vector atomic instead of three scalar ones;
  program ``p`` adds into copy ``p % COPIES``, and
  the copies are summed afterwards. Several copies spread the atomics of a large image over
  more addresses (less contention on a smooth photo whose pixels share few cells);
* image gradient: the analytic derivative of the interpolation in each coordinate, times
  ``D - 1``, zero where the clamp of ``y`` to [0, 1] stops it, then through the curve's
  segment slope and the clamp of ``x``. At exactly 0 and 1 the kernel follows the installed
  torch's ``clamp`` (torch 2.14 passes no gradient there; ``BOUNDS_PASS`` says otherwise);
* curve gradients (knots and values): no atomics; each program sums its pixels'
  contributions per knot (one-hot sums over chunks of ``KCH`` knots) and stores one row of
  partial sums, which the caller adds up (deterministic).
"""

try:
    import triton
    import triton.language as tl
except ImportError:  # without Triton the package (and its doctest collection) still imports
    triton = None

if triton is not None:
    @triton.jit
    def _curve(x, knots_ptr, values_ptr, K, eps):
        """Piecewise-linear curve of one channel at ``x`` (already clamped to [0, 1])."""
        count = tl.full(x.shape, 0, tl.int32)
        for k in range(K):
            count += (tl.load(knots_ptr + k) < x).to(tl.int32)
        seg = tl.minimum(tl.maximum(count - 1, 0), K - 2)
        x0 = tl.load(knots_ptr + seg)
        x1 = tl.load(knots_ptr + seg + 1)
        y0 = tl.load(values_ptr + seg)
        y1 = tl.load(values_ptr + seg + 1)
        width = (x1 - x0) + eps
        dy = y1 - y0
        s = tl.div_rn(x - x0, width)
        return y0 + s * dy, seg, s, width, dy


    @triton.jit
    def _cell(y, D: tl.constexpr):
        """Lattice cell and in-cell fraction of a LUT coordinate ``y`` (clamped to [0, 1])."""
        t = tl.minimum(tl.maximum(y, 0.0), 1.0) * (D - 1)
        i = tl.minimum(tl.floor(t), D - 2)
        # the integer clamp keeps every LUT read in bounds whatever the input (NaN, inf)
        cell = tl.minimum(tl.maximum(i.to(tl.int32), 0), D - 2)
        return cell, t - i


    @triton.jit
    def _in01(v, BOUNDS_PASS: tl.constexpr):
        """1.0 where the clamp of ``v`` to [0, 1] passes the gradient, else 0.0: inside (0, 1),
        and at 0 and 1 too when ``BOUNDS_PASS`` (torch's rule, which changed across versions)."""
        if BOUNDS_PASS:
            inside = (v >= 0.0) & (v <= 1.0)
        else:
            inside = (v > 0.0) & (v < 1.0)
        return inside.to(tl.float32)


    @triton.jit
    def _curve_grads(dst, gy, seg, s, width, dy, valid, KCH: tl.constexpr, N_KCH: tl.constexpr):
        """Sum one channel's knot and value gradients of this program's pixels into ``dst``.

        ``dst`` points at a row ``[2, N_KCH * KCH]``: knot gradients, then value gradients.
        The derivative follows torch's autograd of ``y0 + (x - x0) / (x1 - x0 + eps) * dy``.
        """
        gy = tl.where(valid, gy, 0.0)
        gq = gy * dy
        gnum = tl.div_rn(gq, width)
        gw = -gq * tl.div_rn(s, width)
        knot_lo = tl.where(valid, -gnum - gw, 0.0)
        knot_hi = tl.where(valid, gw, 0.0)
        value_hi = gy * s
        value_lo = gy - value_hi
        value_hi = tl.where(valid, value_hi, 0.0)
        value_lo = tl.where(valid, value_lo, 0.0)
        for j in tl.static_range(N_KCH):
            kk = j * KCH + tl.arange(0, KCH)
            lo = seg[:, None] == kk[None, :]
            hi = (seg[:, None] + 1) == kk[None, :]
            knots = tl.sum(tl.where(lo, knot_lo[:, None], 0.0), axis=0) \
                + tl.sum(tl.where(hi, knot_hi[:, None], 0.0), axis=0)
            values = tl.sum(tl.where(lo, value_lo[:, None], 0.0), axis=0) \
                + tl.sum(tl.where(hi, value_hi[:, None], 0.0), axis=0)
            tl.store(dst + kk, knots)
            tl.store(dst + N_KCH * KCH + kk, values)


    @triton.jit
    def _column(rows, cols, c: tl.constexpr):
        """Column ``c`` of ``[BLOCK, 4]`` per-pixel rows as a ``[BLOCK]`` vector."""
        return tl.sum(tl.where(cols[None, :] == c, rows, 0.0), axis=1)


    @triton.jit
    def _lut_grad(ptr, w, g, mask):
        tl.atomic_add(ptr, g * w[:, None], mask=mask, sem="relaxed")


    @triton.jit
    def curves_lut_kernel(
        x_ptr, out_ptr, gout_ptr, gx_ptr,
        lut_ptr, glut_ptr, knots_ptr, values_ptr, gcurve_ptr,
        HW, K, lut_per_image, curve_per_image, eps,
        D: tl.constexpr, BLOCK: tl.constexpr, COPIES: tl.constexpr,
        KCH: tl.constexpr, N_KCH: tl.constexpr,
        HAS_CURVES: tl.constexpr, FORWARD: tl.constexpr,
        GRAD_X: tl.constexpr, GRAD_LUT: tl.constexpr, GRAD_CURVES: tl.constexpr,
        GRAD_Y: tl.constexpr, BOUNDS_PASS: tl.constexpr,
    ):
        """Forward (``FORWARD``) or backward of curves + trilinear for BLOCK pixels of one image.

        Pointers: ``x/out/gout/gx`` (B, 3, H*W) float32; ``lut`` (N, D^3, 4) packed, N = 1 or B
        (``lut_per_image``); ``glut`` (N * COPIES, D^3, 4); ``knots/values`` (M, 3, K), M = 1 or
        B (``curve_per_image``); ``gcurve`` (B * programs per image, 3, 2, N_KCH * KCH).
        """
        pid = tl.program_id(0)
        b = tl.program_id(1).to(tl.int64)
        offs = pid * BLOCK + tl.arange(0, BLOCK)
        valid = offs < HW
        plane = b * 3 * HW
        xr = tl.load(x_ptr + plane + offs, mask=valid, other=0.0)
        xg = tl.load(x_ptr + plane + HW + offs, mask=valid, other=0.0)
        xb = tl.load(x_ptr + plane + 2 * HW + offs, mask=valid, other=0.0)

        if HAS_CURVES:
            cbase = b * curve_per_image * 3 * K
            cr = tl.minimum(tl.maximum(xr, 0.0), 1.0)
            cg = tl.minimum(tl.maximum(xg, 0.0), 1.0)
            cb = tl.minimum(tl.maximum(xb, 0.0), 1.0)
            yr, seg_r, s_r, w_r, dy_r = _curve(cr, knots_ptr + cbase, values_ptr + cbase, K, eps)
            yg, seg_g, s_g, w_g, dy_g = _curve(cg, knots_ptr + cbase + K, values_ptr + cbase + K,
                                               K, eps)
            yb, seg_b, s_b, w_b, dy_b = _curve(cb, knots_ptr + cbase + 2 * K,
                                               values_ptr + cbase + 2 * K, K, eps)
        else:
            yr = xr
            yg = xg
            yb = xb

        ir, fr = _cell(yr, D)
        ig, fg = _cell(yg, D)
        ib, fb = _cell(yb, D)
        cols = tl.arange(0, 4)
        corner = (ib * D + ig) * D + ir
        lut_base = b * lut_per_image * (D * D * D * 4)
        lp = lut_ptr + lut_base + corner[:, None] * 4 + cols[None, :]
        v000 = tl.load(lp)
        v001 = tl.load(lp + 4)
        v010 = tl.load(lp + 4 * D)
        v011 = tl.load(lp + 4 * D + 4)
        v100 = tl.load(lp + 4 * D * D)
        v101 = tl.load(lp + 4 * D * D + 4)
        v110 = tl.load(lp + 4 * D * D + 4 * D)
        v111 = tl.load(lp + 4 * D * D + 4 * D + 4)
        fr2 = fr[:, None]
        fg2 = fg[:, None]
        fb2 = fb[:, None]
        c00 = v000 + fr2 * (v001 - v000)
        c01 = v010 + fr2 * (v011 - v010)
        c10 = v100 + fr2 * (v101 - v100)
        c11 = v110 + fr2 * (v111 - v110)
        c0 = c00 + fg2 * (c01 - c00)
        c1 = c10 + fg2 * (c11 - c10)

        if FORWARD:
            out = c0 + fb2 * (c1 - c0)
            # one plane at a time from the per-pixel rows (an in-thread pick, no shuffle)
            tl.store(out_ptr + plane + offs, _column(out, cols, 0), mask=valid)
            tl.store(out_ptr + plane + HW + offs, _column(out, cols, 1), mask=valid)
            tl.store(out_ptr + plane + 2 * HW + offs, _column(out, cols, 2), mask=valid)
        else:
            gr = tl.load(gout_ptr + plane + offs, mask=valid, other=0.0)
            gg = tl.load(gout_ptr + plane + HW + offs, mask=valid, other=0.0)
            gb = tl.load(gout_ptr + plane + 2 * HW + offs, mask=valid, other=0.0)
            g = tl.where(cols[None, :] == 0, gr[:, None],
                         tl.where(cols[None, :] == 1, gg[:, None],
                                  tl.where(cols[None, :] == 2, gb[:, None], 0.0)))
            if GRAD_LUT:
                copy = (b * lut_per_image * COPIES + pid % COPIES).to(tl.int64)
                gp = glut_ptr + copy * (D * D * D * 4) + corner[:, None] * 4 + cols[None, :]
                ur = 1.0 - fr
                ug = 1.0 - fg
                ub = 1.0 - fb
                # whole rows (the zero fourth column too): one 16-byte atomic per corner
                pix_mask = tl.broadcast_to(valid[:, None], [BLOCK, 4])
                _lut_grad(gp, ub * ug * ur, g, pix_mask)
                _lut_grad(gp + 4, ub * ug * fr, g, pix_mask)
                _lut_grad(gp + 4 * D, ub * fg * ur, g, pix_mask)
                _lut_grad(gp + 4 * D + 4, ub * fg * fr, g, pix_mask)
                _lut_grad(gp + 4 * D * D, fb * ug * ur, g, pix_mask)
                _lut_grad(gp + 4 * D * D + 4, fb * ug * fr, g, pix_mask)
                _lut_grad(gp + 4 * D * D + 4 * D, fb * fg * ur, g, pix_mask)
                _lut_grad(gp + 4 * D * D + 4 * D + 4, fb * fg * fr, g, pix_mask)
            if GRAD_Y:
                d_r = (1.0 - fb2) * ((1.0 - fg2) * (v001 - v000) + fg2 * (v011 - v010)) \
                    + fb2 * ((1.0 - fg2) * (v101 - v100) + fg2 * (v111 - v110))
                d_g = (1.0 - fb2) * (c01 - c00) + fb2 * (c11 - c10)
                d_b = c1 - c0
                gyr = tl.sum(g * d_r, axis=1) * (D - 1) * _in01(yr, BOUNDS_PASS)
                gyg = tl.sum(g * d_g, axis=1) * (D - 1) * _in01(yg, BOUNDS_PASS)
                gyb = tl.sum(g * d_b, axis=1) * (D - 1) * _in01(yb, BOUNDS_PASS)
                if HAS_CURVES:
                    if GRAD_CURVES:
                        row = gcurve_ptr + (b * tl.num_programs(0) + pid) * (3 * 2 * N_KCH * KCH)
                        _curve_grads(row, gyr, seg_r, s_r, w_r, dy_r, valid, KCH, N_KCH)
                        _curve_grads(row + 2 * N_KCH * KCH, gyg, seg_g, s_g, w_g, dy_g, valid,
                                     KCH, N_KCH)
                        _curve_grads(row + 4 * N_KCH * KCH, gyb, seg_b, s_b, w_b, dy_b, valid,
                                     KCH, N_KCH)
                    gxr = tl.div_rn(gyr * dy_r, w_r)
                    gxg = tl.div_rn(gyg * dy_g, w_g)
                    gxb = tl.div_rn(gyb * dy_b, w_b)
                else:
                    gxr = gyr
                    gxg = gyg
                    gxb = gyb
                if GRAD_X:
                    tl.store(gx_ptr + plane + offs, gxr * _in01(xr, BOUNDS_PASS), mask=valid)
                    tl.store(gx_ptr + plane + HW + offs, gxg * _in01(xg, BOUNDS_PASS), mask=valid)
                    tl.store(gx_ptr + plane + 2 * HW + offs, gxb * _in01(xb, BOUNDS_PASS), mask=valid)
