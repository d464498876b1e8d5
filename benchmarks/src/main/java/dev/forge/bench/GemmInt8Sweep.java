package dev.forge.bench;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.quant.StaticQuantization;
import dev.forge.compiler.quant.TensorRange;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * When does a static INT8 Gemm pay for the QuantizeLinear of its float input in ONNX Runtime on this machine
 * (docs/QUANTIZATION.md, the cost rule {@code Quantizer.MIN_INT8_MACS_PER_INPUT})? For each (K, N) of a sweep,
 * builds a one-layer net {@code [B, K] -> Gemm(K -> N) -> output}, as a classifier head or any layer whose input
 * comes from float code, and its literal static INT8 version ({@code QuantizeLinear} on the input, a {@code QGemm}
 * with a float output; ranges: min/max over one random batch); times the two alternately at batch 64 (images/s)
 * and batch 1 (p50 latency) over {@code --rounds} rounds, and prints the median speedups (fp32 time / int8 time)
 * with their per-round spread. N is the layer's multiply-adds per quantized input element, the quantity the rule
 * compares with its threshold: the int8 product saves time in proportion to N, the quantization of the input
 * (and MLAS packing it with its row sums) costs in proportion to 1.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.GemmInt8Sweep [--rounds 5]
 *     [--seconds 0.3] [--k 256,1024,6272] [--n 2,10,32,64,128,256,512]</pre>
 */
public final class GemmInt8Sweep {
    private int rounds = 5;
    private double seconds = 0.3;
    private int[] ks = {256, 1024, 6272};
    private int[] ns = {2, 10, 32, 64, 128, 256, 512};

    private GemmInt8Sweep() {}

    /** Runs the sweep and prints the table. */
    public static void main(String[] args) throws Exception {
        GemmInt8Sweep s = new GemmInt8Sweep();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds" -> s.rounds = Integer.parseInt(args[++i]);
                case "--seconds" -> s.seconds = Double.parseDouble(args[++i]);
                case "--k" -> s.ks = ints(args[++i]);
                case "--n" -> s.ns = ints(args[++i]);
                default ->
                    throw new IllegalArgumentException(
                            "unknown option " + args[i] + "; use --rounds N --seconds S --k 256,1024 --n 10,64");
            }
        }
        System.out.printf(
                Locale.ROOT,
                "%d cores, ONNX Runtime intra-op threads %d, %d rounds of ~%.2f s per variant and batch%n%n",
                Runtime.getRuntime().availableProcessors(),
                ModelOptions.resolveIntraOpThreads(0),
                s.rounds,
                s.seconds);
        System.out.println(
                "| K | N (MACs per input element) | b64 fp32 ms | b64 int8 ms | b64 speedup | per-round min..max"
                        + " | b1 fp32 p50 ms | b1 int8 p50 ms | b1 speedup | per-round min..max |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        for (int k : s.ks) {
            for (int n : s.ns) {
                s.measure(k, n);
            }
        }
    }

    private static int[] ints(String csv) {
        String[] parts = csv.split(",");
        int[] v = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            v[i] = Integer.parseInt(parts[i].trim());
        }
        return v;
    }

    private void measure(int k, int n) {
        GraphBuilder b = new GraphBuilder("gemm_sweep").seed(0);
        Value x = b.input("x", Shape.of("N", k));
        Graph fp32 = b.output(b.linear("fc", x, n), "y").build();
        Tensor x64 = Workloads.input(fp32, 64, 1);
        Tensor x1 = Workloads.input(fp32, 1, 1);
        Map<String, TensorRange> ranges = Int8Inference.minMax(fp32, Workloads.input(fp32, 64, 2));
        StaticQuantization.Result result = StaticQuantization.builder().build().apply(fp32, ranges);
        if (!result.quantized().containsKey("fc")) {
            throw new IllegalStateException("GemmInt8Sweep(fc): expected the Gemm quantized, but it stayed float: "
                    + result.keptFloat() + "; the sweep would compare float with float");
        }
        List<Double> f64 = new ArrayList<>();
        List<Double> q64 = new ArrayList<>();
        List<Double> r64 = new ArrayList<>();
        List<Double> f1 = new ArrayList<>();
        List<Double> q1 = new ArrayList<>();
        List<Double> r1 = new ArrayList<>();
        try (Model f = Model.load(OnnxWriter.toBytes(fp32), ModelOptions.defaults());
                Model q = Model.load(OnnxWriter.toBytes(result.graph()), ModelOptions.defaults())) {
            // warm-up: first calls allocate and pick kernels
            Compare.throughput(seconds * 0.3, 64, () -> f.run(x64));
            Compare.throughput(seconds * 0.3, 64, () -> q.run(x64));
            for (int r = 0; r < rounds; r++) {
                double tf = 64e3 / Compare.throughput(seconds, 64, () -> f.run(x64));
                double tq = 64e3 / Compare.throughput(seconds, 64, () -> q.run(x64));
                f64.add(tf);
                q64.add(tq);
                r64.add(tf / tq);
                double lf = Compare.latency(seconds, () -> f.run(x1))[0];
                double lq = Compare.latency(seconds, () -> q.run(x1))[0];
                f1.add(lf);
                q1.add(lq);
                r1.add(lf / lq);
            }
        }
        System.out.printf(
                Locale.ROOT,
                "| %d | %d | %.4f | %.4f | %.2fx | %.2f..%.2f | %.4f | %.4f | %.2fx | %.2f..%.2f |%n",
                k,
                n,
                Compare.median(f64),
                Compare.median(q64),
                Compare.median(f64) / Compare.median(q64),
                min(r64),
                max(r64),
                Compare.median(f1),
                Compare.median(q1),
                Compare.median(f1) / Compare.median(q1),
                min(r1),
                max(r1));
    }

    private static double min(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
    }

    private static double max(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    }
}
