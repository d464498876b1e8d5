package dev.forge.bench;

import static dev.forge.compiler.autodiff.Emitter.attrInt;
import static dev.forge.compiler.autodiff.Emitter.attrInts;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * The ONNX formulations the training graphs choose between, timed against each other in ONNX Runtime:
 * each case is one small graph per alternative, run alternately, median milliseconds per call.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.OpAlternatives [--rounds 5] [--only TEXT] \
 *     [--threads N]</pre>
 *
 * <p>{@code --only} runs the cases whose title contains TEXT; {@code --threads} sets the intra-op threads (default:
 * one per core, as the single-session trainer; 1 is what each of two replicas gets).
 *
 * <p>Shapes are the seed networks': the MNIST CNN's activations (64x32x28x28, pooled 64x32x14x14) and
 * the CIFAR-10 net's fc1 at batch 16 (512x12544 weights). Inputs stay hot in cache between calls here,
 * so inside a training step each pass costs more; what matters is the order between alternatives.
 */
public final class OpAlternatives {
    private static final long[] ACT = {64, 32, 28, 28};
    /** Resize attributes of the tiled MaxPool gradient's 2x nearest-neighbour upsampling (PoolOps). */
    private static final Map<String, Attribute> NEAREST = Map.of(
            "mode",
            new Attribute.Str("nearest"),
            "coordinate_transformation_mode",
            new Attribute.Str("asymmetric"),
            "nearest_mode",
            new Attribute.Str("floor"));

    private static final long[] POOLED = {64, 32, 14, 14};
    private static final long[] FC1_W = {512, 12544};

    private OpAlternatives() {}

    /** One way of computing a case's result: builds its graph from a fresh builder. */
    private record Variant(String name, BiFunction<GraphBuilder, Map<String, Value>, Value> body) {}

    private record Case(String title, Map<String, long[]> inputs, List<Variant> variants) {}

    public static void main(String[] args) throws OrtException {
        int rounds = 5;
        String only = "";
        int threads = 0;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--rounds" -> rounds = Integer.parseInt(args[i + 1]);
                case "--only" -> only = args[i + 1];
                case "--threads" -> threads = Integer.parseInt(args[i + 1]);
                default ->
                    throw new IllegalArgumentException(
                            "unknown option " + args[i] + "; use --rounds N, --only TEXT, --threads N");
            }
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        for (Case c : cases()) {
            if (!c.title().contains(only)) {
                continue;
            }
            Map<String, List<Double>> times = new LinkedHashMap<>();
            List<OrtSession> sessions = new ArrayList<>();
            Map<String, OnnxTensor> inputs = new HashMap<>();
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                // the training sessions' level and threads (Trainer)
                options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.EXTENDED_OPT);
                options.setIntraOpNumThreads(ModelOptions.resolveIntraOpThreads(threads));
                for (Map.Entry<String, long[]> e : c.inputs().entrySet()) {
                    inputs.put(
                            e.getKey(),
                            OnnxTensor.createTensor(
                                    env, random(e.getValue(), e.getKey().hashCode()), e.getValue()));
                }
                for (Variant v : c.variants()) {
                    sessions.add(env.createSession(OnnxWriter.toBytes(graph(c, v)), options));
                    times.put(v.name(), new ArrayList<>());
                }
                for (int r = 0; r < rounds; r++) {
                    for (int i = 0; i < sessions.size(); i++) {
                        times.get(c.variants().get(i).name()).add(medianMs(sessions.get(i), inputs));
                    }
                }
            } finally {
                for (OrtSession s : sessions) {
                    s.close();
                }
                inputs.values().forEach(OnnxTensor::close);
            }
            System.out.println(c.title());
            times.forEach((name, t) -> System.out.printf(Locale.ROOT, "  %-44s %7.3f ms%n", name, Compare.median(t)));
        }
    }

    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        Map<String, Attribute> stats = Map.of("axes", attrInts(0, 2, 3), "keepdims", attrInt(1));
        cases.add(new Case(
                "BatchNorm statistic E[x^2] per channel, x 64x32x28x28",
                Map.of("x", ACT),
                List.of(
                        new Variant(
                                "ReduceSumSquare",
                                (b, in) -> b.node("ReduceSumSquare", "r", List.of(in.get("x")), stats)),
                        new Variant("ReduceMean(Mul(x, x))  [chosen]", (b, in) -> {
                            Value x = in.get("x");
                            return b.node("ReduceMean", "r", List.of(b.mul(x, x)), stats);
                        }))));
        cases.add(new Case(
                "training-mode BatchNorm block (forward y + backward dx, dscale, dB), 64x32x28x28",
                Map.of("x", ACT, "dy", ACT),
                List.of(
                        new Variant("E[x^2] - E[x]^2, folded backward  [old]", (b, in) -> bnBlock(b, in, 0)),
                        new Variant("centered xc = x - E[x]", (b, in) -> bnBlock(b, in, 1)),
                        new Variant("centered, corrected two-pass  [chosen]", (b, in) -> bnBlock(b, in, 2)),
                        new Variant("shifted by x[0, c, 0, 0]", (b, in) -> bnBlock(b, in, 3)),
                        new Variant("ORT training_mode=1 statistics, no correction", (b, in) -> bnBlock(b, in, 4)),
                        new Variant("ORT training_mode=1 statistics, corrected by d", (b, in) -> bnBlock(b, in, 5)))));
        cases.add(new Case(
                "2x nearest upsampling, 64x32x14x14 -> 64x32x28x28",
                Map.of("y", POOLED),
                List.of(
                        new Variant(
                                "Resize  [chosen]",
                                (b, in) -> b.node(
                                        "Resize",
                                        "u",
                                        List.of(
                                                in.get("y"),
                                                b.constant("roi", Tensor.of(new float[0], 0)),
                                                b.constant("scales", Tensor.of(new float[] {1, 1, 2, 2}, 4))),
                                        NEAREST)),
                        new Variant("Reshape + Expand (6-D) + Reshape", (b, in) -> {
                            Value y6 = b.reshape(in.get("y"), 64, 32, 14, 1, 14, 1);
                            Value e = b.node(
                                    "Expand",
                                    "e",
                                    List.of(y6, b.constant("to", Tensor.of(new long[] {64, 32, 14, 2, 14, 2}, 6))),
                                    Map.of());
                            return b.reshape(e, ACT);
                        }))));
        cases.add(new Case(
                "tiled MaxPool gradient: select dY_up where X == Y_up, 64x32x28x28",
                Map.of("x", ACT, "u", ACT, "d", ACT),
                List.of(
                        new Variant("Mul(dY_up, Cast(Equal))  [chosen]", (b, in) -> {
                            Value eq = b.node("Equal", "eq", List.of(in.get("x"), in.get("u")), Map.of());
                            return b.mul(in.get("d"), b.node("Cast", "c", List.of(eq), Map.of("to", attrInt(1))));
                        }),
                        new Variant("Where(Equal, dY_up, 0)", (b, in) -> {
                            Value eq = b.node("Equal", "eq", List.of(in.get("x"), in.get("u")), Map.of());
                            return b.node(
                                    "Where",
                                    "w",
                                    List.of(eq, in.get("d"), b.constant("zero", Tensor.of(new float[] {0f}))),
                                    Map.of());
                        }))));
        cases.add(new Case(
                "forward ReLU and 2x2 MaxPool, 64x32x28x28",
                Map.of("x", ACT),
                List.of(
                        new Variant("MaxPool(Relu(x))", (b, in) -> b.maxPool(b.relu(in.get("x")), 2)),
                        new Variant(
                                "Relu(MaxPool(x))  [chosen for training]",
                                (b, in) -> b.relu(b.maxPool(in.get("x"), 2))))));
        maxPoolGradient(cases, 64);
        maxPoolGradient(cases, 16);
        convWeightGradient(cases, "MNIST CNN conv1 (1->32, 5x5, pad 2, 28x28), batch 64", 64, 1, 28, 32, 5, 2);
        convWeightGradient(cases, "CIFAR-10 net conv2 (6->16, 3x3, 30x30), batch 64", 64, 6, 30, 16, 3, 0);
        convWeightGradient(cases, "LeNet-5 conv2 (6->16, 5x5, 14x14), batch 64", 64, 6, 14, 16, 5, 0);
        depthwiseWeightGradient(cases, "MobileNet v2 block (144 channels, 28x28), batch 16", 16, 144, 28);
        depthwiseWeightGradient(cases, "MobileNet v2 last block (960 channels, 7x7), batch 16", 16, 960, 7);
        Map<String, Attribute> transA = Map.of("transA", attrInt(1));
        cases.add(new Case(
                "SGD momentum on fc1 (512x12544, batch 16): b' = 0.9 b + dY^T X",
                Map.of("dy", new long[] {16, 512}, "x", new long[] {16, 12544}, "b", FC1_W),
                List.of(
                        new Variant(
                                "Gemm(dY, X, C=b, beta=0.9)",
                                (b, in) -> b.node(
                                        "Gemm",
                                        "g",
                                        List.of(in.get("dy"), in.get("x"), in.get("b")),
                                        Map.of("transA", attrInt(1), "beta", new Attribute.Float(0.9f)))),
                        new Variant("Gemm(dY, X) + Mul(b, 0.9) + Add  [chosen]", (b, in) -> {
                            Value g = b.node("Gemm", "g", List.of(in.get("dy"), in.get("x")), transA);
                            return b.add(b.mul(in.get("b"), b.constant("mu", Tensor.of(new float[] {0.9f}))), g);
                        }))));
        return cases;
    }

    /**
     * The training-mode BatchNorm block as NormalizationOps emits it (form 2), and the forms it replaced:
     * 0 = var E[x^2] - E[x]^2, BatchNormalization fed x, backward on sum(dy x) - mean sum(dy); 1 = centered
     * xc = x - mean without the correction d = E[xc]; 3 = shifted sums, xc = x - x[0, c, 0, 0] (a sample of
     * each channel instead of its mean: one reduction less, but only as good as the sample); 4 = the batch
     * mean and variance (and y) from ONNX's BatchNormalization with training_mode=1 and momentum 0, backward
     * on xc = x - mean without a correction; 5 = the same with the correction d = E[xc] in the statistics and
     * the backward (y still the kernel's, which ONNX Runtime normalizes with the rounded float32 mean: 1e-4
     * off at an offset of 1000, so a stable block would need form 2's BatchNormalization of xc as well).
     * Returns y + dx + dscale + dB (one output, so nothing is pruned; the final Adds cost the same in every
     * form).
     */
    private static Value bnBlock(GraphBuilder b, Map<String, Value> in, int form) {
        int[] id = {0};
        BiFunction<String, List<Value>, Value> op = (t, args) -> b.node(t, "n" + id[0]++, args, Map.of());
        Map<String, Attribute> stats = Map.of("axes", attrInts(0, 2, 3), "keepdims", attrInt(1));
        Value x = in.get("x");
        Value dy = in.get("dy");
        float[] ones = new float[32];
        Arrays.fill(ones, 1f);
        Value scale = b.constant("scale", Tensor.of(ones, 32));
        Value shift = b.constant("shift", Tensor.of(new float[32], 32));
        Value zeros = b.constant("zeros", Tensor.of(new float[32], 32));
        Value c = b.constant("c", Tensor.of(new long[] {32}, 1));
        Value axes = b.constant("axes", Tensor.of(new long[] {0, 2, 3}, 3));
        Value invM = b.constant("invM", Tensor.of(new float[] {1f / (64 * 28 * 28)}));
        Value eps = b.constant("eps", Tensor.of(new float[] {1e-5f}));
        if (form >= 4) {
            // statistics from ONNX's training-mode BatchNormalization (momentum 0: the running outputs are the
            // batch mean and biased variance), then the same centered backward as form 2 with d = 0
            List<Value> outs = b.node(
                    "BatchNormalization",
                    "ytrain",
                    List.of(x, scale, shift, zeros, scale),
                    Map.of(
                            "epsilon",
                            new Attribute.Float(1e-5f),
                            "momentum",
                            new Attribute.Float(0f),
                            "training_mode",
                            attrInt(1)),
                    3);
            Value meanT = b.reshape(outs.get(1), 1, 32, 1, 1);
            Value varT = b.reshape(outs.get(2), 1, 32, 1, 1);
            Value xcT = op.apply("Sub", List.of(x, meanT));
            Value dT = form == 5 ? b.node("ReduceMean", "d", List.of(xcT), stats) : null;
            if (dT != null) {
                varT = op.apply("Sub", List.of(varT, b.mul(dT, dT)));
            }
            Value invT = op.apply("Reciprocal", List.of(op.apply("Sqrt", List.of(b.add(varT, eps)))));
            Map<String, Attribute> keepT = Map.of("keepdims", attrInt(1));
            Value sDy = b.node("ReduceSum", "sdy", List.of(dy, axes), keepT);
            Value sDyXc = b.node("ReduceSum", "sdyx", List.of(b.mul(dy, xcT), axes), keepT);
            if (dT != null) {
                sDyXc = op.apply("Sub", List.of(sDyXc, b.mul(dT, sDy)));
            }
            Value k1T = b.mul(sDy, invM);
            Value k2T = b.mul(b.mul(b.mul(invT, invT), sDyXc), invM);
            Value pT = op.apply("Neg", List.of(b.mul(invT, k2T)));
            Value qT = op.apply("Neg", List.of(dT == null ? b.mul(invT, k1T) : b.add(b.mul(invT, k1T), b.mul(dT, pT))));
            Value affineT = b.node(
                    "BatchNormalization",
                    "affine",
                    List.of(
                            xcT,
                            op.apply("Reshape", List.of(pT, c)),
                            op.apply("Reshape", List.of(qT, c)),
                            zeros,
                            scale),
                    Map.of("epsilon", new Attribute.Float(0f)));
            Value dxT = b.add(b.mul(dy, invT), affineT);
            Value gradsT =
                    b.add(op.apply("Reshape", List.of(sDy, c)), op.apply("Reshape", List.of(b.mul(sDyXc, invT), c)));
            return b.add(b.add(outs.get(0), dxT), b.reshape(gradsT, 1, 32, 1, 1));
        }
        Value mean = form == 3
                ? b.node(
                        "Slice",
                        "s",
                        List.of(
                                x,
                                b.constant("s0", Tensor.of(new long[] {0, 0, 0}, 3)),
                                b.constant("s1", Tensor.of(new long[] {1, 1, 1}, 3)),
                                b.constant("sa", Tensor.of(new long[] {0, 2, 3}, 3))),
                        Map.of())
                : b.node("ReduceMean", "mean", List.of(x), stats);
        Value centered = x;
        Value d = null;
        Value var;
        if (form == 0) {
            Value sq = b.node("ReduceMean", "sq", List.of(b.mul(x, x)), stats);
            var = op.apply("Relu", List.of(op.apply("Sub", List.of(sq, b.mul(mean, mean)))));
        } else {
            centered = op.apply("Sub", List.of(x, mean));
            var = b.node("ReduceMean", "var", List.of(b.mul(centered, centered)), stats);
            if (form >= 2) {
                d = b.node("ReduceMean", "d", List.of(centered), stats);
                mean = b.add(mean, d);
                var = op.apply("Sub", List.of(var, b.mul(d, d)));
            }
        }
        Value varC = op.apply("Reshape", List.of(var, c));
        Value bnMean = form == 0
                ? op.apply("Reshape", List.of(mean, c))
                : form == 1 ? zeros : op.apply("Reshape", List.of(d, c));
        Map<String, Attribute> bnAttrs = Map.of("epsilon", new Attribute.Float(1e-5f));
        Value y = b.node("BatchNormalization", "y", List.of(centered, scale, shift, bnMean, varC), bnAttrs);
        Value inv = op.apply("Reciprocal", List.of(op.apply("Sqrt", List.of(b.add(var, eps)))));
        Value a = inv; // scale is 1
        Map<String, Attribute> keep = Map.of("keepdims", attrInt(1));
        Value sumDy = b.node("ReduceSum", "sdy", List.of(dy, axes), keep);
        Value sumDyXc = b.node("ReduceSum", "sdyx", List.of(b.mul(dy, centered), axes), keep);
        if (form == 0) {
            sumDyXc = op.apply("Sub", List.of(sumDyXc, b.mul(mean, sumDy)));
        } else if (form >= 2) {
            sumDyXc = op.apply("Sub", List.of(sumDyXc, b.mul(d, sumDy)));
        }
        Value k1 = b.mul(sumDy, invM);
        Value k2 = b.mul(b.mul(b.mul(inv, inv), sumDyXc), invM);
        Value p = op.apply("Neg", List.of(b.mul(a, k2)));
        Value q = form == 0
                ? b.mul(a, op.apply("Sub", List.of(b.mul(k2, mean), k1)))
                : op.apply("Neg", List.of(form == 1 ? b.mul(a, k1) : b.add(b.mul(a, k1), b.mul(d, p))));
        Value affine = b.node(
                "BatchNormalization",
                "affine",
                List.of(centered, op.apply("Reshape", List.of(p, c)), op.apply("Reshape", List.of(q, c)), zeros, scale),
                Map.of("epsilon", new Attribute.Float(0f)));
        Value dx = b.add(b.mul(dy, a), affine);
        Value grads =
                b.add(op.apply("Reshape", List.of(sumDy, c)), op.apply("Reshape", List.of(b.mul(sumDyXc, inv), c)));
        return b.add(b.add(y, dx), b.reshape(grads, 1, 32, 1, 1));
    }

    /**
     * 2x2 MaxPool forward and gradient on the MNIST CNN's activations (the returned dX needs Y, so both
     * run): the tiled rule PoolOps emits, against the forward Indices output scattered back.
     */
    private static void maxPoolGradient(List<Case> cases, long n) {
        long[] act = {n, 32, 28, 28};
        long[] pooled = {n, 32, 14, 14};
        Map<String, Attribute> pool = Map.of("kernel_shape", attrInts(2, 2), "strides", attrInts(2, 2));
        cases.add(new Case(
                "2x2 MaxPool forward + gradient, " + n + "x32x28x28",
                Map.of("x", act, "dy", pooled),
                List.of(
                        new Variant("Resize, Equal, Cast, tie count, Resize, Mul  [chosen]", (b, in) -> {
                            Value x = in.get("x");
                            Value y = b.node("MaxPool", "y", List.of(x), pool);
                            Value sc = b.constant("scales", Tensor.of(new float[] {1, 1, 2, 2}, 4));
                            Value up = b.node("Resize", "u", Arrays.asList(y, null, sc), NEAREST);
                            Value eq = b.node("Equal", "eq", List.of(x, up), Map.of());
                            Value mask = b.node("Cast", "m", List.of(eq), Map.of("to", attrInt(1)));
                            Value ties = b.mul(
                                    b.node("AveragePool", "t", List.of(mask), pool),
                                    b.constant("four", Tensor.of(new float[] {4f})));
                            Value g = b.node("Div", "g", List.of(in.get("dy"), ties), Map.of());
                            return b.mul(b.node("Resize", "gu", Arrays.asList(g, null, sc), NEAREST), mask);
                        }),
                        new Variant("MaxPool Indices + MaxUnpool", (b, in) -> {
                            List<Value> y = b.node("MaxPool", "y", List.of(in.get("x")), pool, 2);
                            return b.node("MaxUnpool", "un", List.of(in.get("dy"), y.get(1)), pool);
                        }),
                        new Variant("MaxPool Indices + ScatterElements", (b, in) -> {
                            List<Value> y = b.node("MaxPool", "y", List.of(in.get("x")), pool, 2);
                            long size = Arrays.stream(act).reduce(1, (p, q) -> p * q);
                            Value zeros = b.node(
                                    "ConstantOfShape",
                                    "z",
                                    List.of(b.constant("size", Tensor.of(new long[] {size}, 1))),
                                    Map.of("value", new Attribute.TensorValue(Tensor.of(new float[] {0f}, 1))));
                            Value s = b.node(
                                    "ScatterElements",
                                    "s",
                                    List.of(zeros, b.reshape(y.get(1), -1), b.reshape(in.get("dy"), -1)),
                                    Map.of("axis", attrInt(0)));
                            return b.reshape(s, act);
                        }))));
    }

    /** Conv weight gradient: a convolution over the batch axis against im2col (one-hot Conv + batched MatMul). */
    private static void convWeightGradient(
            List<Case> cases, String what, long n, long c, long h, long co, long k, long pad) {
        long ho = h + 2 * pad - k + 1;
        long patch = c * k * k;
        long[] x = {n, c, h, h};
        long[] dy = {n, co, ho, ho};
        float[] oneHot = new float[(int) (patch * patch)];
        for (int i = 0; i < patch; i++) {
            oneHot[i * (int) patch + i] = 1f; // row (channel, tap) picks input channel and tap of the same flat index
        }
        Map<String, Attribute> conv = Map.of("kernel_shape", attrInts(k, k), "pads", attrInts(pad, pad, pad, pad));
        Map<String, Attribute> swap = Map.of("perm", attrInts(1, 0, 2, 3));
        cases.add(new Case(
                "conv weight gradient, " + what + ", patch " + patch + (patch <= 64 ? " (im2col)" : " (batch axis)"),
                Map.of("x", x, "dy", dy),
                List.of(
                        new Variant("Conv over the batch axis" + (patch > 64 ? "  [chosen]" : ""), (b, in) -> {
                            Value xt = b.node("Transpose", "xt", List.of(in.get("x")), swap);
                            Value dyt = b.node("Transpose", "dyt", List.of(in.get("dy")), swap);
                            Value z = b.node(
                                    "Conv",
                                    "z",
                                    List.of(xt, dyt),
                                    Map.of("kernel_shape", attrInts(ho, ho), "pads", attrInts(pad, pad, pad, pad)));
                            return b.node("Transpose", "dw", List.of(z), swap);
                        }),
                        new Variant("one-hot Conv + batched MatMul" + (patch <= 64 ? "  [chosen]" : ""), (b, in) -> {
                            Value p = b.node(
                                    "Conv",
                                    "p",
                                    List.of(in.get("x"), b.constant("onehot", Tensor.of(oneHot, patch, c, k, k))),
                                    conv);
                            Value pt = b.node(
                                    "Transpose",
                                    "pt",
                                    List.of(b.reshape(p, n, patch, ho * ho)),
                                    Map.of("perm", attrInts(0, 2, 1)));
                            Value g = b.matMul(b.reshape(in.get("dy"), n, co, ho * ho), pt);
                            Value sum = b.node(
                                    "ReduceSum",
                                    "s",
                                    List.of(g, b.constant("axis0", Tensor.of(new long[] {0}, 1))),
                                    Map.of("keepdims", attrInt(0)));
                            return b.reshape(sum, co, c, k, k);
                        }))));
    }

    /** Depthwise 3x3 Conv (pad 1) weight gradient: per channel (before) against the group-free forms. */
    private static void depthwiseWeightGradient(List<Case> cases, String what, long n, long c, long h) {
        long taps = 9;
        long l = h * h;
        float[] oneHot = new float[9 * 9];
        for (int t = 0; t < 9; t++) {
            oneHot[t * 9 + t] = 1f;
        }
        Map<String, Attribute> conv = Map.of("kernel_shape", attrInts(3, 3), "pads", attrInts(1, 1, 1, 1));
        Map<String, Attribute> lastTwo = Map.of("perm", attrInts(0, 1, 3, 2));
        BiFunction<GraphBuilder, Value, Value> columns = (b, x) -> {
            // [N, C, 1, H+2, W+2], one strided Slice per tap, concatenated: [N, C, 9, H, W]
            Value xp = b.node(
                    "Pad",
                    null,
                    List.of(
                            b.node(
                                    "Unsqueeze",
                                    null,
                                    List.of(x, b.constant("ax2", Tensor.of(new long[] {2}, 1))),
                                    Map.of()),
                            b.constant("pads", Tensor.of(new long[] {0, 0, 0, 1, 1, 0, 0, 0, 1, 1}, 10))),
                    Map.of());
            List<Value> cols = new ArrayList<>();
            for (int t = 0; t < taps; t++) {
                long i = t / 3;
                long j = t % 3;
                cols.add(b.node(
                        "Slice",
                        null,
                        List.of(
                                xp,
                                b.constant("s" + t, Tensor.of(new long[] {i, j}, 2)),
                                b.constant("e" + t, Tensor.of(new long[] {i + h, j + h}, 2)),
                                b.constant("a" + t, Tensor.of(new long[] {3, 4}, 2))),
                        Map.of()));
            }
            return b.reshape(b.concat(2, cols.toArray(Value[]::new)), n, c, taps, l);
        };
        BiFunction<GraphBuilder, Value, Value> sumBatch = (b, g) -> b.reshape(
                b.node(
                        "ReduceSum",
                        null,
                        List.of(g, b.constant("axis0", Tensor.of(new long[] {0}, 1))),
                        Map.of("keepdims", attrInt(0))),
                c,
                1,
                3,
                3);
        cases.add(new Case(
                "depthwise conv weight gradient, " + what,
                Map.of("x", new long[] {n, c, h, h}, "dy", new long[] {n, c, h, h}),
                List.of(
                        new Variant("per channel: Slice + one-hot Conv + MatMul, Concat (before)", (b, in) -> {
                            Value onehot = b.constant("onehot", Tensor.of(oneHot, 9, 1, 3, 3));
                            Value[] parts = new Value[(int) c];
                            Value a1 = b.constant("axis1", Tensor.of(new long[] {1}, 1));
                            for (long g = 0; g < c; g++) {
                                Value from = b.constant("from" + g, Tensor.of(new long[] {g}, 1));
                                Value to = b.constant("to" + g, Tensor.of(new long[] {g + 1}, 1));
                                Value xg = b.node("Slice", null, List.of(in.get("x"), from, to, a1), Map.of());
                                Value dyg = b.node("Slice", null, List.of(in.get("dy"), from, to, a1), Map.of());
                                Value p = b.node("Conv", null, List.of(xg, onehot), conv);
                                Value pt = b.node(
                                        "Transpose",
                                        null,
                                        List.of(b.reshape(p, n, 9, l)),
                                        Map.of("perm", attrInts(0, 2, 1)));
                                Value m = b.matMul(b.reshape(dyg, n, 1, l), pt);
                                parts[(int) g] = b.reshape(
                                        b.node(
                                                "ReduceSum",
                                                null,
                                                List.of(m, b.constant("r" + g, Tensor.of(new long[] {0}, 1))),
                                                Map.of("keepdims", attrInt(0))),
                                        1,
                                        1,
                                        3,
                                        3);
                            }
                            return b.concat(0, parts);
                        }),
                        new Variant("tap Slices + batched MatMul  [chosen when Cg x taps > 64]", (b, in) -> {
                            Value pt = b.node("Transpose", null, List.of(columns.apply(b, in.get("x"))), lastTwo);
                            return sumBatch.apply(b, b.matMul(b.reshape(in.get("dy"), n, c, 1, l), pt));
                        }),
                        new Variant("tap Slices + Mul + ReduceSum", (b, in) -> {
                            Value prod = b.mul(b.reshape(in.get("dy"), n, c, 1, l), columns.apply(b, in.get("x")));
                            Value s = b.node(
                                    "ReduceSum",
                                    null,
                                    List.of(prod, b.constant("axes03", Tensor.of(new long[] {0, 3}, 2))),
                                    Map.of("keepdims", attrInt(0)));
                            return b.reshape(s, c, 1, 3, 3);
                        }),
                        new Variant("one-hot Conv (group C) + batched MatMul  [chosen]", (b, in) -> {
                            float[] blocks = new float[(int) (c * 81)];
                            for (int g = 0; g < c; g++) {
                                System.arraycopy(oneHot, 0, blocks, g * 81, 81);
                            }
                            Map<String, Attribute> grouped = new HashMap<>(conv);
                            grouped.put("group", attrInt(c));
                            Value p = b.node(
                                    "Conv",
                                    null,
                                    List.of(in.get("x"), b.constant("onehots", Tensor.of(blocks, c * 9, 1, 3, 3))),
                                    grouped);
                            Value pt = b.node("Transpose", null, List.of(b.reshape(p, n, c, taps, l)), lastTwo);
                            return sumBatch.apply(b, b.matMul(b.reshape(in.get("dy"), n, c, 1, l), pt));
                        }))));
    }

    private static Graph graph(Case c, Variant v) {
        GraphBuilder b = new GraphBuilder(v.name().replaceAll("[^A-Za-z0-9]+", "_"));
        Map<String, Value> in = new LinkedHashMap<>();
        c.inputs().forEach((name, shape) -> in.put(name, b.input(name, Shape.fixed(shape))));
        return b.output(v.body().apply(b, in), "out").build();
    }

    /** Median of 25 timed calls after 5 warm-up calls; outputs are released unread. */
    private static double medianMs(OrtSession s, Map<String, OnnxTensor> inputs) throws OrtException {
        Map<String, OnnxTensor> feed = new HashMap<>();
        for (String name : s.getInputNames()) {
            feed.put(name, inputs.get(name));
        }
        for (int i = 0; i < 5; i++) {
            s.run(feed).close();
        }
        double[] t = new double[25];
        for (int i = 0; i < t.length; i++) {
            long t0 = System.nanoTime();
            s.run(feed).close();
            t[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(t);
        return t[t.length / 2];
    }

    private static FloatBuffer random(long[] shape, long seed) {
        long n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        FloatBuffer buf = ByteBuffer.allocateDirect((int) (n * 4))
                .order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            buf.put(i, (float) r.nextGaussian());
        }
        return buf;
    }
}
