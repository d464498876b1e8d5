package dev.forge.compiler.quant;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.compiler.passes.FoldBatchNorm;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.passes.RemoveUnusedInitializers;
import dev.forge.compiler.passes.UntieParameters;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Dynamic INT8 quantization of MatMul and Gemm layers with constant weights (docs/QUANTIZATION.md): the
 * weights are stored as int8, symmetric per output column; the activations are quantized at run time, per
 * batch, so no calibration data is needed:
 *
 * <pre>
 *   x -> DynamicQuantizeLinear -> (x_q uint8, s_x, z_x)
 *   MatMulInteger(x_q, W_q, z_x) -> int32 -> Cast float -> Mul (s_x * s_w) -> Add bias -> y
 * </pre>
 *
 * The per-column weight scales are applied by the Mul after the integer product, where they broadcast
 * along the output columns, so per-column weights need nothing from MatMulInteger itself (its weight zero
 * point is 0). ONNX Runtime fuses the chain into {@code DynamicQuantizeMatMul}. Convolutions and every other
 * operator stay float (reported): ONNX Runtime's {@code ConvInteger} is slower than its float Conv.
 */
public final class DynamicQuantization {
    private static final String NAME = "DynamicQuantization";

    private final boolean reduceRange;
    private final Set<String> keepFloat;

    private DynamicQuantization(boolean reduceRange, Set<String> keepFloat) {
        this.reduceRange = reduceRange;
        this.keepFloat = Set.copyOf(keepFloat);
    }

    /**
     * 7-bit weights (see {@link StaticQuantization.Builder#reduceRange}), nothing kept float.
     *
     * @return the default dynamic quantization
     */
    public static DynamicQuantization defaults() {
        return new DynamicQuantization(true, Set.of());
    }

    /**
     * The same with 7-bit ({@code -63..63}, true) or 8-bit weights, see
     * {@link StaticQuantization.Builder#reduceRange}.
     *
     * @param reduce whether to use 7-bit weights
     * @return a new quantization
     */
    public DynamicQuantization reduceRange(boolean reduce) {
        return new DynamicQuantization(reduce, keepFloat);
    }

    /**
     * The same, keeping these nodes (by node or output name) in float.
     *
     * @param names node or output names
     * @return a new quantization
     */
    public DynamicQuantization keepFloat(Set<String> names) {
        return new DynamicQuantization(reduceRange, names);
    }

    /**
     * Quantizes a float model's MatMul and Gemm layers.
     *
     * @param graph a float model (not changed)
     * @return the quantized graph and what was quantized and what stayed float
     * @throws IllegalArgumentException if the graph is already quantized or below opset 13
     */
    public StaticQuantization.Result apply(Graph graph) {
        Graph g = graph.copy();
        QuantGraphs.requireFloatModel(g, NAME);
        // a PyTorch export ties equal parameters through Identity nodes; untied, they are constants again
        new UntieParameters().run(g, new PassContext());
        new FoldBatchNorm().run(g, new PassContext());
        ShapeInference.run(g);
        QuantGraphs.requireKnownNames(g, keepFloat, NAME);
        Map<String, String> quantized = new LinkedHashMap<>();
        Map<String, String> keptFloat = new LinkedHashMap<>();
        List<Node> out = new ArrayList<>();
        for (Node n : new ArrayList<>(g.nodes())) {
            String problem = problem(g, n);
            if (problem == null) {
                emit(g, n, out);
                quantized.put(n.name(), "int8 per-column weights, uint8 activations quantized at run time");
            } else {
                out.add(n);
                keptFloat.put(n.name(), problem);
            }
        }
        g.setNodes(out);
        new RemoveUnusedInitializers().run(g, new PassContext());
        ShapeInference.run(g);
        return new StaticQuantization.Result(g, quantized, keptFloat);
    }

    private String problem(Graph g, Node n) {
        boolean kept = keepFloat.contains(n.name()) || n.outputs().stream().anyMatch(keepFloat::contains);
        if (kept) {
            return "kept float as asked (keepFloat)";
        }
        String op = n.opType();
        if (!op.equals("MatMul") && !op.equals("Gemm")) {
            return op + " is not quantized dynamically (only MatMul and Gemm are); it runs in float";
        }
        ValueType xt = g.type(n.input(0));
        Tensor w = QuantGraphs.floatConstant(g, n.input(1));
        if (xt == null
                || xt.dtype() != DType.FLOAT32
                || xt.shape() == null
                || xt.shape().rank() < 2) {
            return "its input '" + n.input(0) + "' is not a float32 tensor of rank >= 2";
        }
        if (w == null || w.rank() != 2) {
            return "its weights '" + n.input(1) + "' are not a float32 constant matrix";
        }
        if (op.equals("Gemm")) {
            if (n.attrInt("transA", 0) != 0 || n.attrFloat("alpha", 1f) != 1f) {
                return "only Gemm with transA = 0 and alpha = 1 is quantized";
            }
            if (n.hasInput(2)) {
                Tensor c = QuantGraphs.floatConstant(g, n.input(2));
                long outputs = n.attrInt("transB", 0) != 0 ? w.dim(0) : w.dim(1);
                if (c == null || c.size() != outputs || n.attrFloat("beta", 1f) != 1f) {
                    return "its bias C must be a float32 constant with one value per output and beta = 1";
                }
            }
        }
        return null;
    }

    /** Emits the dynamic chain in place of a MatMul or Gemm; its last node writes the layer's output name. */
    private void emit(Graph g, Node n, List<Node> out) {
        String base = n.name();
        Tensor w = g.initializers().get(n.input(1));
        if (n.opType().equals("Gemm") && n.attrInt("transB", 0) != 0) {
            w = transpose(w);
        }
        int qmax = reduceRange ? QuantMath.INT7_SYMMETRIC_MAX : QuantMath.INT8_SYMMETRIC_MAX;
        float[] ws = QuantMath.symmetricScales(w, 1, qmax);
        String wq = QuantGraphs.fresh(g, n.input(1) + "/int8");
        g.addInitializer(wq, QuantMath.quantizeWeights(w, 1, ws, qmax));
        String wScale = QuantGraphs.fresh(g, n.input(1) + "/scale");
        g.addInitializer(wScale, Tensor.of(ws, ws.length));

        String xq = QuantGraphs.fresh(g, base + "/input_quantized");
        String xs = QuantGraphs.fresh(g, base + "/input_scale");
        String xz = QuantGraphs.fresh(g, base + "/input_zero_point");
        out.add(node(
                "DynamicQuantizeLinear", base + "/DynamicQuantizeLinear", List.of(n.input(0)), List.of(xq, xs, xz)));
        String acc = QuantGraphs.fresh(g, base + "/int32");
        out.add(node("MatMulInteger", base + "/MatMulInteger", List.of(xq, wq, xz), List.of(acc)));
        String accF = QuantGraphs.fresh(g, base + "/int32_as_float");
        Map<String, Attribute> toFloat = Map.of("to", new Attribute.Int(DType.FLOAT32.onnxElementType()));
        out.add(new Node("Cast", base + "/Cast", List.of(acc), List.of(accF), toFloat));
        String scale = QuantGraphs.fresh(g, base + "/output_scale");
        out.add(node("Mul", base + "/output_scale", List.of(xs, wScale), List.of(scale)));
        boolean bias = n.hasInput(2);
        String scaled = bias ? QuantGraphs.fresh(g, base + "/unbiased") : n.output(0);
        out.add(node("Mul", base + "/Mul", List.of(accF, scale), List.of(scaled)));
        if (bias) {
            String c = n.input(2);
            Tensor ct = g.initializers().get(c);
            if (ct.rank() != 1) {
                String flat = QuantGraphs.fresh(g, c + "/vector");
                g.addInitializer(flat, ct.reshape(ct.size()));
                c = flat;
            }
            out.add(node("Add", base + "/Add", List.of(scaled, c), List.of(n.output(0))));
        }
    }

    private static Node node(String op, String name, List<String> inputs, List<String> outputs) {
        return new Node(op, name, inputs, outputs, Collections.emptyMap());
    }

    private static Tensor transpose(Tensor w) {
        Objects.requireNonNull(w, "w");
        int rows = (int) w.dim(0);
        int cols = (int) w.dim(1);
        float[] v = w.toFloatArray();
        float[] t = new float[v.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = v[r * cols + c];
            }
        }
        return Tensor.of(t, cols, rows);
    }
}
