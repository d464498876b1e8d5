package dev.forge.compiler.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.onnx.PythonOnnx;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The speed rules of static INT8 planning: a layer that does too little work per input element to pay for
 * quantizing it stays float ({@code minMacsPerInput}), shallow Convs stay float ({@code minConvDepth}), and such
 * layers can still store int8 weights ({@code weightOnly}) that ONNX Runtime restores to float once at load.
 */
class SpeedRulesTest {
    @TempDir
    Path dir;

    /** input [N, 64] -> fc1 (256 wide) -> Relu -> head (10 wide): a wide layer and a classifier head. */
    static Graph mlp() {
        GraphBuilder b = new GraphBuilder("mlp").seed(3);
        Value x = b.input("input", Shape.of("N", 64));
        x = b.relu(b.linear("fc1", x, 256));
        return b.output(b.linear("head", x, 10), "logits").build();
    }

    static StaticQuantization.Result quantize(Graph g, StaticQuantization q) {
        List<Tensor> batches = List.of(input(32, 1), input(32, 2));
        return q.apply(g, QuantTesting.minMax(g, q.calibrationTensors(g), "input", batches));
    }

    static Tensor input(int n, long seed) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        float[] v = new float[n * 64];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextDouble(-1, 1);
        }
        return Tensor.of(v, n, 64);
    }

    @Test
    void a_ten_wide_head_stays_float_and_a_wide_layer_is_quantized() {
        Graph g = mlp();
        StaticQuantization q = StaticQuantization.builder().minMacsPerInput(128).build();
        StaticQuantization.Result r = quantize(g, q);
        assertTrue(r.quantized().containsKey("fc1"), r.quantized().toString());
        assertEquals(
                "10 multiply-adds per input element < 128: quantizing its input costs more than the int8 product saves"
                        + " (everyLayer / --every-layer to quantize it)",
                r.keptFloat().get("head"));
        // fc1's Relu output is still quantized (ONNX Runtime makes a QGemm of the group only with its Q) and
        // the head reads its DequantizeLinear in float; the head stores float weights (weight-only is off)
        Graph out = r.graph();
        Node head = out.node("head");
        assertEquals("DequantizeLinear", out.producer(head.input(0)).opType());
        assertEquals(DType.FLOAT32, out.initializers().get(head.input(1)).dtype());
        String relu = g.consumers("fc1").get(0).output(0);
        assertEquals(List.of("input", relu), List.copyOf(q.calibrationTensors(g)));
    }

    @Test
    void without_the_rule_the_head_is_quantized_too() {
        StaticQuantization.Result r =
                quantize(mlp(), StaticQuantization.builder().build());
        assertTrue(
                r.quantized().keySet().containsAll(Set.of("fc1", "head")),
                r.keptFloat().toString());
        // and with a threshold at or below its width
        StaticQuantization.Result at10 =
                quantize(mlp(), StaticQuantization.builder().minMacsPerInput(10).build());
        assertTrue(at10.quantized().containsKey("head"), at10.keptFloat().toString());
    }

    @Test
    void a_conv_counts_its_multiply_adds_per_input_element_from_kernel_channels_and_stride() {
        // 1x1 Conv 64 -> 8, stride 1: 8 per input element; 2x2 Conv 8 -> 32, stride 2: 32 * 4 / 4 = 32
        GraphBuilder b = new GraphBuilder("convs").seed(2);
        Value x = b.input("input", Shape.of("N", 64, 8, 8));
        x = b.relu(b.conv2d("squeeze", x, Conv2d.of(8, 1)));
        x = b.relu(b.conv2d("down", x, Conv2d.of(32, 2).stride(2)));
        Graph g = b.output(b.flatten(x), "y").build();
        StaticQuantization.Result r =
                quantize4d(g, StaticQuantization.builder().minMacsPerInput(100).build());
        assertTrue(
                r.keptFloat().get("squeeze").startsWith("8 multiply-adds per input element < 100"),
                r.keptFloat().toString());
        assertTrue(
                r.keptFloat().get("down").startsWith("32 multiply-adds per input element < 100"),
                r.keptFloat().toString());
        StaticQuantization.Result lower =
                quantize4d(g, StaticQuantization.builder().minMacsPerInput(20).build());
        assertTrue(lower.quantized().containsKey("down"), lower.keptFloat().toString());
        assertTrue(lower.keptFloat().containsKey("squeeze"), lower.quantized().toString());
    }

    private static StaticQuantization.Result quantize4d(Graph g, StaticQuantization q) {
        float[] v = new float[16 * 64 * 8 * 8];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(8);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextDouble(-1, 1);
        }
        return q.apply(
                g, QuantTesting.minMax(g, q.calibrationTensors(g), "input", List.of(Tensor.of(v, 16, 64, 8, 8))));
    }

    @Test
    void weight_only_layers_store_int8_weights_within_one_step_of_the_float_ones() {
        Graph g = mlp();
        StaticQuantization.Result r = quantize(
                g,
                StaticQuantization.builder()
                        .minMacsPerInput(128)
                        .weightOnly(true)
                        .build());
        assertTrue(
                r.keptFloat().get("head").endsWith("weights stored int8 (weight-only, restored at load)"),
                r.keptFloat().toString());
        Graph out = r.graph();
        Node head = out.node("head");
        Node dq = out.producer(head.input(1));
        assertNotNull(dq);
        assertEquals("Mul", dq.opType());
        // the head's bias stays the float initializer; its weights are Mul(Cast(int8), scale per output row)
        assertEquals(DType.FLOAT32, out.initializers().get(head.input(2)).dtype());
        Node cast = out.producer(dq.input(0));
        assertEquals("Cast", cast.opType());
        Tensor q = out.initializers().get(cast.input(0));
        Tensor scales = out.initializers().get(dq.input(1));
        assertEquals(DType.INT8, q.dtype());
        // the linear layer stores W as [out, in] with transB: channel axis 0, one scale per output
        assertArrayEquals(new long[] {10, 1}, scales.shape());
        int outputs = (int) q.shape()[0];
        int inputs = (int) q.shape()[1];
        assertEquals(10, outputs);
        assertEquals(10, scales.size());
        float[] w = g.initializers().get(g.node("head").input(1)).toFloatArray();
        byte[] stored = q.toByteArray();
        float[] s = scales.toFloatArray();
        int maxLevel = 0;
        for (int c = 0; c < outputs; c++) {
            for (int k = 0; k < inputs; k++) {
                int i = c * inputs + k;
                double back = stored[i] * (double) s[c];
                assertTrue(
                        Math.abs(back - w[i]) <= s[c],
                        "head[" + c + ", " + k + "]: " + w[i] + " stored as " + stored[i] + " * " + s[c]);
                maxLevel = Math.max(maxLevel, Math.abs(stored[i]));
            }
        }
        // the product runs in float, so the full 8 bits are used (not the integer kernels' 7)
        assertEquals(127, maxLevel);
    }

    @Test
    void onnx_runtime_restores_weight_only_weights_at_load_and_runs_the_float_gemm() throws Exception {
        Graph q = quantize(
                        mlp(),
                        StaticQuantization.builder()
                                .minMacsPerInput(128)
                                .weightOnly(true)
                                .build())
                .graph();
        Map<String, Integer> ops = QuantTesting.optimizedOps(q, OptLevel.ALL_OPT, dir);
        // fc1 became a QGemm with its Relu; the head runs ONNX Runtime's float Gemm on weights it restored once at
        // load: no Cast or Mul is left, and the one DequantizeLinear is fc1's output for the float head
        assertEquals(1, ops.getOrDefault("com.microsoft:QGemm", 0), ops.toString());
        assertEquals(1, ops.getOrDefault("Gemm", 0), ops.toString());
        for (String perCall : List.of("Cast", "Mul", "Relu", "com.microsoft:FusedGemm")) {
            assertFalse(ops.containsKey(perCall), perCall + " runs at every call: " + ops);
        }
        assertEquals(1, ops.getOrDefault("DequantizeLinear", 0), ops.toString());
        Path file = dir.resolve("weight-only.onnx");
        OnnxWriter.write(q, file);
        PythonOnnx.checkModel(file);
    }

    @Test
    void onnx_runtime_keeps_a_weight_dequantize_linear_which_is_why_weight_only_is_cast_and_mul() throws Exception {
        // the same weights as a per-axis DequantizeLinear feeding a float Gemm: ORT's constant folding skips
        // DequantizeLinear (kept for its QDQ fusions) and no fusion takes a DQ on the weights alone, so it
        // would run at every call. If a future ONNX Runtime folds it, emitWeightOnly can write the DQ form.
        GraphBuilder b = new GraphBuilder("dq-weights");
        Value x = b.input("input", Shape.of("N", 64));
        byte[] q = new byte[10 * 64];
        for (int i = 0; i < q.length; i++) {
            q[i] = (byte) (i % 255 - 127);
        }
        float[] scales = new float[10];
        java.util.Arrays.fill(scales, 0.01f);
        Value w = b.node(
                "DequantizeLinear",
                "w_dq",
                List.of(
                        b.constant("w_q", Tensor.ofInt8(q, 10, 64)),
                        b.constant("w_scale", Tensor.of(scales, 10)),
                        b.constant("w_zp", Tensor.ofInt8(new byte[10], 10))),
                Map.of("axis", new dev.forge.compiler.ir.Attribute.Int(0)));
        Value y = b.node("Gemm", "head", List.of(x, w), Map.of("transB", new dev.forge.compiler.ir.Attribute.Int(1)));
        Map<String, Integer> ops = QuantTesting.optimizedOps(b.output(y, "y").build(), OptLevel.ALL_OPT, dir);
        assertEquals(1, ops.getOrDefault("DequantizeLinear", 0), ops.toString());
    }

    @Test
    void the_conv_depth_rule_keeps_shallow_and_depthwise_convs_float() {
        GraphBuilder b = new GraphBuilder("depths").seed(4);
        Value x = b.input("input", Shape.of("N", 64, 8, 8));
        x = b.relu(b.conv2d("deep", x, Conv2d.of(64, 3).padding(1)));
        x = b.relu(b.conv2d("dw", x, Conv2d.of(64, 3).padding(1).groups(64)));
        x = b.relu(b.conv2d("shallow", x, Conv2d.of(64, 1)));
        Graph g = b.output(b.flatten(x), "y").build();
        StaticQuantization.Result r =
                quantize4d(g, StaticQuantization.builder().minConvDepth(256).build());
        assertTrue(r.quantized().containsKey("deep"), r.keptFloat().toString());
        assertTrue(
                r.keptFloat().get("dw").startsWith("depthwise"), r.keptFloat().toString());
        assertTrue(
                r.keptFloat().get("shallow").startsWith("GEMM depth 64 < 256"),
                r.keptFloat().toString());
    }
}
