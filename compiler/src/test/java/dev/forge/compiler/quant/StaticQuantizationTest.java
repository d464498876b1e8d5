package dev.forge.compiler.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import dev.forge.compiler.builder.Conv2d;
import dev.forge.compiler.builder.GraphBuilder;
import dev.forge.compiler.builder.Pool2d;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.Value;
import dev.forge.compiler.onnx.OnnxReader;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.onnx.PythonOnnx;
import dev.forge.compiler.passes.GraphVerifier;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.Pipeline;
import dev.forge.runtime.DType;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Npy;
import dev.forge.runtime.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StaticQuantizationTest {
    @TempDir
    Path dir;

    /** conv1+bn1 -> relu -> pool -> conv2 -> relu -> flatten -> fc1 -> relu -> fc2 -> softmax. */
    static Graph cnn() {
        GraphBuilder b = new GraphBuilder("qcnn").seed(5);
        Value x = b.input("input", Shape.of("N", 1, 12, 12));
        x = b.conv2d("conv1", x, Conv2d.of(4, 3).padding(1));
        x = b.batchNorm("bn1", x);
        x = b.relu(x);
        x = b.maxPool("pool", x, Pool2d.of(2));
        x = b.conv2d("conv2", x, Conv2d.of(6, 3));
        x = b.relu(x);
        x = b.flatten(x);
        x = b.relu(b.linear("fc1", x, 16));
        x = b.linear("fc2", x, 5);
        return b.output(b.softmax(x, 1), "probs").build();
    }

    static List<Tensor> batches(int count, int batch, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Tensor> out = new ArrayList<>();
        for (int k = 0; k < count; k++) {
            float[] v = new float[batch * 144];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) rnd.nextDouble();
            }
            out.add(Tensor.of(v, batch, 1, 12, 12));
        }
        return out;
    }

    static StaticQuantization.Result quantize(Graph g, StaticQuantization q) {
        Set<String> names = q.calibrationTensors(g);
        return q.apply(g, QuantTesting.minMax(g, names, "input", batches(4, 16, 1)));
    }

    private static Node producer(Graph g, String value) {
        Node p = g.producer(value);
        assertNotNull(p, "no producer of " + value);
        return p;
    }

    @Test
    void the_calibration_tensors_are_layer_inputs_and_fused_outputs_in_graph_order() {
        Graph g = cnn();
        String relu1 = g.consumers("bn1").get(0).output(0);
        String relu2 = g.consumers("conv2").get(0).output(0);
        String relu3 = g.consumers("fc1").get(0).output(0);
        // pool and flatten inherit; fc2's output feeds only Softmax, so it stays float
        assertEquals(List.of("input", relu1, relu2, relu3), List.copyOf(StaticQuantization.tensorsToCalibrate(g)));
    }

    @Test
    void a_cnn_becomes_qdq_with_int8_weights_int32_biases_and_close_outputs() throws Exception {
        Graph g = cnn();
        StaticQuantization.Result r = quantize(g, StaticQuantization.builder().build());
        Graph q = r.graph();
        assertEquals(
                List.of("conv1", "Relu_1", "pool", "conv2", "Relu_2", "Flatten_1", "fc1", "Relu_3", "fc2"),
                List.copyOf(r.quantized().keySet()));
        assertEquals(Set.of("Softmax_1"), r.keptFloat().keySet());
        assertTrue(
                r.keptFloat().get("Softmax_1").contains("runs in float"),
                r.keptFloat().toString());
        for (String layer : List.of("conv1", "conv2", "fc1", "fc2")) {
            Node n = q.node(layer);
            Node wdq = producer(q, n.input(1));
            assertEquals("DequantizeLinear", wdq.opType());
            assertEquals(DType.INT8, q.initializers().get(wdq.input(0)).dtype(), layer);
            assertEquals(n.opType().equals("Conv") || n.attrInt("transB", 0) != 0 ? 0 : 1, wdq.attrInt("axis", 1));
            Node bdq = producer(q, n.input(2));
            assertEquals(DType.INT32, q.initializers().get(bdq.input(0)).dtype(), layer);
            assertEquals("DequantizeLinear", producer(q, n.input(0)).opType(), layer + " reads a dequantized input");
        }
        // no float weight is left: everything float is a scale
        q.initializers().forEach((name, t) -> {
            if (t.dtype() == DType.FLOAT32) {
                assertTrue(name.endsWith("/scale"), "float initializer " + name);
            }
        });
        GraphVerifier.verify(q);
        float[] fp = run(g, batches(1, 64, 9).get(0));
        float[] int8 = run(q, batches(1, 64, 9).get(0));
        double maxDiff = 0;
        int agree = 0;
        for (int s = 0; s < 64; s++) {
            int a = argmax(fp, s, 5);
            int b = argmax(int8, s, 5);
            agree += a == b ? 1 : 0;
            for (int k = 0; k < 5; k++) {
                maxDiff = Math.max(maxDiff, Math.abs(fp[s * 5 + k] - int8[s * 5 + k]));
            }
        }
        assertTrue(maxDiff < 0.03, "max probability difference " + maxDiff);
        assertTrue(agree >= 60, agree + "/64 top-1 agree");
    }

    @Test
    void onnx_runtime_fuses_every_quantized_layer_into_an_integer_kernel() throws Exception {
        Graph q = quantize(cnn(), StaticQuantization.builder().build()).graph();
        Map<String, Integer> ops = QuantTesting.optimizedOps(q, OptLevel.EXTENDED_OPT, dir);
        assertEquals(2, ops.getOrDefault("QLinearConv", 0), ops.toString());
        assertEquals(2, ops.getOrDefault("com.microsoft:QGemm", 0), ops.toString());
        // the Relus went into the kernels; MaxPool and Flatten run on the uint8 tensors
        for (String floatOp : List.of("Conv", "Gemm", "Relu", "DequantizeLinear")) {
            assertFalse(ops.containsKey(floatOp), floatOp + " left in " + ops);
        }
        assertEquals(1, ops.getOrDefault("QuantizeLinear", 0), "one QuantizeLinear, of the input: " + ops);
    }

    @Test
    void a_relu_takes_its_layer_output_quantization_with_the_relu_range() {
        Graph g = cnn();
        String relu2 = g.consumers("conv2").get(0).output(0);
        Set<String> names = StaticQuantization.tensorsToCalibrate(g);
        Map<String, TensorRange> ranges =
                new java.util.HashMap<>(QuantTesting.minMax(g, names, "input", batches(2, 8, 1)));
        ranges.put(relu2, new TensorRange(0f, 5.1f));
        Graph q = StaticQuantization.builder().build().apply(g, ranges).graph();
        // conv2 -> Relu directly, then Q with the Relu's range: scale 5.1/255, zero point 0
        Node relu = q.consumers("conv2").get(0);
        assertEquals("Relu", relu.opType());
        assertEquals(1, q.consumers("conv2").size());
        Node quant = q.consumers(relu2).get(0);
        assertEquals("QuantizeLinear", quant.opType());
        assertEquals(5.1f / 255f, q.initializers().get(quant.input(1)).getFloat(0), 1e-9);
        assertEquals(0, q.initializers().get(quant.input(2)).toIntArray()[0]);
    }

    @Test
    void data_movement_keeps_the_quantization_of_its_input() {
        Graph q = quantize(cnn(), StaticQuantization.builder().build()).graph();
        Node pool = q.node("pool");
        Node in = producer(q, pool.input(0));
        Node outQ = q.consumers(pool.output(0)).get(0);
        assertEquals("DequantizeLinear", in.opType());
        assertEquals("QuantizeLinear", outQ.opType());
        assertEquals(in.input(1), outQ.input(1), "same scale initializer");
        assertEquals(in.input(2), outQ.input(2), "same zero point initializer");
    }

    @Test
    void keep_float_by_node_or_output_name_is_reported_and_leaves_float_weights() {
        Graph g = cnn();
        StaticQuantization q =
                StaticQuantization.builder().keepFloat(Set.of("conv2", "fc1")).build();
        StaticQuantization.Result r = quantize(g, q);
        assertEquals("kept float as asked (keepFloat)", r.keptFloat().get("conv2"));
        assertEquals("kept float as asked (keepFloat)", r.keptFloat().get("fc1"));
        Graph out = r.graph();
        assertEquals(
                DType.FLOAT32,
                out.initializers().get(out.node("conv2").input(1)).dtype());
        assertTrue(r.quantized().containsKey("conv1") && r.quantized().containsKey("fc2"));
        // by output name: fc2's output is "fc2"
        StaticQuantization.Result byOutput = quantize(
                g, StaticQuantization.builder().keepFloat(Set.of("fc2")).build());
        assertTrue(byOutput.keptFloat().containsKey("fc2"));
    }

    @Test
    void s8s8_and_full_range_change_the_stored_types_and_weight_magnitudes() {
        Graph full = quantize(
                        cnn(), StaticQuantization.builder().reduceRange(false).build())
                .graph();
        Node fullDq = producer(full, full.node("conv1").input(1));
        int maxFull = 0;
        for (byte v : full.initializers().get(fullDq.input(0)).toByteArray()) {
            maxFull = Math.max(maxFull, Math.abs(v));
        }
        assertEquals(127, maxFull);
        // the default: 7-bit weights
        Graph q = quantize(
                        cnn(),
                        StaticQuantization.builder()
                                .activationType(QuantType.INT8)
                                .build())
                .graph();
        Node qin = q.consumers("input").get(0);
        assertEquals(DType.INT8, q.type(qin.output(0)).dtype());
        Node wdq = producer(q, q.node("conv1").input(1));
        int max7 = 0;
        for (byte v : q.initializers().get(wdq.input(0)).toByteArray()) {
            max7 = Math.max(max7, Math.abs(v));
        }
        assertEquals(63, max7, "the largest 7-bit weight");
    }

    @Test
    void per_channel_weights_follow_output_channels_of_very_different_magnitudes() {
        // one MatMul [8, 4] and one Gemm with transB [4, 8], both reading the input, with output channels
        // 10x apart in magnitude; per-tensor weights would leave the small channels with almost no levels
        SplittableRandom rnd = new SplittableRandom(4);
        float[] w = new float[8 * 4];
        float[] gt = new float[4 * 8];
        for (int k = 0; k < 8; k++) {
            for (int c = 0; c < 4; c++) {
                w[k * 4 + c] = (float) (rnd.nextDouble(-1, 1) * Math.pow(10, c - 2));
                gt[c * 8 + k] = (float) (rnd.nextDouble(-1, 1) * Math.pow(10, 1 - c));
            }
        }
        GraphBuilder b = new GraphBuilder("channels");
        Value x = b.input("input", Shape.of("N", 8));
        b.output(b.matMul(x, b.parameter("w", Tensor.of(w, 8, 4))), "mm");
        Value gemm = b.node(
                "Gemm",
                "gemm",
                List.of(x, b.parameter("g", Tensor.of(gt, 4, 8))),
                Map.of("transB", new dev.forge.compiler.ir.Attribute.Int(1)));
        Graph g = b.output(gemm, "gemm_out").build();
        StaticQuantization q = StaticQuantization.builder().build();
        List<Tensor> calibration = List.of(DynamicQuantizationTest.randomInput(64, 6));
        StaticQuantization.Result r = q.apply(g, QuantTesting.minMax(g, q.calibrationTensors(g), "input", calibration));
        assertEquals(2, r.quantized().size(), r.keptFloat().toString());
        Tensor in = DynamicQuantizationTest.randomInput(32, 5);
        try (Model fp = Model.load(OnnxWriter.toBytes(g), ModelOptions.defaults());
                Model int8 = Model.load(OnnxWriter.toBytes(r.graph()), ModelOptions.defaults())) {
            Map<String, Tensor> a = fp.run(Map.of("input", in));
            Map<String, Tensor> c = int8.run(Map.of("input", in));
            for (String out : List.of("mm", "gemm_out")) {
                double err = DynamicQuantizationTest.worstColumnError(
                        a.get(out).toFloatArray(), c.get(out).toFloatArray(), 4);
                assertTrue(err < 0.03, out + ": worst column error " + err + " of the column's scale");
            }
        }
    }

    @Test
    void the_quantized_model_round_trips_through_onnx_and_passes_the_full_checker() throws Exception {
        Graph q = quantize(cnn(), StaticQuantization.builder().build()).graph();
        Path file = dir.resolve("q.onnx");
        OnnxWriter.write(q, file);
        Graph back = OnnxReader.read(file);
        assertEquals(q.initializers().keySet(), back.initializers().keySet());
        for (Map.Entry<String, Tensor> e : q.initializers().entrySet()) {
            Tensor b = back.initializers().get(e.getKey());
            assertEquals(e.getValue().dtype(), b.dtype(), e.getKey());
            assertArrayEquals(e.getValue().shape(), b.shape(), e.getKey());
            assertEquals(e.getValue(), b, e.getKey());
        }
        assertEquals(q.nodes().size(), back.nodes().size());
        assertArrayEquals(OnnxWriter.toBytes(q), OnnxWriter.toBytes(back));
        PythonOnnx.checkModel(file);
    }

    @Test
    void an_already_quantized_graph_is_refused() {
        Graph q = quantize(cnn(), StaticQuantization.builder().build()).graph();
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> StaticQuantization.builder().build().apply(q, Map.of()));
        assertTrue(e.getMessage().contains("already quantized"), e.getMessage());
        assertTrue(e.getMessage().contains("QuantizeLinear("), e.getMessage());
    }

    @Test
    void an_unknown_keep_float_name_is_refused_listing_the_layers() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> StaticQuantization.builder()
                        .keepFloat(Set.of("conv9"))
                        .build()
                        .calibrationTensors(cnn()));
        assertEquals(
                "StaticQuantization: keepFloat names [conv9], which graph 'qcnn' has neither as a node nor as a node"
                        + " output; its layers are [conv1, conv2, fc1, fc2]",
                e.getMessage());
    }

    @Test
    void a_missing_range_is_named() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> StaticQuantization.builder().build().apply(cnn(), Map.of("input", new TensorRange(0, 1))));
        assertTrue(e.getMessage().contains("no activation range for [Relu"), e.getMessage());
    }

    @Test
    void a_layer_with_computed_weights_stays_float_with_the_reason() {
        GraphBuilder b = new GraphBuilder("computed").seed(1);
        Value x = b.input("input", Shape.of("N", 4));
        Value w = b.input("w", Shape.of(4, 3));
        Value y = b.matMul(x, w);
        Graph g = b.output(y, "y").build();
        StaticQuantization.Result r = StaticQuantization.builder().build().apply(g, Map.of());
        String reason = r.keptFloat().get(g.producer("y").name());
        assertNotNull(reason);
        assertTrue(reason.contains("not a float32 constant"), reason);
        assertNull(r.graph().nodes().stream()
                .filter(n -> n.opType().equals("QuantizeLinear"))
                .findAny()
                .orElse(null));
    }

    @Test
    void it_runs_as_a_named_pass_in_a_pipeline() {
        Graph g = cnn();
        Map<String, TensorRange> ranges =
                QuantTesting.minMax(g, StaticQuantization.tensorsToCalibrate(g), "input", batches(1, 8, 1));
        Pipeline p =
                Pipeline.of("quantize", StaticQuantization.builder().build().pass(ranges));
        assertEquals(List.of("StaticQuantization"), p.passNames());
        Graph q = p.run(g, new PassContext(), GraphVerifier.afterEachPass());
        assertTrue(q.nodes().stream().anyMatch(n -> n.opType().equals("QuantizeLinear")));
    }

    @Test
    void pytorch_exports_quantize_and_run_close_to_float() throws Exception {
        for (String model : List.of("zero-bias-cnn", "bn-init")) {
            Path d = Path.of("../testdata/golden-import", model);
            Graph g = OnnxReader.read(d.resolve("model.onnx"));
            Tensor input = Npy.read(d.resolve("input.npy"));
            String in = g.inputs().get(0).name();
            StaticQuantization q = StaticQuantization.builder().build();
            StaticQuantization.Result r =
                    q.apply(g, QuantTesting.minMax(g, q.calibrationTensors(g), in, List.of(input)));
            List<String> convs = g.nodes().stream()
                    .filter(n -> n.opType().equals("Conv"))
                    .map(Node::name)
                    .toList();
            assertTrue(r.quantized().keySet().containsAll(convs), model + ": " + r.keptFloat());
            float[] fp = run(g, input);
            float[] int8 = run(r.graph(), input);
            double range = 0;
            double maxDiff = 0;
            for (int i = 0; i < fp.length; i++) {
                range = Math.max(range, Math.abs(fp[i]));
                maxDiff = Math.max(maxDiff, Math.abs(fp[i] - int8[i]));
            }
            assertTrue(maxDiff <= 0.05 * range, model + ": max difference " + maxDiff + " of outputs up to " + range);
        }
    }

    static float[] run(Graph g, Tensor input) {
        try (Model m = Model.load(OnnxWriter.toBytes(g), ModelOptions.defaults())) {
            return m.run(input).toFloatArray();
        }
    }

    static int argmax(float[] v, int row, int width) {
        int best = 0;
        for (int k = 1; k < width; k++) {
            if (v[row * width + k] > v[row * width + best]) {
                best = k;
            }
        }
        return best;
    }
}
