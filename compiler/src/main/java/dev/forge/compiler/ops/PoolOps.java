package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import java.util.ArrayList;
import java.util.List;

/** Shape rules of the pooling operators. Pooling follows the same size rule as convolution. */
final class PoolOps {
    private PoolOps() {
    }

    static void register(Ops.Registry r) {
        r.add("MaxPool", PoolOps::pool);
        r.add("AveragePool", PoolOps::pool);
        r.add("LpPool", PoolOps::pool);
        r.add("GlobalAveragePool", PoolOps::global);
        r.add("GlobalMaxPool", PoolOps::global);
        r.add("MaxUnpool", PoolOps::maxUnpool);
    }

    static List<ValueType> pool(InferenceContext ctx) {
        Node node = ctx.node();
        Shape x = ctx.shape(0);
        if (x.rank() < 3) {
            throw ctx.error("input X must be [N, C, spatial...] with rank >= 3, got " + x, "feed NCHW tensors");
        }
        int n = x.rank() - 2;
        long[] kernel = node.attrInts("kernel_shape", null);
        if (kernel == null || kernel.length != n) {
            throw ctx.error("kernel_shape must have " + n + " values, got "
                    + (kernel == null ? "none" : java.util.Arrays.toString(kernel)), "set kernel_shape");
        }
        long[] strides = ConvOps.ints(ctx, "strides", n, 1);
        long[] dilations = ConvOps.ints(ctx, "dilations", n, 1);
        boolean ceil = node.attrInt("ceil_mode", 0) != 0;
        long[] in = ConvOps.spatial(x, n);
        long[] pads = Spatial.pads(ctx, in, kernel, strides, dilations);
        List<Dim> out = new ArrayList<>();
        out.add(x.dim(0));
        out.add(x.dim(1));
        for (int i = 0; i < n; i++) {
            if (pads != null && (pads[i] >= kernel[i] || pads[i + n] >= kernel[i])) {
                throw ctx.error("padding " + pads[i] + "/" + pads[i + n] + " must be smaller than the window " + kernel[i],
                        "use padding < kernel size");
            }
            out.add(pads == null ? Dim.unknown()
                    : Spatial.outSize(ctx, i, n, in[i], kernel[i], strides[i], pads[i], pads[i + n], dilations[i], ceil));
        }
        Shape y = Shape.of(out);
        List<ValueType> types = new ArrayList<>();
        types.add(new ValueType(ctx.dtype(0), y));
        if (node.outputs().size() > 1) {
            types.add(new ValueType(DType.INT64, y));
        }
        return types;
    }

    static List<ValueType> global(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        if (x.rank() < 3) {
            throw ctx.error("input X must be [N, C, spatial...], got " + x, "feed NCHW tensors");
        }
        List<Dim> out = new ArrayList<>(x.dims().subList(0, 2));
        for (int i = 2; i < x.rank(); i++) {
            out.add(Dim.of(1));
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    static List<ValueType> maxUnpool(InferenceContext ctx) {
        Shape x = ctx.shape(0);
        if (ctx.hasInput(2)) {
            Shape shape = ctx.shapeTensor(2);
            if (shape != null) {
                return InferenceContext.one(ctx.dtype(0), shape);
            }
            return InferenceContext.one(ctx.dtype(0), unknownOfRank(x.rank()));
        }
        int n = x.rank() - 2;
        long[] kernel = ctx.node().attrInts("kernel_shape", null);
        if (kernel == null || kernel.length != n) {
            throw ctx.error("kernel_shape must have " + n + " values, got "
                    + (kernel == null ? "none" : java.util.Arrays.toString(kernel)), "set kernel_shape");
        }
        long[] strides = ConvOps.ints(ctx, "strides", n, 1);
        long[] pads = ctx.node().attrInts("pads", new long[2 * n]);
        List<Dim> out = new ArrayList<>(x.dims().subList(0, 2));
        for (int i = 0; i < n; i++) {
            Dim d = x.dim(i + 2);
            out.add(d.isFixed() ? Dim.of((d.value() - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n]) : Dim.unknown());
        }
        return InferenceContext.one(ctx.dtype(0), Shape.of(out));
    }

    static Shape unknownOfRank(int rank) {
        List<Dim> dims = new ArrayList<>();
        for (int i = 0; i < rank; i++) {
            dims.add(Dim.unknown());
        }
        return Shape.of(dims);
    }
}
