package dev.forge.compiler.reference;

import dev.forge.compiler.ir.Dim;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.Shape;
import dev.forge.compiler.ir.ValueInfo;
import dev.forge.compiler.ir.ValueType;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A pure-Java, double-precision interpreter of Forge graphs: the correctness oracle that ONNX Runtime's
 * float32 results, exported models and finite-difference gradients are checked against.
 *
 * <p>Each supported ONNX operator ({@link #supportedOps()}) has one rule (in {@link ElementwiseRules},
 * {@link MathRules}, {@link SpatialRules}, {@link TensorRules}) written from the ONNX operator
 * specification for opsets 13 to 17 (plus the opset-18 forms of ReduceMean/ReduceMax, Pad and Split, and
 * the attribute forms older opsets use for axes and Clip bounds), as a plain loop over the definition,
 * independent of ONNX Runtime and of the compiler's own code. Every value is computed in double
 * precision; float32-tagged values are never rounded to float (float attributes such as epsilon are
 * float32 by the ONNX format and are used as such). Besides the CNN operators it covers the ones the
 * training-step graphs use (Sum, Slice, Split, Size, ScatterElements, Sign, logic and rounding), so
 * whole training graphs can be evaluated.
 *
 * <p>The driver walks {@link Graph#nodes()} in order (they are topologically sorted) and, unless told
 * not to, checks every value it computes against the type the graph records for it (element type, rank,
 * fixed dimensions, and one size per symbolic dimension such as the batch {@code N}): a disagreement
 * means shape inference and the operator's semantics differ, and is reported with both.
 *
 * <pre>{@code
 * Map<String, DoubleTensor> out = ReferenceEvaluator.run(graph, Map.of("input", DoubleTensor.random(rnd, 2, 1, 28, 28)));
 * ReferenceEvaluator.assertClose(out.get("logits"), ortResult, 1e-5, "logits");
 * }</pre>
 */
public final class ReferenceEvaluator {
    static final String PREFIX = "ReferenceEvaluator: ";

    private static final Map<String, Rule> RULES;

    static {
        Map<String, Rule> r = new TreeMap<>();
        ElementwiseRules.register(r);
        MathRules.register(r);
        SpatialRules.register(r);
        TensorRules.register(r);
        QuantRules.register(r);
        RULES = Collections.unmodifiableMap(r);
    }

    private ReferenceEvaluator() {}

    /** The rule of one operator, for rules defined through another (MatMulInteger through MatMul). */
    static Rule rule(String op) {
        return RULES.get(op);
    }

    /** The ONNX operator types the evaluator has a rule for, sorted. */
    public static Set<String> supportedOps() {
        return RULES.keySet();
    }

    /**
     * Evaluates a graph and returns its outputs, in the graph's output order.
     *
     * @param graph the graph
     * @param inputs a value for every graph input (an input that is also an initializer may be omitted);
     *     a name of an initializer replaces that initializer's value (for perturbing weights)
     * @return every graph output by name
     * @throws IllegalArgumentException on a missing, unknown or mistyped input, an unsupported op, or a
     *     node whose inputs violate its operator's rules (naming the op and node)
     * @throws IllegalStateException when a computed value disagrees with the type the graph records
     */
    public static Map<String, DoubleTensor> run(Graph graph, Map<String, DoubleTensor> inputs) {
        Map<String, DoubleTensor> all = runAll(graph, inputs);
        Map<String, DoubleTensor> out = new LinkedHashMap<>();
        for (ValueInfo o : graph.outputs()) {
            DoubleTensor v = all.get(o.name());
            if (v == null) {
                throw new IllegalArgumentException(
                        PREFIX + "graph output '" + o.name() + "' is not produced by any node, input or initializer");
            }
            out.put(o.name(), v);
        }
        return out;
    }

    /**
     * Evaluates a graph and returns every value: initializers, inputs and every node output, in that order
     * (for debugging and gradient checks). Checks computed values against the recorded types.
     */
    public static Map<String, DoubleTensor> runAll(Graph graph, Map<String, DoubleTensor> inputs) {
        return runAll(graph, inputs, true);
    }

    /**
     * Evaluates a graph and returns every value.
     *
     * @param checkRecordedTypes whether to compare each computed value with {@link Graph#type(String)}
     */
    public static Map<String, DoubleTensor> runAll(
            Graph graph, Map<String, DoubleTensor> inputs, boolean checkRecordedTypes) {
        Map<String, DoubleTensor> env = new LinkedHashMap<>();
        Map<String, Long> symbols = new HashMap<>();
        graph.initializers().forEach((name, t) -> env.put(name, DoubleTensor.of(t)));
        for (String name : inputs.keySet()) {
            boolean isInput = graph.inputs().stream().anyMatch(i -> i.name().equals(name));
            if (!isInput && !graph.initializers().containsKey(name)) {
                throw new IllegalArgumentException(PREFIX + "unknown input '" + name + "'; graph '" + graph.name()
                        + "' has inputs "
                        + graph.inputs().stream().map(ValueInfo::name).toList() + " and initializers "
                        + graph.initializers().keySet());
            }
        }
        for (Map.Entry<String, DoubleTensor> e : inputs.entrySet()) {
            DoubleTensor given = e.getValue();
            DoubleTensor old = env.get(e.getKey());
            if (old != null && (old.dtype() != given.dtype() || !Arrays.equals(old.rawShape(), given.rawShape()))) {
                throw new IllegalArgumentException(PREFIX + "initializer '" + e.getKey() + "' is " + describe(old)
                        + " but the replacement is " + describe(given));
            }
            env.put(e.getKey(), given);
        }
        for (ValueInfo in : graph.inputs()) {
            DoubleTensor v = env.get(in.name());
            if (v == null) {
                throw new IllegalArgumentException(
                        PREFIX + "missing a value for graph input '" + in.name() + "' (" + in.type() + ")");
            }
            String problem = typeMismatch(in.type(), v, symbols);
            if (problem != null) {
                throw new IllegalArgumentException(PREFIX + "graph input '" + in.name() + "' is declared " + in.type()
                        + " but the value given is " + describe(v) + ": " + problem);
            }
        }
        int opset = graph.opset();
        for (Node node : graph.nodes()) {
            List<DoubleTensor> args = new ArrayList<>();
            for (String name : node.inputs()) {
                if (name.isEmpty()) {
                    args.add(null);
                    continue;
                }
                DoubleTensor v = env.get(name);
                if (v == null) {
                    throw new IllegalArgumentException(PREFIX + node.label() + ": input '" + name
                            + "' has no value (not an input," + " initializer or output of an earlier node)");
                }
                args.add(v);
            }
            List<DoubleTensor> results = evaluateNode(node, args, opset);
            for (int i = 0; i < node.outputs().size(); i++) {
                String name = node.output(i);
                if (name.isEmpty()) {
                    continue;
                }
                if (i >= results.size()) {
                    throw new IllegalArgumentException(PREFIX + node.label() + ": output " + i + " ('" + name
                            + "') is not produced by this operator");
                }
                DoubleTensor v = results.get(i);
                ValueType recorded = graph.type(name);
                if (checkRecordedTypes && recorded != null) {
                    String problem = typeMismatch(recorded, v, symbols);
                    if (problem != null) {
                        throw new IllegalStateException(PREFIX + node.label() + " output '" + name + "' evaluates to "
                                + describe(v)
                                + " but the graph records " + recorded + " (" + problem + "); shape inference and the"
                                + " operator's semantics disagree");
                    }
                }
                env.put(name, v);
            }
        }
        return env;
    }

    /**
     * Evaluates one node on given input values.
     *
     * @param node the node
     * @param inputs one value per node input, null for an omitted optional input
     * @param opset the default-domain opset the node belongs to
     * @return one value per output the operator defines (optional outputs included)
     */
    public static List<DoubleTensor> evaluateNode(Node node, List<DoubleTensor> inputs, int opset) {
        Rule rule = node.domain().isEmpty() || node.domain().equals("ai.onnx") ? RULES.get(node.opType()) : null;
        if (rule == null) {
            String op = node.domain().isEmpty() ? node.opType() : node.domain() + "." + node.opType();
            throw new IllegalArgumentException(
                    PREFIX + "no rule for " + op + " (node " + node.name() + "); supported: " + supportedOps());
        }
        try {
            return rule.apply(new Call(node, Collections.unmodifiableList(new ArrayList<>(inputs)), opset));
        } catch (IllegalArgumentException | IndexOutOfBoundsException | ArithmeticException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(PREFIX)) {
                throw e;
            }
            throw new IllegalArgumentException(
                    PREFIX + node.label() + ": " + e.getMessage() + " (inputs "
                            + inputs.stream()
                                    .map(t -> t == null ? "<omitted>" : describe(t))
                                    .toList() + ")",
                    e);
        }
    }

    /** Runtime tensors as evaluator inputs. */
    public static Map<String, DoubleTensor> fromTensors(Map<String, Tensor> tensors) {
        Map<String, DoubleTensor> out = new LinkedHashMap<>();
        tensors.forEach((k, v) -> out.put(k, DoubleTensor.of(v)));
        return out;
    }

    private static String describe(DoubleTensor t) {
        return t.dtype().typeName() + Shape.format(t.rawShape());
    }

    /** Null when {@code v} fits the recorded type; otherwise what differs. Binds symbolic dimensions. */
    private static String typeMismatch(ValueType recorded, DoubleTensor v, Map<String, Long> symbols) {
        if (recorded.dtype() != v.dtype()) {
            return "element type " + v.dtype().typeName() + " vs "
                    + recorded.dtype().typeName();
        }
        Shape s = recorded.shape();
        if (s == null) {
            return null;
        }
        if (s.rank() != v.rank()) {
            return "rank " + v.rank() + " vs " + s.rank();
        }
        for (int i = 0; i < s.rank(); i++) {
            Dim d = s.dim(i);
            long actual = v.dim(i);
            if (d.isFixed() && d.value() != actual) {
                return "dimension " + i + " is " + actual + " vs " + d.value();
            }
            if (d.isSymbolic()) {
                Long bound = symbols.putIfAbsent(d.symbol(), actual);
                if (bound != null && bound != actual) {
                    return "dimension " + i + " (" + d.symbol() + ") is " + actual + " but " + d.symbol() + " = "
                            + bound + " elsewhere";
                }
            }
        }
        return null;
    }

    // ---- comparing results -----------------------------------------------------------------------

    /**
     * The largest absolute difference relative to the largest expected magnitude:
     * {@code max_i |e_i - a_i| / max(max_i |e_i|, 1e-12)}.
     *
     * <p>One scale for the whole tensor (rather than per element) so that elements near zero, where
     * float32 rounding of a sum is large relative to the element, do not dominate; the 1e-12 floor keeps an
     * all-zero expectation from dividing by zero. A NaN or infinity in one array where the other has a
     * different value counts as an infinite error; equal special values (both NaN, same infinity) count as
     * zero error.
     *
     * @throws IllegalArgumentException when the lengths differ
     */
    public static double maxRelativeError(double[] expected, float[] actual) {
        double[] a = new double[actual.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = actual[i];
        }
        return maxRelativeError(expected, a);
    }

    /** {@link #maxRelativeError(double[], float[])} for two double arrays (e.g. two reference results). */
    public static double maxRelativeError(double[] expected, double[] actual) {
        return worst(expected, actual).error;
    }

    private record Worst(double error, int index, double scale) {}

    private static Worst worst(double[] expected, double[] actual) {
        if (expected.length != actual.length) {
            throw new IllegalArgumentException("expected has " + expected.length + " values, actual " + actual.length);
        }
        double scale = 1e-12;
        for (double e : expected) {
            if (Double.isFinite(e)) {
                scale = Math.max(scale, Math.abs(e));
            }
        }
        double maxDiff = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            double diff;
            if (Double.compare(e, a) == 0 || e == a) {
                diff = 0;
            } else if (!Double.isFinite(e) || !Double.isFinite(a)) {
                diff = Double.POSITIVE_INFINITY;
            } else {
                diff = Math.abs(e - a);
            }
            if (diff > maxDiff || at < 0) {
                maxDiff = diff;
                at = i;
            }
        }
        return new Worst(maxDiff / scale, at, scale);
    }

    /**
     * Fails with an {@link AssertionError} naming the worst element (index, expected, actual) unless
     * {@code actual} has the expected shape and {@link #maxRelativeError} is at most {@code tolerance}.
     *
     * @param expected the reference value
     * @param actual e.g. ONNX Runtime's float32 result
     * @param tolerance the largest acceptable max relative error (e.g. 1e-5 for float32 results)
     * @param what names the value in the message
     */
    public static void assertClose(DoubleTensor expected, Tensor actual, double tolerance, String what) {
        assertClose(expected, actual.shape(), actual.toDoubleArray(), tolerance, what);
    }

    /** {@link #assertClose(DoubleTensor, Tensor, double, String)} for two double tensors. */
    public static void assertClose(DoubleTensor expected, DoubleTensor actual, double tolerance, String what) {
        assertClose(expected, actual.rawShape(), actual.raw(), tolerance, what);
    }

    private static void assertClose(
            DoubleTensor expected, long[] actualShape, double[] actual, double tolerance, String what) {
        if (!Arrays.equals(expected.rawShape(), actualShape)) {
            throw new AssertionError(
                    what + ": shape " + Shape.format(actualShape) + ", expected " + Shape.format(expected.rawShape()));
        }
        if (actual.length == 0) {
            return;
        }
        Worst w = worst(expected.raw(), actual);
        if (!(w.error <= tolerance)) {
            throw new AssertionError(String.format(
                    java.util.Locale.ROOT,
                    "%s: max relative error %.3e > tolerance %.1e (max|e-a| / max(max|e|, 1e-12), max|e| = %.6g);"
                            + " worst at index %s (flat %d): expected %.9g, actual %.9g",
                    what,
                    w.error,
                    tolerance,
                    w.scale,
                    Arrays.toString(expected.unravel(w.index)),
                    w.index,
                    expected.raw()[w.index],
                    actual[w.index]));
        }
    }
}
