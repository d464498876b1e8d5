package dev.forge.bench;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.quant.Float16Conversion;
import dev.forge.compiler.quant.Float16KernelProbe;
import dev.forge.compiler.train.Export;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.DType;
import dev.forge.runtime.Device;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * float16 against float32 on this machine's CPU for the seed networks at batch 64 (seed-0 weights,
 * BatchNorm folded): model size, median latency of the float32 model, of the {@link Float16Conversion}
 * result (probed kernels, Casts at island boundaries) and of a naive conversion of every node (ONNX
 * Runtime inserts its own Casts), and the largest output difference. Then what {@link Float16KernelProbe}
 * finds for float16 and bfloat16 on the CPU for every operator of those networks and for MatMul.
 * Numbers for {@code docs/QUANTIZATION.md}; never run in unit tests.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.Float16Benchmark [--rounds 30]</pre>
 */
public final class Float16Benchmark {
    private Float16Benchmark() {}

    public static void main(String[] args) {
        int rounds = args.length == 2 && args[0].equals("--rounds") ? Integer.parseInt(args[1]) : 30;
        List<String> nets = List.of("mnist-cnn", "cifar10-net", "mobilenet-mini");
        System.out.println(
                "net             fp32 KB  fp16 KB  ratio   fp32 ms  fp16 ms  every-node ms  max|diff|  float32 nodes");
        List<Graph> graphs = new ArrayList<>();
        for (String net : nets) {
            Graph fp32 = Export.inferenceModel(ModelZoo.build(net, 0), Map.of(), Map.of());
            graphs.add(fp32);
            Float16Conversion pass = Float16Conversion.forDevice(Device.cpu());
            Graph fp16 = pass.run(fp32.copy(), new PassContext());
            Graph every = Float16Conversion.forDevice(Device.cpu()).everyNode().run(fp32.copy(), new PassContext());
            byte[] b32 = OnnxWriter.toBytes(fp32);
            byte[] b16 = OnnxWriter.toBytes(fp16);
            Tensor x = Workloads.input(fp32, 64, 1);
            byte[][] models = {b32, b16, OnnxWriter.toBytes(every)};
            float[][] outs = new float[3][];
            double[] ms = medians(net, models, x, rounds, outs);
            float diff = 0;
            for (int i = 0; i < outs[0].length; i++) {
                diff = Math.max(diff, Math.abs(outs[0][i] - outs[1][i]));
            }
            System.out.println(String.format(
                    Locale.ROOT,
                    "%-14s %8.1f %8.1f %6.3f %9.2f %8.2f %14.2f %10.2g  %s",
                    net,
                    b32.length / 1024.0,
                    b16.length / 1024.0,
                    (double) b16.length / b32.length,
                    ms[0],
                    ms[1],
                    ms[2],
                    diff,
                    ops(pass.float32Nodes().values())));
        }
        GraphBuilder b = new GraphBuilder("matmul").seed(0);
        Value x = b.input("x", Shape.of("N", 256));
        b.output(b.matMul(x, b.parameter("w", Tensor.of(new float[256 * 256], 256, 256))), "y");
        graphs.add(b.build());
        for (DType t : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
            System.out.println();
            System.out.println(t.typeName() + " on the CPU (Float16KernelProbe):");
            Set<String> seen = new LinkedHashSet<>();
            for (Graph g : graphs) {
                for (Node n : g.nodes()) {
                    if (seen.add(n.opType() + g.type(n.input(0)).shape().rank())) {
                        Float16KernelProbe.Result r =
                                Float16KernelProbe.on(Device.cpu()).probe(g, n, t);
                        System.out.println(String.format(
                                Locale.ROOT,
                                "  %-20s %-4s %s",
                                n.opType() + " (" + g.name() + ")",
                                r.supported() ? "yes" : "no",
                                r.reason()));
                    }
                }
            }
        }
    }

    private static String ops(java.util.Collection<String> reasons) {
        Set<String> ops = new LinkedHashSet<>();
        reasons.forEach(r -> ops.add(r.substring(0, r.indexOf(':'))));
        return String.join(",", ops);
    }

    /** Median milliseconds per run of each model, the models taking turns so that load on the machine hits all alike. */
    private static double[] medians(String net, byte[][] models, Tensor x, int rounds, float[][] outs) {
        Model[] loaded = new Model[models.length];
        try {
            for (int m = 0; m < models.length; m++) {
                loaded[m] = Model.load(models[m], net, ModelOptions.defaults());
                outs[m] = loaded[m].run(x).toFloatArray();
                for (int i = 0; i < (m == models.length - 1 ? 1 : 3); i++) {
                    loaded[m].run(x);
                }
            }
            // the naive every-node model runs up to 300x slower: timed in the first 3 rounds only
            int slowRounds = Math.min(rounds, 3);
            double[][] t = new double[models.length][];
            for (int m = 0; m < models.length; m++) {
                t[m] = new double[m == models.length - 1 ? slowRounds : rounds];
            }
            for (int r = 0; r < rounds; r++) {
                for (int m = 0; m < models.length; m++) {
                    if (r >= t[m].length) {
                        continue;
                    }
                    long t0 = System.nanoTime();
                    loaded[m].run(x);
                    t[m][r] = (System.nanoTime() - t0) / 1e6;
                }
            }
            double[] med = new double[models.length];
            for (int m = 0; m < models.length; m++) {
                java.util.Arrays.sort(t[m]);
                med[m] = t[m][t[m].length / 2];
            }
            return med;
        } finally {
            for (Model m : loaded) {
                if (m != null) {
                    m.close();
                }
            }
        }
    }
}
