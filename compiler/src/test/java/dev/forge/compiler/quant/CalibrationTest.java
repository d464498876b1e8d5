package dev.forge.compiler.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.reference.DoubleTensor;
import dev.forge.compiler.reference.ReferenceEvaluator;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Calibration of a CNN trained on real MNIST, checked against the double-precision reference evaluator. */
class CalibrationTest {
    private static final int SAMPLES = 200;

    @Test
    void every_activation_is_calibrated_in_graph_order_and_weights_are_not() {
        Graph g = CalibrationFixtures.mnistCnn();
        List<String> names = new ArrayList<>(ActivationCollector.defaultTensors(g));
        assertEquals("input", names.get(0));
        assertEquals("logits", names.get(names.size() - 1));
        assertEquals(g.nodes().size() + 1, names.size(), names.toString());
        assertTrue(names.stream().noneMatch(g.initializers()::containsKey), names.toString());

        GraphBuilder b = new GraphBuilder("weights-only");
        Value x = b.input("x", Shape.of("N", 4));
        Value c = b.constant("c", Tensor.of(new float[] {1, 2, 3, 4}, 4));
        Value squared = b.mul(c, c); // computed from a weight alone: a weight, not an activation
        Value y = b.add(x, squared);
        Graph w = b.output(y, "y").build();
        assertEquals(List.of("x", "y"), new ArrayList<>(ActivationCollector.defaultTensors(w)));
    }

    @Test
    void min_max_ranges_on_real_mnist_equal_the_reference_evaluators() {
        Graph g = CalibrationFixtures.mnistCnn();
        Dataset test = CalibrationFixtures.mnistTest();
        // batches of 64 over 200 samples: the last one is short
        Calibration c = Calibration.of(CalibrationMethod.minMax())
                .samples(SAMPLES)
                .batchSize(64)
                .run(g, test);
        assertEquals(SAMPLES, c.samples());
        assertEquals(ActivationCollector.defaultTensors(g), c.ranges().keySet());

        Tensor x = ActivationCollector.batch(test, ActivationCollector.sampleIndices(test.size(), SAMPLES));
        Map<String, DoubleTensor> all =
                ReferenceEvaluator.runAll(g, Map.of("input", DoubleTensor.ofFloats(x.toFloatArray(), x.shape())));
        for (Map.Entry<String, TensorRange> e : c.ranges().entrySet()) {
            double min = 0;
            double max = 0;
            for (double v : all.get(e.getKey()).toDoubleArray()) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            double tol = 1e-5 * Math.max(1, max - min);
            assertEquals(min, e.getValue().min(), tol, e.getKey());
            assertEquals(max, e.getValue().max(), tol, e.getKey());
        }
        assertEquals(new TensorRange(0, 1), c.range("input"), "MNIST pixels scaled to [0, 1]");
        for (String relu : List.copyOf(c.ranges().keySet())) {
            if (g.producer(relu) != null && g.producer(relu).opType().equals("Relu")) {
                assertEquals(0f, c.range(relu).min(), relu);
            }
        }
    }

    @Test
    void percentile_and_entropy_ranges_lie_inside_min_max_and_clip_some_tensors() {
        Graph g = CalibrationFixtures.mnistCnn();
        Dataset test = CalibrationFixtures.mnistTest();
        Calibration minMax =
                Calibration.of(CalibrationMethod.minMax()).samples(SAMPLES).run(g, test);
        assertEquals(
                minMax.ranges(),
                Calibration.of(CalibrationMethod.parse("percentile:100"))
                        .samples(SAMPLES)
                        .run(g, test)
                        .ranges());
        for (String spec : List.of("percentile:99.99", "entropy")) {
            Calibration c = Calibration.of(CalibrationMethod.parse(spec))
                    .samples(SAMPLES)
                    .run(g, test);
            int clipped = 0;
            for (Map.Entry<String, TensorRange> e : c.ranges().entrySet()) {
                TensorRange m = minMax.range(e.getKey());
                TensorRange r = e.getValue();
                assertTrue(r.min() >= m.min() && r.max() <= m.max(), spec + " " + e.getKey() + ": " + r + " vs " + m);
                assertTrue(
                        r.max() > 0.3 * m.max() && r.min() < 0.3 * m.min() + 1e-6,
                        spec + " " + e.getKey() + ": " + r + " vs " + m);
                clipped += r.max() < m.max() || r.min() > m.min() ? 1 : 0;
            }
            assertTrue(
                    clipped >= 3,
                    spec + " clipped only " + clipped + " of " + c.ranges().size() + " tensors");
            assertEquals(2048, c.statistics().get("conv1").bins(), spec);
        }
    }

    @Test
    void a_pytorch_export_is_calibrated_under_its_own_tensor_names() {
        Graph g = OnnxReader.read(Path.of("../testdata/golden/mnist-cnn/opset13/model_bn.onnx"));
        Calibration c = Calibration.of(CalibrationMethod.entropy()).samples(64).run(g, CalibrationFixtures.mnistTest());
        assertEquals(
                List.of(
                        "input",
                        "/conv1/Conv_output_0",
                        "/bn1/BatchNormalization_output_0",
                        "/Relu_output_0",
                        "/pool/MaxPool_output_0",
                        "/Flatten_output_0",
                        "logits"),
                List.copyOf(c.ranges().keySet()));
        assertEquals(0f, c.range("/Relu_output_0").min());
        assertTrue(c.range("logits").max() > c.range("logits").min());
    }

    @Test
    void a_dataset_smaller_than_asked_is_used_whole_and_the_result_says_so() {
        Graph g = CalibrationFixtures.mnistCnn();
        Dataset small = CalibrationFixtures.mnistTest().subset(0, 30);
        Calibration c = Calibration.of(CalibrationMethod.entropy())
                .samples(512)
                .batchSize(16)
                .run(g, small);
        assertEquals(30, c.samples());
        assertEquals(512, c.requestedSamples());
        assertTrue(c.toString().contains("asked for 512; the dataset has only 30"), c.toString());
        assertEquals(30L * 784, c.statistics().get("input").count());
    }

    @Test
    void the_same_calibration_runs_from_onnx_bytes() {
        Graph g = CalibrationFixtures.mnistCnn();
        Dataset test = CalibrationFixtures.mnistTest();
        Calibration.Builder b =
                Calibration.of(CalibrationMethod.minMax()).samples(64).tensors(List.of("conv1", "logits"));
        Calibration fromBytes = b.run(OnnxWriter.toBytes(g), test);
        assertEquals(Set.of("conv1", "logits"), fromBytes.ranges().keySet());
        assertEquals(b.run(g, test).ranges(), fromBytes.ranges());
    }

    @Test
    void an_empty_dataset_is_refused() {
        Graph g = CalibrationFixtures.mnistCnn();
        Dataset empty = CalibrationFixtures.mnistTest().subset(0, 0);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Calibration.of(CalibrationMethod.minMax()).run(g, empty));
        assertTrue(e.getMessage().contains("the dataset is empty"), e.getMessage());
    }

    @Test
    void samples_of_the_wrong_shape_are_refused_naming_both_shapes() {
        Graph g = CalibrationFixtures.mnistCnn();
        Dataset wrong =
                NpyDataset.of(Tensor.of(new float[2 * 3 * 32 * 32], 2, 3, 32, 32), Tensor.of(new long[] {0, 1}, 2), 10);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Calibration.of(CalibrationMethod.minMax()).run(g, wrong));
        assertTrue(e.getMessage().contains("[3, 32, 32]") && e.getMessage().contains("[N,1,28,28]"), e.getMessage());
        assertTrue(e.getMessage().startsWith("ActivationCollector(mnist-tiny):"), e.getMessage());
    }

    @Test
    void a_tensor_that_is_not_an_activation_is_refused_with_the_choices() {
        Graph g = CalibrationFixtures.mnistCnn();
        for (String bad : List.of("conv9", "conv1/W")) {
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> Calibration.of(CalibrationMethod.minMax())
                            .tensors(List.of(bad))
                            .run(g, CalibrationFixtures.mnistTest()));
            assertTrue(
                    e.getMessage().contains("'" + bad + "'") && e.getMessage().contains("conv1"), e.getMessage());
        }
    }

    @Test
    void the_samples_are_spread_over_the_dataset() {
        assertEquals(List.of(0, 25, 50, 75), boxed(ActivationCollector.sampleIndices(100, 4)));
        assertEquals(List.of(0, 1, 2), boxed(ActivationCollector.sampleIndices(3, 10)));
        assertThrows(IllegalArgumentException.class, () -> ActivationCollector.sampleIndices(3, 0));
    }

    private static List<Integer> boxed(int[] a) {
        List<Integer> l = new ArrayList<>();
        for (int v : a) {
            l.add(v);
        }
        return l;
    }
}
