package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Shape rules of {@code Conv} and {@code ConvTranspose}. */
final class ConvOps {
    private ConvOps() {
    }

    static void register(Ops.Registry r) {
        r.add("Conv", ConvOps::conv);
        r.add("ConvTranspose", ConvOps::convTranspose);
    }

    /** Conv: X [N, C, spatial...], W [M, C/group, k...], optional B [M]; Y [N, M, out...]. */
    static List<ValueType> conv(InferenceContext ctx) {
        Node node = ctx.node();
        Shape x = ctx.shape(0);
        Shape w = ctx.shape(1);
        if (x.rank() < 3) {
            throw ctx.error("input X must be [N, C, spatial...] with rank >= 3, got " + x, "feed NCHW tensors");
        }
        int n = x.rank() - 2;
        if (w.rank() != x.rank()) {
            throw ctx.error("weight W must have rank " + x.rank() + " like X " + x + ", got " + w,
                    "give W as [filters, channels/group, kernel...]");
        }
        long group = node.attrInt("group", 1);
        long filters = ctx.fixed(w.dim(0), "the filter count W[0]");
        if (group < 1 || filters % group != 0) {
            throw ctx.error("filters " + filters + " is not divisible by group " + group, "make the filter count a multiple of group");
        }
        // W[1] may be symbolic when it equals X's channel dimension (the weight gradient convolves over the batch)
        if (!w.dim(1).isFixed() && !(group == 1 && w.dim(1).equals(x.dim(1)))) {
            throw ctx.error("W[1] must be a fixed number, got " + w.dim(1), "give that dimension a fixed size");
        }
        long wChannels = w.dim(1).isFixed() ? w.dim(1).value() : -1;
        if (wChannels >= 0 && x.dim(1).isFixed() && x.dim(1).value() != wChannels * group) {
            throw ctx.error("input has " + x.dim(1).value() + " channels but W " + w + " with group " + group
                    + " expects " + wChannels * group, "set the layer's input channels to " + x.dim(1).value());
        }
        if (ctx.hasInput(2)) {
            Shape b = ctx.shape(2);
            if (b.rank() != 1 || (b.dim(0).isFixed() && b.dim(0).value() != filters)) {
                throw ctx.error("bias B must be [" + filters + "], got " + b, "give one bias per filter");
            }
        }
        long[] kernel = node.attrInts("kernel_shape", null);
        long[] wKernel = new long[n];
        for (int i = 0; i < n; i++) {
            wKernel[i] = ctx.fixed(w.dim(i + 2), "kernel size W[" + (i + 2) + "]");
        }
        if (kernel == null) {
            kernel = wKernel;
        } else if (!Arrays.equals(kernel, wKernel)) {
            throw ctx.error("kernel_shape " + Arrays.toString(kernel) + " does not match W " + w, "drop kernel_shape or fix W");
        }
        long[] strides = ints(ctx, "strides", n, 1);
        long[] dilations = ints(ctx, "dilations", n, 1);
        long[] in = spatial(x, n);
        long[] pads = Spatial.pads(ctx, in, kernel, strides, dilations);
        List<Dim> out = new ArrayList<>();
        out.add(x.dim(0));
        out.add(Dim.of(filters));
        for (int i = 0; i < n; i++) {
            out.add(pads == null ? Dim.unknown()
                    : Spatial.outSize(ctx, i, n, in[i], kernel[i], strides[i], pads[i], pads[i + n], dilations[i], false));
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    /**
     * ConvTranspose: X [N, C, in...], W [C, M/group, k...]; out = S*(in-1) + output_padding + ((k-1)*D+1)
     * - padBegin - padEnd, or the given output_shape.
     */
    static List<ValueType> convTranspose(InferenceContext ctx) {
        Node node = ctx.node();
        Shape x = ctx.shape(0);
        Shape w = ctx.shape(1);
        int n = x.rank() - 2;
        if (n < 1 || w.rank() != x.rank()) {
            throw ctx.error("X " + x + " and W " + w + " must both be [N, C, spatial...] of equal rank", "fix the input ranks");
        }
        long group = node.attrInt("group", 1);
        long outChannels = ctx.fixed(w.dim(1), "W[1]") * group;
        if (x.dim(1).isFixed() && w.dim(0).isFixed() && x.dim(1).value() != w.dim(0).value()) {
            throw ctx.error("input has " + x.dim(1) + " channels but W " + w + " expects " + w.dim(0), "match W[0] to the input channels");
        }
        long[] kernel = new long[n];
        for (int i = 0; i < n; i++) {
            kernel[i] = ctx.fixed(w.dim(i + 2), "kernel size");
        }
        long[] strides = ints(ctx, "strides", n, 1);
        long[] dilations = ints(ctx, "dilations", n, 1);
        long[] outputPadding = ints(ctx, "output_padding", n, 0);
        long[] outputShape = node.attrInts("output_shape", null);
        long[] in = spatial(x, n);
        List<Dim> out = new ArrayList<>();
        out.add(x.dim(0));
        out.add(Dim.of(outChannels));
        if (outputShape != null) {
            long[] spatialOut = outputShape.length == n + 2 ? Arrays.copyOfRange(outputShape, 2, n + 2) : outputShape;
            if (spatialOut.length != n) {
                throw ctx.error("output_shape " + Arrays.toString(outputShape) + " must have " + n + " spatial sizes", "fix output_shape");
            }
            for (long s : spatialOut) {
                out.add(Dim.of(s));
            }
            return InferenceContext.one(ctx.dtype(0), Shape.of(out));
        }
        long[] pads = node.attrInts("pads", new long[2 * n]);
        String autoPad = node.attrString("auto_pad", "NOTSET");
        for (int i = 0; i < n; i++) {
            if (in[i] < 0) {
                out.add(Dim.unknown());
                continue;
            }
            long full = strides[i] * (in[i] - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1;
            long size = autoPad.startsWith("SAME") ? in[i] * strides[i] : full - pads[i] - pads[i + n];
            if (size < 1) {
                throw ctx.error("output " + Spatial.axisName(i, n) + " " + size + " is below 1", "reduce padding");
            }
            out.add(Dim.of(size));
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    static long[] ints(InferenceContext ctx, String key, int n, long defaultValue) {
        long[] v = ctx.node().attrInts(key, null);
        if (v == null) {
            v = new long[n];
            Arrays.fill(v, defaultValue);
            return v;
        }
        if (v.length != n) {
            throw ctx.error(key + " " + Arrays.toString(v) + " has " + v.length + " values, expected " + n
                    + " (one per spatial axis)", "give " + n + " values");
        }
        for (long e : v) {
            if (e < (defaultValue == 0 ? 0 : 1)) {
                throw ctx.error(key + " " + Arrays.toString(v) + " must be >= " + (defaultValue == 0 ? 0 : 1), "fix " + key);
            }
        }
        return v;
    }

    static long[] spatial(Shape x, int n) {
        long[] in = new long[n];
        for (int i = 0; i < n; i++) {
            Dim d = x.dim(i + 2);
            in[i] = d.isFixed() ? d.value() : -1;
        }
        return in;
    }
}
