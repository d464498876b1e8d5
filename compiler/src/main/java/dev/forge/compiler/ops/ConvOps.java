package dev.forge.compiler.ops;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.autodiff.Emitter.attrInts;
import static dev.forge.compiler.ops.AttributeSpec.Kind.INTS;
import static dev.forge.compiler.ops.Grad.convAttributes;
import static dev.forge.compiler.ops.Grad.ones;
import static dev.forge.compiler.ops.Grad.product;
import static dev.forge.compiler.ops.OpDef.op;

import dev.forge.compiler.autodiff.GradContext;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Convolution: {@code Conv} and {@code ConvTranspose} (shape rules and gradients, derived below; each is
 * the other's input gradient, and both weight gradients share one formulation).
 */
final class ConvOps {
    private ConvOps() {}

    static void register(Ops.Registry r) {
        r.add(op("Conv")
                .attrString("auto_pad", "NOTSET")
                .attr("dilations", INTS)
                .attrInt("group", 1)
                .attr("kernel_shape", INTS)
                .attr("pads", INTS)
                .attr("strides", INTS)
                .shape(ConvOps::conv)
                .gradient(ConvOps::convGrad));
        r.add(op("ConvTranspose")
                .attrString("auto_pad", "NOTSET")
                .attr("dilations", INTS)
                .attrInt("group", 1)
                .attr("kernel_shape", INTS)
                .attr("output_padding", INTS)
                .attr("output_shape", INTS)
                .attr("pads", INTS)
                .attr("strides", INTS)
                .shape(ConvOps::convTranspose)
                .gradient(ConvOps::convTransposeGrad));
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
            throw ctx.error(
                    "weight W must have rank " + x.rank() + " like X " + x + ", got " + w,
                    "give W as [filters, channels/group, kernel...]");
        }
        long group = node.attrInt("group", 1);
        long filters = ctx.fixed(w.dim(0), "the filter count W[0]");
        if (group < 1 || filters % group != 0) {
            throw ctx.error(
                    "filters " + filters + " is not divisible by group " + group,
                    "make the filter count a multiple of group");
        }
        // W[1] may be symbolic when it equals X's channel dimension (the weight gradient convolves over the batch)
        if (!w.dim(1).isFixed() && !(group == 1 && w.dim(1).equals(x.dim(1)))) {
            throw ctx.error("W[1] must be a fixed number, got " + w.dim(1), "give that dimension a fixed size");
        }
        long wChannels = w.dim(1).isFixed() ? w.dim(1).value() : -1;
        if (wChannels >= 0 && x.dim(1).isFixed() && x.dim(1).value() != wChannels * group) {
            throw ctx.error(
                    "input has " + x.dim(1).value() + " channels but W " + w + " with group " + group + " expects "
                            + wChannels * group,
                    "set the layer's input channels to " + x.dim(1).value());
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
            throw ctx.error(
                    "kernel_shape " + Arrays.toString(kernel) + " does not match W " + w, "drop kernel_shape or fix W");
        }
        long[] strides = ints(ctx, "strides", n, 1);
        long[] dilations = ints(ctx, "dilations", n, 1);
        long[] in = spatial(x, n);
        long[] pads = Spatial.pads(ctx, in, kernel, strides, dilations);
        List<Dim> out = new ArrayList<>();
        out.add(x.dim(0));
        out.add(Dim.of(filters));
        for (int i = 0; i < n; i++) {
            out.add(
                    pads == null
                            ? Dim.unknown()
                            : Spatial.outSize(
                                    ctx,
                                    i,
                                    n,
                                    in[i],
                                    kernel[i],
                                    strides[i],
                                    pads[i],
                                    pads[i + n],
                                    dilations[i],
                                    false));
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
            throw ctx.error(
                    "X " + x + " and W " + w + " must both be [N, C, spatial...] of equal rank", "fix the input ranks");
        }
        long group = node.attrInt("group", 1);
        long outChannels = ctx.fixed(w.dim(1), "W[1]") * group;
        if (x.dim(1).isFixed()
                && w.dim(0).isFixed()
                && x.dim(1).value() != w.dim(0).value()) {
            throw ctx.error(
                    "input has " + x.dim(1) + " channels but W " + w + " expects " + w.dim(0),
                    "match W[0] to the input channels");
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
                throw ctx.error(
                        "output_shape " + Arrays.toString(outputShape) + " must have " + n + " spatial sizes",
                        "fix output_shape");
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
            throw ctx.error(
                    key + " " + Arrays.toString(v) + " has " + v.length + " values, expected " + n
                            + " (one per spatial axis)",
                    "give " + n + " values");
        }
        for (long e : v) {
            if (e < (defaultValue == 0 ? 0 : 1)) {
                throw ctx.error(
                        key + " " + Arrays.toString(v) + " must be >= " + (defaultValue == 0 ? 0 : 1), "fix " + key);
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

    /*
     * Convolution. With Y[n,m,o] = sum_{c,k} Xpad[n,c, o*S + k*D] W[m,c,k] (+ B[m]):
     *
     *   dX is the adjoint of that linear map in X: ConvTranspose(dY, W) with the same strides, pads,
     *   dilations and groups; output_padding = (H + pads - ((F-1)*D + 1)) mod S restores the rows a
     *   strided forward pass skipped at the end.
     *
     *   dW[m,c,k] = sum_{n,o} dY[n,m,o] Xpad[n,c, o*S + k*D]: a convolution over the batch axis. Swapping
     *   batch and channel axes (Transpose [1,0,...]) makes X a batch of C single images with N channels
     *   and dY a bank of M filters with N channels; convolving with stride D and dilation S (the forward
     *   roles exchanged) gives [C, M, F'] with F' >= F; keep the first F taps and swap back. Grouped and
     *   depthwise Convs take a batched form over the groups (groupedWeightGrad).
     *
     *   dB = sum of dY over batch and spatial axes.
     */
    private static List<String> convGrad(GradContext c) {
        Shape x = c.shape(c.x(0));
        Shape w = c.shape(c.x(1));
        Shape y = c.shape(c.y(0));
        int n = x.rank() - 2;
        long group = c.node().attrInt("group", 1);
        long[] kernel = new long[n];
        long[] inSize = new long[n];
        long[] outSize = new long[n];
        for (int i = 0; i < n; i++) {
            kernel[i] = w.dim(i + 2).value();
            if (!x.dim(i + 2).isFixed() || !y.dim(i + 2).isFixed()) {
                throw new IllegalStateException(
                        c.node().label() + ": the Conv gradient needs fixed spatial sizes, got " + x);
            }
            inSize[i] = x.dim(i + 2).value();
            outSize[i] = y.dim(i + 2).value();
        }
        long[] strides = c.attrInts("strides", ones(n));
        long[] dilations = c.attrInts("dilations", ones(n));
        long[] pads = c.attrInts("pads", new long[2 * n]);
        if (!c.node().attrString("auto_pad", "NOTSET").equals("NOTSET")) {
            throw new IllegalStateException(
                    c.node().label() + ": auto_pad must be resolved to explicit pads before differentiation");
        }
        String dx = null;
        if (c.needs(0)) {
            long[] outputPadding = new long[n];
            for (int i = 0; i < n; i++) {
                long span = inSize[i] + pads[i] + pads[i + n] - ((kernel[i] - 1) * dilations[i] + 1);
                outputPadding[i] = span - strides[i] * (outSize[i] - 1);
            }
            Map<String, Attribute> a = convAttributes(kernel, strides, pads, dilations);
            a.put("group", attrInt(group));
            if (Arrays.stream(outputPadding).anyMatch(v -> v != 0)) {
                a.put("output_padding", attrInts(outputPadding));
            }
            dx = c.op("ConvTranspose", List.of(c.dy(), c.x(1)), a);
        }
        String dw = null;
        if (c.needs(1)) {
            dw = group == 1
                    ? convWeightGrad(c, c.x(0), c.dy(), n, kernel, inSize, outSize, strides, dilations, pads)
                    : groupedWeightGrad(c, c.x(0), c.dy(), group, kernel, outSize, strides, dilations, pads);
        }
        String db = c.needs(2) ? c.reduceSum(c.dy(), spatialAndBatchAxes(n), false) : null;
        return c.grads(dx, dw, db);
    }

    /*
     * Weight gradient of a grouped or depthwise Conv (G groups of Cg input channels and Mg filters), in a number
     * of nodes that never grows with G:
     *
     *   dW[g*Mg+m, c, k] = sum_{n,o} dY[n, g*Mg+m, o] Xpad[n, g*Cg+c, o*S + k*D].
     *
     * Lay the patches out as P [N, G, K, L] with K = Cg*taps (channel-major, tap-minor, W's own layout), take
     * dY as [N, G, Mg, L]; then dW = sum over the batch of dY x P^T: one batched MatMul [N, G, Mg, K], a
     * ReduceSum and a Reshape to W's shape. The patches come from
     *   - K <= IM2COL_MAX_PATCH: a grouped Conv (group G, the forward's strides, pads and dilations) whose
     *     filters are G copies of the one-hot bank of im2colWeightGrad; it costs K^2 multiply-adds per output
     *     and group, small for these K;
     *   - larger K: one strided Slice of the padded input per kernel tap (Xpad[n, :, o*S + k*D] for every
     *     output o), concatenated on a new axis; copies only, taps + 3 nodes.
     * Measured (OpAlternatives, depthwise 3x3, batch 16, a loaded machine): 144 channels at 28x28, per-group
     * subgraphs 145 ms, grouped one-hot Conv 98 ms, tap Slices 204 ms (Mul + ReduceSum instead of the MatMul:
     * 235 ms); 960 channels at 7x7: 162, 50 and 136 ms. The per-group form it replaces also emitted ~9 nodes per
     * group (a 1024-channel depthwise Conv: 9000 nodes, minutes to compile).
     */
    private static String groupedWeightGrad(
            GradContext c,
            String x,
            String dy,
            long group,
            long[] kernel,
            long[] outSize,
            long[] strides,
            long[] dilations,
            long[] pads) {
        long channels = c.shape(x).dim(1).value();
        long filters = c.shape(c.x(1)).dim(0).value();
        long taps = product(kernel);
        long patch = channels / group * taps;
        long outputs = product(outSize);
        String cols = patch <= IM2COL_MAX_PATCH
                ? oneHotColumns(c, x, group, channels / group, kernel, strides, dilations, pads)
                : sliceColumns(c, x, kernel, outSize, strides, dilations, pads);
        String p = c.op("Reshape", cols, c.emit().ints(0, group, patch, outputs));
        String d = c.op("Reshape", dy, c.emit().ints(0, group, filters / group, outputs));
        String perSample = c.op("MatMul", d, c.op("Transpose", List.of(p), Map.of("perm", attrInts(0, 1, 3, 2))));
        String dw = c.reduceSum(perSample, new long[] {0}, false);
        return c.op("Reshape", dw, c.emit().ints(weightShape(filters, channels / group, kernel)));
    }

    /** The patches of a grouped Conv by one strided Slice per kernel tap: [N, C, taps, out...]. */
    private static String sliceColumns(
            GradContext c, String input, long[] kernel, long[] outSize, long[] strides, long[] dilations, long[] pads) {
        int n = kernel.length;
        long taps = product(kernel);
        String x = c.op("Unsqueeze", input, c.emit().ints(2));
        if (Arrays.stream(pads).anyMatch(p -> p != 0)) {
            long[] padding = new long[2 * (n + 3)];
            for (int i = 0; i < n; i++) {
                padding[3 + i] = pads[i];
                padding[n + 3 + 3 + i] = pads[i + n];
            }
            x = c.op("Pad", x, c.emit().ints(padding));
        }
        long[] axes = new long[n];
        for (int i = 0; i < n; i++) {
            axes[i] = i + 3;
        }
        List<String> columns = new ArrayList<>();
        long[] tap = new long[n];
        for (long t = 0; t < taps; t++) {
            long rest = t;
            for (int i = n - 1; i >= 0; i--) {
                tap[i] = rest % kernel[i];
                rest /= kernel[i];
            }
            long[] starts = new long[n];
            long[] ends = new long[n];
            for (int i = 0; i < n; i++) {
                starts[i] = tap[i] * dilations[i];
                ends[i] = starts[i] + (outSize[i] - 1) * strides[i] + 1;
            }
            columns.add(c.op(
                    "Slice",
                    x,
                    c.emit().ints(starts),
                    c.emit().ints(ends),
                    c.emit().ints(axes),
                    c.emit().ints(strides)));
        }
        return columns.size() == 1 ? columns.get(0) : c.op("Concat", columns, Map.of("axis", attrInt(2)));
    }

    /** The patches of a grouped Conv by a grouped Conv with one-hot filters: [N, G*Cg*taps, out...]. */
    private static String oneHotColumns(
            GradContext c,
            String x,
            long group,
            long channels,
            long[] kernel,
            long[] strides,
            long[] dilations,
            long[] pads) {
        long taps = product(kernel);
        int k = (int) (channels * taps);
        float[] oneHot = new float[(int) (group * k * channels * taps)];
        for (int g = 0; g < group; g++) {
            for (int ch = 0; ch < channels; ch++) {
                for (int t = 0; t < taps; t++) {
                    int row = (int) (g * k + ch * taps + t);
                    oneHot[(int) ((row * channels + ch) * taps + t)] = 1f;
                }
            }
        }
        String filters = c.emit()
                .tensor(c.node().name() + "/grad/im2col", Tensor.of(oneHot, weightShape(group * k, channels, kernel)));
        Map<String, Attribute> a = convAttributes(kernel, strides, pads, dilations);
        a.put("group", attrInt(group));
        return c.op("Conv", List.of(x, filters), a);
    }

    /** Largest patch length (input channels x kernel taps) for which the weight gradient goes through im2col. */
    static final long IM2COL_MAX_PATCH = 64;

    private static String convWeightGrad(
            GradContext c,
            String x,
            String dy,
            int n,
            long[] kernel,
            long[] inSize,
            long[] outSize,
            long[] strides,
            long[] dilations,
            long[] pads) {
        long taps = product(kernel);
        long channels = c.shape(x).dim(1).value();
        if (channels * taps <= IM2COL_MAX_PATCH) {
            return im2colWeightGrad(c, x, dy, channels, kernel, taps, strides, dilations, pads);
        }
        return batchAxisWeightGrad(c, x, dy, n, kernel, inSize, outSize, strides, dilations, pads);
    }

    /*
     * Weight gradient through im2col, for short patches: a Conv with one-hot filters (same strides, pads and
     * dilations as the forward Conv) lays every patch out as K = C x taps channels, P [N, K, outputs]; then
     * dW = sum over the batch of dY [N, Co, outputs] x P^T, one batched MatMul and a ReduceSum. The one-hot
     * Conv costs K^2 multiply-adds per output, so this is for small K only; there it replaces a
     * convolution whose kernel is the whole output map, which ONNX Runtime runs at about 10 GFLOP/s.
     * Measured (OpAlternatives): MNIST CNN conv1 at batch 64 (K = 25) 2.86 -> 1.02 ms, CIFAR-10 conv2 at
     * batch 64 (K = 54) 9.1 -> 2.3 ms; LeNet-5 conv2 (K = 150) would go 0.72 -> 3.2 ms, hence the bound.
     */
    private static String im2colWeightGrad(
            GradContext c,
            String x,
            String dy,
            long channels,
            long[] kernel,
            long taps,
            long[] strides,
            long[] dilations,
            long[] pads) {
        int k = (int) (channels * taps);
        float[] oneHot = new float[(int) (k * channels * taps)];
        for (int ch = 0; ch < channels; ch++) {
            for (int t = 0; t < taps; t++) {
                int row = (int) (ch * taps + t);
                oneHot[(int) ((row * channels + ch) * taps + t)] = 1f;
            }
        }
        String filters =
                c.emit().tensor(c.node().name() + "/grad/im2col", Tensor.of(oneHot, weightShape(k, channels, kernel)));
        String patches = c.op("Conv", List.of(x, filters), convAttributes(kernel, strides, pads, dilations));
        long outChannels = c.shape(dy).dim(1).value();
        String p = c.op("Reshape", patches, c.emit().ints(0, k, -1));
        String d = c.op("Reshape", dy, c.emit().ints(0, outChannels, -1));
        String perSample = c.op("MatMul", d, c.op("Transpose", List.of(p), Map.of("perm", attrInts(0, 2, 1))));
        String dw = c.reduceSum(perSample, new long[] {0}, false);
        return c.op("Reshape", dw, c.emit().ints(weightShape(outChannels, channels, kernel)));
    }

    /** A Conv weight shape: [out channels, in channels, kernel...]. */
    private static long[] weightShape(long out, long in, long[] kernel) {
        long[] shape = new long[kernel.length + 2];
        shape[0] = out;
        shape[1] = in;
        System.arraycopy(kernel, 0, shape, 2, kernel.length);
        return shape;
    }

    /* Weight gradient as a convolution over the batch axis: X^T (channels as batch) with dY^T as filters. */
    private static String batchAxisWeightGrad(
            GradContext c,
            String x,
            String dy,
            int n,
            long[] kernel,
            long[] inSize,
            long[] outSize,
            long[] strides,
            long[] dilations,
            long[] pads) {
        long[] swap = new long[n + 2];
        for (int i = 0; i < n + 2; i++) {
            swap[i] = i;
        }
        swap[0] = 1;
        swap[1] = 0;
        String xt = c.op("Transpose", List.of(x), Map.of("perm", attrInts(swap)));
        String dyt = c.op("Transpose", List.of(dy), Map.of("perm", attrInts(swap)));
        long[] taps = new long[n];
        boolean trim = false;
        for (int i = 0; i < n; i++) {
            long window = (outSize[i] - 1) * strides[i] + 1;
            taps[i] = (inSize[i] + pads[i] + pads[i + n] - window) / dilations[i] + 1;
            trim |= taps[i] != kernel[i];
        }
        // the forward's strides and dilations exchange roles over the batch axis
        String z = c.op("Conv", List.of(xt, dyt), convAttributes(outSize, dilations, pads, strides));
        if (trim) {
            long[] axes = new long[n];
            long[] starts = new long[n];
            for (int i = 0; i < n; i++) {
                axes[i] = i + 2;
            }
            z = c.op(
                    "Slice",
                    z,
                    c.emit().ints(starts),
                    c.emit().ints(kernel),
                    c.emit().ints(axes));
        }
        return c.op("Transpose", List.of(z), Map.of("perm", attrInts(swap)));
    }

    /*
     * Transposed convolution, the adjoint of a Conv in its input: with the same strides S, pads,
     * dilations D and groups,
     *   Y[n,m,j] = sum_{c,i,k : j = i*S + k*D - padBegin} X[n,c,i] W[c,m,k] (+ B[m])
     * (output_padding only appends rows no input reaches). Hence
     *   dX[n,c,i] = sum_{m,k} dYpad[n,m, i*S + k*D] W[c,m,k] = Conv(dY, W) with those strides, pads,
     *   dilations and groups (W [C, M/group, k...] read as C filters over M/group channels);
     *   dW[c,m,k] = sum_{n,i} X[n,c,i] dYpad[n,m, i*S + k*D]: exactly a Conv's weight gradient with dY as
     *   the Conv's input and X as its output gradient, so the same formulations (im2col, batch axis,
     *   grouped) serve both;
     *   dB = sum of dY over batch and spatial axes.
     * output_shape and auto_pad SAME_* derive the pads from the sizes (below), then the same holds.
     */
    private static List<String> convTransposeGrad(GradContext c) {
        String label = c.node().label();
        Shape x = c.shape(c.x(0));
        Shape w = c.shape(c.x(1));
        Shape y = c.shape(c.y(0));
        int n = x.rank() - 2;
        long group = c.node().attrInt("group", 1);
        long[] kernel = new long[n];
        long[] inSize = new long[n];
        long[] outSize = new long[n];
        for (int i = 0; i < n; i++) {
            kernel[i] = w.dim(i + 2).value();
            if (!x.dim(i + 2).isFixed() || !y.dim(i + 2).isFixed()) {
                throw new IllegalStateException(
                        label + ": the ConvTranspose gradient needs fixed spatial sizes, got " + x + " to " + y);
            }
            inSize[i] = x.dim(i + 2).value();
            outSize[i] = y.dim(i + 2).value();
        }
        long[] strides = c.attrInts("strides", ones(n));
        long[] dilations = c.attrInts("dilations", ones(n));
        long[] outputPadding = c.attrInts("output_padding", new long[n]);
        String autoPad = c.node().attrString("auto_pad", "NOTSET");
        boolean derived = c.node().attr("output_shape") != null || autoPad.startsWith("SAME");
        long[] given = c.attrInts("pads", new long[2 * n]);
        // Y is the window [begin, begin + out) of the full scatter (length full); with output_shape or
        // SAME_* the pads come from the sizes as ONNX Runtime derives them: total = full - out, the odd one at
        // the end except for SAME_UPPER (ONNX Runtime refuses an output_shape past the full scatter)
        long[] pads = new long[2 * n];
        for (int i = 0; i < n; i++) {
            long full = strides[i] * (inSize[i] - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1;
            long total = Math.max(full - outSize[i], 0);
            long begin = derived
                    ? (autoPad.equals("SAME_UPPER") ? total / 2 : total - total / 2)
                    : autoPad.equals("VALID") ? 0 : given[i];
            pads[i] = begin;
            pads[i + n] = full - begin - outSize[i];
            if (pads[i + n] < 0) {
                throw new UnsupportedOperationException(label + ": output size " + outSize[i] + " on "
                        + Spatial.axisName(i, n) + " is past the full transposed convolution (" + full
                        + "); give an output_shape of at most " + full);
            }
            // the Conv over dY must land exactly on X's size: output_padding below the stride
            long back = (outSize[i] + pads[i] + pads[i + n] - ((kernel[i] - 1) * dilations[i] + 1)) / strides[i] + 1;
            if (back != inSize[i]) {
                throw new UnsupportedOperationException(label + ": the ConvTranspose gradient needs output_padding"
                        + " below the stride on " + Spatial.axisName(i, n) + " (a Conv over dY of size " + outSize[i]
                        + " gives " + back + ", not the input's " + inSize[i] + "); reduce output_padding");
            }
        }
        String dy = c.dy();
        Map<String, Attribute> a = convAttributes(kernel, strides, pads, dilations);
        a.put("group", attrInt(group));
        String dx = c.needs(0) ? c.op("Conv", List.of(dy, c.x(1)), a) : null;
        String dw = null;
        if (c.needs(1)) {
            dw = group == 1
                    ? convWeightGrad(c, dy, c.x(0), n, kernel, outSize, inSize, strides, dilations, pads)
                    : groupedWeightGrad(c, dy, c.x(0), group, kernel, inSize, strides, dilations, pads);
        }
        String db = c.needs(2) ? c.reduceSum(c.dy(), spatialAndBatchAxes(n), false) : null;
        return c.grads(dx, dw, db);
    }

    private static long[] spatialAndBatchAxes(int n) {
        long[] axes = new long[n + 1];
        axes[0] = 0;
        for (int i = 0; i < n; i++) {
            axes[i + 1] = i + 2;
        }
        return axes;
    }
}
