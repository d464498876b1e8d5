package dev.forge.compiler.autodiff;

import dev.forge.compiler.ir.Attribute;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import dev.forge.compiler.ir.ValueType;
import dev.forge.compiler.ops.Ops;
import dev.forge.compiler.ops.ShapeException;
import dev.forge.compiler.ops.ShapeInference;
import dev.forge.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Appends nodes to a graph under a name prefix, checking each node's attributes against its operator's
 * schema and inferring each output's type, and shares scalar and shape constants. Node and value names are deterministic: {@code <prefix>/<Op>_<k>}.
 */
public final class Emitter {
    private final Graph graph;
    private final Map<String, Integer> counters = new HashMap<>();
    private final Map<String, String> constants = new HashMap<>();
    private String prefix;

    /** An emitter appending to {@code graph} with names under {@code prefix}. */
    public Emitter(Graph graph, String prefix) {
        this.graph = graph;
        this.prefix = prefix;
    }

    public Graph graph() {
        return graph;
    }

    /** Changes the name prefix for the nodes emitted next. */
    public void prefix(String newPrefix) {
        this.prefix = newPrefix;
    }

    /** Emits a single-output node and returns its output value name. */
    public String op(String opType, List<String> inputs, Map<String, Attribute> attributes) {
        return ops(opType, inputs, attributes, 1).get(0);
    }

    /** Emits a single-output node without attributes. */
    public String op(String opType, String... inputs) {
        return op(opType, Arrays.asList(inputs), Map.of());
    }

    /** Emits a single-output node whose output gets the given value name. */
    public String opNamed(String outputName, String opType, List<String> inputs, Map<String, Attribute> attributes) {
        String name = fresh(opType);
        Node node = new Node(opType, name, inputs, List.of(outputName), attributes);
        List<ValueType> types;
        try {
            Ops.checkAttributes(node);
            types = ShapeInference.inferNode(graph, node, false);
        } catch (ShapeException e) {
            throw new IllegalStateException("internal error emitting " + node + ": " + e.getMessage(), e);
        }
        graph.addNode(node, types);
        return outputName;
    }

    /** Emits a node with {@code outputs} outputs. */
    public List<String> ops(String opType, List<String> inputs, Map<String, Attribute> attributes, int outputs) {
        String name = fresh(opType);
        List<String> outs = new ArrayList<>();
        for (int i = 0; i < outputs; i++) {
            outs.add(i == 0 ? name : name + "." + i);
        }
        Node node = new Node(opType, name, inputs, outs, attributes);
        List<ValueType> types;
        try {
            Ops.checkAttributes(node);
            types = ShapeInference.inferNode(graph, node, false);
        } catch (ShapeException e) {
            throw new IllegalStateException("internal error emitting " + node + ": " + e.getMessage(), e);
        }
        graph.addNode(node, types);
        return outs;
    }

    /** A shared float32 scalar constant (rank 0). */
    public String scalar(float v) {
        String key = "f32:" + Float.floatToIntBits(v);
        return constants.computeIfAbsent(key, k -> {
            String name = uniqueConstName("const/" + v);
            graph.addInitializer(name, Tensor.of(new float[] {v}));
            return name;
        });
    }

    /** A shared int64 vector constant (e.g. axes or a shape). */
    public String ints(long... v) {
        String key = "i64:" + Arrays.toString(v);
        return constants.computeIfAbsent(key, k -> {
            String name = uniqueConstName("const/i64" + Arrays.toString(v).replace(" ", ""));
            graph.addInitializer(name, Tensor.of(v.clone(), v.length));
            return name;
        });
    }

    /** A float32 constant tensor with a given name prefix (made unique). */
    public String tensor(String namePrefix, Tensor t) {
        String name = uniqueConstName(namePrefix);
        graph.addInitializer(name, t);
        return name;
    }

    /** The type of a value. */
    public ValueType type(String value) {
        return graph.type(value);
    }

    /** Shorthand for typed integer-list attributes. */
    public static Attribute.Ints attrInts(long... v) {
        return new Attribute.Ints(v);
    }

    /** Shorthand for an integer attribute. */
    public static Attribute.Int attrInt(long v) {
        return new Attribute.Int(v);
    }

    private String uniqueConstName(String base) {
        String name = base;
        int k = 1;
        while (graph.hasValue(name)) {
            name = base + "_" + k++;
        }
        return name;
    }

    private String fresh(String opType) {
        String name;
        do {
            int k = counters.merge(prefix + "/" + opType, 1, Integer::sum);
            name = prefix + "/" + opType + "_" + k;
        } while (graph.hasValue(name));
        return name;
    }
}
