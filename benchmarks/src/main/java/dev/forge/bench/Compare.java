package dev.forge.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Datasets;
import dev.forge.compiler.data.Mnist;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.quant.Quantizer;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.Training;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Forge against PyTorch on this machine, in one run: each figure is measured alternately in Forge (this
 * JVM) and in PyTorch (benchmarks/torch/run_torch.sh, a child process), {@code --rounds} times, and the
 * table shows the medians and the ratio (above 1: Forge is faster). The machine is shared and noisy;
 * alternating and taking medians keeps the ratio honest.
 *
 * <pre>java -cp "benchmarks/target/classes:benchmarks/target/lib/*" dev.forge.bench.Compare [--rounds 3]
 *     [--seconds 3] [--only infer,train,epoch,export] [--torch benchmarks/torch/run_torch.sh]</pre>
 */
public final class Compare {

    private double ceiling;
    private int rounds = 3;
    private double seconds = 3;
    private String torch = "benchmarks/torch/run_torch.sh";
    private List<String> only = List.of("infer", "train", "epoch", "export");
    private final List<String[]> rows = new ArrayList<>();

    private Compare() {}

    /** Runs the comparison and prints the table. */
    public static void main(String[] args) throws Exception {
        Compare c = new Compare();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds" -> c.rounds = Integer.parseInt(args[++i]);
                case "--seconds" -> c.seconds = Double.parseDouble(args[++i]);
                case "--torch" -> c.torch = args[++i];
                case "--only" -> c.only = List.of(args[++i].split(","));
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i]
                            + "; use --rounds N --seconds S --only infer,train,epoch,export --torch SCRIPT");
            }
        }
        System.out.println(
                torchRun(c.torch, List.of("--env")).stream().findFirst().orElse("{}"));
        c.ceiling = sgemmCeiling();
        System.out.printf(
                Locale.ROOT,
                "machine: %s, %d cores; ceiling %.0f GFLOP/s fp32 (ONNX Runtime, 2048^3 SGEMM)%n",
                cpuName(),
                Runtime.getRuntime().availableProcessors(),
                c.ceiling);
        if (c.only.contains("infer")) {
            c.inference();
        }
        if (c.only.contains("train")) {
            c.training();
        }
        if (c.only.contains("export")) {
            c.exportComparison();
        }
        if (c.only.contains("epoch")) {
            c.epoch();
        }
        c.print();
    }

    // ---- workloads ---------------------------------------------------------------------------------

    private void inference() throws Exception {
        for (String net : List.of("simple-net", "mnist-cnn", "cifar10-net")) {
            Graph g = ModelZoo.build(net, 0);
            // the low-precision variants of the same weights; ranges from random inputs (speed does not
            // depend on the values; accuracy is tested on real data)
            Map<String, Graph> variants = new LinkedHashMap<>();
            Dataset calibration = Datasets.random(
                    Arrays.copyOfRange(
                            g.inputs().get(0).type().shape().toArrayWithWildcards(),
                            1,
                            g.inputs().get(0).type().shape().rank()),
                    1);
            variants.put(
                    "INT8 static",
                    Quantizer.int8().calibrate(calibration, 1).quantize(g).model());
            variants.put("INT8 dynamic", Quantizer.dynamicInt8().quantize(g).model());
            variants.put("FP16", Quantizer.fp16().quantize(g).model());
            Map<String, Model> low = new LinkedHashMap<>();
            try (Model m = Workloads.inferenceModel(net, 0)) {
                for (Map.Entry<String, Graph> v : variants.entrySet()) {
                    low.put(
                            v.getKey(),
                            Model.load(OnnxWriter.toBytes(v.getValue()), v.getKey(), ModelOptions.defaults()));
                }
                List<double[]> forgeP = new ArrayList<>();
                List<double[]> ptP = new ArrayList<>();
                Tensor x1 = Workloads.input(g, 1, 1);
                Tensor x64 = Workloads.input(g, 64, 1);
                List<Double> f64 = new ArrayList<>();
                List<Double> t64 = new ArrayList<>();
                Map<String, List<Double>> low64 = new LinkedHashMap<>();
                Map<String, List<Double>> low1 = new LinkedHashMap<>();
                for (String v : low.keySet()) {
                    low64.put(v, new ArrayList<>());
                    low1.put(v, new ArrayList<>());
                }
                for (int r = 0; r < rounds; r++) {
                    forgeP.add(latency(seconds, () -> m.run(x1)));
                    ptP.add(torchPercentiles("infer", net, 1));
                    f64.add(throughput(seconds, 64, () -> m.run(x64)));
                    t64.add(torchMedian("infer", net, 64, null));
                    for (Map.Entry<String, Model> v : low.entrySet()) {
                        low64.get(v.getKey())
                                .add(throughput(seconds, 64, () -> v.getValue().run(x64)));
                        low1.get(v.getKey())
                                .add(latency(seconds, () -> v.getValue().run(x1))[0]);
                    }
                }
                double[] fp = medianEach(forgeP);
                double[] tp = medianEach(ptP);
                double gf = Workloads.forwardFlops(g, 1) / (fp[0] / 1e3) / 1e9;
                row(
                        "inference latency b1 (p50/p90/p99 ms)",
                        net,
                        String.format(Locale.ROOT, "%.3f/%.3f/%.3f", fp[0], fp[1], fp[2]),
                        String.format(Locale.ROOT, "%.3f/%.3f/%.3f", tp[0], tp[1], tp[2]),
                        tp[0] / fp[0],
                        gf);
                double fT = median(f64);
                double tT = median(t64);
                row(
                        "inference throughput b64 (img/s)",
                        net,
                        fmt(fT),
                        fmt(tT),
                        fT / tT,
                        Workloads.forwardFlops(g, 1) * fT / 1e9);
                long fpBytes = OnnxWriter.toBytes(g).length;
                for (String v : low.keySet()) {
                    double t = median(low64.get(v));
                    double l = median(low1.get(v));
                    long bytes = OnnxWriter.toBytes(variants.get(v)).length;
                    // the PyTorch column stays fp32: the ratio is against the tuned fp32 peer
                    row(
                            String.format(
                                    Locale.ROOT,
                                    "%s b64 (img/s; %.2fx Forge fp32; size %.0f%%)",
                                    v,
                                    t / fT,
                                    100.0 * bytes / fpBytes),
                            net,
                            fmt(t),
                            fmt(tT),
                            t / tT,
                            Workloads.forwardFlops(g, 1) * t / 1e9);
                    row(
                            String.format(Locale.ROOT, "%s b1 p50 (ms; %.2fx Forge fp32)", v, fp[0] / l),
                            net,
                            String.format(Locale.ROOT, "%.3f", l),
                            String.format(Locale.ROOT, "%.3f", tp[0]),
                            tp[0] / l,
                            Workloads.forwardFlops(g, 1) / (l / 1e3) / 1e9);
                }
            } finally {
                low.values().forEach(Model::close);
            }
        }
    }

    private void training() throws Exception {
        for (String w : List.of("mnist-cnn:64", "cifar10-net:16", "cifar10-net:64")) {
            String net = w.split(":")[0];
            int batch = Integer.parseInt(w.split(":")[1]);
            Graph g = ModelZoo.build(net, 0);
            double lr = Workloads.lr(net);
            try (Trainer t = Workloads.trainer(net, Workloads.optimizer(net), lr, 0)) {
                Tensor x = Workloads.input(g, batch, 1);
                Tensor y = Workloads.labels(batch, 10);
                long[] step = {0};
                List<Double> forge = new ArrayList<>();
                List<Double> pt = new ArrayList<>();
                for (int r = 0; r < rounds; r++) {
                    forge.add(throughput(seconds, batch, () -> t.step(x, y, ++step[0], lr)));
                    pt.add(torchMedian("train_step", net, batch, Workloads.optimizer(net)));
                }
                double f = median(forge);
                double p = median(pt);
                row(
                        "training step " + Workloads.optimizer(net) + " b" + batch + " (img/s)",
                        net,
                        fmt(f),
                        fmt(p),
                        f / p,
                        Workloads.trainingFlops(g, 1) * f / 1e9);
            }
        }
    }

    /** Forge's export against PyTorch's own ONNX export of the same network and weights, both in ORT. */
    private void exportComparison() throws Exception {
        Path dir = Files.createTempDirectory("forge-bench-export");
        torchRun(torch, List.of("--export-onnx", dir.toString()));
        for (String net : List.of("simple-net", "mnist-cnn", "cifar10-net")) {
            Path torchOnnx = findFile(dir, net, ".onnx");
            Path weights = torchOnnx.getParent().resolve("weights");
            Graph g = ModelZoo.build(net, 0);
            if (Files.isDirectory(weights)) {
                for (Path f : Files.list(weights).toList()) {
                    String key = f.getFileName().toString().replaceFirst("\\.npy$", "");
                    g.replaceInitializer(dev.forge.models.PyTorchNames.forgeName(key, g), Npy.read(f));
                }
            }
            Graph exported = dev.forge.compiler.train.Export.inferenceModel(g, Map.of(), Map.of());
            try (Model forge = Model.load(OnnxWriter.toBytes(exported), net, ModelOptions.defaults());
                    Model theirs = Model.load(torchOnnx)) {
                for (int batch : new int[] {1, 64}) {
                    Tensor x = Workloads.input(g, batch, 1);
                    String in = theirs.inputs().get(0).name();
                    List<Double> f = new ArrayList<>();
                    List<Double> t = new ArrayList<>();
                    for (int r = 0; r < rounds; r++) {
                        f.add(throughput(seconds, batch, () -> forge.run(x)));
                        t.add(throughput(seconds, batch, () -> theirs.run(Map.of(in, x))));
                    }
                    row(
                            "ORT: Forge export vs PyTorch export b" + batch + " (img/s)",
                            net,
                            fmt(median(f)),
                            fmt(median(t)),
                            median(f) / median(t),
                            Double.NaN);
                }
            }
        }
    }

    /** One full MNIST epoch (seed settings) including loading the data and evaluating the test set. */
    private void epoch() throws Exception {
        List<Double> forge = new ArrayList<>();
        List<Double> pt = new ArrayList<>();
        for (int r = 0; r < Math.min(rounds, 2); r++) {
            long t0 = System.nanoTime();
            Dataset train = Mnist.train();
            Dataset test = Mnist.test();
            Training.of(ModelZoo.build("mnist-cnn", 0))
                    .loss(Loss.CROSS_ENTROPY)
                    .optimizer(Optimizer.adam(0.01))
                    .batchSize(64)
                    .epochs(1)
                    .seed(0)
                    .fit(train, test);
            forge.add((System.nanoTime() - t0) / 1e9);
            pt.add(torchMedian("mnist_epoch", "mnist-cnn", 64, "adam"));
        }
        row(
                "one MNIST epoch incl. data + eval (s)",
                "mnist-cnn",
                fmt(median(forge)),
                fmt(median(pt)),
                median(pt) / median(forge),
                Double.NaN);
    }

    // ---- measurement -------------------------------------------------------------------------------

    static double[] latency(double seconds, Runnable call) {
        long warm = System.nanoTime() + (long) (seconds * 0.3e9);
        while (System.nanoTime() < warm) {
            call.run();
        }
        List<Double> ms = new ArrayList<>();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < end || ms.size() < 20) {
            long t0 = System.nanoTime();
            call.run();
            ms.add((System.nanoTime() - t0) / 1e6);
        }
        ms.sort(null);
        return new double[] {pct(ms, 50), pct(ms, 90), pct(ms, 99)};
    }

    /** Items per second: the median over timed blocks of about 0.25 s each. */
    static double throughput(double seconds, int itemsPerCall, Runnable call) {
        long warm = System.nanoTime() + (long) (seconds * 0.3e9);
        while (System.nanoTime() < warm) {
            call.run();
        }
        List<Double> rates = new ArrayList<>();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < end || rates.size() < 3) {
            long t0 = System.nanoTime();
            int calls = 0;
            while (System.nanoTime() - t0 < 250_000_000L || calls == 0) {
                call.run();
                calls++;
            }
            rates.add(calls * (double) itemsPerCall / ((System.nanoTime() - t0) / 1e9));
        }
        return median(rates);
    }

    private double[] torchPercentiles(String workload, String net, int batch) throws Exception {
        for (String line : torchRun(
                torch,
                List.of(
                        "--workload",
                        workload,
                        "--model",
                        net,
                        "--batch",
                        Integer.toString(batch),
                        "--seconds",
                        Double.toString(seconds)))) {
            if (line.contains("\"p50\"")) {
                return new double[] {num(line, "p50"), num(line, "p90"), num(line, "p99")};
            }
        }
        throw new IllegalStateException("PyTorch printed no latency for " + workload + " " + net);
    }

    private double torchMedian(String workload, String net, int batch, String optimizer) throws Exception {
        List<String> args = new ArrayList<>(List.of(
                "--workload",
                workload,
                "--model",
                net,
                "--batch",
                Integer.toString(batch),
                "--seconds",
                Double.toString(seconds)));
        if (optimizer != null && !workload.equals("mnist_epoch")) {
            args.addAll(List.of("--optimizer", optimizer));
        }
        for (String line : torchRun(torch, args)) {
            if (workload.equals("mnist_epoch") && line.contains("\"seconds\"")) {
                return num(line, "seconds");
            }
            if (line.contains("\"median\"")) {
                return num(line, "median");
            }
        }
        throw new IllegalStateException("PyTorch printed no median for " + workload + " " + net);
    }

    static List<String> torchRun(String script, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", script));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(1800, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("PyTorch benchmark failed: " + String.join(" ", cmd) + "\n" + out);
        }
        return Arrays.stream(out.split("\n")).filter(s -> s.startsWith("{")).toList();
    }

    private static double num(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*([-0-9.eE+]+)").matcher(json);
        if (!m.find()) {
            throw new IllegalStateException("no " + key + " in " + json);
        }
        return Double.parseDouble(m.group(1));
    }

    // ---- helpers -----------------------------------------------------------------------------------

    private static Path findFile(Path dir, String net, String suffix) throws IOException {
        try (var s = Files.walk(dir)) {
            return s.filter(p -> p.toString().contains(net) && p.toString().endsWith(suffix))
                    .findFirst()
                    .orElseThrow(() ->
                            new IllegalStateException("PyTorch wrote no " + suffix + " for " + net + " under " + dir));
        }
    }

    private void row(String what, String net, String forge, String pt, double ratio, double gflops) {
        String g =
                Double.isNaN(gflops) ? "" : String.format(Locale.ROOT, "%.1f (%.0f%%)", gflops, 100 * gflops / ceiling);
        rows.add(new String[] {what, net, forge, pt, String.format(Locale.ROOT, "%.2fx", ratio), g});
        System.out.printf(
                Locale.ROOT,
                "%-44s %-12s forge %-22s pytorch %-22s ratio %s  %s%n",
                what,
                net,
                forge,
                pt,
                rows.get(rows.size() - 1)[4],
                g);
    }

    private void print() {
        System.out.println();
        System.out.println(
                "| workload | network | Forge | PyTorch | Forge/PyTorch | Forge GFLOP/s (% of SGEMM ceiling) |");
        System.out.println("| --- | --- | --- | --- | --- | --- |");
        for (String[] r : rows) {
            System.out.println("| " + String.join(" | ", r) + " |");
        }
    }

    private static String fmt(double v) {
        return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.3f", v);
    }

    private static double pct(List<Double> sorted, int p) {
        int i = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
    }

    static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static double[] medianEach(List<double[]> rows) {
        double[] out = new double[rows.get(0).length];
        for (int i = 0; i < out.length; i++) {
            List<Double> col = new ArrayList<>();
            for (double[] r : rows) {
                col.add(r[i]);
            }
            out[i] = median(col);
        }
        return out;
    }

    private static String cpuName() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException e) {
            return "unknown CPU";
        }
        return "unknown CPU";
    }

    /** 2 FMA units x 16 fp32 lanes x 2 FLOP per core per cycle (AVX-512, Zen 4/5) at the nominal clock. */
    /**
     * The FP32 ceiling this machine reaches in ONNX Runtime: a 2048x2048x2048 MatMul (MLAS SGEMM, one
     * intra-op thread per processor), median of 9 calls. Nominal peak (cores x clock x 64 FLOP/cycle)
     * is not used: the clock /proc/cpuinfo reports is the nominal one, and OpenBLAS has measured above it.
     */
    private static double sgemmCeiling() {
        int n = 2048;
        GraphBuilder b = new GraphBuilder("sgemm");
        Graph g = b.output(b.matMul(b.input("a", Shape.fixed(n, n)), b.input("b", Shape.fixed(n, n))), "c")
                .build();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        FloatBuffer data = ByteBuffer.allocateDirect(n * n * 4)
                .order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        for (int i = 0; i < n * n; i++) {
            data.put(i, (float) Math.sin(i));
        }
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(ModelOptions.resolveIntraOpThreads(0));
            try (OrtSession s = env.createSession(OnnxWriter.toBytes(g), o);
                    OnnxTensor t = OnnxTensor.createTensor(env, data, new long[] {n, n})) {
                Map<String, OnnxTensor> in = Map.of("a", t, "b", t);
                s.run(in).close();
                List<Double> ms = new ArrayList<>();
                for (int i = 0; i < 9; i++) {
                    long t0 = System.nanoTime();
                    s.run(in).close();
                    ms.add((System.nanoTime() - t0) / 1e6);
                }
                return 2.0 * n * n * n / (median(ms) / 1e3) / 1e9;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("could not measure the SGEMM ceiling: " + e.getMessage(), e);
        }
    }
}
