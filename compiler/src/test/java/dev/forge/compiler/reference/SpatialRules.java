package dev.forge.compiler.reference;

import dev.forge.runtime.DType;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Convolution and pooling over N-D spatial axes ({@code [N, C, D1, ..., Dn]}, n >= 1): Conv,
 * ConvTranspose, MaxPool (with Indices), AveragePool, the global pools and MaxUnpool. Each is written
 * as the loop its ONNX definition describes, with no im2col, no reuse of one op inside another.
 */
final class SpatialRules {
    private SpatialRules() {}

    static void register(Map<String, Rule> r) {
        r.put("Conv", SpatialRules::conv);
        r.put("ConvTranspose", SpatialRules::convTranspose);
        r.put("MaxPool", SpatialRules::maxPool);
        r.put("AveragePool", SpatialRules::averagePool);
        r.put("GlobalAveragePool", c -> global(c, false));
        r.put("GlobalMaxPool", c -> global(c, true));
        r.put("MaxUnpool", SpatialRules::maxUnpool);
    }

    /** The spatial sizes of an [N, C, D1..Dn] input, checking rank >= 3. */
    private static long[] spatial(Call c, DoubleTensor x, String what) {
        if (x.rank() < 3) {
            throw c.error(what + " must be [N, C, D1, ...] with rank >= 3, got " + Arrays.toString(x.rawShape()));
        }
        return Arrays.copyOfRange(x.rawShape(), 2, x.rank());
    }

    private static long[] concat(long a, long b, long[] rest) {
        long[] s = new long[rest.length + 2];
        s[0] = a;
        s[1] = b;
        System.arraycopy(rest, 0, s, 2, rest.length);
        return s;
    }

    /**
     * Conv: X [N, C, in...], W [M, C/group, k...], optional B [M].
     *
     * <pre>
     * Y[n, m, o] = B[m] + sum_{c < C/group} sum_{k} X[n, g*(C/group) + c, o*s - padBegin + k*d] * W[m, c, k]
     * </pre>
     * where {@code g = m / (M/group)} is the output channel's group and X is zero in the padding (this is
     * cross-correlation: the kernel is not flipped).
     */
    private static List<DoubleTensor> conv(Call c) {
        DoubleTensor x = c.in(0);
        DoubleTensor w = c.in(1);
        DoubleTensor b = c.opt(2);
        long[] in = spatial(c, x, "X");
        if (w.rank() != x.rank()) {
            throw c.error(
                    "W " + Arrays.toString(w.rawShape()) + " must have the rank of X " + Arrays.toString(x.rawShape()));
        }
        int group = (int) c.attrInt("group", 1);
        int batch = (int) x.dim(0);
        int channels = (int) x.dim(1);
        int filters = (int) w.dim(0);
        int cPerGroup = (int) w.dim(1);
        if (group < 1 || channels != cPerGroup * group || filters % group != 0) {
            throw c.error("X has " + channels + " channels and W is " + Arrays.toString(w.rawShape()) + " with group "
                    + group + ": need C = W[1] * group and W[0] divisible by group");
        }
        if (b != null && (b.rank() != 1 || b.dim(0) != filters)) {
            throw c.error("B must be [" + filters + "], got " + Arrays.toString(b.rawShape()));
        }
        long[] kernel = Arrays.copyOfRange(w.rawShape(), 2, w.rank());
        long[] kernelAttr = c.attrInts("kernel_shape", null);
        if (kernelAttr != null && !Arrays.equals(kernelAttr, kernel)) {
            throw c.error(
                    "kernel_shape " + Arrays.toString(kernelAttr) + " differs from W's " + Arrays.toString(kernel));
        }
        Window win = Window.of(c, in, kernel, false);
        int mPerGroup = filters / group;
        int outCount = win.outCount();
        int inCount = win.inCount();
        long[][] kOffsets = win.kernelOffsets();
        double[] xd = x.raw();
        double[] wd = w.raw();
        double[] y = new double[batch * filters * outCount];
        for (int n = 0; n < batch; n++) {
            for (int m = 0; m < filters; m++) {
                int g = m / mPerGroup;
                for (int o = 0; o < outCount; o++) {
                    long[] oIdx = DoubleTensor.unravel(o, win.out);
                    double acc = b == null ? 0 : b.raw()[m];
                    for (int ci = 0; ci < cPerGroup; ci++) {
                        int xChannel = g * cPerGroup + ci;
                        for (int k = 0; k < kOffsets.length; k++) {
                            int p = win.inputFlat(oIdx, kOffsets[k]);
                            if (p >= 0) {
                                acc += xd[(n * channels + xChannel) * inCount + p]
                                        * wd[(m * cPerGroup + ci) * kOffsets.length + k];
                            }
                        }
                    }
                    y[(n * filters + m) * outCount + o] = acc;
                }
            }
        }
        return List.of(new DoubleTensor(x.dtype(), concat(batch, filters, win.out), y));
    }

    /**
     * ConvTranspose: X [N, C, in...], W [C, M/group, k...], optional B [M]. Every input element
     * scatters into the output:
     *
     * <pre>
     * Y[n, g*(M/group) + m, i*s + k*d - padBegin] += X[n, c, i] * W[c, m, k]     (g = c / (C/group))
     * </pre>
     * then B is added. The output size is {@code s*(in-1) + output_padding + (k-1)*d + 1 - padBegin - padEnd};
     * when output_shape is given the pads are derived from it: total = that full size minus output_shape
     * (at least 0), split {@code begin = total/2} for SAME_UPPER and {@code begin = total - total/2}
     * otherwise (NOTSET, SAME_LOWER), the rest at the end; SAME_UPPER/LOWER without output_shape aim at
     * {@code out = in * s} with the same split.
     */
    private static List<DoubleTensor> convTranspose(Call c) {
        DoubleTensor x = c.in(0);
        DoubleTensor w = c.in(1);
        DoubleTensor b = c.opt(2);
        long[] in = spatial(c, x, "X");
        int dims = in.length;
        if (w.rank() != x.rank()) {
            throw c.error(
                    "W " + Arrays.toString(w.rawShape()) + " must have the rank of X " + Arrays.toString(x.rawShape()));
        }
        int group = (int) c.attrInt("group", 1);
        int batch = (int) x.dim(0);
        int channels = (int) x.dim(1);
        if (w.dim(0) != channels || group < 1 || channels % group != 0) {
            throw c.error("W " + Arrays.toString(w.rawShape()) + " must be [C=" + channels
                    + ", M/group, k...] with C divisible by group " + group);
        }
        int mPerGroup = (int) w.dim(1);
        int filters = mPerGroup * group;
        int cPerGroup = channels / group;
        if (b != null && (b.rank() != 1 || b.dim(0) != filters)) {
            throw c.error("B must be [" + filters + "], got " + Arrays.toString(b.rawShape()));
        }
        long[] kernel = Arrays.copyOfRange(w.rawShape(), 2, w.rank());
        long[] strides = c.attrInts("strides", dims, 1, 1);
        long[] dilations = c.attrInts("dilations", dims, 1, 1);
        long[] outputPadding = c.attrInts("output_padding", dims, 0, 0);
        long[] outputShape = c.attrInts("output_shape", null);
        String autoPad = c.attrString("auto_pad", "NOTSET");
        if (outputShape != null && outputShape.length == dims + 2) {
            outputShape = Arrays.copyOfRange(outputShape, 2, dims + 2);
        }
        if (outputShape != null && outputShape.length != dims) {
            throw c.error("output_shape " + Arrays.toString(outputShape) + " must give " + dims + " spatial sizes");
        }
        long[] padBegin = new long[dims];
        long[] out = new long[dims];
        for (int j = 0; j < dims; j++) {
            long full = strides[j] * (in[j] - 1) + outputPadding[j] + (kernel[j] - 1) * dilations[j] + 1;
            if (outputShape != null || autoPad.startsWith("SAME")) {
                out[j] = outputShape != null ? outputShape[j] : in[j] * strides[j];
                long total = Math.max(full - out[j], 0);
                padBegin[j] = autoPad.equals("SAME_UPPER") ? total / 2 : total - total / 2;
            } else if (autoPad.equals("VALID")) {
                out[j] = full;
            } else if (autoPad.equals("NOTSET")) {
                long[] pads = c.attrInts("pads", 2 * dims, 0, 0);
                padBegin[j] = pads[j];
                out[j] = full - pads[j] - pads[j + dims];
            } else {
                throw c.error("unknown auto_pad '" + autoPad + "'");
            }
            if (out[j] < 1) {
                throw c.error("output size " + out[j] + " on spatial axis " + j + " is below 1");
            }
        }
        int inCount = (int) DoubleTensor.checkedCount(in);
        int outCount = (int) DoubleTensor.checkedCount(out);
        int kCount = (int) DoubleTensor.checkedCount(kernel);
        double[] xd = x.raw();
        double[] wd = w.raw();
        double[] y = new double[batch * filters * outCount];
        for (int n = 0; n < batch; n++) {
            for (int ch = 0; ch < channels; ch++) {
                int g = ch / cPerGroup;
                for (int i = 0; i < inCount; i++) {
                    long[] iIdx = DoubleTensor.unravel(i, in);
                    double v = xd[(n * channels + ch) * inCount + i];
                    for (int k = 0; k < kCount; k++) {
                        long[] kIdx = DoubleTensor.unravel(k, kernel);
                        long flat = 0;
                        boolean inside = true;
                        for (int j = 0; j < dims && inside; j++) {
                            long o = iIdx[j] * strides[j] + kIdx[j] * dilations[j] - padBegin[j];
                            inside = o >= 0 && o < out[j];
                            flat = flat * out[j] + o;
                        }
                        if (!inside) {
                            continue;
                        }
                        for (int m = 0; m < mPerGroup; m++) {
                            int yChannel = g * mPerGroup + m;
                            y[(n * filters + yChannel) * outCount + (int) flat] +=
                                    v * wd[(ch * mPerGroup + m) * kCount + k];
                        }
                    }
                }
            }
        }
        if (b != null) {
            for (int n = 0; n < batch; n++) {
                for (int m = 0; m < filters; m++) {
                    for (int o = 0; o < outCount; o++) {
                        y[(n * filters + m) * outCount + o] += b.raw()[m];
                    }
                }
            }
        }
        return List.of(new DoubleTensor(x.dtype(), concat(batch, filters, out), y));
    }

    /** The pooling window of a MaxPool/AveragePool node (kernel_shape is required). */
    private static Window poolWindow(Call c, long[] in) {
        long[] kernel = c.attrInts("kernel_shape", null);
        if (kernel == null || kernel.length != in.length) {
            throw c.error("kernel_shape must have " + in.length + " values, got "
                    + (kernel == null ? "none" : Arrays.toString(kernel)));
        }
        return Window.of(c, in, kernel, c.attrInt("ceil_mode", 0) != 0);
    }

    /**
     * MaxPool: Y[n, c, o] = max over the window positions inside the input (padding never wins). The
     * optional Indices output holds, for each Y element, the flat index of the chosen X element in the
     * whole X tensor: {@code (n*C + c) * prod(in) + spatial}, with the spatial index row-major
     * (storage_order 0) or column-major (storage_order 1); the first maximum in window order wins ties.
     */
    private static List<DoubleTensor> maxPool(Call c) {
        DoubleTensor x = c.in(0);
        long[] in = spatial(c, x, "X");
        Window win = poolWindow(c, in);
        boolean columnMajor = c.attrInt("storage_order", 0) != 0;
        int planes = (int) (x.dim(0) * x.dim(1));
        int outCount = win.outCount();
        int inCount = win.inCount();
        long[][] kOffsets = win.kernelOffsets();
        double[] xd = x.raw();
        double[] y = new double[planes * outCount];
        double[] indices = new double[planes * outCount];
        for (int plane = 0; plane < planes; plane++) {
            for (int o = 0; o < outCount; o++) {
                long[] oIdx = DoubleTensor.unravel(o, win.out);
                double best = Double.NEGATIVE_INFINITY;
                int bestAt = -1;
                for (long[] k : kOffsets) {
                    int p = win.inputFlat(oIdx, k);
                    if (p >= 0 && (bestAt < 0 || xd[plane * inCount + p] > best)) {
                        best = xd[plane * inCount + p];
                        bestAt = p;
                    }
                }
                y[plane * outCount + o] = best;
                long spatialIndex =
                        bestAt < 0 ? -1 : columnMajor ? columnMajor(DoubleTensor.unravel(bestAt, in), in) : bestAt;
                indices[plane * outCount + o] = bestAt < 0 ? -1 : (double) plane * inCount + spatialIndex;
            }
        }
        long[] shape = concat(x.dim(0), x.dim(1), win.out);
        return List.of(new DoubleTensor(x.dtype(), shape, y), new DoubleTensor(DType.INT64, shape.clone(), indices));
    }

    private static long columnMajor(long[] idx, long[] dims) {
        long flat = 0;
        for (int j = dims.length - 1; j >= 0; j--) {
            flat = flat * dims[j] + idx[j];
        }
        return flat;
    }

    /**
     * AveragePool: Y[n, c, o] = (sum of the window positions inside the input) / divisor, where the
     * divisor counts the window positions inside the input (count_include_pad 0, the default) or inside
     * the padded input {@code [-padBegin, in + padEnd)} (count_include_pad 1). A ceil_mode window that
     * runs past the end padding does not count the overhang (the ONNX reference implementation, PyTorch,
     * and ONNX Runtime 1.29; older ONNX Runtime releases divided such windows by the full kernel size).
     */
    private static List<DoubleTensor> averagePool(Call c) {
        DoubleTensor x = c.in(0);
        long[] in = spatial(c, x, "X");
        Window win = poolWindow(c, in);
        boolean includePad = c.attrInt("count_include_pad", 0) != 0;
        int planes = (int) (x.dim(0) * x.dim(1));
        int outCount = win.outCount();
        int inCount = win.inCount();
        long[][] kOffsets = win.kernelOffsets();
        double[] xd = x.raw();
        double[] y = new double[planes * outCount];
        for (int plane = 0; plane < planes; plane++) {
            for (int o = 0; o < outCount; o++) {
                long[] oIdx = DoubleTensor.unravel(o, win.out);
                double sum = 0;
                int count = 0;
                for (long[] k : kOffsets) {
                    int p = win.inputFlat(oIdx, k);
                    if (p >= 0) {
                        sum += xd[plane * inCount + p];
                    }
                    if (includePad ? insidePadded(win, oIdx, k) : p >= 0) {
                        count++;
                    }
                }
                y[plane * outCount + o] = sum / count;
            }
        }
        return List.of(new DoubleTensor(x.dtype(), concat(x.dim(0), x.dim(1), win.out), y));
    }

    private static boolean insidePadded(Window win, long[] o, long[] k) {
        for (int j = 0; j < win.in.length; j++) {
            long p = win.inputPosition(j, o[j], k[j]);
            if (p < -win.padBegin[j] || p >= win.in[j] + win.padEnd[j]) {
                return false;
            }
        }
        return true;
    }

    /** GlobalAveragePool / GlobalMaxPool: the mean / max over all spatial positions; Y is [N, C, 1, ..., 1]. */
    private static List<DoubleTensor> global(Call c, boolean max) {
        DoubleTensor x = c.in(0);
        long[] in = spatial(c, x, "X");
        int planes = (int) (x.dim(0) * x.dim(1));
        int inCount = (int) DoubleTensor.checkedCount(in);
        double[] y = new double[planes];
        for (int plane = 0; plane < planes; plane++) {
            double acc = max ? Double.NEGATIVE_INFINITY : 0;
            for (int i = 0; i < inCount; i++) {
                double v = x.raw()[plane * inCount + i];
                acc = max ? Math.max(acc, v) : acc + v;
            }
            y[plane] = max ? acc : acc / inCount;
        }
        long[] ones = new long[in.length];
        Arrays.fill(ones, 1);
        return List.of(new DoubleTensor(x.dtype(), concat(x.dim(0), x.dim(1), ones), y));
    }

    /**
     * MaxUnpool: X [N, C, in...], I (int64, X's shape) and optional output_shape. Y is zero except
     * {@code Y.flat[I[i]] = X[i]}, the indices being flat positions in the whole output tensor (as MaxPool
     * produces them). Y's shape is output_shape, or {@code [N, C, (in-1)*s + k - padBegin - padEnd ...]}.
     * When two elements name the same index the later one (in X's row-major order) is kept.
     */
    private static List<DoubleTensor> maxUnpool(Call c) {
        DoubleTensor x = c.in(0);
        DoubleTensor idx = c.in(1);
        long[] in = spatial(c, x, "X");
        if (!Arrays.equals(idx.rawShape(), x.rawShape())) {
            throw c.error(
                    "I " + Arrays.toString(idx.rawShape()) + " must have X's shape " + Arrays.toString(x.rawShape()));
        }
        long[] shape;
        if (c.has(2)) {
            shape = c.in(2).toLongArray();
            if (shape.length != x.rank()) {
                throw c.error("output_shape " + Arrays.toString(shape) + " must have rank " + x.rank());
            }
        } else {
            long[] kernel = c.attrInts("kernel_shape", null);
            if (kernel == null || kernel.length != in.length) {
                throw c.error("kernel_shape must have " + in.length + " values");
            }
            long[] strides = c.attrInts("strides", in.length, 1, 1);
            long[] pads = c.attrInts("pads", 2 * in.length, 0, 0);
            long[] out = new long[in.length];
            for (int j = 0; j < in.length; j++) {
                out[j] = (in[j] - 1) * strides[j] + kernel[j] - pads[j] - pads[j + in.length];
            }
            shape = concat(x.dim(0), x.dim(1), out);
        }
        double[] y = new double[(int) DoubleTensor.checkedCount(shape)];
        for (int i = 0; i < x.size(); i++) {
            long target = (long) idx.raw()[i];
            if (target < 0 || target >= y.length) {
                throw c.error("index " + target + " at position " + i + " is outside the output of " + y.length
                        + " elements " + Arrays.toString(shape));
            }
            y[(int) target] = x.raw()[i];
        }
        return List.of(new DoubleTensor(x.dtype(), shape, y));
    }
}
