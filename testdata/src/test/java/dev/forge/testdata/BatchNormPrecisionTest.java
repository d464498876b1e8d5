package dev.forge.testdata;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.reference.DoubleTensor;
import dev.forge.compiler.reference.ReferenceEvaluator;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.TrainingGraph;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Training-mode BatchNorm when the batch mean dwarfs the batch spread (golden-training/bn-precision, made by
 * scripts/make_bn_precision_golden.py): one training step of a conv+BN net in float32 on ONNX Runtime
 * against the same step in double precision (the reference evaluator, itself checked against PyTorch
 * float64), with PyTorch float32's own error on the same step as the bar.
 */
class BatchNormPrecisionTest {
    static final Path DIR = Path.of("golden-training", "bn-precision");
    static final double LR = 0.1;
    /** Forge float32 may be this many times further from float64 than PyTorch float32 is, or {@link #FLOOR}. */
    static final double FACTOR = 4;
    /** Rounding level of a float32 result: below it either side's error is luck (PyTorch's loss: 9e-8). */
    static final double FLOOR = 1e-5;

    /** The script's BnNet: conv 3->4 3x3 (no padding), BatchNorm, relu, flatten, fc 64->3. */
    static Graph bnNet(Path weights) {
        GraphBuilder b = new GraphBuilder("bn_precision");
        Value x = b.input("input", Shape.of("N", 3, 6, 6));
        x = b.relu(b.batchNorm("bn", b.conv2d("conv", x, Conv2d.of(4, 3))));
        Graph g = b.output(b.linear("fc", b.flatten(x), 3), "logits").build();
        TrainingVsPyTorchTest.loadWeights(g, weights);
        return g;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"offset-1000", "mean-50"})
    void one_float32_training_step_on_offset_inputs_is_as_accurate_as_pytorch_float32(String name) {
        Path d = DIR.resolve(name);
        Graph g = bnNet(d.resolve("weights"));
        TrainingGraph tg = TrainingGraph.gradients(g, Loss.CROSS_ENTROPY, true);
        Tensor x = Npy.read(d.resolve("input.npy"));
        Tensor labels = Npy.read(d.resolve("labels.npy"));

        // float32 on ONNX Runtime, then one SGD step in float32 and the training-mode logits after it
        Map<String, Tensor> f32 = new HashMap<>(TrainingVsPyTorchTest.runGradients(tg, x, labels));
        Map<String, Tensor> state32 = new HashMap<>(tg.initialState());
        for (String p : tg.parameters()) {
            float[] w = state32.get(p).toFloatArray();
            float[] gr = f32.get(p + ".grad").toFloatArray();
            for (int i = 0; i < w.length; i++) {
                w[i] -= (float) LR * gr[i];
            }
            state32.put(p, Tensor.of(w, state32.get(p).shape()));
        }
        f32.put("logits_after", runGradients(tg, state32, x, labels).get("logits"));

        // the same in double precision on the reference evaluator
        Map<String, DoubleTensor> values = ReferenceEvaluator.fromTensors(tg.initialState());
        values.put(tg.dataInput(), DoubleTensor.of(x));
        values.put(TrainingGraph.TARGET, DoubleTensor.of(labels));
        Map<String, DoubleTensor> f64 = new HashMap<>(ReferenceEvaluator.run(tg.graph(), values));
        Map<String, DoubleTensor> after = new HashMap<>(values);
        for (String p : tg.parameters()) {
            double[] w = values.get(p).toDoubleArray();
            double[] gr = f64.get(p + ".grad").toDoubleArray();
            for (int i = 0; i < w.length; i++) {
                w[i] -= LR * gr[i];
            }
            after.put(p, DoubleTensor.of(w, values.get(p).shape()));
        }
        f64.put("logits_after", ReferenceEvaluator.run(tg.graph(), after).get("logits"));

        Map<String, Double> bar = pytorchErrors(d.resolve("pytorch-float32-error.txt"));
        List<String> failures = new ArrayList<>();
        StringBuilder table = new StringBuilder(name + ": result, Forge float32 error, PyTorch float32 error\n");
        for (String key : bar.keySet()) {
            if (key.equals("grad/conv.bias")) {
                continue; // a bias in front of training-mode BatchNorm has gradient 0: both are rounding noise
            }
            String forge = forgeName(key, g);
            DoubleTensor ref = f64.get(forge);
            // the double-precision reference is PyTorch float64's step (up to the graph's float32 constants:
            // ONNX momentum 0.9f makes the running statistics' weight 0.1 only to 2.4e-7)
            Tensor torch64 = Npy.read(d.resolve("f64/" + key + ".npy"));
            double refErr = relativeError(ref.toDoubleArray(), torch64.toDoubleArray());
            assertTrue(refErr < 1e-6, key + ": reference evaluator vs PyTorch float64, relative error " + refErr);
            double err = relativeError(f32.get(forge).toDoubleArray(), ref.toDoubleArray());
            table.append(String.format("  %-16s %.3g %.3g%n", key, err, bar.get(key)));
            if (err > Math.max(FACTOR * bar.get(key), FLOOR)) {
                failures.add(key);
            }
        }
        System.out.print(table);
        assertTrue(
                failures.isEmpty(),
                "float32 training step further from float64 than " + FACTOR + " x PyTorch float32's error for "
                        + failures + "\n" + table);
    }

    private static String forgeName(String key, Graph g) {
        return switch (key) {
            case "logits", "loss", "logits_after" -> key;
            case "grad/input" -> "input.grad";
            case "running_mean" -> "bn/mean" + TrainingGraph.NEXT;
            case "running_var" -> "bn/var" + TrainingGraph.NEXT;
            default -> BuilderVsPyTorchTest.forgeName(key.substring("grad/".length()), g) + ".grad";
        };
    }

    private static Map<String, Tensor> runGradients(
            TrainingGraph tg, Map<String, Tensor> state, Tensor x, Tensor labels) {
        Map<String, Tensor> in = new HashMap<>(state);
        in.put(tg.dataInput(), x);
        in.put(TrainingGraph.TARGET, labels);
        try (Model m = Model.load(OnnxWriter.toBytes(tg.graph()), "gradients", ModelOptions.defaults())) {
            return m.run(in);
        }
    }

    /** max |a - ref| / max |ref|: the error relative to the tensor's scale (as the script computes it). */
    static double relativeError(double[] a, double[] ref) {
        double scale = 0;
        double diff = 0;
        for (int i = 0; i < ref.length; i++) {
            scale = Math.max(scale, Math.abs(ref[i]));
            diff = Math.max(diff, Math.abs(a[i] - ref[i]));
        }
        return scale > 0 ? diff / scale : diff;
    }

    private static Map<String, Double> pytorchErrors(Path file) {
        Map<String, Double> out = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(file)) {
                String[] f = line.trim().split(" ");
                out.put(f[0], Double.parseDouble(f[1]));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
