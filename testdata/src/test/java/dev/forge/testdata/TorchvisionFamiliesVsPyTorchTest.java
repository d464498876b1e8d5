package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.passes.OptimizerUpdate;
import dev.forge.compiler.reference.DoubleTensor;
import dev.forge.compiler.reference.ReferenceEvaluator;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Trainable;
import dev.forge.compiler.train.Trainer;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CNN families people deploy, exported from PyTorch with torchvision's own model definitions (random
 * seeded weights, 10 classes, 2 x 3 x 64 x 64 inputs) by {@code scripts/make_family_golden.py}: each export
 * is imported with {@link Trainable#prepare}, trained with Forge's {@link Trainer} one SGD step (lr 0.01) and,
 * from a fresh import, three Adam steps (lr 0.001, eps 1e-5: see the script for why) with cross-entropy on
 * the batch PyTorch trained on, and must then match PyTorch's same steps computed in float64: the eval-mode
 * outputs within 1e-3 relative (or twice PyTorch's own float32 error, where that is larger), every parameter
 * and running statistic within the tolerances below.
 *
 * <p>The exports are tens of MB each, so they are not committed: the first test runs the script into
 * {@code target/families} (Debian's python3-torchvision, see {@code scripts/install_deps.sh}) and reuses
 * them while the script's SHA-256 is unchanged. VGG's and AlexNet's 4096-wide classifiers are narrowed to
 * 256 (same layers) and their adaptive pool is 1x1; every Dropout and StochasticDepth has p=0 (the exported
 * eval graphs carry no Dropout); GoogLeNet has no auxiliary heads (see the script).
 */
class TorchvisionFamiliesVsPyTorchTest {
    static final Path SCRIPT = Path.of("scripts", "make_family_golden.py");
    static final Path DIR = Path.of("target", "families");
    static final List<String> FAMILIES = List.of(
            "mobilenet_v2",
            "mobilenet_v3_small",
            "shufflenet_v2",
            "efficientnet_b0",
            "mnasnet",
            "regnet",
            "densenet",
            // GoogLeNet's and DenseNet's parameters after SGD are checked in double precision (FLOAT32_KINKS),
            // DenseNet's three Adam steps too (ADAM_IN_DOUBLE)
            "googlenet",
            "resnet",
            "vgg_bn",
            "alexnet",
            "squeezenet");

    /*
     * Outputs after training, relative to their largest magnitude: 1e-3 (the criterion), or twice
     * PyTorch's own float32 error against the float64 oracle where that is larger. Measured (Forge; PyTorch
     * float32): after one SGD step every family is within 1e-3 (worst RegNet 9.5e-4; 8.4e-4, MnasNet 2.2e-4;
     * 2.3e-4, DenseNet 3.2e-4, the others below 1e-5). After three Adam steps PyTorch float32 itself is not
     * within 1e-3 of float64 for several families (MobileNet v2 2.1e-2, RegNet 3.7e-2, MnasNet 1.1e-2,
     * ShuffleNet 6.7e-3, EfficientNet 7.8e-4) and Forge is as close as it (2.4e-2, 3.1e-2, 1.0e-2, 5.9e-3,
     * 1.7e-3): these eval-mode outputs after three Adam steps on a batch of two amplify float32 rounding
     * (their change by training is 70-100% of their scale even at lr 1e-4), so no float32 implementation
     * can be held to 1e-3 there.
     */
    static final double OUTPUT_TOLERANCE = 1e-3;

    /*
     * Parameters and running statistics (parameterError). A wrong or missing gradient rule leaves an error
     * of the order of the whole update; float32 rounding is smaller but not small on deep BatchNorm networks
     * trained on two samples, and the outputs above are the precise check. Measured
     * worst cases, SGD: RegNet 3.4e-2 (PyTorch float32 against float64 is 4.8e-3 of the update scale on the
     * same tensors; two ReLU kinks in block 4, docs/PERFORMANCE.md), DenseNet 1.1e-2 (one kink), MnasNet 6.1e-4, MobileNet v2 and ShuffleNet 1.7e-4, the others below
     * 6e-5. After three Adam steps parameters are not compared: Adam's normalized step turns a gradient
     * near zero into a step of up to lr whose sign float32 rounding decides, so parameters differ by up to
     * 2.3 of their scale (MnasNet; MobileNet v2 1.1, RegNet 1.6, ShuffleNet 0.85, EfficientNet 0.70) while
     * the outputs agree as well as PyTorch's float32 run does; where the network is not chaotic they agree
     * well (SqueezeNet 1.7e-2, MobileNet v3 1.5e-3, ResNet 6.6e-4, VGG 3.9e-4, AlexNet 1.2e-5).
     */
    static final double PARAMETER_TOLERANCE = 5e-2;

    static final double SGD_LR = 0.01;

    static final double PARAMETER_FLOOR = 1e-3;

    /*
     * Families whose one-step float32 gradient is decided by rounding at a kink, so their parameters after
     * SGD are not compared in float32. GoogLeNet (measured): Forge's float32 update of conv3.conv.weight is
     * 11% of its scale from the float64 oracle and inception5b.branch2.0.bn.bias 19%, while Forge's gradient
     * graph evaluated in double precision by the reference evaluator gives every parameter's gradient within
     * 3e-6 of the oracle's. The float32 forward
     * pass meets two near-ties: maxpool2's outputs [1,94,6,4] and [1,94,6,3] are 1.73229935 and 1.73229865
     * in float64 (PyTorch float32 keeps them 1 ulp apart, ONNX Runtime rounds both to 1.73229957, so
     * inception3a.branch4's MaxPool picks the other one and dY goes to another conv3 output), and
     * inception5b.branch2.0's BatchNorm output [0,70,0,0] is -1.5e-5 in float64 (PyTorch float32 -2.3e-5,
     * ONNX Runtime +2.5e-6, so the ReLU passes its gradient). Both are within float32 rounding of a 60-layer
     * forward pass; the outputs after training still match (7.6e-6, PyTorch float32 5.1e-6). DenseNet: one
     * ReLU kink, see ADAM_IN_DOUBLE (its float32 parameters after SGD are 1.1e-2 of their scale off, its
     * outputs 3.2e-4).
     */
    static final Set<String> FLOAT32_KINKS = Set.of("googlenet", "densenet");

    /*
     * Families whose three Adam steps are run in double precision (the training step graph evaluated by the
     * reference evaluator) and compared with the float64 oracle, because one float32 ReLU kink decides their
     * float32 result (the float32 run is still made and its output printed). DenseNet-121 (measured): the
     * input of denseblock3.denselayer24.relu2 at [1, 24, 1, 3] is 5.77e-6 in float64; ONNX Runtime's float32
     * forward gives -1.48e-6, PyTorch's float32 1.27e-5, both about 7e-6 off (as precise as each other: the
     * layer's conv1 output is 4.7e-6 relative from float64 in Forge, 6.8e-6 in PyTorch; the logits 1.3e-5
     * and 1.4e-5), but Forge's lands below zero, so the ReLU passes no gradient there, and that dY, 23% of
     * the layer's gradient scale, is missing from every gradient upstream. PyTorch in float64 with that one
     * ReLU output zeroed is 3.2e-4 from the oracle after one SGD step and 3.8e-2 after three Adam steps,
     * which is Forge's float32 distance (3.2e-4 and 4.0e-2); the training graph in double precision is
     * within 1e-6 of it.
     */
    static final Set<String> ADAM_IN_DOUBLE = Set.of("densenet");

    /*
     * Gradients in double precision (FLOAT32_KINKS) against (p - p') / lr of the float64 oracle, relative to
     * each gradient's largest magnitude, beyond what the float32 storage of p' leaves unknown (half an ulp of
     * p' divided by lr: 6e-6 near 1, so without it a BatchNorm weight whose gradients are all about 1e-5,
     * DenseNet's norm0.weight, seems 48% off). Measured: GoogLeNet 4.9e-7, DenseNet 6.8e-12; a wrong rule is off by
     * the order of the gradient.
     */
    static final double GRADIENT_TOLERANCE = 2e-3;

    static Stream<Arguments> cases() {
        String only = System.getProperty("forge.families", "");
        List<String> names = only.isEmpty() ? FAMILIES : List.of(only.split(","));
        return names.stream().flatMap(f -> Stream.of(Arguments.of(f, "sgd"), Arguments.of(f, "adam")));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void trained_export_matches_pytorch_after_the_same_steps(String family, String optimizer) {
        String only = System.getProperty("forge.families", "");
        org.junit.jupiter.api.Assumptions.assumeTrue(
                only.isEmpty() || List.of(only.split(",")).contains(family));
        Path d = generated().resolve(family);
        Graph g = Trainable.prepare(OnnxReader.read(d.resolve("model.onnx")));
        Set<String> params = new TreeSet<>(lines(d.resolve("params.txt")));
        assertEquals(params, new TreeSet<>(g.parameters()), family + ": one trainable parameter per PyTorch parameter");
        Tensor x = Npy.read(d.resolve("input.npy"));
        Tensor y = Npy.read(d.resolve("labels.npy"));
        boolean sgd = optimizer.equals("sgd");
        Optimizer opt = sgd ? Optimizer.sgd(SGD_LR) : Optimizer.adam(0.001).withEps(1e-5);
        int steps = sgd ? 1 : 3;
        Path after = d.resolve(optimizer);
        if (sgd && FLOAT32_KINKS.contains(family)) {
            assertGradientsInDoublePrecision(family, g, x, y, after);
        }
        Map<String, Tensor> state;
        Tensor logits;
        try (Trainer t = new Trainer(TrainingGraph.build(g, Loss.CROSS_ENTROPY, opt), 0, 0)) {
            Golden.assertClose(
                    Npy.read(d.resolve("logits.npy")),
                    t.evaluate(x, y).prediction(),
                    OUTPUT_TOLERANCE,
                    family + ": eval output before training");
            for (int s = 0; s < steps; s++) {
                t.step(x, y);
            }
            state = t.state();
            logits = t.evaluate(x, y).prediction();
        }
        Tensor expected = Npy.read(after.resolve("logits.npy"));
        // PyTorch's own float32 run against the float64 oracle: the rounding noise of these steps
        double pytorch32 = relativeError(expected, Npy.read(after.resolve("logits32.npy")));
        double outputTolerance = Math.max(OUTPUT_TOLERANCE, 2 * pytorch32);
        System.out.printf(
                "%s %s: output %.3g (PyTorch float32 %.3g)%n",
                family, optimizer, relativeError(expected, logits), pytorch32);
        if (!sgd && ADAM_IN_DOUBLE.contains(family)) {
            DoubleTensor exact = trainedOutputInDoublePrecision(g, opt, steps, x, y);
            double err = relativeError(expected, exact.toTensorFloat());
            System.out.printf("%s %s: output in double precision %.3g%n", family, optimizer, err);
            assertTrue(
                    err <= DOUBLE_OUTPUT_TOLERANCE,
                    String.format(
                            "%s %s: the training step graph in double precision gives outputs %.3g from PyTorch's"
                                    + " float64 ones, more than %.0e",
                            family, optimizer, err, DOUBLE_OUTPUT_TOLERANCE));
            return;
        }
        Golden.assertClose(
                expected, logits, outputTolerance, family + " " + optimizer + ": eval output after training");
        List<String> keys = npyKeys(after);
        assertTrue(keys.containsAll(params), "oracle holds every parameter");
        double worst = 0;
        String worstKey = "";
        for (String k : keys) {
            if (k.startsWith("logits")) {
                continue;
            }
            assertTrue(state.containsKey(k), k + " is not in the trainer's state");
            double r = parameterError(Npy.read(after.resolve(k + ".npy")), state.get(k));
            if (r > worst) {
                worst = r;
                worstKey = k;
            }
        }
        System.out.printf("%s %s: worst parameter %.3g (%s)%n", family, optimizer, worst, worstKey);
        // after Adam only the outputs are compared: see PARAMETER_TOLERANCE; FLOAT32_KINKS were checked above
        assertTrue(
                !sgd || FLOAT32_KINKS.contains(family) || worst <= PARAMETER_TOLERANCE,
                String.format(
                        "%s %s: parameter %s differs from PyTorch's by %.3g of its scale (max(max|p|, %.0e)), more"
                                + " than %.0e",
                        family, optimizer, worstKey, worst, PARAMETER_FLOOR, PARAMETER_TOLERANCE));
    }

    /**
     * Evaluates the gradient graph (training-mode forward, loss, every parameter's gradient) with the
     * double-precision reference evaluator and compares each gradient with the float64 oracle's one SGD step,
     * (p - p') / lr: the exact check of the gradient rules on the whole network, immune to float32 near-ties.
     */
    static void assertGradientsInDoublePrecision(String family, Graph g, Tensor x, Tensor y, Path after) {
        TrainingGraph gt = TrainingGraph.gradients(g, Loss.CROSS_ENTROPY, false);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (ValueInfo in : gt.graph().inputs()) {
            Tensor state = gt.initialState().get(in.name());
            feeds.put(in.name(), state != null ? state : in.name().equals(gt.dataInput()) ? x : y);
        }
        Map<String, DoubleTensor> grads = ReferenceEvaluator.run(gt.graph(), ReferenceEvaluator.fromTensors(feeds));
        double worst = 0;
        String worstKey = "";
        for (String p : gt.parameters()) {
            double[] before = gt.initialState().get(p).toDoubleArray();
            double[] oracle = Npy.read(after.resolve(p + ".npy")).toDoubleArray();
            double[] grad = grads.get(p + ".grad").toDoubleArray();
            double scale = 1e-30;
            double err = 0;
            for (int i = 0; i < grad.length; i++) {
                double expected = (before[i] - oracle[i]) / SGD_LR;
                scale = Math.max(scale, Math.abs(expected));
                // p' is stored in float32: the recovered gradient is known only to half its ulp / lr
                double known = Math.ulp((float) oracle[i]) / 2 / SGD_LR;
                err = Math.max(err, Math.max(0, Math.abs(expected - grad[i]) - known));
            }
            if (err / scale > worst) {
                worst = err / scale;
                worstKey = p;
            }
        }
        System.out.printf("%s: worst gradient in double precision %.3g (%s)%n", family, worst, worstKey);
        assertTrue(
                worst <= GRADIENT_TOLERANCE,
                String.format(
                        "%s: the gradient of %s in double precision differs from PyTorch's float64 one by %.3g of its"
                                + " scale, more than %.0e",
                        family, worstKey, worst, GRADIENT_TOLERANCE));
    }

    /*
     * Outputs of the training steps run in double precision (ADAM_IN_DOUBLE) against the float64 oracle: only
     * the float32 learning rate, Adam's float32 bias corrections and the float32 oracle files separate them
     * (measured on DenseNet: 8.4e-8); a wrong rule is off by the order of the update.
     */
    static final double DOUBLE_OUTPUT_TOLERANCE = 1e-5;

    /**
     * Forge's training step graph run {@code steps} times by the double-precision reference evaluator (state
     * carried from each step's {@code .next} outputs to the next step's inputs), then its evaluation graph:
     * the outputs after training with every rounding decision exact.
     */
    static DoubleTensor trainedOutputInDoublePrecision(Graph g, Optimizer opt, int steps, Tensor x, Tensor y) {
        TrainingGraph tg = TrainingGraph.build(g, Loss.CROSS_ENTROPY, opt);
        Map<String, DoubleTensor> state = ReferenceEvaluator.fromTensors(tg.initialState());
        Graph step = tg.graph().copy();
        step.clearOutputs();
        for (String s : state.keySet()) {
            step.addOutput(new ValueInfo(s + TrainingGraph.NEXT, step.type(s + TrainingGraph.NEXT)));
        }
        for (long t = 1; t <= steps; t++) {
            Map<String, DoubleTensor> feeds = new LinkedHashMap<>(state);
            feeds.put(tg.dataInput(), DoubleTensor.of(x));
            feeds.put(TrainingGraph.TARGET, DoubleTensor.of(y));
            for (Map.Entry<String, Double> group : tg.lrGroups().entrySet()) {
                for (Map.Entry<String, Float> sc :
                        opt.scalars(t, opt.lr() * group.getValue()).entrySet()) {
                    feeds.put(
                            OptimizerUpdate.groupScalar(sc.getKey(), group.getKey()),
                            DoubleTensor.scalar(sc.getValue()));
                }
            }
            Map<String, DoubleTensor> out = ReferenceEvaluator.run(step, feeds);
            Map<String, DoubleTensor> next = new LinkedHashMap<>();
            for (String s : state.keySet()) {
                next.put(s, out.get(s + TrainingGraph.NEXT));
            }
            state = next;
        }
        Graph eval = tg.evalGraph().copy();
        eval.clearOutputs();
        eval.addOutput(new ValueInfo(tg.prediction(), eval.type(tg.prediction())));
        Map<String, DoubleTensor> feeds = new LinkedHashMap<>();
        for (ValueInfo in : eval.inputs()) {
            feeds.put(
                    in.name(),
                    state.containsKey(in.name())
                            ? state.get(in.name())
                            : in.name().equals(tg.dataInput()) ? DoubleTensor.of(x) : DoubleTensor.of(y));
        }
        return ReferenceEvaluator.run(eval, feeds).get(tg.prediction());
    }

    /**
     * {@code max|e - a| / max(max|e|, PARAMETER_FLOOR)}: relative to the tensor's scale, but absolute for
     * tensors that stay near zero (biases and running means whose gradient is mathematically zero, e.g. before
     * a BatchNorm, are float32 rounding noise of 1e-10 in Forge and 1e-17 in the float64 oracle).
     */
    static double parameterError(Tensor expected, Tensor actual) {
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        double scale = PARAMETER_FLOOR;
        double worst = 0;
        for (int i = 0; i < e.length; i++) {
            scale = Math.max(scale, Math.abs(e[i]));
            worst = Math.max(worst, Math.abs(e[i] - a[i]));
        }
        return worst / scale;
    }

    /** {@code max|e - a| / max|e|}, the measure {@link Golden#assertClose} bounds. */
    static double relativeError(Tensor expected, Tensor actual) {
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        double scale = 0;
        double worst = 0;
        for (int i = 0; i < e.length; i++) {
            scale = Math.max(scale, Math.abs(e[i]));
            worst = Math.max(worst, Math.abs(e[i] - a[i]));
        }
        return worst / Math.max(scale, 1e-30);
    }

    static List<String> npyKeys(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString())
                    .filter(f -> f.endsWith(".npy"))
                    .map(f -> f.substring(0, f.length() - 4))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The generated exports, made now unless {@code target/families} was made by this script, for these families,
     * under the installed torch, torchvision, onnx and numpy ({@link GeneratedFiles}), and the script finished
     * (it writes {@code STAMP} last, so a half-finished run is redone).
     */
    static synchronized Path generated() {
        String hash = sha256(SCRIPT);
        Path stamp = DIR.resolve("STAMP");
        String key = GeneratedFiles.key(
                SCRIPT,
                List.of("--families", String.join(",", FAMILIES)),
                List.of("torch", "torchvision", "onnx", "numpy"));
        try {
            if (GeneratedFiles.isCurrent(DIR, key)
                    && Files.exists(stamp)
                    && Files.readString(stamp).startsWith(hash + " " + String.join(",", FAMILIES))) {
                return DIR;
            }
            GeneratedFiles.invalidate(DIR);
            Process p = new ProcessBuilder(
                            "/usr/bin/python3",
                            SCRIPT.toString(),
                            "--out",
                            DIR.toString(),
                            "--families",
                            String.join(",", FAMILIES))
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(600, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("make_family_golden.py timed out:\n" + out);
            }
            assertEquals(
                    0,
                    p.exitValue(),
                    "make_family_golden.py failed; it needs PyTorch and torchvision for /usr/bin/python3 (install"
                            + " them with testdata/scripts/install_deps.sh):\n" + out);
            assertTrue(Files.readString(stamp).startsWith(hash), "the script wrote no STAMP:\n" + out);
            GeneratedFiles.markCurrent(DIR, key);
            return DIR;
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot run /usr/bin/python3 " + SCRIPT + " (install PyTorch and torchvision with"
                            + " testdata/scripts/install_deps.sh)",
                    e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static String sha256(Path file) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
