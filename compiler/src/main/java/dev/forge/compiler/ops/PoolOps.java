package dev.forge.compiler.ops;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.autodiff.Emitter.attrInts;
import static dev.forge.compiler.ops.AttributeSpec.Kind.INTS;
import static dev.forge.compiler.ops.Grad.ones;
import static dev.forge.compiler.ops.Grad.product;
import static dev.forge.compiler.ops.Grad.reshapeTo;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Pooling. Pooling follows the same size rule as convolution; the gradients of MaxPool and AveragePool
 * are derived above their rules.
 */
final class PoolOps {
    private PoolOps() {}

    static void register(Ops.Registry r) {
        // ceil_mode and dilations from opset 10, storage_order from opset 8
        r.add(op("MaxPool")
                .attrString("auto_pad", "NOTSET")
                .attrInt("ceil_mode", 0)
                .attr("dilations", INTS)
                .required("kernel_shape", INTS)
                .attr("pads", INTS)
                .attrInt("storage_order", 0)
                .attr("strides", INTS)
                .shape(PoolOps::pool)
                .gradient(PoolOps::maxPoolGrad)
                .prepareForGradient(PoolOps::addIndices));
        // dilations from opset 19
        r.add(op("AveragePool")
                .attrString("auto_pad", "NOTSET")
                .attrInt("ceil_mode", 0)
                .attrInt("count_include_pad", 0)
                .attr("dilations", INTS)
                .required("kernel_shape", INTS)
                .attr("pads", INTS)
                .attr("strides", INTS)
                .shape(PoolOps::pool)
                .gradient(PoolOps::averagePoolGrad));
        // ceil_mode and dilations from opset 18
        r.add(op("LpPool")
                .attrString("auto_pad", "NOTSET")
                .attrInt("ceil_mode", 0)
                .attr("dilations", INTS)
                .required("kernel_shape", INTS)
                .attrInt("p", 2)
                .attr("pads", INTS)
                .attr("strides", INTS)
                .shape(PoolOps::pool));
        // the mean of each channel's H x W values: every element receives dY / (H W)
        r.add(op("GlobalAveragePool").shape(PoolOps::global).gradient(c -> {
            Shape x = c.shape(c.x(0));
            long area = x.product(2, x.rank());
            String scaled = c.mul(c.dy(), c.scalar((float) (1.0 / area)));
            return c.grads(c.op("Expand", scaled, c.shapeOf(c.x(0))));
        }));
        // ties share the gradient (each maximal element receives dY)
        r.add(op("GlobalMaxPool").shape(PoolOps::global).gradient(c -> {
            String isMax = c.op("Cast", List.of(c.op("Equal", c.x(0), c.y(0))), Map.of("to", attrInt(1)));
            return c.grads(c.mul(c.op("Expand", c.dy(), c.shapeOf(c.x(0))), isMax));
        }));
        r.add(op("MaxUnpool")
                .required("kernel_shape", INTS)
                .attr("pads", INTS)
                .attr("strides", INTS)
                .shape(PoolOps::maxUnpool));
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
            throw ctx.error(
                    "kernel_shape must have " + n + " values, got "
                            + (kernel == null ? "none" : java.util.Arrays.toString(kernel)),
                    "set kernel_shape");
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
                throw ctx.error(
                        "padding " + pads[i] + "/" + pads[i + n] + " must be smaller than the window " + kernel[i],
                        "use padding < kernel size");
            }
            out.add(
                    pads == null
                            ? Dim.unknown()
                            : Spatial.outSize(
                                    ctx, i, n, in[i], kernel[i], strides[i], pads[i], pads[i + n], dilations[i], ceil));
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
            throw ctx.error(
                    "kernel_shape must have " + n + " values, got "
                            + (kernel == null ? "none" : java.util.Arrays.toString(kernel)),
                    "set kernel_shape");
        }
        long[] strides = ConvOps.ints(ctx, "strides", n, 1);
        long[] pads = ctx.node().attrInts("pads", new long[2 * n]);
        List<Dim> out = new ArrayList<>(x.dims().subList(0, 2));
        for (int i = 0; i < n; i++) {
            Dim d = x.dim(i + 2);
            out.add(
                    d.isFixed()
                            ? Dim.of((d.value() - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n])
                            : Dim.unknown());
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

    /** Gives a MaxPool whose windows do not tile its input an Indices output, which its gradient scatters through. */
    private static Node addIndices(Graph graph, Node n) {
        ValueType x = graph.type(n.input(0));
        if (n.outputs().size() != 1 || isTiled(n, x == null ? null : x.shape())) {
            return n;
        }
        List<String> outs = List.of(n.output(0), n.output(0) + ".indices");
        ValueType y = graph.type(n.output(0));
        graph.setType(outs.get(1), new ValueType(DType.INT64, y.shape()));
        return new Node(n.opType(), n.name(), n.domain(), n.inputs(), outs, n.attributes());
    }

    /**
     * True for a MaxPool whose windows tile the input exactly (stride = window, no padding or dilation,
     * sizes divisible): its gradient needs no Indices output.
     */
    static boolean isTiled(Node n, Shape x) {
        long[] kernel = n.attrInts("kernel_shape", null);
        if (kernel == null
                || x == null
                || x.rank() != kernel.length + 2
                || n.attrInt("ceil_mode", 0) != 0
                || !n.attrString("auto_pad", "NOTSET").equals("NOTSET")
                || n.attrInt("storage_order", 0) != 0) {
            return false;
        }
        long[] strides = n.attrInts("strides", ones(kernel.length));
        long[] dilations = n.attrInts("dilations", ones(kernel.length));
        long[] pads = n.attrInts("pads", new long[2 * kernel.length]);
        if (!x.dim(1).isFixed()) {
            return false;
        }
        for (int i = 0; i < kernel.length; i++) {
            if (strides[i] != kernel[i]
                    || dilations[i] != 1
                    || !x.dim(i + 2).isFixed()
                    || x.dim(i + 2).value() % kernel[i] != 0) {
                return false;
            }
        }
        return Arrays.stream(pads).allMatch(p -> p == 0);
    }

    /*
     * MaxPool whose windows tile the input: the gradient flows where X equals its window's maximum.
     * Y and dY are upsampled to X's size by nearest-neighbour Resize (each output repeated over its
     * window), then dX = dY_up * (X == Y_up). Measured on the MNIST CNN's pool (batch 64): about 2.5 ms
     * against 8 ms for MaxPool's Indices output plus MaxUnpool and 20 ms for a 6-D broadcast; ONNX
     * Runtime's Where is slower than the Cast and Mul together (OpAlternatives).
     *
     * Ties are common: MNIST's background is one constant value, so a convolution's outputs tie across
     * whole windows. A window whose maximum is held by k elements gives each dY / k (the count is an
     * AveragePool of the mask times the window size), so every window passes dY exactly once, a valid
     * subgradient. PyTorch gives all of dY to the first of them instead; where tied elements also have
     * identical input patches (the background case) both give the same weight gradients.
     */
    private static String tiledMaxPoolGrad(GradContext c) {
        long[] kernel = c.attrInts("kernel_shape");
        float[] scales = new float[kernel.length + 2];
        scales[0] = 1;
        scales[1] = 1;
        for (int i = 0; i < kernel.length; i++) {
            scales[i + 2] = kernel[i];
        }
        String sc = c.emit().tensor(c.node().name() + "/grad/scales", Tensor.of(scales, scales.length));
        Map<String, Attribute> nearest = Map.of(
                "mode",
                new Attribute.Str("nearest"),
                "coordinate_transformation_mode",
                new Attribute.Str("asymmetric"),
                "nearest_mode",
                new Attribute.Str("floor"));
        String yUp = c.op("Resize", List.of(c.y(0), "", sc), nearest);
        String mask = c.op("Cast", List.of(c.op("Equal", c.x(0), yUp)), Map.of("to", attrInt(1)));
        long window = product(kernel);
        String ties = c.mul(
                c.op(
                        "AveragePool",
                        List.of(mask),
                        Map.of("kernel_shape", new Attribute.Ints(kernel), "strides", new Attribute.Ints(kernel))),
                c.scalar((float) window));
        String dyUp = c.op("Resize", List.of(c.div(c.dy(), ties), "", sc), nearest);
        return c.mul(dyUp, mask);
    }

    /*
     * MaxPool: the gradient goes to the element each window selected. The forward node's Indices output
     * (flat positions in X) says which. Without overlap (stride >= window) every position is selected at
     * most once and MaxUnpool scatters dY there; with overlap a position can win several windows, so
     * ScatterElements with reduction "add" accumulates into a flat zero tensor instead.
     */
    private static List<String> maxPoolGrad(GradContext c) {
        if (isTiled(c.node(), c.shape(c.x(0)))) {
            return c.grads(tiledMaxPoolGrad(c));
        }
        if (c.node().outputs().size() < 2 || c.node().output(1).isEmpty()) {
            throw new IllegalStateException(
                    c.node().label() + ": the MaxPool gradient needs the forward Indices output; "
                            + "its preparation for differentiation adds it");
        }
        String indices = c.y(1);
        long[] kernel = c.attrInts("kernel_shape");
        int n = kernel.length;
        long[] strides = c.attrInts("strides", ones(n));
        long[] dilations = c.attrInts("dilations", ones(n));
        boolean overlap = false;
        for (int i = 0; i < n; i++) {
            overlap |= strides[i] < (kernel[i] - 1) * dilations[i] + 1 || dilations[i] != 1;
        }
        if (!overlap) {
            Map<String, Attribute> a = new LinkedHashMap<>();
            a.put("kernel_shape", attrInts(kernel));
            a.put("strides", attrInts(strides));
            a.put("pads", attrInts(c.attrInts("pads", new long[2 * n])));
            return c.grads(c.op("MaxUnpool", List.of(c.dy(), indices, c.shapeOf(c.x(0))), a));
        }
        String flat = c.emit().ints(-1);
        String size = c.op("Reshape", c.op("Size", c.x(0)), c.emit().ints(1));
        String zeros = c.op(
                "ConstantOfShape",
                List.of(size),
                Map.of("value", new Attribute.TensorValue(Tensor.of(new float[] {0f}, 1))));
        String scattered = c.op(
                "ScatterElements",
                List.of(zeros, c.op("Reshape", indices, flat), c.op("Reshape", c.dy(), flat)),
                Map.of("axis", attrInt(0), "reduction", new Attribute.Str("add")));
        return c.grads(reshapeTo(c, scattered, c.x(0)));
    }

    /*
     * AveragePool is a depthwise convolution with a uniform kernel, each output divided by the number of
     * elements its window counted. Its adjoint is ConvTranspose(dY / count, ones) with group = C: the
     * counts are computed here from the static sizes (they differ at the borders when padding is not
     * counted).
     */
    private static List<String> averagePoolGrad(GradContext c) {
        Shape x = c.shape(c.x(0));
        Shape y = c.shape(c.y(0));
        long[] kernel = c.attrInts("kernel_shape");
        int n = kernel.length;
        if (n != 2) {
            throw new UnsupportedOperationException(
                    c.node().label() + ": the AveragePool gradient supports 2-D pooling only");
        }
        long[] strides = c.attrInts("strides", ones(n));
        long[] pads = c.attrInts("pads", new long[2 * n]);
        boolean includePad = c.node().attrInt("count_include_pad", 0) != 0;
        long channels = x.dim(1).value();
        long h = x.dim(2).value();
        long wdt = x.dim(3).value();
        long oh = y.dim(2).value();
        long ow = y.dim(3).value();
        float[] counts = new float[(int) (oh * ow)];
        boolean uniform = true;
        for (long i = 0; i < oh; i++) {
            for (long j = 0; j < ow; j++) {
                long r0 = i * strides[0] - pads[0];
                long c0 = j * strides[1] - pads[1];
                long lowR = includePad ? -pads[0] : 0;
                long highR = includePad ? h + pads[2] : h;
                long lowC = includePad ? -pads[1] : 0;
                long highC = includePad ? wdt + pads[3] : wdt;
                long rows = Math.min(r0 + kernel[0], highR) - Math.max(r0, lowR);
                long cols = Math.min(c0 + kernel[1], highC) - Math.max(c0, lowC);
                counts[(int) (i * ow + j)] = rows * cols;
                uniform &= rows * cols == kernel[0] * kernel[1];
            }
        }
        String scaled;
        if (uniform) {
            scaled = c.mul(c.dy(), c.scalar(1f / (kernel[0] * kernel[1])));
        } else {
            String countT = c.emit().tensor(c.node().name() + "/grad/count", Tensor.of(counts, 1, 1, oh, ow));
            scaled = c.div(c.dy(), countT);
        }
        float[] ones = new float[(int) (channels * kernel[0] * kernel[1])];
        Arrays.fill(ones, 1f);
        String weight =
                c.emit().tensor(c.node().name() + "/grad/ones", Tensor.of(ones, channels, 1, kernel[0], kernel[1]));
        long[] outputPadding = new long[n];
        long[] in = {h, wdt};
        long[] out = {oh, ow};
        long[] transposePads = pads.clone();
        for (int i = 0; i < n; i++) {
            outputPadding[i] = in[i] + pads[i] + pads[i + n] - kernel[i] - strides[i] * (out[i] - 1);
            if (outputPadding[i] < 0) {
                // ceil_mode: the last window runs past the padded input; what it would spread there is
                // dropped by cropping the transposed convolution's end further
                transposePads[i + n] -= outputPadding[i];
                outputPadding[i] = 0;
            }
        }
        Map<String, Attribute> a = new LinkedHashMap<>();
        a.put("kernel_shape", attrInts(kernel));
        a.put("strides", attrInts(strides));
        a.put("pads", attrInts(transposePads));
        a.put("group", attrInt(channels));
        if (Arrays.stream(outputPadding).anyMatch(v -> v != 0)) {
            a.put("output_padding", attrInts(outputPadding));
        }
        return c.grads(c.op("ConvTranspose", List.of(scaled, weight), a));
    }
}
