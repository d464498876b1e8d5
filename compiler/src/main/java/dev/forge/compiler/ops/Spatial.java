package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;

/**
 * The sliding-window size rule shared by convolution and pooling, the seed's
 * {@code H2 = (H1 - F + 2P)/S + 1} generalized to asymmetric padding and dilation:
 * {@code out = (in + padBegin + padEnd - ((F - 1) * D + 1)) / S + 1}.
 */
final class Spatial {
    private static final String[] AXIS_NAMES = {"height", "width", "depth"};

    private Spatial() {}

    /** The name of spatial axis {@code i} of a rank-{@code n} window (1-D windows say "length"). */
    static String axisName(int i, int n) {
        if (n == 1) {
            return "length";
        }
        return i < AXIS_NAMES.length ? AXIS_NAMES[i] : "axis " + (i + 2);
    }

    /** Explicit pads {@code [b1..bn, e1..en]} from a node's {@code pads}/{@code auto_pad} attributes. */
    static long[] pads(InferenceContext ctx, long[] inSizes, long[] kernel, long[] strides, long[] dilations) {
        Node node = ctx.node();
        int n = kernel.length;
        String autoPad = node.attrString("auto_pad", "NOTSET");
        long[] pads = node.attrInts("pads", null);
        switch (autoPad) {
            case "NOTSET" -> {
                if (pads == null) {
                    return new long[2 * n];
                }
                if (pads.length != 2 * n) {
                    throw ctx.error(
                            "pads has " + pads.length + " values, expected " + 2 * n + " (begin and end for each of "
                                    + n + " spatial axes)",
                            "give pads as [b1..bn, e1..en]");
                }
                for (long p : pads) {
                    if (p < 0) {
                        throw ctx.error("negative padding " + java.util.Arrays.toString(pads), "use padding >= 0");
                    }
                }
                return pads;
            }
            case "VALID" -> {
                return new long[2 * n];
            }
            case "SAME_UPPER", "SAME_LOWER" -> {
                long[] out = new long[2 * n];
                for (int i = 0; i < n; i++) {
                    if (inSizes[i] < 0) {
                        return null;
                    }
                    long[] be = samePads(inSizes[i], kernel[i], strides[i], dilations[i], autoPad.equals("SAME_UPPER"));
                    out[i] = be[0];
                    out[i + n] = be[1];
                }
                return out;
            }
            default ->
                throw ctx.error(
                        "unknown auto_pad '" + autoPad + "'", "use one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
        }
    }

    /**
     * Padding that makes the output size {@code ceil(in / stride)} (SAME): the total is
     * {@code max((ceil(in/S) - 1) * S + (F - 1) * D + 1 - in, 0)}, split with the extra pixel at the end
     * (upper) or the beginning (lower).
     */
    static long[] samePads(long in, long kernel, long stride, long dilation, boolean upper) {
        long out = (in + stride - 1) / stride;
        long total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
        long small = total / 2;
        return upper ? new long[] {small, total - small} : new long[] {total - small, small};
    }

    /**
     * Output size along one axis.
     *
     * @param ctx context (for errors and strictness)
     * @param axis spatial axis index
     * @param rank number of spatial axes
     * @param in input size, or -1 if not fixed
     * @param ceil round up (pooling's ceil_mode) instead of down
     * @return the output dimension
     */
    static Dim outSize(
            InferenceContext ctx,
            int axis,
            int rank,
            long in,
            long kernel,
            long stride,
            long padBegin,
            long padEnd,
            long dilation,
            boolean ceil) {
        if (in < 0) {
            return Dim.unknown();
        }
        String name = axisName(axis, rank);
        long effective = (kernel - 1) * dilation + 1;
        long numerator = in + padBegin + padEnd - effective;
        String arithmetic = formula(in, kernel, dilation, padBegin, padEnd, stride);
        if (numerator < 0) {
            throw ctx.error(
                    "output " + name + " " + arithmetic + " = "
                            + fraction(numerator, stride) + " is below 1: the " + (dilation > 1 ? "dilated " : "")
                            + "window (" + effective + ") is larger than the padded input (" + (in + padBegin + padEnd)
                            + ")",
                    "use a smaller kernel, add padding, or feed a larger input");
        }
        if (numerator % stride != 0) {
            if (ctx.strict() && !ceil) {
                throw ctx.error(
                        "output " + name + " " + arithmetic + " = " + fraction(numerator, stride)
                                + " is not a whole number",
                        "change stride or padding (or build with roundDown() to floor like PyTorch)");
            }
            long out = (ceil ? Math.floorDiv(numerator + stride - 1, stride) : Math.floorDiv(numerator, stride)) + 1;
            // ceil_mode: a last window that would start inside the end padding is dropped
            if (ceil && (out - 1) * stride >= in + padBegin) {
                out--;
            }
            return Dim.of(out);
        }
        return Dim.of(numerator / stride + 1);
    }

    private static String formula(long in, long k, long d, long pb, long pe, long s) {
        String kernel = d == 1 ? Long.toString(k) : "((" + k + " - 1)*" + d + " + 1)";
        String pad = pb == pe ? "2*" + pb : pb + " + " + pe;
        String sign = pb == pe ? " + " : " + ";
        return "(" + in + " - " + kernel + sign + pad + ")/" + s + " + 1";
    }

    private static String fraction(long numerator, long stride) {
        double v = (double) numerator / stride + 1;
        if (v == Math.rint(v)) {
            return Long.toString((long) v);
        }
        String str = String.format(java.util.Locale.ROOT, "%.4f", v);
        str = str.replaceAll("0+$", "");
        return str;
    }
}
