package dev.forge.compiler.reference;

import java.util.Arrays;

/**
 * The sliding-window geometry of a Conv or pooling node along its spatial axes, resolved from the
 * attributes and the input size exactly as the ONNX spec states it.
 *
 * <p>Output position {@code o} along axis {@code j} reads the input positions
 * {@code o*stride - padBegin + k*dilation} for {@code k = 0..kernel-1}; positions outside
 * {@code [0, in)} are padding.
 *
 * <ul>
 *   <li>explicit pads (auto_pad NOTSET): {@code out = floor((in + padBegin + padEnd - ((kernel-1)*dilation + 1)) / stride) + 1};
 *       with ceil_mode, ceil instead of floor, and a last window that would start in the right padding
 *       ({@code (out-1)*stride >= in + padBegin}) is dropped;</li>
 *   <li>VALID: no padding, {@code out = floor((in - ((kernel-1)*dilation + 1)) / stride) + 1} (ceil_mode gives the same);</li>
 *   <li>SAME_UPPER / SAME_LOWER: {@code out = ceil(in / stride)}, total padding
 *       {@code max((out-1)*stride + (kernel-1)*dilation + 1 - in, 0)} split evenly, the odd pixel at the end
 *       (UPPER) or the beginning (LOWER).</li>
 * </ul>
 */
final class Window {
    final long[] in;
    final long[] kernel;
    final long[] strides;
    final long[] dilations;
    final long[] padBegin;
    final long[] padEnd;
    final long[] out;

    private Window(
            long[] in, long[] kernel, long[] strides, long[] dilations, long[] padBegin, long[] padEnd, long[] out) {
        this.in = in;
        this.kernel = kernel;
        this.strides = strides;
        this.dilations = dilations;
        this.padBegin = padBegin;
        this.padEnd = padEnd;
        this.out = out;
    }

    /** Resolves strides, dilations, pads / auto_pad and the output size of a Conv or pooling node. */
    static Window of(Call c, long[] in, long[] kernel, boolean ceilMode) {
        int n = in.length;
        long[] strides = c.attrInts("strides", n, 1, 1);
        long[] dilations = c.attrInts("dilations", n, 1, 1);
        long[] begin = new long[n];
        long[] end = new long[n];
        long[] out = new long[n];
        String autoPad = c.attrString("auto_pad", "NOTSET");
        for (int j = 0; j < n; j++) {
            long effective = (kernel[j] - 1) * dilations[j] + 1;
            switch (autoPad) {
                case "NOTSET" -> {
                    long[] pads = c.attrInts("pads", 2 * n, 0, 0);
                    begin[j] = pads[j];
                    end[j] = pads[j + n];
                    long span = in[j] + begin[j] + end[j] - effective;
                    if (span < 0) {
                        throw c.error("the window (" + effective + ") is larger than the padded input ("
                                + (in[j] + begin[j] + end[j]) + ") on spatial axis " + j);
                    }
                    if (ceilMode) {
                        out[j] = Math.floorDiv(span + strides[j] - 1, strides[j]) + 1;
                        if ((out[j] - 1) * strides[j] >= in[j] + begin[j]) {
                            out[j]--; // the last window would start in the right padding: ignored
                        }
                    } else {
                        out[j] = span / strides[j] + 1;
                    }
                }
                case "VALID" -> {
                    if (in[j] < effective) {
                        throw c.error("the window (" + effective + ") is larger than the input (" + in[j]
                                + ") on spatial axis " + j);
                    }
                    out[j] = (in[j] - effective) / strides[j] + 1;
                }
                case "SAME_UPPER", "SAME_LOWER" -> {
                    out[j] = (in[j] + strides[j] - 1) / strides[j];
                    long total = Math.max((out[j] - 1) * strides[j] + effective - in[j], 0);
                    long small = total / 2;
                    begin[j] = autoPad.equals("SAME_UPPER") ? small : total - small;
                    end[j] = total - begin[j];
                }
                default ->
                    throw c.error(
                            "unknown auto_pad '" + autoPad + "'; expected NOTSET, VALID, SAME_UPPER or SAME_LOWER");
            }
        }
        return new Window(in, kernel, strides, dilations, begin, end, out);
    }

    /** The input position read by output position {@code o} at kernel offset {@code k} along axis {@code j}. */
    long inputPosition(int j, long o, long k) {
        return o * strides[j] - padBegin[j] + k * dilations[j];
    }

    /**
     * The row-major flat spatial index of the input read by output multi-index {@code o} at kernel
     * multi-index {@code k}, or -1 when that position lies in the padding.
     */
    int inputFlat(long[] o, long[] k) {
        long flat = 0;
        for (int j = 0; j < in.length; j++) {
            long p = inputPosition(j, o[j], k[j]);
            if (p < 0 || p >= in[j]) {
                return -1;
            }
            flat = flat * in[j] + p;
        }
        return (int) flat;
    }

    /** Number of output positions. */
    int outCount() {
        return (int) DoubleTensor.checkedCount(out);
    }

    /** Number of input positions. */
    int inCount() {
        return (int) DoubleTensor.checkedCount(in);
    }

    /** Every kernel multi-index, in row-major order. */
    long[][] kernelOffsets() {
        int count = (int) DoubleTensor.checkedCount(kernel);
        long[][] k = new long[count][];
        for (int i = 0; i < count; i++) {
            k[i] = DoubleTensor.unravel(i, kernel);
        }
        return k;
    }

    @Override
    public String toString() {
        return "Window(in=" + Arrays.toString(in) + " kernel=" + Arrays.toString(kernel) + " strides="
                + Arrays.toString(strides)
                + " dilations=" + Arrays.toString(dilations) + " pads=" + Arrays.toString(padBegin) + "/"
                + Arrays.toString(padEnd)
                + " out=" + Arrays.toString(out) + ")";
    }
}
