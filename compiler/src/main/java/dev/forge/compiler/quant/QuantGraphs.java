package dev.forge.compiler.quant;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.runtime.DType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** What the static and dynamic passes share: the already-quantized check, constants and node helpers. */
final class QuantGraphs {
    /** Operators that mean a graph is quantized already (ONNX and ONNX Runtime's com.microsoft forms). */
    static final Set<String> QUANTIZED_OPS = Set.of(
            "QuantizeLinear",
            "DequantizeLinear",
            "DynamicQuantizeLinear",
            "MatMulInteger",
            "ConvInteger",
            "QLinearConv",
            "QLinearMatMul",
            "QLinearAdd",
            "QLinearMul",
            "QLinearAveragePool",
            "QLinearGlobalAveragePool",
            "QLinearConcat",
            "QLinearLeakyRelu",
            "QLinearSigmoid",
            "QLinearSoftmax",
            "QGemm",
            "MatMulIntegerToFloat",
            "DynamicQuantizeMatMul");

    /** The minimum default-domain opset: per-axis (per-channel) DequantizeLinear arrived in opset 13. */
    static final int MIN_OPSET = 13;

    private QuantGraphs() {}

    /** Refuses a graph that contains a quantization operator or is below opset 13, naming what to do. */
    static void requireFloatModel(Graph g, String pass) {
        List<String> found = new ArrayList<>();
        for (Node n : g.nodes()) {
            if (QUANTIZED_OPS.contains(n.opType())) {
                found.add(n.label());
            }
        }
        if (!found.isEmpty()) {
            throw new IllegalArgumentException(pass + ": graph '" + g.name() + "' is already quantized: it contains "
                    + String.join(", ", found.subList(0, Math.min(5, found.size())))
                    + (found.size() > 5 ? " and " + (found.size() - 5) + " more" : "")
                    + "; quantize the float model it was made from");
        }
        if (g.opset() < MIN_OPSET) {
            throw new IllegalArgumentException(pass + ": graph '" + g.name() + "' uses opset " + g.opset()
                    + ", quantization needs opset " + MIN_OPSET + " or later (per-channel DequantizeLinear); "
                    + "re-export the model at opset 13 or later (torch.onnx.export(..., opset_version=17))");
        }
    }

    /** Refuses keep-float names that are neither a node nor a node output of the graph (a typo keeps nothing). */
    static void requireKnownNames(Graph g, Set<String> keepFloat, String pass) {
        Set<String> known = new java.util.HashSet<>();
        for (Node n : g.nodes()) {
            known.add(n.name());
            known.addAll(n.outputs());
        }
        List<String> unknown = new ArrayList<>();
        for (String name : new java.util.TreeSet<>(keepFloat)) {
            if (!known.contains(name)) {
                unknown.add(name);
            }
        }
        if (!unknown.isEmpty()) {
            List<String> layers = new ArrayList<>();
            for (Node n : g.nodes()) {
                if (Set.of("Conv", "Gemm", "MatMul").contains(n.opType())) {
                    layers.add(n.name());
                }
            }
            throw new IllegalArgumentException(pass + ": keepFloat names " + unknown + ", which graph '" + g.name()
                    + "' has neither as a node nor as a node output; its layers are " + layers);
        }
    }

    /** A float32 initializer, or null when {@code name} is computed at run time or of another type. */
    static Tensor floatConstant(Graph g, String name) {
        Tensor t = name.isEmpty() ? null : g.initializers().get(name);
        return t != null && t.dtype() == DType.FLOAT32 ? t : null;
    }

    /** A name derived from {@code base} that the graph does not use yet. */
    static String fresh(Graph g, String base) {
        String name = base;
        for (int k = 2; g.hasValue(name); k++) {
            name = base + "_" + k;
        }
        return name;
    }

    /** True if {@code value} is one of the graph's outputs. */
    static boolean isGraphOutput(Graph g, String value) {
        for (ValueInfo o : g.outputs()) {
            if (o.name().equals(value)) {
                return true;
            }
        }
        return false;
    }

    /** A scalar (shape []) tensor of the zero point's type. */
    static Tensor zeroPoint(QuantType type, int zp) {
        return type == QuantType.UINT8 ? Tensor.ofUint8(new byte[] {(byte) zp}) : Tensor.ofInt8(new byte[] {(byte) zp});
    }
}
