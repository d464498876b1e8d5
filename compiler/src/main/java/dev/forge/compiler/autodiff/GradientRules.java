package dev.forge.compiler.autodiff;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.autodiff.Emitter.attrInts;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Shape;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One backward rule per differentiable ONNX operator, each emitted as standard ONNX operators. A rule
 * returns one gradient per forward input (null for none). Composite layers need no rule of their own:
 * training-mode BatchNormalization is written out of ReduceMean, Sub, Mul, Sqrt and Reciprocal, so their
 * rules differentiate it.
 */
public final class GradientRules {
    private static final Map<String, GradientRule> RULES;

    static {
        Map<String, GradientRule> r = new TreeMap<>();
        // ---- activations: dX = dY * f'(X), with f' written from X or from the output Y ----
        // Y > 0 exactly where X > 0; reading Y leaves X to the Relu alone, so ONNX Runtime can fuse Conv+Relu
        r.put("Relu", c -> c.grads(c.mul(c.dy(), positive(c, c.y(0)))));
        r.put("LeakyRelu", c -> {
            float alpha = c.node().attrFloat("alpha", 0.01f);
            String slope = c.add(c.mul(positive(c, c.x(0)), c.scalar(1f - alpha)), c.scalar(alpha));
            return c.grads(c.mul(c.dy(), slope));
        });
        r.put("Sigmoid", c -> c.grads(c.mul(c.dy(), c.mul(c.y(0), c.sub(c.scalar(1f), c.y(0))))));
        r.put("Tanh", c -> c.grads(c.mul(c.dy(), c.sub(c.scalar(1f), c.mul(c.y(0), c.y(0))))));
        r.put("Softplus", c -> c.grads(c.mul(c.dy(), c.op("Sigmoid", c.x(0)))));
        r.put("Exp", c -> c.grads(c.mul(c.dy(), c.y(0))));
        r.put("Log", c -> c.grads(c.div(c.dy(), c.x(0))));
        r.put("Neg", c -> c.grads(c.op("Neg", c.dy())));
        r.put("Abs", c -> c.grads(c.mul(c.dy(), c.op("Sign", c.x(0)))));
        // d sqrt(x) = 1 / (2 sqrt(x)) = 0.5 / Y
        r.put("Sqrt", c -> c.grads(c.div(c.mul(c.dy(), c.scalar(0.5f)), c.y(0))));
        // d (1/x) = -1/x^2 = -Y^2
        r.put("Reciprocal", c -> c.grads(c.op("Neg", c.mul(c.dy(), c.mul(c.y(0), c.y(0))))));
        r.put("Identity", c -> c.grads(c.dy()));
        r.put("Dropout", c -> c.grads(c.dy())); // inference form is the identity; training graphs use a mask Mul
        r.put("Cast", GradientRules::cast);

        // ---- broadcasting arithmetic: every gradient is summed back to its input's shape ----
        r.put("Add", c -> c.grads(unb(c, c.dy(), 0), unb(c, c.dy(), 1)));
        r.put("Sub", c -> c.grads(unb(c, c.dy(), 0), c.needs(1) ? c.unbroadcast(c.op("Neg", c.dy()), c.x(1)) : null));
        r.put("Mul", c -> c.grads(c.needs(0) ? c.unbroadcast(c.mul(c.dy(), c.x(1)), c.x(0)) : null,
                c.needs(1) ? c.unbroadcast(c.mul(c.dy(), c.x(0)), c.x(1)) : null));
        // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -Y/b
        r.put("Div", c -> c.grads(c.needs(0) ? c.unbroadcast(c.div(c.dy(), c.x(1)), c.x(0)) : null,
                c.needs(1) ? c.unbroadcast(c.op("Neg", c.div(c.mul(c.dy(), c.y(0)), c.x(1))), c.x(1)) : null));
        r.put("Sum", c -> {
            List<String> out = c.none();
            for (int i = 0; i < out.size(); i++) {
                out.set(i, c.needs(i) ? c.unbroadcast(c.dy(), c.x(i)) : null);
            }
            return out;
        });
        r.put("Where", c -> {
            String zero = c.scalar(0f);
            return c.grads(null,
                    c.needs(1) ? c.unbroadcast(c.op("Where", c.x(0), c.dy(), zero), c.x(1)) : null,
                    c.needs(2) ? c.unbroadcast(c.op("Where", c.x(0), zero, c.dy()), c.x(2)) : null);
        });

        // ---- matrix products ----
        r.put("MatMul", GradientRules::matMul);
        r.put("Gemm", GradientRules::gemm);

        // ---- convolution and pooling ----
        r.put("Conv", GradientRules::conv);
        r.put("MaxPool", GradientRules::maxPool);
        r.put("AveragePool", GradientRules::averagePool);
        r.put("GlobalAveragePool", c -> {
            Shape x = c.shape(c.x(0));
            long area = x.product(2, x.rank());
            String scaled = c.mul(c.dy(), c.scalar((float) (1.0 / area)));
            return c.grads(c.op("Expand", scaled, c.shapeOf(c.x(0))));
        });
        r.put("GlobalMaxPool", c -> {
            // ties share the gradient (each maximal element receives dY)
            String isMax = c.op("Cast", List.of(c.op("Equal", c.x(0), c.y(0))), Map.of("to", attrInt(1)));
            return c.grads(c.mul(c.op("Expand", c.dy(), c.shapeOf(c.x(0))), isMax));
        });
        r.put("BatchNormalization", GradientRules::batchNormInference);

        // ---- shape movement ----
        GradientRule reshapeBack = c -> c.grads(reshapeTo(c, c.dy(), c.x(0)));
        r.put("Flatten", reshapeBack);
        r.put("Reshape", reshapeBack);
        r.put("Squeeze", reshapeBack);
        r.put("Unsqueeze", reshapeBack);
        r.put("Transpose", c -> {
            long[] perm = c.attrInts("perm", reversed(c.shape(c.x(0)).rank()));
            long[] inverse = new long[perm.length];
            for (int i = 0; i < perm.length; i++) {
                inverse[(int) perm[i]] = i;
            }
            return c.grads(c.op("Transpose", List.of(c.dy()), Map.of("perm", attrInts(inverse))));
        });
        r.put("Concat", GradientRules::concat);
        r.put("Pad", GradientRules::pad);

        // ---- reductions and normalizers ----
        r.put("ReduceSum", c -> c.grads(expandReduced(c, reducedAxes(c, true))));
        r.put("ReduceMean", c -> {
            long[] axes = reducedAxes(c, false);
            String expanded = expandReduced(c, axes);
            return c.grads(c.mul(expanded, meanScale(c, axes)));
        });
        // softmax: dX = Y * (dY - sum(dY * Y))
        r.put("Softmax", c -> {
            long axis = c.node().attrInt("axis", -1);
            String dot = c.reduceSum(c.mul(c.dy(), c.y(0)), new long[] {axis}, true);
            return c.grads(c.mul(c.y(0), c.sub(c.dy(), dot)));
        });
        // log-softmax: dX = dY - exp(Y) * sum(dY)
        r.put("LogSoftmax", c -> {
            long axis = c.node().attrInt("axis", -1);
            String total = c.reduceSum(c.dy(), new long[] {axis}, true);
            return c.grads(c.sub(c.dy(), c.mul(c.op("Exp", c.y(0)), total)));
        });
        RULES = Collections.unmodifiableMap(r);
    }

    /** Ops whose outputs never carry a gradient (integer or shape computations). */
    static final Set<String> NON_DIFFERENTIABLE = Set.of("Shape", "Size", "Gather", "Constant", "ConstantOfShape",
            "OneHot", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Not", "And", "Or", "ArgMax", "ArgMin",
            "Sign", "Floor", "Ceil", "Round");

    private GradientRules() {
    }

    /** The rule of an op, or null. */
    public static GradientRule rule(String opType) {
        return RULES.get(opType);
    }

    /** Every op with a gradient rule, sorted. */
    public static Set<String> supported() {
        return RULES.keySet();
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static String unb(GradContext c, String grad, int input) {
        return c.needs(input) ? c.unbroadcast(grad, c.x(input)) : null;
    }

    /** 1.0 where {@code x > 0}, else 0.0, as float32. */
    private static String positive(GradContext c, String x) {
        return c.op("Cast", List.of(c.op("Greater", x, c.scalar(0f))), Map.of("to", attrInt(1)));
    }

    private static long[] reversed(int rank) {
        long[] p = new long[rank];
        for (int i = 0; i < rank; i++) {
            p[i] = rank - 1 - i;
        }
        return p;
    }

    /** Reshapes {@code grad} to the shape of {@code like}, statically when that shape is fixed. */
    private static String reshapeTo(GradContext c, String grad, String like) {
        Shape s = c.shape(like);
        return s.isFixed() ? c.op("Reshape", grad, c.emit().ints(s.toArray())) : c.reshapeLike(grad, like);
    }

    private static List<String> cast(GradContext c) {
        DType from = c.type(c.x(0)).dtype();
        if (from != DType.FLOAT32 && from != DType.FLOAT64) {
            return c.none();
        }
        return c.grads(c.op("Cast", List.of(c.dy()), Map.of("to", attrInt(from == DType.FLOAT32 ? 1 : 11))));
    }

    /** MatMul of rank >= 2 operands: dA = dY B^T, dB = A^T dY, each summed over broadcast batch axes. */
    private static List<String> matMul(GradContext c) {
        int ra = c.shape(c.x(0)).rank();
        int rb = c.shape(c.x(1)).rank();
        if (ra < 2 || rb < 2) {
            throw new UnsupportedOperationException(c.node().label() + ": the MatMul gradient needs operands of rank >= 2, got "
                    + c.shape(c.x(0)) + " and " + c.shape(c.x(1)) + "; use Gemm or Unsqueeze to a matrix");
        }
        String da = c.needs(0) ? c.unbroadcast(c.op("MatMul", c.dy(), swapLast(c, c.x(1))), c.x(0)) : null;
        String db = c.needs(1) ? c.unbroadcast(c.op("MatMul", swapLast(c, c.x(0)), c.dy()), c.x(1)) : null;
        return c.grads(da, db);
    }

    private static String swapLast(GradContext c, String v) {
        int r = c.shape(v).rank();
        long[] perm = new long[r];
        for (int i = 0; i < r; i++) {
            perm[i] = i;
        }
        perm[r - 2] = r - 1;
        perm[r - 1] = r - 2;
        return c.op("Transpose", List.of(v), Map.of("perm", attrInts(perm)));
    }

    /**
     * Gemm: Y = alpha op(A) op(B) + beta C. With op(A) [M,K], op(B) [K,N]: d op(A) = alpha dY op(B)^T and
     * d op(B) = alpha op(A)^T dY; a transposed operand takes the transpose of that, which Gemm's own
     * transA/transB flags express without a Transpose node.
     */
    private static List<String> gemm(GradContext c) {
        boolean ta = c.node().attrInt("transA", 0) != 0;
        boolean tb = c.node().attrInt("transB", 0) != 0;
        float alpha = c.node().attrFloat("alpha", 1f);
        float beta = c.node().attrFloat("beta", 1f);
        String a = c.x(0);
        String b = c.x(1);
        String dy = c.dy();
        String da = null;
        String db = null;
        if (c.needs(0)) {
            da = ta ? gemm(c, b, dy, tb, true, alpha) : gemm(c, dy, b, false, !tb, alpha);
        }
        if (c.needs(1)) {
            db = tb ? gemm(c, dy, a, true, ta, alpha) : gemm(c, a, dy, !ta, false, alpha);
        }
        String dc = null;
        if (c.needs(2)) {
            String scaled = beta == 1f ? dy : c.mul(dy, c.scalar(beta));
            dc = c.unbroadcast(scaled, c.x(2));
        }
        return c.grads(da, db, dc);
    }

    private static String gemm(GradContext c, String a, String b, boolean transA, boolean transB, float alpha) {
        Map<String, Attribute> attrs = new LinkedHashMap<>();
        if (transA) {
            attrs.put("transA", attrInt(1));
        }
        if (transB) {
            attrs.put("transB", attrInt(1));
        }
        if (alpha != 1f) {
            attrs.put("alpha", new Attribute.Float(alpha));
        }
        return c.op("Gemm", List.of(a, b), attrs);
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
     *   roles exchanged) gives [C, M, F'] with F' >= F; keep the first F taps and swap back. Groups are
     *   handled one at a time on channel slices.
     *
     *   dB = sum of dY over batch and spatial axes.
     */
    private static List<String> conv(GradContext c) {
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
                throw new IllegalStateException(c.node().label() + ": the Conv gradient needs fixed spatial sizes, got " + x);
            }
            inSize[i] = x.dim(i + 2).value();
            outSize[i] = y.dim(i + 2).value();
        }
        long[] strides = c.attrInts("strides", ones(n));
        long[] dilations = c.attrInts("dilations", ones(n));
        long[] pads = c.attrInts("pads", new long[2 * n]);
        if (!c.node().attrString("auto_pad", "NOTSET").equals("NOTSET")) {
            throw new IllegalStateException(c.node().label() + ": auto_pad must be resolved to explicit pads before differentiation");
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
            long channels = x.dim(1).value();
            long filters = w.dim(0).value();
            List<String> parts = new ArrayList<>();
            for (long g = 0; g < group; g++) {
                String xg = group == 1 ? c.x(0) : slice(c, c.x(0), 1, g * channels / group, (g + 1) * channels / group);
                String dyg = group == 1 ? c.dy() : slice(c, c.dy(), 1, g * filters / group, (g + 1) * filters / group);
                parts.add(convWeightGrad(c, xg, dyg, n, kernel, inSize, outSize, strides, dilations, pads));
            }
            dw = parts.size() == 1 ? parts.get(0) : c.op("Concat", parts, Map.of("axis", attrInt(0)));
        }
        String db = c.needs(2) ? c.reduceSum(c.dy(), spatialAndBatchAxes(n), false) : null;
        return c.grads(dx, dw, db);
    }

    /** Largest patch length (input channels x kernel taps) for which the weight gradient goes through im2col. */
    static final long IM2COL_MAX_PATCH = 64;

    private static String convWeightGrad(GradContext c, String x, String dy, int n, long[] kernel, long[] inSize,
            long[] outSize, long[] strides, long[] dilations, long[] pads) {
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
    private static String im2colWeightGrad(GradContext c, String x, String dy, long channels, long[] kernel, long taps,
            long[] strides, long[] dilations, long[] pads) {
        int k = (int) (channels * taps);
        float[] oneHot = new float[(int) (k * channels * taps)];
        for (int ch = 0; ch < channels; ch++) {
            for (int t = 0; t < taps; t++) {
                int row = (int) (ch * taps + t);
                oneHot[(int) ((row * channels + ch) * taps + t)] = 1f;
            }
        }
        String filters = c.emit().tensor(c.node().name() + "/grad/im2col", Tensor.of(oneHot, weightShape(k, channels, kernel)));
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

    private static long product(long[] v) {
        return Arrays.stream(v).reduce(1, (a, b) -> a * b);
    }

    /* Weight gradient as a convolution over the batch axis: X^T (channels as batch) with dY^T as filters. */
    private static String batchAxisWeightGrad(GradContext c, String x, String dy, int n, long[] kernel, long[] inSize,
            long[] outSize, long[] strides, long[] dilations, long[] pads) {
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
            z = c.op("Slice", z, c.emit().ints(starts), c.emit().ints(kernel), c.emit().ints(axes));
        }
        return c.op("Transpose", List.of(z), Map.of("perm", attrInts(swap)));
    }

    private static Map<String, Attribute> convAttributes(long[] kernel, long[] strides, long[] pads, long[] dilations) {
        Map<String, Attribute> a = new LinkedHashMap<>();
        a.put("kernel_shape", attrInts(kernel));
        a.put("strides", attrInts(strides));
        a.put("pads", attrInts(pads));
        a.put("dilations", attrInts(dilations));
        return a;
    }

    private static String slice(GradContext c, String v, long axis, long start, long end) {
        return c.op("Slice", v, c.emit().ints(start), c.emit().ints(end), c.emit().ints(axis));
    }

    private static long[] ones(int n) {
        long[] v = new long[n];
        Arrays.fill(v, 1);
        return v;
    }

    private static long[] spatialAndBatchAxes(int n) {
        long[] axes = new long[n + 1];
        axes[0] = 0;
        for (int i = 0; i < n; i++) {
            axes[i + 1] = i + 2;
        }
        return axes;
    }

    /**
     * True for a MaxPool whose windows tile the input exactly (stride = window, no padding or dilation,
     * sizes divisible): its gradient needs no Indices output.
     */
    public static boolean isTiled(dev.forge.compiler.ir.Node n, Shape x) {
        long[] kernel = n.attrInts("kernel_shape", null);
        if (kernel == null || x == null || x.rank() != kernel.length + 2 || n.attrInt("ceil_mode", 0) != 0
                || !n.attrString("auto_pad", "NOTSET").equals("NOTSET") || n.attrInt("storage_order", 0) != 0) {
            return false;
        }
        long[] strides = n.attrInts("strides", ones(kernel.length));
        long[] dilations = n.attrInts("dilations", ones(kernel.length));
        long[] pads = n.attrInts("pads", new long[2 * kernel.length]);
        if (!x.dim(1).isFixed()) {
            return false;
        }
        for (int i = 0; i < kernel.length; i++) {
            if (strides[i] != kernel[i] || dilations[i] != 1 || !x.dim(i + 2).isFixed() || x.dim(i + 2).value() % kernel[i] != 0) {
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
        Map<String, Attribute> nearest = Map.of("mode", new Attribute.Str("nearest"),
                "coordinate_transformation_mode", new Attribute.Str("asymmetric"), "nearest_mode", new Attribute.Str("floor"));
        String yUp = c.op("Resize", List.of(c.y(0), "", sc), nearest);
        String mask = c.op("Cast", List.of(c.op("Equal", c.x(0), yUp)), Map.of("to", attrInt(1)));
        long window = product(kernel);
        String ties = c.mul(c.op("AveragePool", List.of(mask), Map.of("kernel_shape", new Attribute.Ints(kernel),
                "strides", new Attribute.Ints(kernel))), c.scalar((float) window));
        String dyUp = c.op("Resize", List.of(c.div(c.dy(), ties), "", sc), nearest);
        return c.mul(dyUp, mask);
    }

    /*
     * MaxPool: the gradient goes to the element each window selected. The forward node's Indices output
     * (flat positions in X) says which. Without overlap (stride >= window) every position is selected at
     * most once and MaxUnpool scatters dY there; with overlap a position can win several windows, so
     * ScatterElements with reduction "add" accumulates into a flat zero tensor instead.
     */
    private static List<String> maxPool(GradContext c) {
        if (isTiled(c.node(), c.shape(c.x(0)))) {
            return c.grads(tiledMaxPoolGrad(c));
        }
        if (c.node().outputs().size() < 2 || c.node().output(1).isEmpty()) {
            throw new IllegalStateException(c.node().label() + ": the MaxPool gradient needs the forward Indices output; "
                    + "Autodiff.gradients adds it");
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
        String zeros = c.op("ConstantOfShape", List.of(size),
                Map.of("value", new Attribute.TensorValue(Tensor.of(new float[] {0f}, 1))));
        String scattered = c.op("ScatterElements",
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
    private static List<String> averagePool(GradContext c) {
        Shape x = c.shape(c.x(0));
        Shape y = c.shape(c.y(0));
        long[] kernel = c.attrInts("kernel_shape");
        int n = kernel.length;
        if (n != 2) {
            throw new UnsupportedOperationException(c.node().label() + ": the AveragePool gradient supports 2-D pooling only");
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
        String weight = c.emit().tensor(c.node().name() + "/grad/ones", Tensor.of(ones, channels, 1, kernel[0], kernel[1]));
        long[] outputPadding = new long[n];
        long[] in = {h, wdt};
        long[] out = {oh, ow};
        for (int i = 0; i < n; i++) {
            outputPadding[i] = in[i] + pads[i] + pads[i + n] - kernel[i] - strides[i] * (out[i] - 1);
            if (outputPadding[i] < 0) {
                throw new UnsupportedOperationException(c.node().label()
                        + ": the AveragePool gradient does not support windows that run past the padded input (ceil_mode)");
            }
        }
        Map<String, Attribute> a = new LinkedHashMap<>();
        a.put("kernel_shape", attrInts(kernel));
        a.put("strides", attrInts(strides));
        a.put("pads", attrInts(pads));
        a.put("group", attrInt(channels));
        if (Arrays.stream(outputPadding).anyMatch(v -> v != 0)) {
            a.put("output_padding", attrInts(outputPadding));
        }
        return c.grads(c.op("ConvTranspose", List.of(scaled, weight), a));
    }

    /*
     * Inference-form BatchNormalization, Y = scale * (X - mean) / sqrt(var + eps) + B with mean and var
     * constants (fine-tuning with frozen statistics): dX = dY * scale / sqrt(var + eps),
     * dscale = sum(dY * xhat), dB = sum(dY), sums over every axis but the channel axis.
     */
    private static List<String> batchNormInference(GradContext c) {
        if (c.node().attrInt("training_mode", 0) != 0) {
            throw new IllegalStateException(c.node().label() + ": training-mode BatchNormalization is differentiated through "
                    + "its decomposition; TrainingGraph writes it out of primitive ops");
        }
        int rank = c.shape(c.x(0)).rank();
        long channels = c.shape(c.x(0)).dim(1).value();
        long[] bcast = new long[rank];
        Arrays.fill(bcast, 1);
        bcast[1] = channels;
        String shape = c.emit().ints(bcast);
        float eps = c.node().attrFloat("epsilon", 1e-5f);
        String invStd = c.op("Reshape", c.op("Reciprocal", c.op("Sqrt", c.add(c.x(4), c.scalar(eps)))), shape);
        long[] axes = new long[rank - 1];
        axes[0] = 0;
        for (int i = 2; i < rank; i++) {
            axes[i - 1] = i;
        }
        String dx = c.needs(0) ? c.mul(c.dy(), c.mul(invStd, c.op("Reshape", c.x(1), shape))) : null;
        String dscale = null;
        if (c.needs(1)) {
            String xhat = c.mul(c.sub(c.x(0), c.op("Reshape", c.x(3), shape)), invStd);
            dscale = c.reduceSum(c.mul(c.dy(), xhat), axes, false);
        }
        String db = c.needs(2) ? c.reduceSum(c.dy(), axes, false) : null;
        return c.grads(dx, dscale, db);
    }

    private static List<String> concat(GradContext c) {
        long axis = c.node().attrInt("axis", 0);
        int rank = c.shape(c.y(0)).rank();
        int a = (int) (axis < 0 ? axis + rank : axis);
        long[] sizes = new long[c.node().inputs().size()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = c.shape(c.x(i)).dim(a).value();
        }
        List<String> parts = c.emit().ops("Split", List.of(c.dy(), c.emit().ints(sizes)), Map.of("axis", attrInt(a)), sizes.length);
        List<String> out = c.none();
        for (int i = 0; i < sizes.length; i++) {
            out.set(i, c.needs(i) ? parts.get(i) : null);
        }
        return out;
    }

    /** Constant-mode Pad with non-negative pads: the gradient is the un-padded window of dY. */
    private static List<String> pad(GradContext c) {
        String mode = c.node().attrString("mode", "constant");
        if (!mode.equals("constant")) {
            throw new UnsupportedOperationException(c.node().label() + ": only constant-mode Pad is differentiable, got " + mode);
        }
        Tensor padsT = dev.forge.compiler.ops.ShapeInference.constantOf(c.emit().graph(), c.x(1));
        if (padsT == null) {
            throw new UnsupportedOperationException(c.node().label() + ": the Pad gradient needs constant pads");
        }
        long[] pads = padsT.toLongArray();
        int rank = pads.length / 2;
        if (Arrays.stream(pads).allMatch(p -> p == 0)) {
            return c.grads(c.dy());
        }
        long[] starts = new long[rank];
        long[] ends = new long[rank];
        long[] axes = new long[rank];
        for (int i = 0; i < rank; i++) {
            if (pads[i] < 0 || pads[i + rank] < 0) {
                throw new UnsupportedOperationException(c.node().label() + ": the Pad gradient needs pads >= 0");
            }
            starts[i] = pads[i];
            ends[i] = pads[i + rank] == 0 ? Long.MAX_VALUE : -pads[i + rank];
            axes[i] = i;
        }
        return c.grads(c.op("Slice", c.dy(), c.emit().ints(starts), c.emit().ints(ends), c.emit().ints(axes)));
    }

    /** The axes a reduction removed (all of them when none are given). */
    private static long[] reducedAxes(GradContext c, boolean axesAsInput) {
        int rank = c.shape(c.x(0)).rank();
        long[] axes;
        if (axesAsInput || c.emit().graph().opset() >= 18) {
            Tensor t = c.node().hasInput(1) ? dev.forge.compiler.ops.ShapeInference.constantOf(c.emit().graph(), c.x(1)) : null;
            if (c.node().hasInput(1) && t == null) {
                throw new UnsupportedOperationException(c.node().label() + ": the gradient needs constant axes");
            }
            axes = t == null ? null : t.toLongArray();
        } else {
            axes = c.node().attrInts("axes", null);
        }
        if (axes == null || axes.length == 0) {
            if (c.node().attrInt("noop_with_empty_axes", 0) != 0) {
                return new long[0];
            }
            axes = new long[rank];
            for (int i = 0; i < rank; i++) {
                axes[i] = i;
            }
        }
        long[] norm = new long[axes.length];
        for (int i = 0; i < axes.length; i++) {
            norm[i] = axes[i] < 0 ? axes[i] + rank : axes[i];
        }
        Arrays.sort(norm);
        return norm;
    }

    /** Broadcasts a reduction's output gradient back over the reduced axes. */
    private static String expandReduced(GradContext c, long[] axes) {
        String dy = c.dy();
        if (axes.length == 0) {
            return dy;
        }
        if (c.node().attrInt("keepdims", 1) == 0) {
            dy = c.op("Unsqueeze", dy, c.emit().ints(axes));
        }
        return c.op("Expand", dy, c.shapeOf(c.x(0)));
    }

    /** 1 / (number of elements each mean averaged), static when the reduced sizes are fixed. */
    private static String meanScale(GradContext c, long[] axes) {
        Shape x = c.shape(c.x(0));
        long count = 1;
        boolean fixed = true;
        for (long a : axes) {
            if (x.dim((int) a).isFixed()) {
                count *= x.dim((int) a).value();
            } else {
                fixed = false;
            }
        }
        if (fixed) {
            return c.scalar((float) (1.0 / count));
        }
        Map<String, Attribute> toFloat = Map.of("to", attrInt(1));
        String sizeY = c.op("Cast", List.of(c.op("Size", c.y(0))), toFloat);
        String sizeX = c.op("Cast", List.of(c.op("Size", c.x(0))), toFloat);
        return c.div(sizeY, sizeX);
    }
}
