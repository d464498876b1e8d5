package dev.forge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Mnist;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.quant.Quantizer;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Training;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** forge quantize on a CNN trained on real MNIST in the test. */
class ForgeQuantizeCliTest {
    @TempDir
    static Path dir;

    static Path trained;

    static ForgeCliTest.Result forge(String... args) {
        return ForgeCliTest.forge(args);
    }

    @BeforeAll
    static void train() {
        GraphBuilder b = new GraphBuilder("mnist-small").seed(5);
        Value x = b.input("input", Shape.of("N", 1, 28, 28));
        x = b.maxPool(
                "pool1",
                b.relu(b.batchNorm("bn1", b.conv2d("conv1", x, Conv2d.of(8, 3).padding(1)))),
                Pool2d.of(2));
        x = b.maxPool("pool2", b.relu(b.conv2d("conv2", x, Conv2d.of(16, 3).padding(1))), Pool2d.of(2));
        x = b.relu(b.linear("fc1", b.flatten(x), 64));
        Graph net = b.output(b.linear("fc2", x, 10), "logits").build();
        Graph g = Training.of(net)
                .optimizer(Optimizer.adam(0.005))
                .batchSize(32)
                .epochs(1)
                .seed(1)
                .fit(Mnist.train().subset(0, 3000), Mnist.test().subset(0, 200))
                .exportedGraph();
        trained = dir.resolve("small.onnx");
        OnnxWriter.write(g, trained);
    }

    @Test
    void static_int8_prints_the_report_and_writes_a_smaller_model_the_runtime_runs() throws Exception {
        Path out = dir.resolve("small.int8.onnx");
        ForgeCliTest.Result r = forge(
                        "quantize",
                        trained.toString(),
                        "--data",
                        "mnist",
                        "--calibration-samples",
                        "128",
                        "--eval-samples",
                        "1000",
                        "--method",
                        "percentile:99.99",
                        "--every-layer")
                .ok();
        assertTrue(Files.isRegularFile(out), r.out());
        assertTrue(r.out().contains("calibration: percentile:99.99 on 128 samples of mnist"), r.out());
        assertTrue(r.out().contains("test samples: 1000"), r.out());
        Matcher m = Pattern.compile("fp32 ([0-9.]+), quantized ([0-9.]+)").matcher(r.out());
        assertTrue(m.find(), r.out());
        double fp32 = Double.parseDouble(m.group(1));
        double int8 = Double.parseDouble(m.group(2));
        assertTrue(fp32 > 0.85, r.out());
        assertTrue(fp32 - int8 <= 0.01, r.out());
        assertTrue(Files.size(out) < 0.3 * Files.size(trained), r.out());
        assertTrue(r.out().contains("conv1") && r.out().contains("int8 per-channel weights"), r.out());
        try (Model model = Model.load(out)) {
            assertEquals(DType.FLOAT32, model.inputs().get(0).dtype());
        }
        // the normalization and other metadata of the float model survive
        assertEquals(
                OnnxReader.read(trained).metadata().keySet(),
                OnnxReader.read(out).metadata().keySet());
    }

    @Test
    void inspect_shows_each_layers_precision_and_counts_int8_weights_as_parameters() {
        Path out = dir.resolve("inspected.int8.onnx");
        forge(
                        "quantize",
                        trained.toString(),
                        "--data",
                        "mnist",
                        "--calibration-samples",
                        "64",
                        "--eval-samples",
                        "100",
                        "--every-layer",
                        "--out",
                        out.toString())
                .ok();
        String floatReport = forge("inspect", trained.toString()).ok().out();
        String report = forge("inspect", out.toString()).ok().out();
        assertTrue(!floatReport.contains("Precision"), floatReport);
        assertTrue(report.matches("(?s).*\\nconv1 +Conv +int8 .*"), report);
        assertTrue(report.matches("(?s).*\\nfc2 +Gemm +int8 .*"), report);
        assertTrue(report.matches("(?s).*\\npool1 +MaxPool +int8 .*"), report);
        assertTrue(report.matches("(?s).*\\nPrecision: +[0-9]+ int8, [0-9]+ q/dq nodes.*"), report);
        // the same parameters as the float model (whose export already folded bn1 into conv1)
        Matcher f = Pattern.compile("Trainable parameters: +([0-9,]+)").matcher(floatReport);
        Matcher q = Pattern.compile("Trainable parameters: +([0-9,]+)").matcher(report);
        assertTrue(f.find() && q.find(), report);
        assertEquals(
                Long.parseLong(f.group(1).replace(",", "")),
                Long.parseLong(q.group(1).replace(",", "")),
                report);
    }

    @Test
    void shallow_convolutions_stay_float_by_default_and_say_why() {
        ForgeCliTest.Result r = forge(
                        "quantize",
                        trained.toString(),
                        "--data",
                        "mnist",
                        "--calibration-samples",
                        "64",
                        "--eval-samples",
                        "100",
                        "--out",
                        dir.resolve("default.int8.onnx").toString())
                .ok();
        // conv1: 1*3*3, conv2: 8*3*3; fc1 (64 wide) and fc2 (10 wide) do too little per input element
        assertTrue(r.out().matches("(?s).*conv1 +fp32 +GEMM depth 9 < 256.*"), r.out());
        assertTrue(r.out().matches("(?s).*conv2 +fp32 +GEMM depth 72 < 256.*"), r.out());
        int min = Quantizer.MIN_INT8_MACS_PER_INPUT;
        assertTrue(r.out().matches("(?s).*fc1 +fp32 +64 multiply-adds per input element < " + min + ".*"), r.out());
        assertTrue(r.out().matches("(?s).*fc2 +fp32 +10 multiply-adds per input element < " + min + ".*"), r.out());
        assertTrue(r.out().contains("weights stored int8 (weight-only, restored at load)"), r.out());
        // with its weights stored int8, the all-float model is still about a quarter of the float one
        Path file = dir.resolve("default.int8.onnx");
        assertTrue(sizeOf(file) < 0.3 * sizeOf(trained), r.out());
        // inspect reads the weight-only form (Mul(Cast(int8), scale)) as int8 weights of a float layer, and
        // counts those integers as the layer's parameters, as many as the float model has
        String inspected = forge("inspect", file.toString()).ok().out();
        assertTrue(inspected.matches("(?s).*\\nfc2 +Gemm +int8 weights .*"), inspected);
        assertTrue(inspected.matches("(?s).*\\nconv1 +Conv +int8 weights .*"), inspected);
        assertEquals(
                trainableParameters(forge("inspect", trained.toString()).ok().out()), trainableParameters(inspected));
        ForgeCliTest.Result every = forge(
                        "quantize",
                        trained.toString(),
                        "--data",
                        "mnist",
                        "--calibration-samples",
                        "64",
                        "--eval-samples",
                        "100",
                        "--every-conv",
                        "--out",
                        dir.resolve("every-conv.int8.onnx").toString())
                .ok();
        // --every-conv lifts only the depth rule: conv2 (16 x 3 x 3 = 144 per input element) is quantized,
        // conv1 (8 x 3 x 3 = 72) stays float for the cost rule
        assertTrue(every.out().matches("(?s).*conv2 +int8 .*"), every.out());
        assertTrue(
                every.out().matches("(?s).*conv1 +fp32 +72 multiply-adds per input element < " + min + ".*"),
                every.out());
    }

    private static long trainableParameters(String inspectReport) {
        Matcher m = Pattern.compile("Trainable parameters: +([0-9,]+)").matcher(inspectReport);
        assertTrue(m.find(), inspectReport);
        return Long.parseLong(m.group(1).replace(",", ""));
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void dynamic_int8_needs_no_data() throws Exception {
        Path out = dir.resolve("dyn.onnx");
        ForgeCliTest.Result r = forge("quantize", trained.toString(), "--dynamic", "--out", out.toString())
                .ok();
        assertTrue(r.out().contains("dynamic INT8"), r.out());
        assertTrue(r.out().contains("fc1") && r.out().contains("fc2"), r.out());
        assertTrue(Files.isRegularFile(out));
    }

    @Test
    void fp16_halves_the_file_and_keeps_the_predictions() throws Exception {
        Path out = dir.resolve("small.fp16.onnx");
        ForgeCliTest.Result r = forge(
                        "quantize", trained.toString(), "--fp16", "--data", "mnist", "--eval-samples", "500")
                .ok();
        assertTrue(Files.isRegularFile(out), r.out());
        assertTrue(r.out().contains("FP16"), r.out());
        Matcher agreement = Pattern.compile("top-1 agreement: ([0-9.]+)").matcher(r.out());
        assertTrue(agreement.find(), r.out());
        assertTrue(Double.parseDouble(agreement.group(1)) >= 0.998, r.out()); // at most 1 of 500 differs
        assertTrue(Files.size(out) <= 0.52 * Files.size(trained), r.out());
        ForgeCliTest.Result both = forge("quantize", trained.toString(), "--fp16", "--dynamic");
        assertNotEquals(0, both.code());
        assertTrue(both.err().contains("exclude each other"), both.err());
    }

    @Test
    void npy_arrays_serve_as_calibration_and_test_data() throws Exception {
        Dataset test = Mnist.test().subset(0, 200);
        float[] x = new float[200 * 784];
        long[] y = new long[200];
        for (int i = 0; i < 200; i++) {
            test.copySample(i, x, i * 784);
            y[i] = test.label(i);
        }
        Path xs = dir.resolve("x.npy");
        Path ys = dir.resolve("y.npy");
        Npy.write(xs, Tensor.of(x, 200, 1, 28, 28));
        Npy.write(ys, Tensor.of(y, 200));
        ForgeCliTest.Result r = forge(
                        "quantize",
                        trained.toString(),
                        "--data",
                        "npy:" + xs + "," + ys,
                        "--calibration-samples",
                        "100",
                        "--out",
                        dir.resolve("npy.int8.onnx").toString())
                .ok();
        assertTrue(r.out().contains("calibration: minmax on 100 samples of npy:"), r.out());
        assertTrue(r.out().contains("test samples: 200"), r.out());
    }

    @Test
    void keep_float_leaves_the_named_layer_in_float() {
        Path out = dir.resolve("keep.onnx");
        ForgeCliTest.Result r = forge(
                        "quantize",
                        trained.toString(),
                        "--data",
                        "mnist",
                        "--calibration-samples",
                        "64",
                        "--eval-samples",
                        "200",
                        "--keep-float",
                        "fc2",
                        "--out",
                        out.toString())
                .ok();
        assertTrue(r.out().matches("(?s).*fc2 +fp32 +kept float as asked.*"), r.out());
    }

    @Test
    void bad_requests_fail_with_a_message_and_a_non_zero_exit() {
        ForgeCliTest.Result noData = forge("quantize", trained.toString());
        assertNotEquals(0, noData.code());
        assertTrue(noData.err().contains("--data") && noData.err().contains("--dynamic"), noData.err());

        ForgeCliTest.Result method = forge("quantize", trained.toString(), "--data", "mnist", "--method", "median");
        assertNotEquals(0, method.code());
        assertTrue(method.err().contains("minmax") && method.err().contains("entropy"), method.err());

        Path once = dir.resolve("once.onnx");
        forge("quantize", trained.toString(), "--dynamic", "--out", once.toString())
                .ok();
        ForgeCliTest.Result twice = forge(
                "quantize",
                once.toString(),
                "--dynamic",
                "--out",
                dir.resolve("twice.onnx").toString());
        assertNotEquals(0, twice.code());
        assertTrue(twice.err().contains("already quantized"), twice.err());
        assertTrue(!Files.exists(dir.resolve("twice.onnx")));

        ForgeCliTest.Result shape = forge("quantize", trained.toString(), "--data", "cifar10:" + dir);
        assertNotEquals(0, shape.code());
    }
}
