package dev.forge.compiler.reference;

import dev.forge.runtime.DType;
import java.util.Arrays;
import java.util.function.DoubleBinaryOperator;

/**
 * Numpy-style (multidirectional) broadcasting, written out plainly: align shapes at the right, a
 * dimension of 1 stretches to the other size, any other mismatch is an error.
 */
final class Broadcasting {
    private Broadcasting() {}

    /** The broadcast shape of {@code a} and {@code b}, or an IllegalArgumentException. */
    static long[] shape(long[] a, long[] b) {
        int rank = Math.max(a.length, b.length);
        long[] out = new long[rank];
        for (int i = 0; i < rank; i++) {
            int ia = i - (rank - a.length);
            int ib = i - (rank - b.length);
            long da = ia < 0 ? 1 : a[ia];
            long db = ib < 0 ? 1 : b[ib];
            if (da == db || db == 1) {
                out[i] = da;
            } else if (da == 1) {
                out[i] = db;
            } else {
                throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b)
                        + " cannot be broadcast (axis " + i + ": " + da + " vs " + db + ")");
            }
        }
        return out;
    }

    /** True if {@code from} broadcasts to exactly {@code to} (unidirectional broadcasting). */
    static boolean broadcastsTo(long[] from, long[] to) {
        if (from.length > to.length) {
            return false;
        }
        for (int i = 0; i < from.length; i++) {
            long d = from[from.length - 1 - i];
            if (d != 1 && d != to[to.length - 1 - i]) {
                return false;
            }
        }
        return true;
    }

    /** {@code x} repeated along its size-1 (and missing leading) axes to fill {@code target}. */
    static DoubleTensor to(DoubleTensor x, long[] target) {
        long[] xs = x.rawShape();
        if (!broadcastsTo(xs, target)) {
            throw new IllegalArgumentException(
                    "shape " + Arrays.toString(xs) + " does not broadcast to " + Arrays.toString(target));
        }
        long[] xStrides = DoubleTensor.strides(xs);
        int offset = target.length - xs.length;
        double[] src = x.raw();
        double[] out = new double[(int) DoubleTensor.checkedCount(target)];
        for (int flat = 0; flat < out.length; flat++) {
            long[] idx = DoubleTensor.unravel(flat, target);
            long from = 0;
            for (int i = 0; i < xs.length; i++) {
                long coordinate = xs[i] == 1 ? 0 : idx[i + offset];
                from += coordinate * xStrides[i];
            }
            out[flat] = src[(int) from];
        }
        return new DoubleTensor(x.dtype(), target.clone(), out);
    }

    /** {@code f(a, b)} elementwise over the broadcast shape, tagged {@code outType}. */
    static DoubleTensor zip(DoubleTensor a, DoubleTensor b, DType outType, DoubleBinaryOperator f) {
        long[] shape = shape(a.rawShape(), b.rawShape());
        double[] x = to(a, shape).raw();
        double[] y = to(b, shape).raw();
        double[] out = new double[x.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = f.applyAsDouble(x[i], y[i]);
        }
        return new DoubleTensor(outType, shape, out);
    }
}
