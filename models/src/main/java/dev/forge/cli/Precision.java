package dev.forge.cli;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.List;
import java.util.Set;

/**
 * The precision a layer of a possibly quantized model computes in, as {@code forge inspect} shows it: read
 * from the graph as ONNX Runtime will see it, not from any metadata, so it is right for models quantized
 * by any tool.
 */
final class Precision {
    /** Operators that compute in integers whatever their neighbours are. */
    private static final Set<String> INTEGER_OPS = Set.of(
            "QLinearConv",
            "QLinearMatMul",
            "ConvInteger",
            "MatMulInteger",
            "QGemm",
            "QLinearAdd",
            "QLinearMul",
            "QLinearAveragePool",
            "QLinearGlobalAveragePool",
            "QLinearConcat",
            "DynamicQuantizeMatMul",
            "MatMulIntegerToFloat");

    /** Operators that convert between float and integers. */
    private static final Set<String> CONVERSIONS =
            Set.of("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear");

    /** Layers whose weights a DequantizeLinear can feed. */
    private static final Set<String> WEIGHTED = Set.of("Conv", "ConvTranspose", "Gemm", "MatMul");

    private Precision() {}

    /** Whether the graph has anything but float32 compute, so the column is worth showing. */
    static boolean isMixed(Graph g) {
        for (Node n : g.nodes()) {
            if (INTEGER_OPS.contains(n.opType())
                    || CONVERSIONS.contains(n.opType())
                    || ParameterCount.restoresInteger(g, n)) {
                return true;
            }
            for (String o : n.outputs()) {
                String t = floatType(g, o);
                if (t != null && !t.equals("float32")) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * One node's precision: {@code int8} (integer kernels, or a QDQ group whose weights and input are both
     * dequantized int8: ONNX Runtime runs it as one integer kernel), {@code int8 weights} (dequantized
     * weights, float input), {@code q/dq} (a conversion), {@code fp16}, {@code bf16}, {@code fp32},
     * {@code fp64}, or empty for nodes that compute no floats (shapes, indices). Weights stored as int8 and
     * restored by {@code Mul(Cast(int8), scale)} (the weight-only form, which ONNX Runtime folds at load)
     * show as {@code int8 weights} too.
     */
    static String of(Graph g, Node n) {
        if (INTEGER_OPS.contains(n.opType())) {
            return "int8";
        }
        if (CONVERSIONS.contains(n.opType()) || ParameterCount.restoresInteger(g, n)) {
            return "q/dq";
        }
        if (WEIGHTED.contains(n.opType()) && n.inputs().size() > 1 && isDequantizedInteger(g, n.input(1))) {
            return isDequantizedInteger(g, n.input(0)) ? "int8" : "int8 weights";
        }
        if (WEIGHTED.contains(n.opType())
                && n.inputs().size() > 1
                && ParameterCount.restoredInteger(g, n.input(1)) != null) {
            return "int8 weights";
        }
        String t = n.outputs().isEmpty() ? null : floatType(g, n.output(0));
        if (t == null) {
            return "";
        }
        if (betweenQdq(g, n)) {
            return "int8";
        }
        return switch (t) {
            case "float16" -> "fp16";
            case "bfloat16" -> "bf16";
            case "float64" -> "fp64";
            default -> "fp32";
        };
    }

    /**
     * True for a float node ONNX Runtime runs on 8-bit values: every float input is dequantized (or comes
     * from an int8 layer it is fused into) and every reader of its output quantizes it again, as for a Relu
     * after a quantized Conv or a MaxPool between two QDQ pairs.
     */
    private static boolean betweenQdq(Graph g, Node n) {
        boolean anyInput = false;
        for (String in : n.inputs()) {
            if (in.isEmpty() || g.initializers().containsKey(in) || floatType(g, in) == null) {
                continue;
            }
            Node p = g.producer(in);
            boolean quantized = p != null
                    && (p.opType().equals("DequantizeLinear")
                            || (WEIGHTED.contains(p.opType()) && of(g, p).equals("int8")));
            if (!quantized) {
                return false;
            }
            anyInput = true;
        }
        if (!anyInput) {
            return false;
        }
        for (String o : n.outputs()) {
            List<Node> readers = g.consumers(o);
            if (readers.isEmpty() || !readers.stream().allMatch(r -> r.opType().equals("QuantizeLinear"))) {
                return false;
            }
        }
        return true;
    }

    /** True when {@code value} is a DequantizeLinear of 8-bit integers. */
    private static boolean isDequantizedInteger(Graph g, String value) {
        Node dq = g.producer(value);
        if (dq == null || !dq.opType().equals("DequantizeLinear")) {
            return false;
        }
        Tensor init = g.initializers().get(dq.input(0));
        String t = init != null ? init.dtype().typeName() : typeName(g.type(dq.input(0)));
        return "int8".equals(t) || "uint8".equals(t);
    }

    private static String floatType(Graph g, String value) {
        String t = typeName(g.type(value));
        return t != null && (t.startsWith("float") || t.equals("bfloat16")) ? t : null;
    }

    private static String typeName(ValueType t) {
        return t == null ? null : t.dtype().typeName();
    }
}
