package dev.forge.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.RemoveUnusedInitializers;
import dev.forge.compiler.quant.Calibration;
import dev.forge.compiler.quant.CalibrationMethod;
import dev.forge.compiler.quant.DynamicQuantization;
import dev.forge.compiler.quant.QuantType;
import dev.forge.compiler.quant.Quantizer;
import dev.forge.compiler.quant.StaticQuantization;
import dev.forge.compiler.quant.TensorRange;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * INT8 inference against Forge fp32 in ONNX Runtime, in one run (docs/QUANTIZATION.md): for each seed net,
 * fp32, literal static INT8 (every layer) with uint8 activations and 7-bit weights (the pass's default), with
 * 8-bit weights, with int8 activations (S8S8), with the Convs float, dynamic INT8, and static INT8 with {@code
 * Quantizer}'s speed rules and weight-only storage (its default, also with the weight-only layers written as
 * DequantizeLinear to show what that form costs), each timed at batch 64 (images/s) and batch 1 (p50 ms), alternated
 * over {@code --rounds} rounds and reported as medians; then the 2048^3 matrix-product ceilings of this
 * machine in ONNX Runtime: float MatMul (SGEMM), u8 x s8 and u8 x u8 MatMulInteger, QLinearMatMul.
 *
 * <p>Weights are the seed-0 initialization and activation ranges the min/max over two random batches: speed
 * does not depend on the values (accuracy is tested in QuantizationEndToEndTest).
 *
 * <p>{@code --profile} instead runs fp32 and the default static INT8 of each net 40 times at batch 64 with ONNX
 * Runtime's profiler and prints the kernel time per operator, to see where INT8 time goes.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.Int8Inference [--rounds 3]
 *     [--seconds 2] [--nets simple-net,cifar10-net,mnist-cnn] [--profile]</pre>
 */
public final class Int8Inference {
    private int rounds = 3;
    private double seconds = 2;
    private List<String> nets = List.of("simple-net", "cifar10-net", "mnist-cnn");
    private boolean profile;

    private Int8Inference() {}

    /** Runs the measurements and prints the tables. */
    public static void main(String[] args) throws Exception {
        Int8Inference b = new Int8Inference();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds" -> b.rounds = Integer.parseInt(args[++i]);
                case "--seconds" -> b.seconds = Double.parseDouble(args[++i]);
                case "--nets" -> b.nets = List.of(args[++i].split(","));
                case "--profile" -> b.profile = true;
                default ->
                    throw new IllegalArgumentException(
                            "unknown option " + args[i] + "; use --rounds N --seconds S --nets a,b --profile");
            }
        }
        System.out.printf(
                Locale.ROOT,
                "%d cores, ONNX Runtime intra-op threads %d%n",
                Runtime.getRuntime().availableProcessors(),
                ModelOptions.resolveIntraOpThreads(0));
        if (b.profile) {
            b.profiles();
            return;
        }
        b.nets();
        ceilings();
    }

    private void nets() throws Exception {
        System.out.println();
        System.out.println("| network | variant | size (bytes) | b64 img/s | vs fp32 | b1 p50 ms | vs fp32 |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (String net : nets) {
            Graph g = ModelZoo.build(net, 0);
            Tensor x1 = Workloads.input(g, 1, 1);
            Tensor x64 = Workloads.input(g, 64, 1);
            Map<String, TensorRange> ranges = minMax(g, Workloads.input(g, 64, 2));
            Map<String, Graph> variants = new LinkedHashMap<>();
            variants.put("fp32", g);
            variants.put(
                    "static U8S8 (7-bit w, default)",
                    StaticQuantization.builder().build().apply(g, ranges).graph());
            variants.put(
                    "static U8S8 (8-bit w)",
                    StaticQuantization.builder()
                            .reduceRange(false)
                            .build()
                            .apply(g, ranges)
                            .graph());
            variants.put(
                    "static S8S8 (7-bit w)",
                    StaticQuantization.builder()
                            .activationType(QuantType.INT8)
                            .build()
                            .apply(g, ranges)
                            .graph());
            Set<String> convs = new java.util.TreeSet<>();
            g.nodes().stream().filter(n -> n.opType().equals("Conv")).forEach(n -> convs.add(n.name()));
            variants.put(
                    "static U8S8, Convs kept float",
                    StaticQuantization.builder()
                            .keepFloat(convs)
                            .build()
                            .apply(g, ranges)
                            .graph());
            variants.put(
                    "dynamic (7-bit w)", DynamicQuantization.defaults().apply(g).graph());
            Graph rules = speedRules().apply(g, ranges).graph();
            variants.put("static U8S8, speed rules + weight-only (Quantizer default)", rules);
            variants.put("same, weight-only as DequantizeLinear", weightOnlyAsDequantizeLinear(rules));
            Map<String, Model> models = new LinkedHashMap<>();
            Map<String, List<Double>> t64 = new LinkedHashMap<>();
            Map<String, List<Double>> l1 = new LinkedHashMap<>();
            try {
                for (Map.Entry<String, Graph> v : variants.entrySet()) {
                    models.put(v.getKey(), Model.load(OnnxWriter.toBytes(v.getValue()), ModelOptions.defaults()));
                    t64.put(v.getKey(), new ArrayList<>());
                    l1.put(v.getKey(), new ArrayList<>());
                }
                for (int r = 0; r < rounds; r++) {
                    for (Map.Entry<String, Model> m : models.entrySet()) {
                        t64.get(m.getKey())
                                .add(Compare.throughput(
                                        seconds, 64, () -> m.getValue().run(x64)));
                        l1.get(m.getKey())
                                .add(Compare.latency(seconds, () -> m.getValue().run(x1))[0]);
                    }
                }
            } finally {
                models.values().forEach(Model::close);
            }
            double fpT = Compare.median(t64.get("fp32"));
            double fpL = Compare.median(l1.get("fp32"));
            for (String v : variants.keySet()) {
                double t = Compare.median(t64.get(v));
                double l = Compare.median(l1.get(v));
                System.out.printf(
                        Locale.ROOT,
                        "| %s | %s | %d | %.0f | %.2fx | %.3f | %.2fx |%n",
                        net,
                        v,
                        OnnxWriter.toBytes(variants.get(v)).length,
                        t,
                        t / fpT,
                        l,
                        fpL / l);
            }
        }
    }

    /** Static INT8 with {@code Quantizer}'s default speed rules and weight-only storage for the layers they keep. */
    static StaticQuantization speedRules() {
        return StaticQuantization.builder()
                .minConvDepth(Quantizer.MIN_INT8_CONV_DEPTH)
                .minMacsPerInput(Quantizer.MIN_INT8_MACS_PER_INPUT)
                .weightOnly(true)
                .build();
    }

    /**
     * The same model with each weight-only {@code Mul(Cast(W_int8), scale)} written as the equivalent per-axis
     * {@code DequantizeLinear(W_int8, scale, 0)}: what that form costs, since ONNX Runtime does not constant-fold
     * DequantizeLinear.
     */
    static Graph weightOnlyAsDequantizeLinear(Graph q) {
        Graph g = q.copy();
        List<Node> out = new ArrayList<>();
        Set<String> dropped = new java.util.HashSet<>();
        for (Node n : g.nodes()) {
            if (n.opType().equals("Mul") && g.producer(n.input(0)) != null) {
                Node cast = g.producer(n.input(0));
                Tensor w = g.initializers().get(cast.input(0));
                Tensor scale = g.initializers().get(n.input(1));
                if (cast.opType().equals("Cast") && w != null && w.dtype() == DType.INT8 && scale != null) {
                    int axis = 0;
                    for (int i = 0; i < scale.rank(); i++) {
                        if (scale.shape()[i] != 1) {
                            axis = i;
                        }
                    }
                    int channels = (int) scale.size();
                    String flat = n.input(1) + "/flat";
                    g.addInitializer(flat, Tensor.of(scale.toFloatArray(), channels));
                    String zp = n.input(1) + "/zero_point";
                    g.addInitializer(zp, Tensor.ofInt8(new byte[channels], channels));
                    out.removeIf(c -> c == cast);
                    dropped.add(cast.name());
                    out.add(new Node(
                            "DequantizeLinear",
                            n.name(),
                            List.of(cast.input(0), flat, zp),
                            n.outputs(),
                            Map.of("axis", new Attribute.Int(axis))));
                    continue;
                }
            }
            out.add(n);
        }
        out.removeIf(n -> dropped.contains(n.name()));
        g.setNodes(out);
        new RemoveUnusedInitializers().run(g, new PassContext());
        return g;
    }

    private void profiles() throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        for (String net : nets) {
            Graph g = ModelZoo.build(net, 0);
            Tensor x64 = Workloads.input(g, 64, 1);
            Map<String, TensorRange> ranges = minMax(g, Workloads.input(g, 64, 2));
            Map<String, Graph> variants = new LinkedHashMap<>();
            variants.put("fp32", g);
            variants.put(
                    "static int8",
                    StaticQuantization.builder().build().apply(g, ranges).graph());
            Set<String> convs = new java.util.TreeSet<>();
            g.nodes().stream().filter(n -> n.opType().equals("Conv")).forEach(n -> convs.add(n.name()));
            variants.put(
                    "static int8, Convs float",
                    StaticQuantization.builder()
                            .keepFloat(convs)
                            .build()
                            .apply(g, ranges)
                            .graph());
            variants.put("dynamic int8", DynamicQuantization.defaults().apply(g).graph());
            variants.put("speed rules", speedRules().apply(g, ranges).graph());
            for (Map.Entry<String, Graph> v : variants.entrySet()) {
                Map<String, Double> byOp = new java.util.TreeMap<>();
                try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
                    o.setIntraOpNumThreads(ModelOptions.resolveIntraOpThreads(0));
                    o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                    o.enableProfiling(java.nio.file.Files.createTempDirectory("ort-profile")
                            .resolve("p")
                            .toString());
                    try (OrtSession s = env.createSession(OnnxWriter.toBytes(v.getValue()), o);
                            OnnxTensor in = OnnxTensor.createTensor(
                                    env, x64.buffer(), x64.shape(), DType.FLOAT32.toOnnxJavaType())) {
                        String name = g.inputs().get(0).name();
                        for (int i = 0; i < 40; i++) {
                            s.run(Map.of(name, in)).close();
                        }
                        String file = s.endProfiling();
                        String json = java.nio.file.Files.readString(java.nio.file.Path.of(file));
                        Workloads.kernelMillis(json, 40).forEach((op, ms) -> byOp.merge(op, ms, Double::sum));
                    }
                }
                StringBuilder line = new StringBuilder(net + " " + v.getKey() + " ms per batch-64 call:");
                byOp.entrySet().stream()
                        .sorted((a, b) -> Double.compare(b.getValue(), a.getValue()))
                        .forEach(e -> line.append(String.format(Locale.ROOT, " %s %.2f", e.getKey(), e.getValue())));
                System.out.println(line);
            }
        }
    }

    /**
     * Min-max ranges of every activation over one batch of inputs, by the library's calibration (speed does
     * not depend on the values; accuracy is tested on real data).
     */
    static Map<String, TensorRange> minMax(Graph graph, Tensor batch) {
        int n = (int) batch.shape()[0];
        Dataset data = NpyDataset.of(batch, Tensor.of(new long[n], n), 1);
        return Calibration.of(CalibrationMethod.minMax())
                .samples(n)
                .run(graph, data)
                .ranges();
    }

    // ---- ceilings ---------------------------------------------------------------------------------

    /**
     * 2048^3 products in ONNX Runtime (one intra-op thread per processor), median of 9 calls each, as
     * GFLOP/s-equivalent {@code 2 n^3 / t}: MatMul in float32, MatMulInteger u8 x s8 and u8 x u8 (int32 out),
     * QLinearMatMul u8 x s8 (u8 out).
     */
    private static void ceilings() throws OrtException {
        int n = 2048;
        System.out.println();
        System.out.println("| product (2048^3, ONNX Runtime) | ms | GFLOP/s-equivalent |");
        System.out.println("|---|---|---|");
        GraphBuilder f = new GraphBuilder("sgemm");
        Graph sgemm = f.output(f.matMul(f.input("a", Shape.fixed(n, n)), f.input("b", Shape.fixed(n, n))), "c")
                .build();
        print("MatMul float32 (SGEMM)", n, time(sgemm, Map.of("a", DType.FLOAT32, "b", DType.FLOAT32), n));
        for (DType bType : List.of(DType.INT8, DType.UINT8)) {
            GraphBuilder b = new GraphBuilder("int8");
            Graph g = b.output(
                            b.node(
                                    "MatMulInteger",
                                    "mm",
                                    List.of(
                                            b.input("a", DType.UINT8, Shape.fixed(n, n)),
                                            b.input("b", bType, Shape.fixed(n, n))),
                                    Map.of()),
                            "c")
                    .build();
            print(
                    "MatMulInteger u8 x " + (bType == DType.INT8 ? "s8" : "u8"),
                    n,
                    time(g, Map.of("a", DType.UINT8, "b", bType), n));
        }
        GraphBuilder q = new GraphBuilder("qlinear");
        Graph ql = q.output(
                        q.node(
                                "QLinearMatMul",
                                "mm",
                                List.of(
                                        q.input("a", DType.UINT8, Shape.fixed(n, n)),
                                        q.constant("as", Tensor.of(new float[] {0.01f})),
                                        q.constant("az", Tensor.ofUint8(new byte[] {(byte) 128})),
                                        q.input("b", DType.INT8, Shape.fixed(n, n)),
                                        q.constant("bs", Tensor.of(new float[] {0.01f})),
                                        q.constant("bz", Tensor.ofInt8(new byte[] {0})),
                                        q.constant("ys", Tensor.of(new float[] {50f})),
                                        q.constant("yz", Tensor.ofUint8(new byte[] {(byte) 128}))),
                                Map.of()),
                        "c")
                .build();
        print("QLinearMatMul u8 x s8 -> u8", n, time(ql, Map.of("a", DType.UINT8, "b", DType.INT8), n));
    }

    private static void print(String what, int n, double ms) {
        System.out.printf(Locale.ROOT, "| %s | %.1f | %.0f |%n", what, ms, 2.0 * n * n * n / (ms / 1e3) / 1e9);
    }

    private static double time(Graph g, Map<String, DType> inputs, int n) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(ModelOptions.resolveIntraOpThreads(0));
            try (OrtSession s = env.createSession(OnnxWriter.toBytes(g), o)) {
                Map<String, OnnxTensor> in = new LinkedHashMap<>();
                try {
                    for (Map.Entry<String, DType> e : inputs.entrySet()) {
                        ByteBuffer buf = ByteBuffer.allocateDirect(
                                        n * n * e.getValue().byteSize())
                                .order(ByteOrder.nativeOrder());
                        for (int i = 0; i < n * n; i++) {
                            double v = Math.sin(i);
                            if (e.getValue() == DType.FLOAT32) {
                                buf.putFloat(i * 4, (float) v);
                            } else {
                                buf.put(i, (byte) (e.getValue() == DType.INT8 ? v * 60 : 128 + v * 120));
                            }
                        }
                        in.put(
                                e.getKey(),
                                OnnxTensor.createTensor(
                                        env,
                                        buf,
                                        new long[] {n, n},
                                        e.getValue().toOnnxJavaType()));
                    }
                    s.run(in).close();
                    List<Double> ms = new ArrayList<>();
                    for (int i = 0; i < 9; i++) {
                        long t0 = System.nanoTime();
                        s.run(in).close();
                        ms.add((System.nanoTime() - t0) / 1e6);
                    }
                    return Compare.median(ms);
                } finally {
                    in.values().forEach(OnnxTensor::close);
                }
            }
        }
    }
}
