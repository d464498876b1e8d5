package dev.forge.compiler.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.onnx.PythonOnnx;
import dev.forge.compiler.passes.GraphVerifier;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DynamicQuantizationTest {
    @TempDir
    Path dir;

    @Test
    void matmul_and_gemm_layers_get_int8_weights_and_run_time_activation_quantization() throws Exception {
        Graph g = StaticQuantizationTest.cnn();
        StaticQuantization.Result r = DynamicQuantization.defaults().apply(g);
        Graph q = r.graph();
        GraphVerifier.verify(q);
        assertEquals(List.of("fc1", "fc2"), List.copyOf(r.quantized().keySet()));
        assertTrue(
                r.keptFloat().get("conv1").contains("only MatMul and Gemm"),
                r.keptFloat().toString());
        // fc1 is Gemm with transB: its weights are stored transposed, [K, N] int8, with one scale per column
        Tensor w = q.initializers().get("fc1/W/int8");
        assertEquals(DType.INT8, w.dtype());
        assertEquals(16, w.dim(1));
        assertEquals(16, q.initializers().get("fc1/W/scale").size());
        assertFalse(q.initializers().containsKey("fc1/W"), "the float weights are gone");

        float[] fp = StaticQuantizationTest.run(
                g, StaticQuantizationTest.batches(1, 64, 9).get(0));
        float[] int8 = StaticQuantizationTest.run(
                q, StaticQuantizationTest.batches(1, 64, 9).get(0));
        double maxDiff = 0;
        int agree = 0;
        for (int s = 0; s < 64; s++) {
            agree += StaticQuantizationTest.argmax(fp, s, 5) == StaticQuantizationTest.argmax(int8, s, 5) ? 1 : 0;
            for (int k = 0; k < 5; k++) {
                maxDiff = Math.max(maxDiff, Math.abs(fp[s * 5 + k] - int8[s * 5 + k]));
            }
        }
        assertTrue(maxDiff < 0.02, "max probability difference " + maxDiff);
        assertTrue(agree >= 62, agree + "/64 top-1 agree");

        Map<String, Integer> ops = QuantTesting.optimizedOps(q, OptLevel.EXTENDED_OPT, dir);
        assertEquals(2, ops.getOrDefault("com.microsoft:DynamicQuantizeMatMul", 0), ops.toString());
        Path file = dir.resolve("dyn.onnx");
        OnnxWriter.write(q, file);
        PythonOnnx.checkModel(file);
    }

    @Test
    void a_matmul_with_a_bias_add_and_keep_float() {
        GraphBuilder b = new GraphBuilder("mm").seed(3);
        Value x = b.input("input", Shape.of("N", 8));
        Value h = b.matMul(x, b.parameter("w1", Tensor.of(new float[8 * 4], 8, 4)));
        Value y = b.matMul(h, b.parameter("w2", Tensor.of(new float[4 * 2], 4, 2)));
        Graph g = b.output(y, "y").build();
        StaticQuantization.Result r =
                DynamicQuantization.defaults().keepFloat(Set.of("y")).apply(g);
        assertEquals(1, r.quantized().size());
        assertEquals(
                "kept float as asked (keepFloat)",
                r.keptFloat().get(g.producer("y").name()));
        // the all-zero weights quantize with scale 1 and still give exactly 0
        float[] out = StaticQuantizationTest.run(r.graph(), Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 1, 8));
        assertEquals(0f, out[0]);
        assertEquals(0f, out[1]);
    }

    /** x [N, 8] by W [8, 4] whose columns differ in scale by 10x each, then a Gemm (transB) likewise. */
    static Graph columnsOfDifferentScales() {
        SplittableRandom rnd = new SplittableRandom(4);
        float[] w = new float[8 * 4];
        float[] g = new float[4 * 4];
        for (int k = 0; k < 8; k++) {
            for (int c = 0; c < 4; c++) {
                w[k * 4 + c] = (float) (rnd.nextDouble(-1, 1) * Math.pow(10, c - 2));
            }
        }
        for (int o = 0; o < 4; o++) {
            for (int k = 0; k < 4; k++) {
                g[o * 4 + k] = (float) (rnd.nextDouble(-1, 1) * Math.pow(10, 1 - o));
            }
        }
        GraphBuilder b = new GraphBuilder("columns");
        Value x = b.input("input", Shape.of("N", 8));
        Value h = b.matMul(x, b.parameter("w", Tensor.of(w, 8, 4)));
        Value y = b.node(
                "Gemm",
                "gemm",
                List.of(
                        h,
                        b.parameter("g", Tensor.of(g, 4, 4)),
                        b.parameter("c", Tensor.of(new float[] {1, -1, 0.5f, 0}, 4))),
                Map.of("transB", new dev.forge.compiler.ir.Attribute.Int(1)));
        return b.output(y, "y").build();
    }

    /** The largest error per output column relative to that column's largest magnitude. */
    static double worstColumnError(float[] fp, float[] q, int columns) {
        double worst = 0;
        for (int c = 0; c < columns; c++) {
            double max = 0;
            double err = 0;
            for (int i = c; i < fp.length; i += columns) {
                max = Math.max(max, Math.abs(fp[i]));
                err = Math.max(err, Math.abs(fp[i] - q[i]));
            }
            worst = Math.max(worst, err / max);
        }
        return worst;
    }

    static Tensor randomInput(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[n * 8];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextDouble(-1, 1);
        }
        return Tensor.of(v, n, 8);
    }

    @Test
    void per_column_scales_follow_columns_of_very_different_magnitudes() {
        Graph g = columnsOfDifferentScales();
        Tensor x = randomInput(32, 5);
        float[] fp = StaticQuantizationTest.run(g, x);
        float[] q = StaticQuantizationTest.run(
                DynamicQuantization.defaults().apply(g).graph(), x);
        double err = worstColumnError(fp, q, 4);
        assertTrue(err < 0.05, "worst column error " + err + " of the column's scale");
    }

    @Test
    void an_already_quantized_graph_is_refused() {
        Graph q = DynamicQuantization.defaults()
                .apply(StaticQuantizationTest.cnn())
                .graph();
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> DynamicQuantization.defaults().apply(q));
        assertTrue(e.getMessage().startsWith("DynamicQuantization: graph 'qcnn' is already quantized"), e.getMessage());
    }
}
