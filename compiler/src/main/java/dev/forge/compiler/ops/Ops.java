package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The registry of operator shape rules: the closed set of ONNX operators Forge understands. An operator
 * outside this set can still be read and written back, but its outputs have unknown shapes.
 */
public final class Ops {
    private static final Map<String, ShapeRule> RULES;

    static {
        Registry r = new Registry();
        ConvOps.register(r);
        PoolOps.register(r);
        ElementwiseOps.register(r);
        TensorOps.register(r);
        MathOps.register(r);
        RULES = Collections.unmodifiableMap(r.rules);
    }

    private Ops() {
    }

    /** True if Forge has a shape rule for this operator type (default ONNX domain). */
    public static boolean isKnown(String opType) {
        return RULES.containsKey(opType);
    }

    /** Every operator type with a shape rule, sorted. */
    public static Set<String> known() {
        return RULES.keySet();
    }

    /**
     * Infers a node's output types.
     *
     * @param node the node
     * @param inputTypes one type per input (null for omitted or unknown)
     * @param constants constant value lookup by value name
     * @param opset default-domain opset
     * @param strict reject fractional convolution/pooling output sizes
     * @return output types, with null entries where unknown; null if the op has no rule or an input type
     *     is unknown
     * @throws ShapeException on inconsistent inputs or attributes
     */
    public static List<ValueType> infer(Node node, List<ValueType> inputTypes, Function<String, Tensor> constants,
            int opset, boolean strict) {
        return infer(node, inputTypes, constants, name -> null, opset, strict);
    }

    /** Infers a node's output types, seeing through shape tensors (see {@link InferenceContext#shapeTensor}). */
    public static List<ValueType> infer(Node node, List<ValueType> inputTypes, Function<String, Tensor> constants,
            Function<String, dev.forge.compiler.ir.Shape> shapeTensors, int opset, boolean strict) {
        if (!node.domain().isEmpty() && !node.domain().equals("ai.onnx")) {
            return null;
        }
        ShapeRule rule = RULES.get(node.opType());
        if (rule == null) {
            return null;
        }
        try {
            return rule.infer(new InferenceContext(node, inputTypes, constants, shapeTensors, opset, strict));
        } catch (InferenceContext.UnknownShape e) {
            return null;
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(node.label())) {
                throw new ShapeException(e.getMessage());
            }
            throw new ShapeException(node.label() + ": " + e.getMessage());
        }
    }

    /** Collects rules during static initialization. */
    static final class Registry {
        final Map<String, ShapeRule> rules = new TreeMap<>();

        void add(String opType, ShapeRule rule) {
            if (rules.put(opType, rule) != null) {
                throw new IllegalStateException("two shape rules for " + opType);
            }
        }
    }
}
