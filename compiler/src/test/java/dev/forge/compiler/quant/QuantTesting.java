package dev.forge.compiler.quant;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.onnx.proto.Onnx;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Test helpers for quantization: a plain min/max range of named tensors measured by running the float model
 * in ONNX Runtime (the real calibrator lives elsewhere), and the operator counts of the model ONNX Runtime
 * optimizes a graph into (which shows whether QDQ groups became integer kernels).
 */
public final class QuantTesting {
    private QuantTesting() {}

    /**
     * The min and max of each named tensor over the batches.
     *
     * @param graph the float model
     * @param names tensors to measure (node outputs or graph inputs)
     * @param input the graph's data input name
     * @param batches input batches
     * @return one range per name
     */
    public static Map<String, TensorRange> minMax(Graph graph, Set<String> names, String input, List<Tensor> batches) {
        Graph g = graph.copy();
        Set<String> outputs = new java.util.HashSet<>();
        g.outputs().forEach(o -> outputs.add(o.name()));
        for (String n : names) {
            if (!outputs.contains(n) && !n.equals(input)) {
                g.addOutput(new ValueInfo(n, g.type(n)));
            }
        }
        float[] min = new float[names.size()];
        float[] max = new float[names.size()];
        java.util.Arrays.fill(min, Float.POSITIVE_INFINITY);
        java.util.Arrays.fill(max, Float.NEGATIVE_INFINITY);
        List<String> order = List.copyOf(names);
        try (Model m = Model.load(OnnxWriter.toBytes(g), ModelOptions.defaults())) {
            for (Tensor batch : batches) {
                Map<String, Tensor> out = m.run(Map.of(input, batch));
                for (int k = 0; k < order.size(); k++) {
                    Tensor t = order.get(k).equals(input) ? batch : out.get(order.get(k));
                    for (float v : t.toFloatArray()) {
                        min[k] = Math.min(min[k], v);
                        max[k] = Math.max(max[k], v);
                    }
                }
            }
        }
        Map<String, TensorRange> ranges = new LinkedHashMap<>();
        for (int k = 0; k < order.size(); k++) {
            ranges.put(order.get(k), new TensorRange(min[k], max[k]));
        }
        return ranges;
    }

    /**
     * How many nodes of each operator type ("domain:op" outside the default domain) the graph has after ONNX
     * Runtime's optimizations at the given level.
     *
     * @param graph the model
     * @param level ONNX Runtime's optimization level
     * @param dir a scratch directory
     * @return op type to count, sorted
     */
    public static Map<String, Integer> optimizedOps(Graph graph, OrtSession.SessionOptions.OptLevel level, Path dir)
            throws OrtException, IOException {
        Path model = dir.resolve("model.onnx");
        Path optimized = dir.resolve("optimized.onnx");
        OnnxWriter.write(graph, model);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setOptimizationLevel(level);
            o.setOptimizedModelFilePath(optimized.toString());
            try (OrtSession s = env.createSession(model.toString(), o)) {
                // the optimized model is written when the session is created
            }
        }
        Onnx.ModelProto m = Onnx.ModelProto.parseFrom(Files.readAllBytes(optimized));
        Map<String, Integer> counts = new TreeMap<>();
        for (Onnx.NodeProto n : m.getGraph().getNodeList()) {
            String key = n.getDomain().isEmpty() ? n.getOpType() : n.getDomain() + ":" + n.getOpType();
            counts.merge(key, 1, Integer::sum);
        }
        return counts;
    }
}
