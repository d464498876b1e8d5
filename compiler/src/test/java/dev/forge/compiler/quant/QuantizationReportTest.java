package dev.forge.compiler.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.NpyDataset;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.reference.DoubleTensor;
import dev.forge.compiler.reference.ReferenceEvaluator;
import dev.forge.compiler.train.Evaluation;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The accuracy report on real MNIST: a float CNN against itself and against copies whose weights carry
 * noise, with every SQNR checked against sums computed by the double-precision reference evaluator.
 */
class QuantizationReportTest {
    private static final int SAMPLES = 300;

    private static Dataset test() {
        return CalibrationFixtures.mnistTest().subset(0, SAMPLES);
    }

    /** SQNR in dB of every value of {@code noisy} against {@code clean} over the test samples, in double precision. */
    private static Map<String, Double> expectedDb(Graph clean, Graph noisy) {
        Dataset test = test();
        Tensor x = ActivationCollector.batch(test, ActivationCollector.sampleIndices(test.size(), SAMPLES));
        Map<String, DoubleTensor> in = Map.of("input", DoubleTensor.ofFloats(x.toFloatArray(), x.shape()));
        Map<String, DoubleTensor> a = ReferenceEvaluator.runAll(clean, in);
        Map<String, DoubleTensor> b = ReferenceEvaluator.runAll(noisy, in);
        Map<String, Double> db = new HashMap<>();
        for (String t : a.keySet()) {
            double[] u = a.get(t).toDoubleArray();
            double[] v = b.get(t).toDoubleArray();
            double s = 0;
            double n = 0;
            for (int i = 0; i < u.length; i++) {
                s += u[i] * u[i];
                n += (u[i] - v[i]) * (u[i] - v[i]);
            }
            db.put(t, 10 * Math.log10(s / n));
        }
        return db;
    }

    @Test
    void a_model_against_itself_agrees_everywhere_with_infinite_sqnr() {
        Graph g = CalibrationFixtures.mnistCnn();
        QuantizationReport r = QuantizationReport.builder().run(g, g.copy(), test());
        assertEquals(SAMPLES, r.samples());
        assertEquals(1.0, r.agreement());
        assertEquals(0.0, r.accuracyDrop());
        try (Model m = Model.load(OnnxWriter.toBytes(g), ModelOptions.defaults())) {
            assertEquals(Evaluation.of(m, test(), 64).accuracy(), r.floatAccuracy(), 1e-12);
        }
        assertTrue(r.floatAccuracy() > 0.8, "the fixture is trained: " + r.floatAccuracy());
        assertEquals(g.nodes().size(), r.layers().size());
        for (QuantizationReport.Layer l : r.layers()) {
            assertEquals(Double.POSITIVE_INFINITY, l.sqnrDb(), l.tensor());
            assertEquals(0.0, l.addedNoiseRatio(), l.tensor());
        }
        String text = r.toString();
        assertTrue(text.contains("top-1 agreement: 1.0000"), text);
        assertTrue(text.contains(" inf") && !text.contains("Infinity") && !text.contains("NaN"), text);
        assertTrue(text.lines().anyMatch(l -> l.trim().startsWith("conv1") && l.contains("Conv")), text);
    }

    @Test
    void a_bias_offset_of_known_power_gives_the_predicted_sqnr_at_the_logits_only() {
        Graph g = CalibrationFixtures.mnistCnn();
        Graph noisy = g.copy();
        float[] b = noisy.initializers().get("fc/B").toFloatArray();
        float[] delta = {0.3f, -0.2f, 0.1f, 0.5f, -0.4f, 0.2f, 0.0f, -0.1f, 0.3f, -0.6f};
        double deltaPower = 0;
        for (int i = 0; i < b.length; i++) {
            b[i] += delta[i];
            deltaPower += (double) delta[i] * delta[i];
        }
        noisy.replaceInitializer("fc/B", Tensor.of(b, b.length));
        QuantizationReport r = QuantizationReport.builder().batchSize(50).run(g, noisy, test());
        // every logit row moves by delta exactly: noise power = samples * |delta|^2
        Tensor x = ActivationCollector.batch(test(), ActivationCollector.sampleIndices(SAMPLES, SAMPLES));
        double signal = 0;
        for (double v : ReferenceEvaluator.runAll(
                        g, Map.of("input", DoubleTensor.ofFloats(x.toFloatArray(), x.shape())))
                .get("logits")
                .toDoubleArray()) {
            signal += v * v;
        }
        double predicted = 10 * Math.log10(signal / (SAMPLES * deltaPower));
        for (QuantizationReport.Layer l : r.layers()) {
            if (l.tensor().equals("logits")) {
                assertEquals(predicted, l.sqnrDb(), 0.01);
                assertEquals(
                        1 / Math.pow(10, predicted / 10), l.addedNoiseRatio(), 1e-3 / Math.pow(10, predicted / 10));
            } else {
                assertEquals(Double.POSITIVE_INFINITY, l.sqnrDb(), l.tensor() + " is before the change");
            }
        }
    }

    @Test
    void weight_noise_gives_the_reference_sqnr_at_every_layer_and_ten_times_the_noise_costs_20_db() {
        Graph g = CalibrationFixtures.mnistCnn();
        double sigma = 0.02 * CalibrationFixtures.rms(g, "conv1/W");
        Graph noisy = CalibrationFixtures.perturbed(g, "conv1/W", sigma, 11);
        Graph louder = CalibrationFixtures.perturbed(g, "conv1/W", 10 * sigma, 11);
        QuantizationReport r = QuantizationReport.builder().run(g, noisy, test());
        QuantizationReport r10 = QuantizationReport.builder().run(g, louder, test());
        Map<String, Double> expected = expectedDb(g, noisy);
        Map<String, Double> expected10 = expectedDb(g, louder);
        for (int i = 0; i < r.layers().size(); i++) {
            QuantizationReport.Layer l = r.layers().get(i);
            assertEquals(expected.get(l.tensor()), l.sqnrDb(), 0.05, l.tensor());
            assertEquals(expected10.get(l.tensor()), r10.layers().get(i).sqnrDb(), 0.05, l.tensor());
        }
        // conv1's output is linear in its weights: the same noise pattern ten times louder is 20 dB exactly
        assertEquals(20.0, r.layers().get(0).sqnrDb() - r10.layers().get(0).sqnrDb(), 0.01);
        assertTrue(r.agreement() > r10.agreement(), r.agreement() + " vs " + r10.agreement());
        // the noise is made in conv1: it adds the most; the Relu and pool after it add little of their own
        QuantizationReport.Layer worst = r.layers().stream()
                .max((a, c) -> Double.compare(a.addedNoiseRatio(), c.addedNoiseRatio()))
                .orElseThrow();
        assertEquals("conv1", worst.node());
        assertTrue(r.layers().get(1).addedNoiseRatio() < 0.5 * worst.addedNoiseRatio(), r.toString());
    }

    @Test
    void a_tensor_the_quantized_model_renamed_is_left_out() {
        Graph g = CalibrationFixtures.mnistCnn();
        Graph renamed = g.copy();
        renamed.renameValue("pool1", "pool1_quantized");
        QuantizationReport r = QuantizationReport.builder()
                .samples(64)
                .run(OnnxWriter.toBytes(g), OnnxWriter.toBytes(renamed), test());
        List<String> tensors =
                r.layers().stream().map(QuantizationReport.Layer::tensor).toList();
        assertFalse(tensors.contains("pool1"), tensors.toString());
        assertTrue(tensors.contains("conv2") && tensors.contains("conv1"), tensors.toString());
        assertEquals(1.0, r.agreement());
    }

    @Test
    void a_tensor_whose_shape_changed_is_named() {
        Graph g = CalibrationFixtures.mnistCnn();
        // the same computation, but the value named conv1 is now conv1's output padded by one row
        Graph changed = g.copy();
        changed.renameValue("conv1", "conv1_unpadded");
        changed.addInitializer("pads", Tensor.of(new long[] {0, 0, 0, 0, 0, 0, 1, 0}, 8));
        changed.addNode(
                new Node("Pad", "pad", List.of("conv1_unpadded", "pads"), List.of("conv1"), Map.of()),
                List.of(ValueType.float32(Shape.of("N", 4, 29, 28))));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> QuantizationReport.builder().samples(8).run(g, changed, test()));
        assertTrue(
                e.getMessage().contains("tensor 'conv1' is [8, 4, 28, 28] in the float model but [8, 4, 29, 28]"),
                e.getMessage());
    }

    @Test
    void a_dataset_without_labels_is_refused() {
        Graph g = CalibrationFixtures.mnistCnn();
        Dataset regression = NpyDataset.of(Tensor.of(new float[2 * 784], 2, 1, 28, 28), Tensor.of(new float[2], 2), 0);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> QuantizationReport.builder().run(g, g, regression));
        assertTrue(e.getMessage().contains("labelled"), e.getMessage());
    }
}
