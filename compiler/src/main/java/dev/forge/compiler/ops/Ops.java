package dev.forge.compiler.ops;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The closed registry of operator definitions ({@link OpDef}): the ONNX operators Forge understands,
 * each with its attribute schema, shape rule and gradient rule (or "not differentiable"). One file per
 * operator family registers its definitions. An operator outside this set can still be read and written
 * back, but its outputs have unknown shapes, its attributes are not checked and it cannot be
 * differentiated.
 */
public final class Ops {
    private static final Map<String, OpDef> DEFINITIONS;
    private static final Set<String> DIFFERENTIABLE;

    static {
        Registry r = new Registry();
        ActivationOps.register(r);
        ElementwiseOps.register(r);
        MatrixOps.register(r);
        ConvOps.register(r);
        PoolOps.register(r);
        NormalizationOps.register(r);
        ReductionOps.register(r);
        ShapeOps.register(r);
        ResizeOps.register(r);
        TensorOps.register(r);
        QuantOps.register(r);
        DEFINITIONS = Collections.unmodifiableMap(r.definitions);
        Set<String> differentiable = new TreeSet<>();
        DEFINITIONS.values().stream().filter(d -> d.gradient() != null).forEach(d -> differentiable.add(d.name()));
        DIFFERENTIABLE = Collections.unmodifiableSet(differentiable);
    }

    private Ops() {}

    /** True if Forge has a definition for this operator type (default ONNX domain). */
    public static boolean isKnown(String opType) {
        return DEFINITIONS.containsKey(opType);
    }

    /** Every operator type with a definition, sorted. */
    public static Set<String> known() {
        return DEFINITIONS.keySet();
    }

    /** The definition of an operator type, or null. */
    public static OpDef definition(String opType) {
        return DEFINITIONS.get(opType);
    }

    /** The definition of a node's operator, or null when it is unknown or in another domain. */
    public static OpDef definition(Node node) {
        return isDefaultDomain(node) ? DEFINITIONS.get(node.opType()) : null;
    }

    /** Every operator type with a gradient rule, sorted. */
    public static Set<String> differentiable() {
        return DIFFERENTIABLE;
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
    public static List<ValueType> infer(
            Node node, List<ValueType> inputTypes, Function<String, Tensor> constants, int opset, boolean strict) {
        return infer(node, inputTypes, constants, name -> null, opset, strict);
    }

    /** Infers a node's output types, seeing through shape tensors (see {@link InferenceContext#shapeTensor}). */
    public static List<ValueType> infer(
            Node node,
            List<ValueType> inputTypes,
            Function<String, Tensor> constants,
            Function<String, Shape> shapeTensors,
            int opset,
            boolean strict) {
        OpDef def = definition(node);
        if (def == null) {
            return null;
        }
        try {
            return def.shapeRule()
                    .infer(new InferenceContext(node, inputTypes, constants, shapeTensors, opset, strict));
        } catch (InferenceContext.UnknownShape e) {
            return null;
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(node.label())) {
                throw new ShapeException(e.getMessage());
            }
            throw new ShapeException(node.label() + ": " + e.getMessage());
        }
    }

    /**
     * Checks a node's attributes against its operator's schema: every name must be one the ONNX
     * specification gives the operator, every value of the declared type, every required attribute
     * present. Nodes of operators outside the registry (or another domain) are not checked.
     *
     * @throws AttributeException naming the op, the node, the bad attribute and the valid ones
     */
    public static void checkAttributes(Node node) {
        OpDef def = definition(node);
        if (def == null) {
            return;
        }
        Map<String, AttributeSpec> schema = def.attributes();
        for (Map.Entry<String, Attribute> e : node.attributes().entrySet()) {
            AttributeSpec spec = schema.get(e.getKey());
            if (spec == null) {
                String near = closest(e.getKey(), schema.keySet());
                throw new AttributeException(node.label() + ": unknown attribute '" + e.getKey() + "'; "
                        + (near == null ? "" : "did you mean '" + near + "'? ") + takes(def));
            }
            if (!spec.kind().accepts(e.getValue())) {
                throw new AttributeException(node.label() + ": attribute '" + e.getKey() + "' must be "
                        + spec.kind().description() + ", got " + AttributeSpec.Kind.describe(e.getValue())
                        + "; give it as " + spec.kind().description());
            }
        }
        for (AttributeSpec spec : schema.values()) {
            if (spec.required() && !node.attributes().containsKey(spec.name())) {
                throw new AttributeException(node.label() + ": attribute '" + spec.name() + "' ("
                        + spec.kind().description() + ") is required; " + takes(def));
            }
        }
    }

    private static String takes(OpDef def) {
        return def.attributes().isEmpty()
                ? def.name() + " takes no attributes"
                : def.name() + " takes " + String.join(", ", def.attributes().keySet());
    }

    /**
     * The valid name closest to a misspelled one, or null: within an edit distance of 2 (or a third of the
     * name's length, so {@code kernel_size} finds {@code kernel_shape}), or containing or contained in it.
     */
    static String closest(String wrong, Set<String> valid) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        String w = wrong.toLowerCase(java.util.Locale.ROOT);
        for (String v : valid) {
            String lv = v.toLowerCase(java.util.Locale.ROOT);
            int d = editDistance(w, lv);
            boolean contains = w.length() >= 3 && (lv.contains(w) || w.contains(lv));
            if ((d <= Math.max(2, w.length() / 3) || contains) && d < bestDistance) {
                best = v;
                bestDistance = d;
            }
        }
        return best;
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    private static boolean isDefaultDomain(Node node) {
        return node.domain().isEmpty() || node.domain().equals("ai.onnx");
    }

    /** Collects definitions during static initialization. */
    static final class Registry {
        final Map<String, OpDef> definitions = new TreeMap<>();

        void add(OpDef.Builder b) {
            OpDef d = b.build();
            if (definitions.put(d.name(), d) != null) {
                throw new IllegalStateException("two definitions of " + d.name());
            }
        }
    }
}
