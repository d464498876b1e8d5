package dev.forge.compiler.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.train.Export;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * BatchNormalization folded into the Gemm or MatMul before it: the exported model computes what the model
 * with the BatchNormalization computes (ONNX Runtime, float32, within 1e-5), with non-trivial statistics.
 */
class FoldBatchNormTest {
    static final int FEATURES = 5;

    /** Trained-looking BatchNorm state: scale, shift, mean and variance away from 1 and 0. */
    static Map<String, Tensor> bnState(String bn) {
        SplittableRandom r = new SplittableRandom(7);
        Map<String, Tensor> s = new LinkedHashMap<>();
        s.put(bn + "/scale", random(r, 0.5, 2));
        s.put(bn + "/B", random(r, -1, 1));
        s.put(bn + "/mean", random(r, -1, 1));
        s.put(bn + "/var", random(r, 0.2, 3));
        return s;
    }

    static Tensor random(SplittableRandom r, double lo, double hi) {
        float[] v = new float[FEATURES];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextDouble(lo, hi);
        }
        return Tensor.of(v, FEATURES);
    }

    /** Exports {@code forward} with {@code state} and checks the BatchNormalization is gone and the outputs agree. */
    static Graph exportAndCompare(Graph forward, Map<String, Tensor> state) {
        Graph unfolded = Pipeline.of("bake", new BakeState(state)).run(forward, new PassContext());
        Graph folded = Export.inferenceModel(forward, state, Map.of());
        assertFalse(
                PipelineTest.ops(folded).contains("BatchNormalization"),
                PipelineTest.ops(folded).toString());
        long k = forward.inputs().get(0).type().shape().dim(1).value();
        float[] x = new float[(int) (3 * k)];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble(-2, 2);
        }
        Tensor input = Tensor.of(x, 3, k);
        float[] expected = run(unfolded, input);
        float[] actual = run(folded, input);
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5 * Math.max(1, Math.abs(expected[i])), "element " + i);
        }
        return folded;
    }

    static float[] run(Graph g, Tensor input) {
        try (Model m = Model.load(
                OnnxWriter.toBytes(g),
                g.name(),
                ModelOptions.builder().intraOpThreads(1).build())) {
            return m.run(input).toFloatArray();
        }
    }

    @Test
    void batch_norm_after_a_linear_layer_folds_into_its_gemm() {
        GraphBuilder b = new GraphBuilder("linear_bn");
        Value x = b.input("input", Shape.of("N", 4));
        x = b.batchNorm("bn", b.linear("fc", x, FEATURES));
        Graph folded = exportAndCompare(b.output(x, "y").build(), bnState("bn"));
        assertEquals(List.of("Gemm"), PipelineTest.ops(folded));
        assertEquals(
                List.of("input", "fc/W_folded", "fc/B_folded"),
                folded.nodes().get(0).inputs());
        assertEquals("y", folded.nodes().get(0).output(0));
    }

    @Test
    void gemm_without_transb_and_with_alpha_beta_and_a_row_bias_folds() {
        GraphBuilder b = new GraphBuilder("gemm_bn");
        Value x = b.input("input", Shape.of("N", 4));
        SplittableRandom r = new SplittableRandom(3);
        float[] w = new float[4 * FEATURES];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextDouble(-1, 1);
        }
        Value wv = b.parameter("W", Tensor.of(w, 4, FEATURES));
        Value c = b.parameter("C", Tensor.of(new float[] {0.1f, -0.2f, 0.3f, 0.4f, -0.5f}, 1, FEATURES));
        Value y = b.node(
                "Gemm",
                "gemm",
                List.of(x, wv, c),
                Map.of("alpha", new Attribute.Float(2f), "beta", new Attribute.Float(0.5f)));
        y = b.batchNorm("bn", y);
        Graph folded = exportAndCompare(b.output(y, "y").build(), bnState("bn"));
        assertEquals(List.of("Gemm"), PipelineTest.ops(folded));
    }

    @Test
    void matmul_with_and_without_a_bias_add_folds() {
        for (boolean bias : new boolean[] {true, false}) {
            GraphBuilder b = new GraphBuilder("matmul_bn");
            Value x = b.input("input", Shape.of("N", 3));
            float[] w = new float[3 * FEATURES];
            for (int i = 0; i < w.length; i++) {
                w[i] = (i % 7 - 3) / 4f;
            }
            Value y = b.matMul(x, b.parameter("W", Tensor.of(w, 3, FEATURES)));
            if (bias) {
                y = b.add(b.parameter("B", Tensor.of(new float[] {1, 2, 3, 4, 5}, FEATURES)), y);
            }
            y = b.batchNorm("bn", y);
            Graph folded = exportAndCompare(b.output(y, "y").build(), bnState("bn"));
            assertEquals(List.of("MatMul", "Add"), PipelineTest.ops(folded), "bias " + bias);
        }
    }

    @Test
    void a_gemm_whose_output_is_also_read_elsewhere_is_not_folded() {
        GraphBuilder b = new GraphBuilder("shared");
        Value x = b.input("input", Shape.of("N", 4));
        Value z = b.linear("fc", x, FEATURES);
        Value y = b.add(b.batchNorm("bn", z), z);
        Graph exported = Export.inferenceModel(b.output(y, "y").build(), bnState("bn"), Map.of());
        assertTrue(PipelineTest.ops(exported).contains("BatchNormalization"));
        for (Node n : exported.nodes()) {
            assertFalse(n.inputs().stream().anyMatch(i -> i.endsWith("_folded")), n.toString());
        }
    }
}
