package dev.forge.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.quant.StaticQuantization;
import dev.forge.compiler.quant.TensorRange;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * When is a static INT8 Conv slower than the float one in ONNX Runtime on this machine (docs/QUANTIZATION.md)?
 * For each Conv shape of a sweep, builds a one-layer net {@code [64, C_in, H, W] -> Conv(C_out, k x k, pad k/2)
 * -> Relu -> Flatten} with seeded weights, its default static INT8 version (ranges: min/max over one random batch), and
 * times the two alternately at batch 64 over {@code --rounds} rounds of about {@code --seconds} each,
 * reporting the medians and the spread of the per-round speedups, then lists the kernels ONNX Runtime runs
 * for each (from its profiler) to show whether the QDQ Conv became a QLinearConv and where the time goes. The GEMM depth {@code C_in/groups * k * k}
 * is the column the "keep a Conv float below depth T" rule is about.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.ConvInt8Sweep [--rounds 5]
 *     [--seconds 0.5]</pre>
 */
public final class ConvInt8Sweep {
    private static final int BATCH = 64;

    private int rounds = 5;
    private double seconds = 0.5;

    private ConvInt8Sweep() {}

    /** One Conv shape of the sweep. */
    private record Case(int cIn, int cOut, int k, int hw, int groups) {
        long depth() {
            return (long) cIn / groups * k * k;
        }
    }

    /** Runs the sweep and prints the table. */
    public static void main(String[] args) throws Exception {
        ConvInt8Sweep s = new ConvInt8Sweep();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds" -> s.rounds = Integer.parseInt(args[++i]);
                case "--seconds" -> s.seconds = Double.parseDouble(args[++i]);
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i] + "; use --rounds N --seconds S");
            }
        }
        System.out.printf(
                Locale.ROOT,
                "%d cores, ONNX Runtime intra-op threads %d, batch %d, %d rounds of ~%.2f s per variant%n%n",
                Runtime.getRuntime().availableProcessors(),
                ModelOptions.resolveIntraOpThreads(0),
                BATCH,
                s.rounds,
                s.seconds);
        System.out.println("| C_in | C_out | k | H=W | groups | depth | fp32 ms | int8 ms | int8 speedup |"
                + " per-round speedup min..max | fp32 kernels (ms/call) | int8 kernels (ms/call) |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (Case c : cases()) {
            s.measure(c);
        }
    }

    /** The sweep: dense Convs by input channels and kernel, then depthwise 3x3. */
    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        for (int cIn : new int[] {1, 3, 8, 16, 32, 64, 128, 256}) {
            int cOut = Math.min(256, Math.max(16, 2 * cIn));
            int hw = cIn <= 16 ? 28 : 14;
            if (cIn >= 16) {
                cases.add(new Case(cIn, cOut, 1, hw, 1));
            }
            cases.add(new Case(cIn, cOut, 3, hw, 1));
            cases.add(new Case(cIn, cOut, 5, hw, 1));
        }
        for (int c : new int[] {32, 128}) {
            cases.add(new Case(c, c, 3, 14, c));
        }
        return cases;
    }

    private void measure(Case c) throws Exception {
        GraphBuilder b = new GraphBuilder("conv_sweep").seed(0);
        Value x = b.input("x", Shape.fixed(BATCH, c.cIn, c.hw, c.hw));
        Value y = b.relu(
                b.conv2d("conv", x, Conv2d.of(c.cOut, c.k).padding(c.k / 2).groups(c.groups)));
        // a Conv whose output is a graph output stays float (QLinearConv writes only integers); the Flatten,
        // which inherits the quantization, stands for the next layer of a real net and costs nothing
        Graph fp32 = b.output(b.flatten(y), "y").build();
        Tensor batch = Workloads.input(fp32, BATCH, 1);
        Map<String, TensorRange> ranges = Int8Inference.minMax(fp32, Workloads.input(fp32, BATCH, 2));
        StaticQuantization.Result result = StaticQuantization.builder().build().apply(fp32, ranges);
        if (!result.quantized().containsKey("conv")) {
            throw new IllegalStateException("ConvInt8Sweep(conv): expected the Conv quantized, but it stayed float: "
                    + result.keptFloat() + "; the sweep would compare float with float");
        }
        Graph int8 = result.graph();
        List<Double> fpMs = new ArrayList<>();
        List<Double> qMs = new ArrayList<>();
        List<Double> ratio = new ArrayList<>();
        try (Model f = Model.load(OnnxWriter.toBytes(fp32), ModelOptions.defaults());
                Model q = Model.load(OnnxWriter.toBytes(int8), ModelOptions.defaults())) {
            Runnable runF = () -> f.run(batch);
            Runnable runQ = () -> q.run(batch);
            // warm-up: first calls allocate and pick kernels
            msPerCall(runF, seconds * 0.4);
            msPerCall(runQ, seconds * 0.4);
            for (int r = 0; r < rounds; r++) {
                double tf = msPerCall(runF, seconds);
                double tq = msPerCall(runQ, seconds);
                fpMs.add(tf);
                qMs.add(tq);
                ratio.add(tf / tq);
            }
        }
        double tf = Compare.median(fpMs);
        double tq = Compare.median(qMs);
        int calls = (int) Math.max(3, Math.min(20, seconds * 1e3 / Math.max(tf, tq)));
        String kf = kernels(fp32, batch, calls);
        String kq = kernels(int8, batch, calls);
        System.out.printf(
                Locale.ROOT,
                "| %d | %d | %d | %d | %d | %d | %.2f | %.2f | %.2fx | %.2f..%.2f | %s | %s |%n",
                c.cIn,
                c.cOut,
                c.k,
                c.hw,
                c.groups,
                c.depth(),
                tf,
                tq,
                tf / tq,
                ratio.stream().mapToDouble(Double::doubleValue).min().orElseThrow(),
                ratio.stream().mapToDouble(Double::doubleValue).max().orElseThrow(),
                kf,
                kq);
    }

    /**
     * The operators ONNX Runtime actually runs for {@code g} after its fusions (whether the QDQ Conv became a
     * QLinearConv), with their kernel milliseconds per call from its profiler over {@code calls} calls.
     */
    private static String kernels(Graph g, Tensor batch, int calls) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, Double> byOp = new TreeMap<>();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(ModelOptions.resolveIntraOpThreads(0));
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            o.enableProfiling(
                    Files.createTempDirectory("ort-profile").resolve("p").toString());
            try (OrtSession s = env.createSession(OnnxWriter.toBytes(g), o);
                    OnnxTensor in = OnnxTensor.createTensor(
                            env, batch.buffer(), batch.shape(), DType.FLOAT32.toOnnxJavaType())) {
                String name = g.inputs().get(0).name();
                s.run(Map.of(name, in)).close();
                for (int i = 0; i < calls; i++) {
                    s.run(Map.of(name, in)).close();
                }
                String json = Files.readString(Path.of(s.endProfiling()));
                // the warm-up call is profiled too: calls + 1
                Workloads.kernelMillis(json, calls + 1).forEach((op, ms) -> byOp.merge(op, ms, Double::sum));
            }
        }
        StringBuilder out = new StringBuilder();
        byOp.entrySet().stream()
                .sorted((a, b) -> Double.compare(b.getValue(), a.getValue()))
                .forEach(e -> out.append(String.format(Locale.ROOT, "%s %.2f ", e.getKey(), e.getValue())));
        return out.toString().trim();
    }

    /** Mean milliseconds per call over a block of about {@code blockSeconds} (at least one call). */
    private static double msPerCall(Runnable call, double blockSeconds) {
        long t0 = System.nanoTime();
        int calls = 0;
        while (System.nanoTime() - t0 < (long) (blockSeconds * 1e9) || calls == 0) {
            call.run();
            calls++;
        }
        return (System.nanoTime() - t0) / 1e6 / calls;
    }
}
