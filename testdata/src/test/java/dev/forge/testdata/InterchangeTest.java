package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.cli.Forge;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.quant.Quantizer;
import dev.forge.compiler.train.Export;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.Transfer;
import dev.forge.models.ModelZoo;
import dev.forge.runtime.Model;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every kind of model Forge writes runs in consumers other than Forge's own runtime with the same outputs
 * (docs/INTERCHANGE.md): ONNX Runtime's Node.js binding ({@code interop/run_ort_node.js}), OpenCV's DNN module
 * ({@code scripts/run_opencv_dnn.py}, an ONNX importer and engine independent of ONNX Runtime), and the
 * reference {@code onnx.checker} with {@code full_check}.
 *
 * <p>The models are built once per run into {@code target/interchange}: the four seed nets through the
 * Export API (what {@code Training...export} writes) and through {@code forge export}, their static INT8
 * (QDQ) and FP16 variants from {@link Quantizer}, and a PyTorch export imported, fine-tuned for a few steps
 * and exported again. Forge's runtime runs each on a fixed batch; each consumer runs every model once, in
 * one process, and the tests compare.
 */
class InterchangeTest {
    static final Path DIR = Path.of("target", "interchange");
    static final List<String> SEED_NETS = List.of("mnist-cnn", "simple-net", "cifar10-net", "mobilenet-mini");
    static final String FINE_TUNED = "pytorch-mnist-cnn.fine-tuned";
    static final long SEED = 1;
    static final int BATCH = 4;

    /**
     * What OpenCV 4.6 (Debian 12's python3-opencv) cannot read, by case-name pattern, with a piece of its
     * message. The test checks it still fails so, so that this list and docs/INTERCHANGE.md are updated when
     * Debian's OpenCV learns it; OpenCV 4.12 ({@code opencv-js}) reads them all.
     */
    static final Map<String, String> OPENCV_DEBIAN_CANNOT_READ = Map.of(
            // per-channel int8 weights; before that, it looks for each weight's scale under the name
            // "<weight minus its last 9 characters>scale" (ONNX Runtime's quantizer names "W_quantized", "W_scale")
            ".*\\.int8", "not found in const blobs",
            // float16 initializers
            ".*\\.fp16", "Unsupported data type: FLOAT16",
            // Clip with min and max as inputs (opset 11 on; Forge writes opset 17): only the attribute form
            "mobilenet-mini(\\.cli)?", "'node_proto.input_size() == 1'");

    /** How a model's outputs are compared; see docs/INTERCHANGE.md for the reasoning behind each. */
    enum Precision {
        FP32,
        FP16,
        INT8
    }

    record Case(String name, Precision precision, Path model) {
        Path input() {
            return DIR.resolve(name).resolve("input.npy");
        }

        Path forgeOutput() {
            return DIR.resolve(name).resolve("forge.npy");
        }

        Path output(String consumer) {
            return DIR.resolve(name).resolve(consumer + ".npy");
        }
    }

    /** One consumer's run over all cases: per case null (ran) or its error line. */
    record Run(String header, Map<String, String> errors) {}

    /** The models and every consumer's run, made on first use (once per JVM). */
    static final class Suite {
        static final List<Case> CASES = new ArrayList<>();
        static final List<Path> CHECKPOINTS = new ArrayList<>();
        static Run node;
        static Run opencvJs;
        static Run opencvDebian;

        static {
            try {
                build();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static void build() throws IOException {
            deleteRecursively(DIR);
            Files.createDirectories(DIR);
            for (String net : SEED_NETS) {
                Graph built = ModelZoo.build(net, SEED);
                long[] sample = sampleShape(built);
                Graph exported = Export.inferenceModel(built, Map.of(), Map.of());
                add(net, Precision.FP32, exported, sample, 10);
                add(net + ".cli", Precision.FP32, cliExport(net), sample, 10);
                Dataset calibration = randomData(sample, 64, 10, 20);
                Graph int8 = Quantizer.int8()
                        .calibrate(calibration, 64)
                        .everyLayer(true)
                        .quantize(exported)
                        .model();
                add(net + ".int8", Precision.INT8, int8, sample, 10);
                add(
                        net + ".fp16",
                        Precision.FP16,
                        Quantizer.fp16().quantize(exported).model(),
                        sample,
                        10);
            }
            fineTuned();
            for (Case c : CASES) {
                try (Model m = Model.load(c.model())) {
                    Npy.write(c.forgeOutput(), m.run(Npy.read(c.input())));
                }
            }
            node = run("ort-node", NodePackages.command("run_ort_node.js", manifest("ort-node")));
            opencvJs = run("opencv-js", NodePackages.command("run_opencv_js.js", manifest("opencv-js")));
            opencvDebian = run(
                    "opencv-debian",
                    List.of(
                            "/usr/bin/python3",
                            "scripts/run_opencv_dnn.py",
                            manifest("opencv-debian").toString()));
        }

        /**
         * The committed PyTorch export of the MNIST CNN (BatchNormalization kept), imported, given a new
         * 5-class head, trained four Adam steps with a checkpoint, and exported.
         */
        private static void fineTuned() throws IOException {
            Graph imported = OnnxReader.read(Golden.onnx("mnist-cnn", 17, "model_bn.onnx"));
            Graph net = Transfer.replaceHead(imported, 5, SEED);
            long[] sample = sampleShape(net);
            Path checkpoint = DIR.resolve(FINE_TUNED).resolve("checkpoint.onnx");
            Files.createDirectories(checkpoint.getParent());
            Graph exported = Training.of(net)
                    .optimizer(Optimizer.adam(0.01))
                    .batchSize(8)
                    .maxSteps(4)
                    .seed(SEED)
                    .checkpointTo(checkpoint)
                    .fit(randomData(sample, 32, 5, 30), randomData(sample, 8, 5, 31))
                    .exportedGraph();
            CHECKPOINTS.add(checkpoint);
            add(FINE_TUNED, Precision.FP32, exported, sample, 40);
        }

        /** {@code forge export NET --seed 1 --out FILE}: the builder's graph as the command line writes it. */
        private static Graph cliExport(String net) {
            Path out = DIR.resolve(net + ".cli").resolve("model.onnx");
            StringWriter stdout = new StringWriter();
            StringWriter stderr = new StringWriter();
            int code = Forge.execute(
                    new PrintWriter(stdout, true),
                    new PrintWriter(stderr, true),
                    "export",
                    net,
                    "--seed",
                    Long.toString(SEED),
                    "--out",
                    out.toString());
            assertEquals(0, code, "forge export " + net + ":\n" + stdout + stderr);
            return OnnxReader.read(out);
        }

        private static void add(String name, Precision precision, Graph g, long[] sample, long inputSeed)
                throws IOException {
            Path dir = Files.createDirectories(DIR.resolve(name));
            Path model = dir.resolve("model.onnx");
            if (!Files.exists(model)) {
                OnnxWriter.write(g, model);
            }
            Case c = new Case(name, precision, model);
            Npy.write(c.input(), gaussian(prepend(BATCH, sample), inputSeed));
            CASES.add(c);
        }

        private static Path manifest(String consumer) throws IOException {
            StringBuilder s = new StringBuilder();
            for (Case c : CASES) {
                s.append(String.join(
                                "\t",
                                c.name(),
                                c.model().toString(),
                                c.input().toString(),
                                c.output(consumer).toString()))
                        .append('\n');
            }
            Path file = DIR.resolve(consumer + ".manifest.tsv");
            Files.writeString(file, s, StandardCharsets.UTF_8);
            return file;
        }

        private static Run run(String consumer, List<String> command) throws IOException {
            External.Result r = External.run(command, 600, consumer);
            Files.writeString(DIR.resolve(consumer + ".log"), r.output(), StandardCharsets.UTF_8);
            Map<String, String> errors = new LinkedHashMap<>();
            int reported = 0;
            for (String line : r.lines()) {
                if (line.startsWith("ok ")) {
                    reported++;
                } else if (line.startsWith("error ")) {
                    String rest = line.substring("error ".length());
                    int colon = rest.indexOf(": ");
                    errors.put(rest.substring(0, colon), rest.substring(colon + 2));
                    reported++;
                }
            }
            assertTrue(
                    r.exitCode() == 0 && reported == CASES.size(),
                    consumer + " reported " + reported + " of " + CASES.size() + " models (exit " + r.exitCode()
                            + "; install its dependencies with scripts/install_deps.sh):\n" + r.output());
            return new Run(r.lines().get(0), errors);
        }
    }

    /** The case names, known before anything is built (the suite is built by the first test that runs). */
    static Stream<String> names() {
        List<String> names = new ArrayList<>();
        for (String net : SEED_NETS) {
            names.addAll(List.of(net, net + ".cli", net + ".int8", net + ".fp16"));
        }
        names.add(FINE_TUNED);
        return names.stream();
    }

    static Case find(String name) {
        return Suite.CASES.stream()
                .filter(c -> c.name().equals(name))
                .findFirst()
                .orElseThrow();
    }

    @Test
    void every_model_forge_writes_and_its_checkpoint_pass_the_full_onnx_checker() {
        List<Path> files = new ArrayList<>();
        Suite.CASES.forEach(c -> files.add(c.model()));
        files.addAll(Suite.CHECKPOINTS);
        assertEquals(names().count() + 1, files.size(), files.toString());
        OnnxChecker.assertValid(files);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("names")
    void onnx_runtime_node_gives_forges_outputs(String name) {
        assertRanAndAgrees(find(name), "ort-node", Suite.node);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("names")
    void opencv_4_12_dnn_gives_forges_outputs(String name) {
        assertRanAndAgrees(find(name), "opencv-js", Suite.opencvJs);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("names")
    void debians_opencv_4_6_dnn_gives_forges_outputs_or_fails_as_documented(String name) {
        String expected = OPENCV_DEBIAN_CANNOT_READ.entrySet().stream()
                .filter(e -> name.matches(e.getKey()))
                .map(Map.Entry::getValue)
                .findFirst()
                .orElse(null);
        if (expected == null) {
            assertRanAndAgrees(find(name), "opencv-debian", Suite.opencvDebian);
            return;
        }
        String error = Suite.opencvDebian.errors().get(name);
        assertTrue(
                error != null && error.contains(expected),
                name + ": expected Debian's OpenCV to refuse it with '" + expected + "' (docs/INTERCHANGE.md), got "
                        + (error == null ? "a result: update OPENCV_DEBIAN_CANNOT_READ and the doc" : error));
        TABLE.put(name + "\topencv-debian", expected);
    }

    private static void assertRanAndAgrees(Case c, String consumer, Run run) {
        String error = run.errors().get(c.name());
        assertEquals(null, error, run.header() + " failed on " + c.name());
        assertSameOutputs(c, consumer);
    }

    /**
     * Compares one consumer's output with Forge's runtime output {@code b}, by the case's precision:
     *
     * <ul>
     *   <li>FP32: {@code |a - b| <= 1e-4 + 1e-3|b|} per element. Engines sum the same products in different
     *       orders (im2col, Winograd, blocked GEMM, vector widths), so they differ by float32 rounding: a few
     *       units of 2^-24 times the sum of the absolute terms, far below 1e-4 for these nets (logits up to 50).
     *   <li>FP16: the same plus four float16 rounding units of the output's scale, {@code 4 * 2^-11 * max|b|}:
     *       an engine may run a float16 node in float16 (rounding each result to 11 bits) or widen its float16
     *       weights and run it in float32, and the two differ by a few float16 units.
     *   <li>INT8: the same argmax in every row, and {@code |a - b| <= s_x * max_j ||W_j||_1 + 1e-4 + 1e-3|b|}
     *       where {@code s_x} is the quantization step of the last layer's input and {@code W} its dequantized
     *       weights: the most the logits can move when an engine rounds each of that layer's quantized inputs
     *       one step differently (a tie or a last-bit difference before rounding). An engine that quantized
     *       differently beyond that, e.g. other scales or zero points, fails.
     * </ul>
     */
    static void assertSameOutputs(Case c, String consumer) {
        Tensor want = Npy.read(c.forgeOutput());
        Tensor got = Npy.read(c.output(consumer));
        assertArrayEquals(want.shape(), got.shape(), c.name() + " on " + consumer + ": output shape");
        double extra = switch (c.precision()) {
            case FP32 -> 0;
            case FP16 -> 4 * Math.scalb(1.0, -11) * maxAbs(want.toDoubleArray());
            case INT8 -> int8StepBound(c.model());
        };
        Comparison cmp = Comparison.of(want, got, extra);
        TABLE.put(c.name() + "\t" + consumer, cmp);
        String where = c.name() + " on " + consumer + ": ";
        assertTrue(
                cmp.worstExcess() <= 0,
                where + cmp + " exceeds 1e-4 + 1e-3|forge|" + (extra > 0 ? String.format(" + %.3g", extra) : ""));
        if (c.precision() == Precision.INT8) {
            assertEquals(cmp.rows(), cmp.argmaxAgree(), where + "argmax differs: " + cmp);
        }
    }

    /**
     * {@code s_x * max_j sum_i |W_ji|} for a QDQ model whose output comes from a Gemm reading {@code
     * DequantizeLinear} input and weights (every INT8 seed net), or one step of the output's quantization when
     * the output is itself dequantized.
     */
    static double int8StepBound(Path model) {
        Graph g = OnnxReader.read(model);
        Node last = g.producer(g.outputs().get(0).name());
        if (last.opType().equals("DequantizeLinear")) {
            return maxAbs(g.initializers().get(last.input(1)).toDoubleArray());
        }
        Node dqx = g.producer(last.input(0));
        Node dqw = g.producer(last.input(1));
        assertTrue(
                last.opType().equals("Gemm")
                        && dqx != null
                        && dqx.opType().equals("DequantizeLinear")
                        && dqw != null
                        && dqw.opType().equals("DequantizeLinear"),
                model + ": the output is not a Gemm of dequantized input and weights (" + last.label()
                        + "); add its quantization-step bound");
        double sx = g.initializers().get(dqx.input(1)).toDoubleArray()[0];
        Tensor q = g.initializers().get(dqw.input(0));
        double[] scales = g.initializers().get(dqw.input(1)).toDoubleArray();
        if (dqw.hasInput(2)) {
            assertEquals(0, maxAbs(g.initializers().get(dqw.input(2)).toDoubleArray()), "symmetric weights");
        }
        double[] w = q.toDoubleArray();
        boolean transB = last.attrInt("transB", 0) == 1;
        long rows = transB ? q.dim(0) : q.dim(1);
        long cols = transB ? q.dim(1) : q.dim(0);
        double worst = 0;
        for (int j = 0; j < rows; j++) {
            double norm = 0;
            for (int i = 0; i < cols; i++) {
                norm += Math.abs(w[(int) (transB ? j * cols + i : i * rows + j)]);
            }
            worst = Math.max(worst, norm * scales[scales.length == 1 ? 0 : j]);
        }
        return sx * worst;
    }

    static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
    }

    /** Results by "case<TAB>consumer": a {@link Comparison}, or the piece of a documented refusal. */
    static final Map<String, Object> TABLE = new ConcurrentSkipListMap<>();

    /**
     * Max abs difference, the worst element against its tolerance {@code 1e-4 + 1e-3|b| + extra} (at most 0
     * passes), and per-row argmax agreement.
     */
    record Comparison(double maxAbs, double maxForge, double worstExcess, int rows, int argmaxAgree) {
        static Comparison of(Tensor want, Tensor got, double extra) {
            double[] b = want.toDoubleArray();
            double[] a = got.toDoubleArray();
            double maxAbs = 0;
            double excess = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < b.length; i++) {
                double d = Math.abs(a[i] - b[i]);
                if (Double.isNaN(d)) {
                    maxAbs = Double.NaN;
                    excess = Double.POSITIVE_INFINITY;
                } else {
                    maxAbs = Math.max(maxAbs, d);
                    excess = Math.max(excess, d - (1e-4 + 1e-3 * Math.abs(b[i]) + extra));
                }
            }
            int rows = (int) want.dim(0);
            int cols = b.length / rows;
            int agree = 0;
            for (int r = 0; r < rows; r++) {
                if (argmax(a, r * cols, cols) == argmax(b, r * cols, cols)) {
                    agree++;
                }
            }
            return new Comparison(maxAbs, InterchangeTest.maxAbs(b), excess, rows, agree);
        }

        private static int argmax(double[] v, int from, int n) {
            int best = 0;
            for (int i = 1; i < n; i++) {
                if (v[from + i] > v[from + best]) {
                    best = i;
                }
            }
            return best;
        }

        @Override
        public String toString() {
            return String.format(
                    "max |diff| %.3g (max |forge| %.3g), argmax %d/%d", maxAbs, maxForge, argmaxAgree, rows);
        }
    }

    /**
     * Writes {@code target/interchange/table.md}, the table of docs/INTERCHANGE.md (max |diff| and argmax
     * agreement per model and consumer), from this run's results.
     */
    @AfterAll
    static void writeTable() throws IOException {
        if (TABLE.isEmpty()) {
            return;
        }
        List<String> consumers = List.of("ort-node", "opencv-js", "opencv-debian");
        StringBuilder s = new StringBuilder("| model | kind | max abs logit |");
        consumers.forEach(k -> s.append(' ').append(k).append(" |"));
        s.append("\n|---|---|---|");
        consumers.forEach(k -> s.append("---|"));
        s.append('\n');
        for (String name : names().toList()) {
            Case c = find(name);
            s.append("| `").append(name).append("` | ").append(c.precision()).append(" | ");
            Object any = consumers.stream()
                    .map(k -> TABLE.get(name + "\t" + k))
                    .filter(Comparison.class::isInstance)
                    .findFirst()
                    .orElse(null);
            s.append(any == null ? "-" : String.format("%.3g", ((Comparison) any).maxForge()))
                    .append(" |");
            for (String k : consumers) {
                Object r = TABLE.get(name + "\t" + k);
                if (r instanceof Comparison cmp) {
                    s.append(String.format(" %.2g, %d/%d |", cmp.maxAbs(), cmp.argmaxAgree(), cmp.rows()));
                } else if (r != null) {
                    s.append(" cannot read (").append(r).append(") |");
                } else {
                    s.append(" not run |");
                }
            }
            s.append('\n');
        }
        Files.writeString(DIR.resolve("table.md"), s, StandardCharsets.UTF_8);
    }

    static long[] sampleShape(Graph g) {
        long[] shape = g.inputs().get(0).type().shape().toArrayWithWildcards();
        long[] sample = new long[shape.length - 1];
        System.arraycopy(shape, 1, sample, 0, sample.length);
        return sample;
    }

    static long[] prepend(long n, long[] sample) {
        long[] s = new long[sample.length + 1];
        s[0] = n;
        System.arraycopy(sample, 0, s, 1, sample.length);
        return s;
    }

    /** Standard normal values from a fixed seed (Box-Muller on SplittableRandom). */
    static Tensor gaussian(long[] shape, long seed) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[Math.toIntExact(n)];
        for (int i = 0; i < x.length; i++) {
            double u = 1 - r.nextDouble();
            x[i] = (float) (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble()));
        }
        return Tensor.of(x, shape);
    }

    /** {@code n} standard-normal samples with random labels of {@code classes} classes. */
    static Dataset randomData(long[] sample, int n, int classes, long seed) {
        SplittableRandom r = new SplittableRandom(seed + 1000);
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) {
            labels[i] = r.nextInt(classes);
        }
        return NpyDataset.of(gaussian(prepend(n, sample), seed), Tensor.of(labels, n), classes);
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
